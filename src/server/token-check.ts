import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/** Bearer token check in constant time: both sides are hashed first so their lengths never leak either. */
export function requireToken(token: string): RequestHandler {
  const expected = digest(token);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    if (presented !== '' && timingSafeEqual(digest(presented), expected)) {
      next();
      return;
    }
    res.status(401).type('text/plain').send('gocd-registry-bridge: missing or wrong sidecar token');
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
