/**
 * The operator's JSON API: `/v1/nodes` (search, paginated), `/v1/invalid`
 * (skipped documents) and `/v1/explain/{group}/{node}`. Mounted behind the
 * same access control as the SD routes. Never a secret.
 */
import type { Request, RequestHandler } from 'express';
import { HttpError } from '../http/errors.js';
import { checkGroupName, onlyParams } from '../http/query.js';
import { served, type Served, type ServedSource } from '../registry/index.js';
import { explainGroupDocument, explainNode, groupOfKey, invalidUnder, type ExplainReader } from './explain.js';
import { groupExplanationJson, nodeExplanationJson } from './json.js';
import { DEFAULT_PAGE_SIZE, listNodes, MAX_PAGE_SIZE, type NodeQuery } from './nodes.js';

/** What the routes read: the mirror. */
export interface OperatorSource extends ServedSource {
  registryState(): ExplainReader | undefined;
}

/** The served snapshot, its revision and the state behind them. */
export interface Loaded extends Served {
  readonly state: ExplainReader;
}

/** The current content, revision and state, or 503 before the first load. */
export function loaded(source: OperatorSource): Loaded {
  const now = served(source);
  const state = source.registryState();
  if (now === undefined || state === undefined) throw new HttpError(503, 'registry not loaded yet');
  return { ...now, state };
}

function text(req: Request, name: string): string | undefined {
  const v: unknown = req.query[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || v.length > 256) throw new HttpError(400, `${name}: expected one value of at most 256 characters`);
  return v;
}

function integer(req: Request, name: string, fallback: number, max: number): number {
  const v = text(req, name);
  if (v === undefined) return fallback;
  if (!/^[0-9]{1,7}$/.test(v) || Number(v) < 1 || Number(v) > max) throw new HttpError(400, `${name}: expected an integer from 1 to ${max}`);
  return Number(v);
}

/** Page and page size from the query; the page size is bounded. */
export function pageOf(req: Request): { page: number; pageSize: number } {
  return { page: integer(req, 'page', 1, 1_000_000), pageSize: integer(req, 'per_page', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE) };
}

/** Parses `/v1/nodes`'s query. */
export function nodeQueryOf(req: Request): NodeQuery {
  onlyParams(req, ['group', 'id', 'exporter_type', 'address', 'q', 'page', 'per_page']);
  const fields = { group: text(req, 'group'), id: text(req, 'id'), exporterType: text(req, 'exporter_type'), address: text(req, 'address'), text: text(req, 'q') };
  const query: { -readonly [K in keyof NodeQuery]?: NodeQuery[K] } = { ...pageOf(req) };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) (query as Record<string, unknown>)[k] = v;
  return query as NodeQuery;
}

function send(res: Parameters<RequestHandler>[1], revision: number, body: unknown): void {
  res.setHeader('X-Etcd-Revision', String(revision));
  res.setHeader('Cache-Control', 'no-cache');
  res.status(200).json(body);
}

/** `GET /v1/nodes`. */
export function nodesHandler(source: OperatorSource): RequestHandler {
  return (req, res) => {
    const query = nodeQueryOf(req);
    const { content, state, revision } = loaded(source);
    send(res, revision, { revision, ...listNodes(content, state, query) });
  };
}

/** `GET /v1/invalid[?group=]`: skipped documents by key, with reason and detail. */
export function invalidHandler(source: OperatorSource): RequestHandler {
  return (req, res) => {
    onlyParams(req, ['group', 'page', 'per_page']);
    const group = text(req, 'group');
    const { page, pageSize } = pageOf(req);
    const { state, revision } = loaded(source);
    const all = invalidUnder(state, group === undefined ? undefined : checkGroupName(group, 'group'));
    const documents = all.slice((page - 1) * pageSize, page * pageSize).map((d) => ({ ...d, group: groupOfKey(state.prefix, d.key) ?? null }));
    send(res, revision, { revision, total: all.length, page, page_size: pageSize, documents });
  };
}

/** `GET /v1/explain/:group/:node` and `GET /v1/explain/:group` (its document and skipped keys). */
export function explainHandler(source: OperatorSource): RequestHandler {
  return (req, res) => {
    onlyParams(req, []);
    const group = checkGroupName(String(req.params['group']), 'path');
    const node = req.params['node'];
    const { state, revision } = loaded(source);
    if (typeof node !== 'string') {
      send(res, revision, { revision, ...groupExplanationJson(explainGroupDocument(state, group)), invalid: invalidUnder(state, group) });
      return;
    }
    const explained = explainNode(state, group, node);
    if (explained === undefined) throw new HttpError(404, `no node ${JSON.stringify(node.slice(0, 200))} in group ${group}`);
    send(res, revision, { revision, ...nodeExplanationJson(explained) });
  };
}
