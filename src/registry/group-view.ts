/**
 * The rendered, immutable view of one group: what every response about the
 * group is assembled from. Its nodes are rendered in chunks, and a change
 * re-renders only the chunks it touched.
 */
import { createHash } from 'node:crypto';
import { parseNodeDocument, type GroupDocument, type NodeDocument } from './documents.js';
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

/**
 * Consecutive nodes of a group, rendered together (see node-chunks.ts):
 * what a change to one node re-renders. Immutable; a chunk unchanged
 * between two snapshots is the same object in both.
 */
export interface RenderedChunk {
  /** Sorted by key. */
  readonly nodes: readonly RenderedNode[];
  /** The nodes' target groups joined with `,`: a slice of a JSON array. */
  readonly fragment: string;
  /** Content hash of `fragment` (computed on first use). */
  readonly hash: string;
}

/** An immutable snapshot of one group. */
export interface GroupView {
  readonly name: string;
  /** Sanitised common labels. */
  readonly commonLabels: CommonLabels;
  /** Present when the group document sets a username or a password. Secret: never in public output. */
  readonly credentials?: Credentials;
  /** Number of valid nodes. */
  readonly size: number;
  /** The group's nodes in chunks, in key order. */
  readonly chunks: readonly RenderedChunk[];
  /** Valid nodes, sorted by key (gathered from `chunks` on first use). */
  readonly nodes: readonly RenderedNode[];
  /** Distinct exporter types, sorted. */
  readonly exporterTypes: readonly string[];
  /** Node count per exporter type. */
  readonly exporterTypeCounts: ReadonlyMap<string, number>;
  /** The nodes' target groups joined with `,` (joined from `chunks` on first use; responses write the chunks instead). */
  readonly fragment: string;
  /** Content hash of the group's nodes, from its chunks' hashes (computed on first use: only responses that name the group need it). */
  readonly hash: string;
}

/** Hash used for ETags: content-derived, so every replica agrees. */
export function contentHash(...parts: readonly string[]): string {
  const h = createHash('sha1');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('base64url');
}

/**
 * Stored per node: its text and its rendering, made when the node arrives
 * and replaced, once its chunk is rendered, by a slice of the chunk's
 * fragment, so a large registry keeps each target's bytes once. The parsed
 * document is not kept: the text is a fraction of its size, and is parsed
 * again when needed (a group document changed, explain). The text was valid
 * when stored and its address checked, so rendering it fails only on a bug
 * or on a chunk too large for one string; the state contains either.
 * Mutable, and only the state's: a heartbeat moves `text` in place, a
 * rendering sets `rendered`.
 */
export interface NodeEntry {
  text: string;
  rendered: RenderedNode | undefined;
  /** Protected labels the document sets, dropped when rendered (usually none). */
  readonly protectedLabels: readonly string[];
}

/** The node's document: its text parsed again. */
export function documentOf(key: string, entry: NodeEntry): NodeDocument {
  const parsed = parseNodeDocument(entry.text);
  if (!parsed.ok) throw new Error(`node ${key}: its stored text no longer parses (${parsed.detail}), yet it was accepted`);
  return parsed.value;
}

/** Renders one node's target group: `renderNodeTarget`, or a stand-in in tests. */
export type NodeRenderer = typeof renderNodeTarget;

interface Rendering {
  readonly json: string;
  readonly exporterType: string;
}

function renderingOf(group: string, common: CommonLabels, key: string, entry: NodeEntry, render: NodeRenderer): Rendering {
  if (entry.rendered !== undefined) return entry.rendered;
  const doc = documentOf(key, entry);
  const json = render(group, common, doc);
  if (!json.ok) throw new Error(`node ${key} of group ${group} cannot be rendered (${json.detail}), yet it was accepted`);
  return { json: json.value, exporterType: doc.exporterType };
}

/** Renders the chunk of `group` holding `keys` (sorted, each in `nodes`). */
export function renderChunk(
  group: string,
  common: CommonLabels,
  keys: readonly string[],
  nodes: ReadonlyMap<string, NodeEntry>,
  render: NodeRenderer = renderNodeTarget,
): RenderedChunk {
  const parts = keys.map((k) => {
    const entry = nodes.get(k);
    return entry === undefined ? undefined : renderingOf(group, common, k, entry, render);
  });
  const fragment = parts.map((p) => p?.json ?? '').join(',');
  // Each node's JSON becomes a slice of the fragment (V8 shares the bytes, no copy), so a
  // chunk's bytes are held once, not twice; the state stores these nodes back (state.ts).
  let at = 0;
  const rendered: RenderedNode[] = [];
  parts.forEach((part, i) => {
    const length = part?.json.length ?? 0;
    const key = keys[i];
    if (part !== undefined && key !== undefined) rendered.push({ key, exporterType: part.exporterType, json: fragment.slice(at, at + length) });
    at += length + 1;
  });
  return new Chunk(rendered, fragment);
}

class Chunk implements RenderedChunk {
  private digest: string | undefined;
  constructor(readonly nodes: readonly RenderedNode[], readonly fragment: string) {}
  get hash(): string {
    this.digest ??= contentHash(this.fragment);
    return this.digest;
  }
}

class ChunkedGroupView implements GroupView {
  readonly credentials?: Credentials;
  private digest: string | undefined;
  private nodeList: readonly RenderedNode[] | undefined;
  private counts: ReadonlyMap<string, number> | undefined;
  private types: readonly string[] | undefined;
  private joined: string | undefined;

  constructor(
    readonly name: string,
    readonly commonLabels: CommonLabels,
    readonly chunks: readonly RenderedChunk[],
    readonly size: number,
    credentials: Credentials | undefined,
  ) {
    if (credentials !== undefined) this.credentials = credentials;
  }

  get hash(): string {
    // One string, one hash update: a call per chunk costs more than the hashing itself.
    this.digest ??= contentHash(this.chunks.map((c) => c.hash).join(','));
    return this.digest;
  }

  get nodes(): readonly RenderedNode[] {
    this.nodeList ??= this.chunks.length === 1 ? (this.chunks[0]?.nodes ?? []) : this.chunks.flatMap((c) => c.nodes);
    return this.nodeList;
  }

  get exporterTypeCounts(): ReadonlyMap<string, number> {
    if (this.counts === undefined) {
      const counts = new Map<string, number>();
      for (const c of this.chunks) for (const n of c.nodes) counts.set(n.exporterType, (counts.get(n.exporterType) ?? 0) + 1);
      this.counts = counts;
    }
    return this.counts;
  }

  get exporterTypes(): readonly string[] {
    this.types ??= [...this.exporterTypeCounts.keys()].sort();
    return this.types;
  }

  get fragment(): string {
    this.joined ??= this.chunks.map((c) => c.fragment).join(',');
    return this.joined;
  }
}

/** A group's view from its rendered chunks (in key order), holding `size` nodes in all. */
export function groupView(name: string, doc: GroupDocument | undefined, common: CommonLabels, chunks: readonly RenderedChunk[], size: number): GroupView {
  // Password-only groups are normal (the Go sidecars write them): credentials whenever either is set.
  const credentials = doc !== undefined && (doc.username !== undefined || doc.password !== undefined)
    ? { username: doc.username ?? '', password: doc.password ?? '' }
    : undefined;
  return new ChunkedGroupView(name, common, chunks, size, credentials);
}
