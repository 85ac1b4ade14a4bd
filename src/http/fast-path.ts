/**
 * A plain `node:http` answer for the hottest requests, in front of Express:
 * GET/HEAD `/v1/targets` and `/v1/targets/<group>`, bare or with plain
 * `group`/`exporter_type`/`shard`/`shards`/`shard_by` values,
 * once loaded and when the request carries valid credentials (if any are
 * required). Express costs ~130 µs of CPU per request (test/bench), more than
 * serving a view rendered once per state. Everything else, and every answer
 * that is an error (503, 401, 400), goes to Express unchanged, so the fast
 * path only ever repeats what the Express route would have answered.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { HttpMetrics } from '../metrics/metrics.js';
import { isValidGroupName, served } from '../registry/index.js';
import { parseShardParams } from '../shard/index.js';
import { parseAuthorization, type CredentialCheck } from './auth.js';
import type { ResponseBudget } from './budget.js';
import type { TargetFilter, ViewCache } from './rendered.js';
import { sendView, viewOf, type ContentSource } from './targets.js';

/** What the fast path shares with the Express routes. */
export interface FastPathOptions {
  readonly mirror: ContentSource;
  readonly cache: ViewCache;
  readonly metrics: HttpMetrics;
  readonly budget: ResponseBudget;
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

/** What a query names, by parameter, before validation. */
type RawQuery = Map<string, string[]>;

/** The query's plain values by name, or undefined to let Express decide. */
function plainQuery(query: string, allowed: readonly string[]): RawQuery | undefined {
  const raw: RawQuery = new Map();
  let count = 0;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (eq < 0 || !PLAIN_VALUE.test(value) || ++count > MAX_VALUES || !allowed.includes(name)) return undefined;
    const list = raw.get(name);
    if (list === undefined) raw.set(name, [value]);
    else list.push(value);
  }
  return raw;
}

/** The filter `parseTargetFilter` would read from `raw`, or undefined when it would answer 400. */
function plainFilter(raw: RawQuery, pathGroup?: string): TargetFilter | undefined {
  const groups = pathGroup === undefined ? raw.get('group') ?? [] : [pathGroup];
  if (!groups.every(isValidGroupName)) return undefined;
  let shard;
  try {
    shard = parseShardParams({ shard: raw.get('shard') ?? [], shards: raw.get('shards') ?? [], shardBy: raw.get('shard_by') ?? [] });
  } catch {
    return undefined;
  }
  const filter = { groups: [...new Set(groups)].sort(), exporterTypes: [...new Set(raw.get('exporter_type') ?? [])].sort() };
  return shard === undefined ? filter : { ...filter, shard };
}

const SHARD_PARAMS = ['shard', 'shards', 'shard_by'];
const TARGETS_PARAMS = ['group', 'exporter_type', ...SHARD_PARAMS];
const GROUP_PARAMS = ['exporter_type', ...SHARD_PARAMS];

/**
 * A path segment decoded as Express decodes `:group` (`web.prod`, `a%3Ab`,
 * `%C3%A9t%C3%A9`), or undefined to let Express answer: a `/` or an
 * escape that does not decode.
 */
function decodeSegment(raw: string): string | undefined {
  if (raw.includes('/')) return undefined;
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
    const raw = plainQuery(url.slice('/v1/targets?'.length), TARGETS_PARAMS);
    const filter = raw === undefined ? undefined : plainFilter(raw);
    return filter === undefined ? undefined : { pattern: '/v1/targets', filter };
  }
  if (!url.startsWith(PREFIX)) return undefined;
  const q = url.indexOf('?');
  const group = decodeSegment(url.slice(PREFIX.length, q < 0 ? undefined : q));
  if (group === undefined || !isValidGroupName(group)) return undefined;
  const raw = q < 0 ? new Map<string, string[]>() : plainQuery(url.slice(q + 1), GROUP_PARAMS);
  const filter = raw === undefined ? undefined : plainFilter(raw, group);
  return filter === undefined ? undefined : { pattern: '/v1/targets/:group', filter };
}

/** Wraps `app`, answering the hot requests itself. */
export function withFastPath(app: RequestListener, opts: FastPathOptions): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const route = fastRoute(req);
    const now = route === undefined ? undefined : served(opts.mirror);
    const allowed = opts.credentials === undefined || opts.credentials.accepts(parseAuthorization(req.headers.authorization));
    if (route === undefined || now === undefined || !allowed) {
      app(req, res);
      return;
    }
    const start = process.hrtime.bigint();
    res.once('finish', () => opts.metrics.observe(route.pattern, res.statusCode, Number(process.hrtime.bigint() - start) / 1e9));
    sendView(req, res, viewOf(opts.cache, now.content, route.filter), now.revision, opts.budget).catch(() => res.destroy());
  };
}
