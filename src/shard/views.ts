/**
 * Shard views: the nodes of a filtered view whose `hashmod` lands on one
 * shard, as a layer over the groups' rendered nodes. Each node is hashed
 * once per rendering of its group (memoised on the immutable group view),
 * so a shard request costs one integer test per node plus its share of the
 * bytes, never a hash or a parse.
 */
import { contentHash, type GroupView, type RenderedNode } from '../registry/index.js';
import { reduce, hash64, joinSourceValues } from './hashmod.js';
import { shardKey, type ShardSpec } from './spec.js';

/** The hashes of a group's nodes (in `nodes` order) for one `shard_by`. */
interface NodeHashes {
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
}

interface GroupMemo {
  /** The group's content hash when memoised: a view whose content moved is re-hashed. */
  readonly hash: string;
  readonly byLabels: Map<string, NodeHashes>;
}

const memo = new WeakMap<GroupView, GroupMemo>();

// Every rendered target starts with its address (target.ts); the address was checked to be
// host:port, so it carries no JSON escapes.
const ADDRESS_AT = '{"targets":["'.length;

interface ParsedTarget {
  readonly targets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

/** The `source_labels` values of one rendered node, joined with `;`. */
export function sourceValue(node: RenderedNode, by: readonly string[]): string {
  if (by.length === 1 && by[0] === '__address__' && node.json.startsWith('{"targets":["')) {
    return node.json.slice(ADDRESS_AT, node.json.indexOf('"', ADDRESS_AT));
  }
  const tg = JSON.parse(node.json) as ParsedTarget;
  return joinSourceValues(by.map((name) => (name === '__address__' ? tg.targets[0] : tg.labels[name])));
}

function hashesOf(group: GroupView, by: readonly string[]): NodeHashes {
  let m = memo.get(group);
  if (m?.hash !== group.hash) {
    m = { hash: group.hash, byLabels: new Map() };
    memo.set(group, m);
  }
  const key = by.join(';');
  let h = m.byLabels.get(key);
  if (h === undefined || h.hi.length !== group.nodes.length) {
    const hi = new Uint32Array(group.nodes.length);
    const lo = new Uint32Array(group.nodes.length);
    group.nodes.forEach((n, i) => {
      const x = hash64(sourceValue(n, by));
      hi[i] = x.hi;
      lo[i] = x.lo;
    });
    h = { hi, lo };
    m.byLabels.set(key, h);
  }
  return h;
}

/** The shard (0..count-1) of each of a group's nodes, in `nodes` order. */
export function groupShards(group: GroupView, by: readonly string[], count: number): number[] {
  const h = hashesOf(group, by);
  return group.nodes.map((_, i) => reduce(h.hi[i]!, h.lo[i]!, count));
}

/** The nodes' JSON of one shard, in view order, and an ETag derived from what determines it. */
export interface ShardParts {
  readonly parts: string[];
  readonly etag: string;
}

/**
 * The target groups of `groups` (already selected, in order), restricted to
 * `exporterTypes` when non-empty, that fall on `spec`'s shard.
 */
export function shardParts(groups: readonly GroupView[], exporterTypes: readonly string[], spec: ShardSpec): ShardParts {
  const types = exporterTypes.length === 0 ? undefined : new Set(exporterTypes);
  const parts: string[] = [];
  for (const g of groups) {
    if (g.nodes.length === 0) continue;
    const h = hashesOf(g, spec.by);
    g.nodes.forEach((n, i) => {
      if (types !== undefined && !types.has(n.exporterType)) return;
      if (reduce(h.hi[i]!, h.lo[i]!, spec.count) === spec.index) parts.push(n.json);
    });
  }
  // Content-derived, so every replica gives the same ETag for the same shard.
  const etag = `"${contentHash('shard', shardKey(spec), exporterTypes.join(','), ...groups.map((g) => `${g.name}:${g.hash}`))}"`;
  return { parts, etag };
}
