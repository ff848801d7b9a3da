import { createHash, timingSafeEqual } from 'node:crypto';

/** Bearer token check in constant time: both sides are hashed first so their lengths never leak either. */
export function tokenChecker(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const presented = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : '';
    return presented !== '' && timingSafeEqual(digest(presented), expected);
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
