// The sidecar's HTTP face: the shim forwards each GoCD call to POST /gocd/<extension>/<version>/<request>.
// Only this folder imports express; all it does is mount gocd/'s dispatch.

import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import express, { ErrorRequestHandler } from 'express';
import { dispatch, GoCdContext } from '../gocd';
import type { Logger } from '../log';
import type { Observability } from './observability';
import { requireToken } from './token-check';

export interface AppOptions {
  token: string;
  version: string;
  context: GoCdContext;
  log: Logger;
  observability: Observability;
}

/** /health, /status and /metrics: what may be served without the token, here and on the optional status port. */
export function createStatusApp(version: string, observability: Observability): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', version });
  });
  observability.mount(app, version);
  return app;
}

// GoCD request bodies are a few KiB of configuration; anything far larger is not from GoCD.
const MAX_BODY_BYTES = 1024 * 1024;

export function createApp(options: AppOptions): express.Express {
  const app = createStatusApp(options.version, options.observability);
  app.set('etag', false);
  app.set('query parser', false); // no route reads a query
  app.use(requireToken(options.token));

  // Every GoCD call takes this path (benchmark P1), so the body is read and the reply written directly:
  // body-parser's decoding and res.send()'s content negotiation cost more than all the dispatch work.
  app.post('/gocd/:extension/:version/:requestName', async (req, res, next) => {
    const started = process.hrtime.bigint();
    let body: string;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      next(err);
      return;
    }
    const requestId = req.get('x-request-id') ?? randomBytes(4).toString('hex');
    const { extension, version, requestName } = req.params as { extension: string; version: string; requestName: string };
    const reply = await dispatch({ extension, version, requestName, body, requestId }, options.context);
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    options.observability.metrics.observeGoCdRequest(requestName, reply.outcome, durationMs / 1000);
    options.log.debug('handled', { requestId, requestName, status: reply.status, outcome: reply.outcome, durationMs });
    res.writeHead(reply.status, { 'Content-Type': `${reply.contentType}; charset=utf-8`, 'Content-Length': Buffer.byteLength(reply.body) });
    res.end(reply.body);
  });

  app.use((req, res) => {
    res.status(404).type('text/plain').send(`gocd-registry-bridge: no route ${req.method} ${req.path}`);
  });

  // Express's default handler would answer with a stack trace; body-parser errors carry a status of their own.
  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    options.log.warn('request rejected', { path: req.path, status, error: err?.message });
    res.status(status).type('text/plain').send(`gocd-registry-bridge: ${status === 500 ? 'internal error' : err.message}`);
  };
  app.use(onError);
  return app;
}

/** The whole body as UTF-8, refused with 413 past maxBytes. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.resume(); // let the rest drain, so the 413 reaches the client
      reject(Object.assign(new Error('request entity too large'), { status: 413 }));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}
