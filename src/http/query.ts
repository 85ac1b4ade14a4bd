/** Query-string validation: every parameter is known and well-formed, or 400. */
import type { Request } from 'express';
import { GROUP_NAME_RULE, isValidGroupName } from '../registry/index.js';
import { HttpError } from './errors.js';
import { parseShardParams, ShardParamError, type ShardSpec } from '../shard/index.js';
import type { TargetFilter } from './rendered.js';

const MAX_VALUES = 100;
const MAX_VALUE_LENGTH = 256;

function values(req: Request, name: string): string[] {
  const raw: unknown = req.query[name];
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length > MAX_VALUES) throw new HttpError(400, `${name}: at most ${MAX_VALUES} values`);
  return list.map((v) => {
    if (typeof v !== 'string' || v === '' || v.length > MAX_VALUE_LENGTH) {
      throw new HttpError(400, `${name}: expected a non-empty value of at most ${MAX_VALUE_LENGTH} characters`);
    }
    return v;
  });
}

/** Rejects any query parameter not in `allowed`. */
export function onlyParams(req: Request, allowed: readonly string[]): void {
  for (const name of Object.keys(req.query)) {
    if (!allowed.includes(name)) {
      throw new HttpError(400, `unknown query parameter ${JSON.stringify(name.slice(0, 100))}; allowed: ${allowed.join(', ') || 'none'}`);
    }
  }
}

/** Checks a group name from a path or query. */
export function checkGroupName(name: string, where: string): string {
  if (!isValidGroupName(name)) {
    throw new HttpError(400, `${where}: ${JSON.stringify(name.slice(0, 100))} is not a group name: it ${GROUP_NAME_RULE}`);
  }
  return name;
}

const SHARD_PARAMS = ['shard', 'shards', 'shard_by'];

/** `?shard=&shards=[&shard_by=]`, or undefined when absent; 400 when wrong. */
export function parseShard(req: Request): ShardSpec | undefined {
  try {
    return parseShardParams({ shard: values(req, 'shard'), shards: values(req, 'shards'), shardBy: values(req, 'shard_by') });
  } catch (err) {
    if (err instanceof ShardParamError) throw new HttpError(400, err.message);
    throw err;
  }
}

/** Parses `?group=` and `?exporter_type=` (each repeatable) and the shard parameters into a canonical filter. */
export function parseTargetFilter(req: Request, pathGroup?: string): TargetFilter {
  onlyParams(req, pathGroup === undefined ? ['group', 'exporter_type', ...SHARD_PARAMS] : ['exporter_type', ...SHARD_PARAMS]);
  const groups = pathGroup === undefined
    ? values(req, 'group').map((g) => checkGroupName(g, 'group'))
    : [checkGroupName(pathGroup, 'path')];
  const shard = parseShard(req);
  const filter = { groups: [...new Set(groups)].sort(), exporterTypes: [...new Set(values(req, 'exporter_type'))].sort() };
  return shard === undefined ? filter : { ...filter, shard };
}
