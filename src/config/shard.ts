/**
 * `--shards`, `--shard` and `--shard-by`, for the commands that write one
 * Prometheus shard's view (`scrape-configs`, `file-sd`): validated by the
 * same rules as the `?shard=&shards=&shard_by=` query.
 */
import { ConfigError } from '../errors.js';
import { parseShardParams, ShardParamError, type ShardSpec } from '../shard/index.js';
import { row, text } from './checks.js';
import type { SettingRow, Settings } from './file.js';

/** The shard settings. */
export const SHARD_SETTINGS: readonly SettingRow[] = [
  row('shards', 'string', 'N', '', '', 'Split targets among N Prometheus servers exactly as hashmod with modulus N would.'),
  row('shard', 'string', 'I', '', '', 'Which of the --shards (0 to N-1).'),
  row('shard-by', 'string', 'LABELS', '', '', 'Comma-separated labels hashed (hashmod source_labels, joined with ";"); default __address__.'),
];

/** Shard count, optional index and labels as set; undefined when `--shards` is not. */
export interface ShardSettings {
  readonly count: number;
  readonly index: number | undefined;
  readonly by: readonly string[];
}

/** Reads the shard settings; `--shard` may be left out (then every shard is meant). */
export function shardSettingsFrom(settings: Settings): ShardSettings | undefined {
  const get = (name: string): string[] => {
    const r = settings.get(name);
    return r === undefined ? [] : [text(r)];
  };
  const shards = get('shards');
  const shard = get('shard');
  try {
    // Index 0 stands in for a missing --shard: it is valid for every count.
    const spec = parseShardParams({ shards, shard: shard.length === 0 && shards.length === 1 ? ['0'] : shard, shardBy: get('shard-by') });
    if (spec === undefined) return undefined;
    return { count: spec.count, index: shard.length === 0 ? undefined : spec.index, by: spec.by };
  } catch (err) {
    if (err instanceof ShardParamError) throw new ConfigError(`--${err.param.replace('_', '-')}`, err.message.slice(err.param.length + 2));
    throw err;
  }
}

/** The specs `settings` names: one shard, or every shard of the count. */
export function shardSpecs(s: ShardSettings): ShardSpec[] {
  const indexes = s.index === undefined ? [...Array(s.count).keys()] : [s.index];
  return indexes.map((index) => ({ index, count: s.count, by: s.by }));
}
