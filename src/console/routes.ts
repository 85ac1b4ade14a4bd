/**
 * Mounts the operator's side: the console (`/`, `/console.js`), its JSON
 * API and the event stream, all behind the SD routes' access control.
 */
import type { Express, RequestHandler } from 'express';
import type { EventHub } from '../events/hub.js';
import { eventsHandler } from '../events/sse.js';
import { invalidUnder } from '../explain/explain.js';
import { listNodes, DEFAULT_PAGE_SIZE } from '../explain/nodes.js';
import { explainHandler, invalidHandler, nodesHandler, type OperatorSource } from '../explain/routes.js';
import { onlyParams } from '../http/query.js';
import type { MirrorStatus } from '../mirror/mirror.js';
import { served } from '../registry/index.js';
import { renderConsole, renderWaiting, WAITING_REFRESH_SECONDS } from './page.js';
import { CONSOLE_SCRIPT } from './script.js';

/** What the operator routes need. */
export interface OperatorOptions {
  readonly source: OperatorSource & { status(): MirrorStatus };
  readonly hub: EventHub;
}

// The page is ours alone: no inline script, no framing, nothing from elsewhere.
const CSP = "default-src 'self'; script-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

function consoleHandler(source: OperatorOptions['source']): RequestHandler {
  return (req, res) => {
    onlyParams(req, []);
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('Cache-Control', 'no-cache');
    const now = served(source);
    const state = source.registryState();
    if (now === undefined || state === undefined) {
      // A browser asks for `/`: HTML, not the API's JSON 503, still a 503 for probes and scripts.
      res.setHeader('Retry-After', String(WAITING_REFRESH_SECONDS));
      res.status(503).type('html').end(renderWaiting(source.status()));
      return;
    }
    const invalid = invalidUnder(state);
    const html = renderConsole({
      revision: now.revision, status: source.status(), targets: now.content.targetCount,
      groups: now.content.groups.map((g) => ({ name: g.name, nodes: g.size, exporterTypes: g.exporterTypes })),
      nodes: listNodes(now.content, state, { page: 1, pageSize: DEFAULT_PAGE_SIZE }),
      invalid: { total: invalid.length, documents: invalid.slice(0, 100) },
    });
    res.status(200).type('html').end(html);
  };
}

/** Mounts every operator route behind `sd` (the SD routes' credential check, if any). */
export function mountOperatorRoutes(app: Express, opts: OperatorOptions, sd: readonly RequestHandler[]): void {
  app.get('/', ...sd, consoleHandler(opts.source));
  // Browsers ask for it on every page; there is none, and a 404 would be an error in their console.
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });
  app.get('/console.js', ...sd, (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.status(200).type('text/javascript').end(CONSOLE_SCRIPT);
  });
  app.get('/v1/nodes', ...sd, nodesHandler(opts.source));
  app.get('/v1/invalid', ...sd, invalidHandler(opts.source));
  app.get('/v1/explain/:group', ...sd, explainHandler(opts.source));
  app.get('/v1/explain/:group/:node', ...sd, explainHandler(opts.source));
  app.get('/v1/events', ...sd, eventsHandler(opts.hub));
}
