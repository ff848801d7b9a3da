// The sidecar's HTTP face: the shim forwards each GoCD call to POST /gocd/<extension>/<version>/<request>.
// Only this folder imports express; all it does is mount gocd/'s dispatch.

import { randomBytes } from 'node:crypto';
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
const MAX_BODY = '1mb';

export function createApp(options: AppOptions): express.Express {
  const app = createStatusApp(options.version, options.observability);
  app.set('etag', false);
  app.use(requireToken(options.token));

  app.post('/gocd/:extension/:version/:requestName', express.text({ type: () => true, limit: MAX_BODY }), async (req, res) => {
    const requestId = req.get('x-request-id') ?? randomBytes(4).toString('hex');
    const started = process.hrtime.bigint();
    const { extension, version, requestName } = req.params as { extension: string; version: string; requestName: string };
    const reply = await dispatch(
      { extension, version, requestName, body: typeof req.body === 'string' ? req.body : '', requestId },
      options.context,
    );
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    options.observability.metrics.observeGoCdRequest(requestName, reply.outcome, durationMs / 1000);
    options.log.debug('handled', { requestId, requestName, status: reply.status, outcome: reply.outcome, durationMs });
    res.status(reply.status).type(reply.contentType).send(reply.body);
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
