/**
 * The registry the benchmark writes: deterministic groups of nodes with
 * realistic labels (5 common per group, 3 of each node's own), in the Go
 * library's shape. The Go library copies the group's common labels into
 * each node's `labels` at registration, so node documents carry 8 labels.
 * Every document is a pure function of its indices, so a heartbeat can
 * re-put exactly what was written with only `last_seen` new.
 */
import { formatGoTime, formatGroupDocument, formatNodeDocument, groupKey, nodeKey } from '../../src/registry/index.js';

/** Registry prefix used by every phase. */
export const PREFIX = '/services';

/** How a size is laid out. */
export interface Layout {
  readonly nodes: number;
  readonly groupSize: number;
  readonly groups: number;
  /** Nodes of group 0 when it is the one large group (0: none; every group has `groupSize`). */
  readonly bigGroup: number;
}

/** `nodes` split into groups of `groupSize` (the last one may be smaller), after one group of `bigGroup` if given. */
export function layoutOf(nodes: number, groupSize: number, bigGroup = 0): Layout {
  const big = Math.min(bigGroup, nodes);
  return { nodes, groupSize, bigGroup: big, groups: (big > 0 ? 1 : 0) + Math.ceil((nodes - big) / groupSize) };
}

/** Nodes in group `g`. */
export function nodesInGroup(layout: Layout, g: number): number {
  if (layout.bigGroup === 0) return Math.min(layout.groupSize, layout.nodes - g * layout.groupSize);
  if (g === 0) return layout.bigGroup;
  return Math.min(layout.groupSize, layout.nodes - layout.bigGroup - (g - 1) * layout.groupSize);
}

/** The group and position in it of the `i`-th node of the layout. */
export function nodeAt(layout: Layout, i: number): { g: number; n: number } {
  if (layout.bigGroup === 0) return { g: Math.floor(i / layout.groupSize), n: i % layout.groupSize };
  if (i < layout.bigGroup) return { g: 0, n: i };
  const rest = i - layout.bigGroup;
  return { g: 1 + Math.floor(rest / layout.groupSize), n: rest % layout.groupSize };
}

const REGIONS = ['eu-west-1', 'us-east-1', 'ap-southeast-2'] as const;
const TIERS = ['frontend', 'backend', 'data'] as const;
const EXPORTERS = [
  { type: 'node_exporter', port: 9100 },
  { type: 'process_exporter', port: 9256 },
  { type: 'postgres_exporter', port: 9187 },
] as const;

// A small integer hash: the same indices always give the same labels.
function mix(a: number, b: number): number {
  let h = (Math.imul(a + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The lease of group `g`'s nodes (a requested lease ID, so every process
 * can compute it). One lease per group, not one for the whole registry:
 * etcd 3.4 slows down on puts attached to a lease holding many keys
 * (39 puts/s with 100,000 keys on one lease, against 1,054 without, measured
 * here), and registrants hold a lease each, so a giant lease is not realistic.
 */
export function leaseIdOf(g: number): string {
  return String(1_000_000 + g);
}

/** Name of group `g`: `svc0042`. */
export function groupName(g: number): string {
  return `svc${String(g).padStart(4, '0')}`;
}

/** The five common labels of group `g`. */
export function commonLabels(g: number): Record<string, string> {
  return {
    environment: g % 5 === 4 ? 'staging' : 'production',
    region: REGIONS[g % REGIONS.length]!,
    service: groupName(g),
    team: `team-${String(mix(g, 0) % 40).padStart(2, '0')}`,
    tier: TIERS[mix(g, 1) % TIERS.length]!,
  };
}

const CREATED = formatGoTime(new Date('2025-03-01T10:00:00.000Z'), 123456);

/** Key and value of group `g`'s document. */
export function groupEntry(g: number): { key: string; value: string } {
  const name = groupName(g);
  return {
    key: groupKey(PREFIX, name),
    value: formatGroupDocument({ name, username: 'scraper', password: 's3cret', commonLabels: commonLabels(g), created: CREATED }),
  };
}

/** Identity of node `n` of group `g`. */
export function nodeIdentity(g: number, n: number): { id: string; exporterType: string; port: number; key: string } {
  const exporter = EXPORTERS[n % EXPORTERS.length]!;
  const id = `${groupName(g)}-${String(n).padStart(3, '0')}.internal`;
  return { id, exporterType: exporter.type, port: exporter.port, key: nodeKey(PREFIX, groupName(g), id, exporter.type) };
}

/**
 * Key and value of node `n` of group `g`. `version` overrides the node's
 * `version` label (a visible change); `lastSeen` is the only field a
 * heartbeat changes.
 */
export function nodeEntry(g: number, n: number, lastSeen: Date, version?: string): { key: string; value: string } {
  const { id, exporterType, port, key } = nodeIdentity(g, n);
  const common = commonLabels(g);
  const own = {
    instance: `i-${mix(g, n).toString(16).padStart(8, '0')}${(n * 7919).toString(16).padStart(5, '0')}`,
    az: `${common['region']}${'abc'[mix(n, g) % 3]}`,
    version: version ?? `1.${mix(g, n + 1) % 8}.${n % 4}`,
  };
  const value = formatNodeDocument({
    id,
    exporterType,
    port,
    metricsPath: '/metrics',
    labels: { ...common, ...own },
    status: 'healthy',
    lastSeen: formatGoTime(lastSeen, (g * 1000 + n) % 1_000_000),
  });
  return { key, value };
}

/** Every key/value of the layout, group document first, then its nodes (with their lease). */
export function* entries(layout: Layout, lastSeen: Date): Generator<{ key: string; value: string; lease?: string }> {
  for (let g = 0; g < layout.groups; g++) {
    yield groupEntry(g);
    const count = nodesInGroup(layout, g);
    for (let n = 0; n < count; n++) yield { ...nodeEntry(g, n, lastSeen), lease: leaseIdOf(g) };
  }
}
