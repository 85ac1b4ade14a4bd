/**
 * Shard views: the nodes of a filtered view whose `hashmod` lands on one
 * shard, as a layer over the groups' rendered nodes. A node is hashed when
 * its source value changes (`ShardMemo`), so a shard view costs one integer
 * test per node plus its share of the bytes.
 */
import { contentHash, type GroupView, type RenderedNode } from '../registry/index.js';
import { reduce, hash64, joinSourceValues } from './hashmod.js';
import { shardKey, type ShardSpec } from './spec.js';

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

/** The hashes of a group's nodes (in `nodes` order) for one `shard_by`, and what each hashed. */
interface NodeHashes {
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  /** Node keys, in `nodes` order. */
  readonly keys: readonly string[];
  /** The hashed source values, own copies (a slice would pin the group's old fragment). */
  readonly sources: readonly string[];
}

interface GroupMemo {
  /** The group's content hash when memoised: a view whose content moved is re-hashed. */
  readonly hash: string;
  readonly byLabels: Map<string, NodeHashes>;
}

const MAX_SHARD_BY_KEPT = 4;

/**
 * Node hashes per group name, kept from one rendering of a group to the
 * next: a node whose source value did not change keeps its hash, so a change
 * to one node of a large group hashes one node, not the group.
 */
export class ShardMemo {
  private readonly groups = new Map<string, GroupMemo>();

  /** The hashes of `group`'s nodes for `by`. */
  hashes(group: GroupView, by: readonly string[]): NodeHashes {
    let m = this.groups.get(group.name);
    const previous = m;
    // By content hash, not identity: holding the view would pin its fragment after it is replaced.
    if (m?.hash !== group.hash) {
      m = { hash: group.hash, byLabels: new Map() };
      this.groups.set(group.name, m);
    }
    const key = by.join(';');
    let h = m.byLabels.get(key);
    if (h === undefined) {
      h = hashNodes(group, by, previous?.byLabels.get(key));
      // `shard_by` is client-chosen: keep the few most recent, so distinct values cannot grow memory.
      const oldest = m.byLabels.keys().next();
      if (m.byLabels.size >= MAX_SHARD_BY_KEPT && oldest.done !== true) m.byLabels.delete(oldest.value);
      m.byLabels.set(key, h);
    }
    return h;
  }

  /** Forgets groups no longer in `names`. */
  retain(names: ReadonlySet<string>): void {
    for (const name of this.groups.keys()) if (!names.has(name)) this.groups.delete(name);
  }
}

/** An own copy of `s`, sharing no bytes with the string it was sliced from. */
function ownCopy(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

function hashNodes(group: GroupView, by: readonly string[], old: NodeHashes | undefined): NodeHashes {
  const n = group.nodes.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  const keys: string[] = new Array<string>(n);
  const sources: string[] = new Array<string>(n);
  const oldAt = new Map<string, number>();
  old?.keys.forEach((k, i) => oldAt.set(k, i));
  group.nodes.forEach((node, i) => {
    const source = sourceValue(node, by);
    const j = oldAt.get(node.key);
    keys[i] = node.key;
    const kept = j === undefined ? undefined : old?.sources[j];
    if (j !== undefined && old !== undefined && kept === source) {
      hi[i] = old.hi[j] ?? 0;
      lo[i] = old.lo[j] ?? 0;
      sources[i] = kept;
      return;
    }
    const x = hash64(source);
    hi[i] = x.hi;
    lo[i] = x.lo;
    sources[i] = ownCopy(source);
  });
  return { hi, lo, keys, sources };
}

/** The shard of node `i`; `i` is always within the hashes, which were built from the same view. */
function shardOf(h: NodeHashes, i: number, count: number): number {
  return reduce(h.hi[i] ?? 0, h.lo[i] ?? 0, count);
}

/** The shard (0..count-1) of each of a group's nodes, in `nodes` order. */
export function groupShards(group: GroupView, by: readonly string[], count: number, memo = new ShardMemo()): number[] {
  const h = memo.hashes(group, by);
  return group.nodes.map((_, i) => shardOf(h, i, count));
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
export function shardParts(memo: ShardMemo, groups: readonly GroupView[], exporterTypes: readonly string[], spec: ShardSpec): ShardParts {
  const types = exporterTypes.length === 0 ? undefined : new Set(exporterTypes);
  const parts: string[] = [];
  for (const g of groups) {
    if (g.nodes.length === 0) continue;
    const h = memo.hashes(g, spec.by);
    g.nodes.forEach((n, i) => {
      if (types !== undefined && !types.has(n.exporterType)) return;
      if (shardOf(h, i, spec.count) === spec.index) parts.push(n.json);
    });
  }
  // Content-derived, so every replica gives the same ETag for the same shard.
  const etag = `"${contentHash('shard', shardKey(spec), exporterTypes.join(','), ...groups.map((g) => `${g.name}:${g.hash}`))}"`;
  return { parts, etag };
}
