/**
 * The Express app: routes, metrics middleware, 404 and error handling.
 * Built from injected parts so tests can run it against any mirror.
 */
import express, { type Express, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { HttpMetrics } from '../metrics/metrics.js';
import type { MirrorStatus } from '../mirror/mirror.js';
import { errorHandler, notFound } from './errors.js';
import { ViewCache } from './rendered.js';
import { groupsHandler, targetsHandler, type ContentSource } from './targets.js';

/** What the app needs. */
export interface AppOptions {
  readonly mirror: ContentSource & { status(): MirrorStatus };
  readonly registry: Registry;
  readonly httpMetrics: HttpMetrics;
  readonly logger: Logger;
  /** Byte bound of the filtered-view cache. */
  readonly cacheMaxBytes: number;
}

/** Creates the app; `ready` may be flipped to false on shutdown so `/readyz` fails first. */
export function createApp(opts: AppOptions): Express & { locals: { shuttingDown: boolean } } {
  const app = express();
  // Express would hash every body for its own ETag; ours are precomputed per state.
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.set('query parser', 'simple');
  app.locals['shuttingDown'] = false;
  app.use(observe(opts.httpMetrics));
  const cache = new ViewCache(opts.cacheMaxBytes);
  const targets = targetsHandler(opts.mirror, cache);
  app.get('/v1/targets', targets);
  app.get('/v1/targets/:group', targets);
  app.get('/v1/groups', groupsHandler(opts.mirror));
  app.get('/healthz', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const s = opts.mirror.status();
    const ready = s.ready && app.locals['shuttingDown'] !== true;
    res.status(ready ? 200 : 503).json({
      ready,
      etcd_connected: s.connected,
      revision: s.revision,
      // How stale the served state may be: nothing newer can be missing than this.
      staleness_seconds: s.lastContactAgeMs === undefined ? null : s.lastContactAgeMs / 1000,
      last_event_age_seconds: s.lastEventAgeMs === undefined ? null : s.lastEventAgeMs / 1000,
    });
  });
  app.get('/metrics', async (_req, res) => {
    const body = await opts.registry.metrics();
    res.setHeader('Content-Type', opts.registry.contentType);
    res.status(200).end(body);
  });
  app.use(notFound);
  app.use(errorHandler(opts.logger));
  return app as Express & { locals: { shuttingDown: boolean } };
}

// Route label: the matched pattern, never the raw path (unbounded cardinality).
function observe(metrics: HttpMetrics): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      metrics.observe(typeof route === 'string' ? route : 'unmatched', res.statusCode, seconds);
    });
    next();
  };
}
