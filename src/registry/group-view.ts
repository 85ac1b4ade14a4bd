/**
 * The rendered, immutable view of one group: what every response about the
 * group is assembled from. Built once per change of the group.
 */
import { createHash } from 'node:crypto';
import type { GroupDocument, NodeDocument } from './documents.js';
import type { LabelPolicy } from './labels.js';
import { renderNodeTarget, type CommonLabels } from './target.js';

/** One node, rendered. */
export interface RenderedNode {
  /** Last key segment, `{id}_{exporter_type}` by convention. */
  readonly key: string;
  readonly exporterType: string;
  /** The node's target group, serialised. */
  readonly json: string;
}

/** Scrape credentials of a group. Secret. */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** An immutable snapshot of one group. */
export interface GroupView {
  readonly name: string;
  /** Sanitised common labels. */
  readonly commonLabels: CommonLabels;
  /** Present when the group document sets a username or a password. Secret: never in public output. */
  readonly credentials?: Credentials;
  /** Valid nodes, sorted by key. */
  readonly nodes: readonly RenderedNode[];
  /** Distinct exporter types, sorted. */
  readonly exporterTypes: readonly string[];
  /** Node count per exporter type. */
  readonly exporterTypeCounts: ReadonlyMap<string, number>;
  /** The nodes' target groups joined with `,`: a slice of a JSON array. */
  readonly fragment: string;
  /** Content hash of `fragment`. */
  readonly hash: string;
}

/** Hash used for ETags: content-derived, so every replica agrees. */
export function contentHash(...parts: readonly string[]): string {
  const h = createHash('sha1');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('base64url');
}

/**
 * Stored per node: the parsed document and its rendering. `rendered` is
 * undefined until the group's next view renders it: a node added (or whose
 * group document changed) is rendered once, straight into the group's
 * fragment, so loading a large registry leaves no per-node string behind.
 * Its address was checked on arrival, so rendering it cannot fail.
 */
export interface NodeEntry {
  readonly doc: NodeDocument;
  readonly rendered: RenderedNode | undefined;
}

function jsonOf(group: string, common: CommonLabels, key: string, entry: NodeEntry, policy: LabelPolicy): string {
  if (entry.rendered !== undefined) return entry.rendered.json;
  const json = renderNodeTarget(group, common, entry.doc, policy);
  if (!json.ok) throw new Error(`node ${key} of group ${group} cannot be rendered (${json.detail}), yet it was accepted`);
  return json.value;
}

/** Builds a group's view from its entries (any order); nodes not yet rendered are rendered under `policy`. */
export function buildGroupView(
  name: string,
  doc: GroupDocument | undefined,
  common: CommonLabels,
  nodes: ReadonlyMap<string, NodeEntry>,
  policy: LabelPolicy,
): GroupView {
  const entries = [...nodes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const jsons = entries.map(([k, entry]) => jsonOf(name, common, k, entry, policy));
  const fragment = jsons.join(',');
  // Each node's JSON becomes a slice of the fragment (V8 shares the bytes, no copy), so a
  // group's bytes are held once, not twice; the state stores these nodes back (state.ts).
  let at = 0;
  const rendered = entries.map(([key, entry], i): RenderedNode => {
    const length = jsons[i]?.length ?? 0;
    const json = fragment.slice(at, at + length);
    at += length + 1;
    return { key, exporterType: entry.doc.exporterType, json };
  });
  const counts = new Map<string, number>();
  for (const n of rendered) counts.set(n.exporterType, (counts.get(n.exporterType) ?? 0) + 1);
  const view: { -readonly [K in keyof GroupView]: GroupView[K] } = {
    name,
    commonLabels: common,
    nodes: rendered,
    exporterTypes: [...counts.keys()].sort(),
    exporterTypeCounts: counts,
    fragment,
    hash: contentHash(fragment),
  };
  // Password-only groups are normal (the Go sidecars write them): credentials whenever either is set.
  if (doc !== undefined && (doc.username !== undefined || doc.password !== undefined)) {
    view.credentials = { username: doc.username ?? '', password: doc.password ?? '' };
  }
  return view;
}
