// The express routes that need no token: /health, /status and /metrics. Loaded on their first request (app.ts).

import type { RequestListener } from 'node:http';
import express from 'express';
import type { Observability } from './observability';

export function createStatusRoutes(version: string, observability: Observability): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false); // no route reads a query
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', version });
  });
  observability.mount(app, version);
  app.use((req, res) => {
    res.status(404).type('text/plain').send(`gocd-registry-bridge: no route ${req.method} ${req.path}`);
  });
  return app;
}
