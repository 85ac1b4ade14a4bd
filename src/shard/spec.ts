/**
 * Which shard of how many, and what it hashes: the `shard`, `shards` and
 * `shard_by` query parameters, validated once into a `ShardSpec`.
 */
import { isValidLabelName } from '../registry/index.js';
import { MAX_MODULUS } from './hashmod.js';

/** One shard of a `hashmod` split. */
export interface ShardSpec {
  /** 0 <= index < count. */
  readonly index: number;
  /** The `modulus` of the equivalent `hashmod`. */
  readonly count: number;
  /** The `source_labels` of the equivalent `hashmod`, in order. */
  readonly by: readonly string[];
}

/** The default, as the Prometheus Operator shards: `source_labels: [__address__]`. */
export const DEFAULT_SHARD_BY: readonly string[] = ['__address__'];

/** A shard parameter is wrong; the message says which and how to fix it. */
export class ShardParamError extends Error {
  constructor(readonly param: string, message: string) {
    super(`${param}: ${message}`);
    this.name = 'ShardParamError';
  }
}

// Labels Prometheus adds from the scrape config before relabelling, so their value is not in
// the served target: sharding on them here could not match what Prometheus computes.
const FROM_SCRAPE_CONFIG = new Set(['job', '__scheme__', '__metrics_path__', '__scrape_interval__', '__scrape_timeout__']);
const MAX_SHARD_BY = 16;

function parseCount(raw: string, param: string, max: number): number {
  if (!/^[0-9]{1,7}$/.test(raw)) throw new ShardParamError(param, `expected a decimal integer, got ${JSON.stringify(raw.slice(0, 40))}`);
  const n = Number(raw);
  if (n > max) throw new ShardParamError(param, `must be at most ${max}, got ${n}`);
  return n;
}

function checkShardBy(name: string): string {
  const shown = JSON.stringify(name.slice(0, 100));
  if (!isValidLabelName(name)) throw new ShardParamError('shard_by', `${shown} is not a label name`);
  if (name.startsWith('__tmp')) {
    throw new ShardParamError('shard_by', `${shown} exists only inside relabelling; name the label(s) your relabelling hashes into it (e.g. __address__)`);
  }
  if (FROM_SCRAPE_CONFIG.has(name) || name.startsWith('__param_')) {
    throw new ShardParamError('shard_by', `${shown} comes from the scrape config, not from discovery, so it cannot be sharded on here`);
  }
  return name;
}

/** The raw values of the shard parameters, each possibly repeated. */
export interface ShardParams {
  readonly shard: readonly string[];
  readonly shards: readonly string[];
  readonly shardBy: readonly string[];
}

/** Validates the shard parameters: undefined when none is given. */
export function parseShardParams(p: ShardParams): ShardSpec | undefined {
  if (p.shard.length === 0 && p.shards.length === 0 && p.shardBy.length === 0) return undefined;
  if (p.shards.length !== 1) throw new ShardParamError('shards', p.shards.length === 0 ? 'required with shard and shard_by' : 'give it once');
  if (p.shard.length !== 1) throw new ShardParamError('shard', p.shard.length === 0 ? 'required with shards (0 to shards-1)' : 'give it once');
  const count = parseCount(p.shards[0] ?? '', 'shards', MAX_MODULUS);
  if (count < 1) throw new ShardParamError('shards', 'must be at least 1');
  const index = parseCount(p.shard[0] ?? '', 'shard', MAX_MODULUS);
  if (index >= count) throw new ShardParamError('shard', `must be below shards (${count}), got ${index}`);
  const by = p.shardBy.flatMap((v) => v.split(',')).map(checkShardBy);
  if (by.length > MAX_SHARD_BY) throw new ShardParamError('shard_by', `at most ${MAX_SHARD_BY} label names`);
  return { index, count, by: by.length === 0 ? DEFAULT_SHARD_BY : by };
}

/** The cache key part of a spec. */
export function shardKey(spec: ShardSpec): string {
  return `${spec.count}\0${spec.index}\0${spec.by.join(';')}`;
}
