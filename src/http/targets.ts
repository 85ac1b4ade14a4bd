/**
 * `/v1/targets` and `/v1/groups`: answers from pre-rendered views with
 * ETag / If-None-Match, gzip on request and the served etcd revision.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { served, type Content, type Served, type ServedSource } from '../registry/index.js';
import { HttpError } from './errors.js';
import { parseTargetFilter, onlyParams } from './query.js';
import { sendBusy, type ResponseBudget } from './budget.js';
import type { RenderedView, TargetFilter, ViewCache } from './rendered.js';

/** What the routes read from the mirror. */
export type ContentSource = ServedSource;

/** The served snapshot and its revision, or 503 before the first load. */
export function current(source: ContentSource): Served {
  const now = served(source);
  // Prometheus keeps its previous targets on any error: better than partial data.
  if (now === undefined) throw new HttpError(503, 'registry not loaded yet');
  return now;
}

/** Whether `If-None-Match` matches `etag` (weak comparison, as RFC 9110 asks for this header). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

/** Whether the client accepts gzip (and did not refuse it with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** A view to answer with: rendered on demand, or already at hand. */
export interface ViewSource {
  /** Renders the view (or takes it from the cache). */
  render(): RenderedView;
  /** The view if it is rendered already: answering with it allocates no new body. */
  cached(): RenderedView | undefined;
}

/** The `ViewSource` of `filter` over `content` in `cache`. */
export function viewOf(cache: ViewCache, content: Content, filter: TargetFilter): ViewSource {
  return { render: () => cache.view(content, filter), cached: () => cache.cached(content, filter) };
}

/**
 * Answers with a rendered view: ETag, revision, 304 on a matching
 * `If-None-Match`, gzip when accepted, 503 when the pending-bytes `budget`
 * is spent. With the budget spent, a view not rendered yet is refused before
 * rendering; one already rendered goes on to the budget's own check, which
 * lets a body that is held already be shared (a client reading the full body
 * over and over must not be refused because its last response has not closed yet).
 * Plain `node:http` calls only, so the Express routes and the fast path
 * (`fast-path.ts`) share it.
 */
export async function sendView(req: IncomingMessage, res: ServerResponse, views: ViewSource, revision: number, budget: ResponseBudget): Promise<void> {
  const ready = views.cached();
  if (ready === undefined && !budget.hasRoom()) {
    budget.refuse();
    sendBusy(res);
    return;
  }
  const view = ready ?? views.render();
  res.setHeader('ETag', view.etag);
  res.setHeader('X-Etcd-Revision', String(revision));
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader('Cache-Control', 'no-cache');
  if (etagMatches(req.headers['if-none-match'], view.etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json');
  const gzipped = acceptsGzip(req.headers['accept-encoding']) ? await view.gzipped() : undefined;
  if (gzipped !== undefined) res.setHeader('Content-Encoding', 'gzip');
  const body = gzipped ?? view;
  if (req.method === 'HEAD') {
    res.setHeader('Content-Length', String(body.byteLength));
    res.statusCode = 200;
    res.end();
    return;
  }
  if (!budget.hold(res, body)) {
    for (const h of ['Content-Encoding', 'ETag', 'Vary', 'Cache-Control']) res.removeHeader(h);
    sendBusy(res);
    return;
  }
  res.setHeader('Content-Length', String(body.byteLength));
  res.statusCode = 200;
  if (gzipped === undefined) await view.send(res);
  else res.end(gzipped);
}

/** `GET /v1/targets[?group=..][&exporter_type=..]` and `GET /v1/targets/:group`. */
export function targetsHandler(source: ContentSource, cache: ViewCache, budget: ResponseBudget): RequestHandler {
  return async (req, res) => {
    const group = typeof req.params['group'] === 'string' ? req.params['group'] : undefined;
    const filter = parseTargetFilter(req, group);
    const { content, revision } = current(source);
    await sendView(req, res, viewOf(cache, content, filter), revision, budget);
  };
}

/** Public description of the groups: never credentials. */
export function groupsHandler(source: ContentSource): RequestHandler {
  let cached: { version: number; body: Buffer } | undefined;
  return (req, res) => {
    onlyParams(req, []);
    const { content, revision } = current(source);
    if (cached?.version !== content.version) {
      const groups = content.groups.map((g) => ({
        name: g.name,
        common_labels: g.commonLabels,
        nodes: g.size,
        exporter_types: g.exporterTypes,
      }));
      cached = { version: content.version, body: Buffer.from(JSON.stringify(groups)) };
    }
    res.setHeader('X-Etcd-Revision', String(revision));
    res.setHeader('Content-Type', 'application/json');
    res.status(200).end(cached.body);
  };
}
