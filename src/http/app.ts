/**
 * The Express app: routes, metrics middleware, 404 and error handling.
 * Built from injected parts so tests can run it against any mirror.
 */
import type { RequestListener } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { mountOperatorRoutes, type OperatorOptions } from '../console/routes.js';
import type { Logger } from '../log.js';
import { registerBudgetMetrics, type HttpMetrics } from '../metrics/metrics.js';
import type { MirrorStatus } from '../mirror/mirror.js';
import type { ScrapeConfigDefaults } from '../scrape-config/index.js';
import { CredentialCheck, requireCredentials, type RouteCredentials } from './auth.js';
import { ResponseBudget } from './budget.js';
import { errorHandler, notFound } from './errors.js';
import { withFastPath } from './fast-path.js';
import { ViewCache } from './rendered.js';
import { scrapeConfigsHandler } from './scrape-configs.js';
import { groupsHandler, targetsHandler, type ContentSource } from './targets.js';

/** What the app needs. */
export interface AppOptions {
  readonly mirror: ContentSource & { status(): MirrorStatus };
  readonly registry: Registry;
  readonly httpMetrics: HttpMetrics;
  readonly logger: Logger;
  /** Byte bound of the filtered-view cache. */
  readonly cacheMaxBytes: number;
  /** Bytes of bodies unfinished responses may hold; default `DEFAULT_MAX_PENDING_RESPONSE_BYTES`. */
  readonly maxPendingResponseBytes?: number;
  /** Credentials the SD routes (and `/metrics` when `protectMetrics`) require; absent: open. Secret. */
  readonly access?: RouteCredentials & { readonly protectMetrics: boolean };
  /** Serves `/v1/scrape-configs` behind `adminToken`; absent: that route does not exist. Secret. */
  readonly scrapeConfigs?: { readonly adminToken: string; readonly defaults: ScrapeConfigDefaults };
  /** The console, its JSON API and the event stream, behind the SD credentials; absent: not served. */
  readonly operator?: OperatorOptions;
}

/** The Express app (for its `locals`) and the request listener to serve: the app behind the fast path. */
export interface HttpHandler {
  readonly app: Express & { locals: { shuttingDown: boolean } };
  readonly handler: RequestListener;
}

/** Creates the app and its fast path, sharing one view cache. */
export function createHttpHandler(opts: AppOptions): HttpHandler {
  const cache = new ViewCache(opts.cacheMaxBytes);
  const budget = new ResponseBudget(opts.maxPendingResponseBytes);
  registerBudgetMetrics(opts.registry, budget);
  const app = createApp(opts, cache, budget);
  const handler = withFastPath(app, {
    mirror: opts.mirror, cache, metrics: opts.httpMetrics, budget,
    ...(opts.access === undefined ? {} : { credentials: new CredentialCheck(opts.access) }),
  });
  return { app, handler };
}

/** Creates the app; `shuttingDown` may be flipped on shutdown so `/readyz` fails first. */
export function createApp(
  opts: AppOptions,
  cache = new ViewCache(opts.cacheMaxBytes),
  budget = new ResponseBudget(opts.maxPendingResponseBytes),
): Express & { locals: { shuttingDown: boolean } } {
  const app = express();
  // Express would hash every body for its own ETag; ours are precomputed per state.
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.set('query parser', 'simple');
  app.locals['shuttingDown'] = false;
  app.use(observe(opts.httpMetrics));
  const sd = mountRegistryRoutes(app, opts, cache, budget);
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
      // Since the served state was last known complete (not merely since etcd answered a probe).
      staleness_seconds: s.stalenessMs === undefined ? null : s.stalenessMs / 1000,
      // Documented degraded state: still serving the last state, but not following etcd.
      degraded: s.ready && !s.connected,
      last_event_age_seconds: s.lastEventAgeMs === undefined ? null : s.lastEventAgeMs / 1000,
      // Why etcd is unreachable (e.g. a certificate problem): the first thing an operator needs.
      ...(s.lastError === undefined ? {} : { etcd_error: s.lastError }),
      // Groups serving their last good view because their latest change could not be rendered.
      ...(s.renderFailures === undefined ? {} : { render_failures: s.renderFailures }),
    });
  });
  app.get('/metrics', ...(opts.access?.protectMetrics === true ? sd : []), async (_req, res) => {
    const body = await opts.registry.metrics();
    res.setHeader('Content-Type', opts.registry.contentType);
    res.status(200).end(body);
  });
  app.use(notFound);
  app.use(errorHandler(opts.logger));
  return app as Express & { locals: { shuttingDown: boolean } };
}

/**
 * Mounts `/v1/targets`, `/v1/groups` (behind the SD credentials, if any) and
 * `/v1/scrape-configs` (behind the admin token, only when one is set).
 * Returns the SD credential check, for `/metrics`.
 */
function mountRegistryRoutes(app: Express, opts: AppOptions, cache: ViewCache, budget: ResponseBudget): RequestHandler[] {
  const targets = targetsHandler(opts.mirror, cache, budget);
  // /healthz and /readyz stay open: probes carry no credentials.
  const sd: RequestHandler[] = opts.access === undefined ? [] : [requireCredentials(opts.access, opts.logger)];
  app.get('/v1/targets', ...sd, targets);
  app.get('/v1/targets/:group', ...sd, targets);
  app.get('/v1/groups', ...sd, groupsHandler(opts.mirror));
  if (opts.operator !== undefined) mountOperatorRoutes(app, opts.operator, sd);
  if (opts.scrapeConfigs !== undefined) {
    // Only the admin token: the SD credentials must not unlock every group's password.
    const admin = requireCredentials({ bearerToken: opts.scrapeConfigs.adminToken }, opts.logger);
    app.get('/v1/scrape-configs', admin, scrapeConfigsHandler(opts.mirror, opts.scrapeConfigs.defaults));
  }
  return sd;
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
