/**
 * A plain `node:http` answer for the hottest requests, in front of Express:
 * GET/HEAD `/v1/targets` (bare, or with plain `group`/`exporter_type`
 * values) and `/v1/targets/<group>`,
 * once loaded and when the request carries valid credentials (if any are
 * required). Express costs ~130 µs of CPU per request (test/bench), more than
 * serving a view rendered once per state. Everything else, and every answer
 * that is an error (503, 401, 400), goes to Express unchanged, so the fast
 * path only ever repeats what the Express route would have answered.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { HttpMetrics } from '../metrics/metrics.js';
import { isValidGroupName } from '../registry/index.js';
import { parseAuthorization, type CredentialCheck } from './auth.js';
import type { TargetFilter, ViewCache } from './rendered.js';
import { sendView, type ContentSource } from './targets.js';

/** What the fast path shares with the Express routes. */
export interface FastPathOptions {
  readonly mirror: ContentSource;
  readonly cache: ViewCache;
  readonly metrics: HttpMetrics;
  /** The SD routes' credential check; absent when they are open. */
  readonly credentials?: CredentialCheck;
}

const ALL: TargetFilter = { groups: [], exporterTypes: [] };
const PREFIX = '/v1/targets/';

interface FastRoute {
  /** The Express route pattern, so metrics carry the same label either way. */
  readonly pattern: string;
  readonly filter: TargetFilter;
}

// Values whose decoding cannot differ between URLSearchParams and Express's
// query parser; anything else (escapes, '+', brackets) is left to Express.
const PLAIN_VALUE = /^[A-Za-z0-9_.:-]{1,256}$/;
const MAX_VALUES = 100;

/** `group=..&exporter_type=..` as `parseTargetFilter` reads it, or undefined to let Express decide. */
function plainFilter(query: string): TargetFilter | undefined {
  const groups = new Set<string>();
  const types = new Set<string>();
  let count = 0;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (eq < 0 || !PLAIN_VALUE.test(value) || ++count > MAX_VALUES) return undefined;
    if (name === 'group' && isValidGroupName(value)) groups.add(value);
    else if (name === 'exporter_type') types.add(value);
    else return undefined;
  }
  return { groups: [...groups].sort(), exporterTypes: [...types].sort() };
}

/**
 * A path segment decoded as Express decodes `:group` (`web.prod`, `a%3Ab`,
 * `%C3%A9t%C3%A9`), or undefined to let Express answer: a query, a `/`,
 * or an escape that does not decode.
 */
function decodeSegment(raw: string): string | undefined {
  if (raw.includes('?') || raw.includes('/')) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

function fastRoute(req: IncomingMessage): FastRoute | undefined {
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
  const url = req.url ?? '';
  if (url === '/v1/targets') return { pattern: '/v1/targets', filter: ALL };
  if (url.startsWith('/v1/targets?')) {
    const filter = plainFilter(url.slice('/v1/targets?'.length));
    return filter === undefined ? undefined : { pattern: '/v1/targets', filter };
  }
  if (!url.startsWith(PREFIX)) return undefined;
  const group = decodeSegment(url.slice(PREFIX.length));
  return group !== undefined && isValidGroupName(group) ? { pattern: '/v1/targets/:group', filter: { groups: [group], exporterTypes: [] } } : undefined;
}

/** Wraps `app`, answering the hot requests itself. */
export function withFastPath(app: RequestListener, opts: FastPathOptions): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const route = fastRoute(req);
    const content = route === undefined ? undefined : opts.mirror.content();
    const allowed = opts.credentials === undefined || opts.credentials.accepts(parseAuthorization(req.headers.authorization));
    if (route === undefined || content === undefined || !allowed) {
      app(req, res);
      return;
    }
    const start = process.hrtime.bigint();
    res.once('finish', () => opts.metrics.observe(route.pattern, res.statusCode, Number(process.hrtime.bigint() - start) / 1e9));
    // Content and revision read in the same tick: the revision describes exactly this content.
    sendView(req, res, opts.cache.view(content, route.filter), opts.mirror.revision).catch(() => res.destroy());
  };
}
