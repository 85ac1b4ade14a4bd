/** Server-side sharding, exactly as Prometheus's `hashmod` relabel action splits targets. */
export { hashmod } from './hashmod.js';
export { DEFAULT_SHARD_BY, ShardParamError, parseShardParams, shardKey, type ShardSpec } from './spec.js';
export { ShardMemo, groupShards, shardParts, sourceValue } from './views.js';
