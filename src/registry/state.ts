/**
 * The authoritative in-memory registry: plain Maps fed with etcd key/value
 * changes, from which immutable `Content` snapshots are built on demand.
 * Pure: no I/O. A change to one node re-renders that node and the chunk of
 * its group holding it (node-chunks.ts), so its cost does not grow with the
 * group; a change to a group document re-renders the group's nodes. A group
 * whose rendering throws keeps its last good view and is reported
 * (`renderFailures`); the other groups are not affected.
 */
import { Content, indexOfName } from './content.js';
import { isHeartbeatText, parseGroupDocument, parseNodeDocument, type GroupDocument, type InvalidReason, type NodeDocument, type Parsed } from './documents.js';
import { documentOf, groupView, renderChunk, type GroupView, type NodeEntry, type NodeRenderer, type RenderedChunk } from './group-view.js';
import { classifyKey, GROUP_NAME_RULE } from './keys.js';
import { DEFAULT_DOCUMENT_LIMITS, fitsDocumentBytes, parseWithinLimits, type DocumentLimits } from './limits.js';
import { ChunkIndex } from './node-chunks.js';
import { isUndecodableKey } from './raw-key.js';
import { DEFAULT_LABEL_POLICY, protectedLabelsIn, sanitizeLabels, type LabelPolicy } from './labels.js';
import { renderNodeTarget, resolveAddress, type CommonLabels } from './target.js';

/** A key/value change, as etcd reports it. */
export type Change =
  | { readonly type: 'put'; readonly key: string; readonly value: string }
  | { readonly type: 'delete'; readonly key: string };

/** A stored document that is skipped, and why. */
export interface InvalidDocument {
  readonly key: string;
  readonly reason: InvalidReason;
  readonly detail: string;
}

/** How many documents in force set a protected label, which is dropped (see `LabelPolicy`). */
export interface ProtectedLabelCount {
  readonly source: 'group' | 'node';
  readonly label: string;
  readonly documents: number;
}

/** What applying a change did. */
export interface ApplyResult {
  /** Whether anything a client can see changed. */
  readonly changed: boolean;
  /** Set when the change stored a document we must skip. */
  readonly invalid?: InvalidDocument;
}

interface GroupEntry {
  /** The group document in force: the stored one, or its last good version while the stored one does not decode. */
  doc: GroupDocument | undefined;
  /**
   * The stored group document does not decode. With a last good `doc`,
   * that version stays in force (stale over partial); without one the
   * group's nodes are withheld: serving them without the group's labels and
   * credentials would be partial (and promster skips such a group too).
   */
  broken: boolean;
  common: CommonLabels;
  readonly nodes: Map<string, NodeEntry>;
  /** The nodes' keys in chunks, each with its rendering. */
  readonly chunks: ChunkIndex<RenderedChunk>;
  /** The view in force: the last one built, or the last good one when a build failed. */
  view: GroupView | undefined;
  /** The group changed since `view` was built (or its build was tried). */
  stale: boolean;
}

/** A group whose view could not be built; it serves its last good view. */
export interface RenderFailure {
  readonly group: string;
  /** `too_large`: a string over V8's limit; `render_error`: anything else. */
  readonly reason: 'too_large' | 'render_error';
  readonly detail: string;
  /** Whether the group still serves an earlier view (else it serves no nodes). */
  readonly servingLastGood: boolean;
}

export const RENDER_FAILURE_REASONS: readonly RenderFailure['reason'][] = ['too_large', 'render_error'];

/** Optional parts of a state. */
export interface StateHooks {
  /** Called for each failed build of a group's view; `first` when the group was not failing already. */
  readonly onRenderFailure?: (failure: RenderFailure, first: boolean) => void;
  /** Renders a node: `renderNodeTarget` unless a test substitutes one. */
  readonly renderNode?: NodeRenderer;
}

const UNCHANGED: ApplyResult = { changed: false };
const NONE: readonly string[] = Object.freeze([]);
const CHANGED: ApplyResult = { changed: true };

/** Mutable registry state for one prefix. */
export class RegistryState {
  readonly prefix: string;
  private readonly groups = new Map<string, GroupEntry>();
  private readonly invalidKeys = new Map<string, InvalidDocument>();
  /** Seed from the state this one replaces; an entry goes once its group's document is put or deleted here. */
  private readonly lastGood: Map<string, GroupDocument>;
  /** Documents in force setting a protected label, by `source\0label`. */
  private readonly protectedCounts = new Map<string, number>();
  /** Renders one node under the label policy (or the test's stand-in). */
  private readonly renderNode: NodeRenderer;
  /** The last snapshot's views, in name order; undefined once a group came or went. */
  private views: GroupView[] | undefined;
  /** Groups marked stale since the last snapshot. */
  private readonly dirty = new Set<string>();
  /** Groups marked stale since the last snapshot or `renderPending`. */
  private readonly unrendered = new Set<string>();
  private version: number;
  private content: Content | undefined;
  private readonly failures = new Map<string, RenderFailure>();

  /**
   * `startVersion` lets a reloaded state continue the old one's versions;
   * `lastGood` (the old state's `lastGoodGroups()`) keeps a group document
   * that stopped decoding in force across the reload. `labelPolicy` says
   * which label names no document may set (explanations read it too).
   */
  constructor(
    prefix: string,
    startVersion = 0,
    lastGood: ReadonlyMap<string, GroupDocument> = new Map(),
    private readonly limits: DocumentLimits = DEFAULT_DOCUMENT_LIMITS,
    readonly labelPolicy: LabelPolicy = DEFAULT_LABEL_POLICY,
    private readonly hooks: StateHooks = {},
  ) {
    this.prefix = prefix;
    this.renderNode = hooks.renderNode ?? ((group, common, node) => renderNodeTarget(group, common, node, labelPolicy));
    this.version = startVersion;
    this.lastGood = new Map(lastGood);
  }

  /** The group documents in force, by group: what a reload must keep when a document stops decoding. */
  lastGoodGroups(): Map<string, GroupDocument> {
    const out = new Map<string, GroupDocument>();
    for (const [name, e] of this.groups) if (e.doc !== undefined) out.set(name, e.doc);
    return out;
  }

  /** Applies one change; see `ApplyResult`. */
  apply(change: Change): ApplyResult {
    if (isUndecodableKey(change.key)) return this.applyUndecodable(change);
    const kind = classifyKey(this.prefix, change.key);
    if (kind.kind === 'ignored') return UNCHANGED;
    if (kind.kind === 'invalid') {
      if (change.type === 'delete') return this.forgetInvalid(change.key);
      const invalid = { key: change.key, reason: kind.reason, detail: `group name ${GROUP_NAME_RULE}` };
      this.invalidKeys.set(change.key, invalid);
      return { changed: false, invalid };
    }
    const result = kind.kind === 'group'
      ? this.applyGroup(kind.group, change)
      : this.applyNode(kind.group, kind.node, change);
    if (result.changed) this.touch();
    return result;
  }

  /**
   * The current snapshot; rebuilt only after a visible change. When no group
   * came or went, the last snapshot's views are copied and only the groups
   * changed since are rebuilt: a snapshot then costs a copy of one pointer
   * per group, not a look-up of each.
   */
  snapshot(): Content {
    if (this.content !== undefined) return this.content;
    let views: GroupView[];
    if (this.views !== undefined) {
      views = this.views.slice();
      for (const name of this.dirty) {
        const i = indexOfName(views, name);
        const entry = this.groups.get(name);
        if (i >= 0 && entry !== undefined) views[i] = this.viewOf(name, entry);
      }
    } else {
      views = [];
      for (const name of [...this.groups.keys()].sort()) {
        const entry = this.groups.get(name);
        if (entry !== undefined) views.push(this.viewOf(name, entry));
      }
    }
    this.dirty.clear();
    this.unrendered.clear();
    this.views = views;
    this.content = new Content(this.version, views);
    return this.content;
  }

  /**
   * Renders the chunks the next snapshot would render, without building it.
   * A listing calls this after each page: a node's rendering on arrival then
   * dies young, instead of waiting in the old heap for the snapshot at the
   * end of the load (at 1,000,000 nodes, hundreds of MB of garbage). A
   * failure is left to the snapshot, which contains and reports it.
   */
  renderPending(): void {
    for (const name of this.unrendered) {
      const entry = this.groups.get(name);
      if (entry !== undefined) this.renderAhead(name, entry, (render) => entry.chunks.build(render));
    }
    this.unrendered.clear();
  }

  /** Documents in force whose protected labels are dropped, by kind and label; only non-zero counts. */
  protectedLabelCounts(): ProtectedLabelCount[] {
    return [...this.protectedCounts].map(([k, documents]) => {
      const [source, label] = k.split('\0') as ['group' | 'node', string];
      return { source, label, documents };
    });
  }

  /** Groups whose last view build failed, by name (each serves its last good view). */
  renderFailures(): ReadonlyMap<string, RenderFailure> {
    return this.failures;
  }

  /** The version the next snapshot will carry. */
  get currentVersion(): number {
    return this.version;
  }

  /** Keys currently skipped, by reason. */
  invalidCounts(): Map<InvalidReason, number> {
    const counts = new Map<InvalidReason, number>();
    for (const { reason } of this.invalidKeys.values()) counts.set(reason, (counts.get(reason) ?? 0) + 1);
    return counts;
  }

  /** Documents currently skipped, with why; in key order. */
  invalidDocuments(): InvalidDocument[] {
    return [...this.invalidKeys.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Why the document at `key` is skipped, if it is. */
  invalidDocument(key: string): InvalidDocument | undefined {
    return this.invalidKeys.get(key);
  }

  /** A group's document (undefined: none, or invalid) and its sanitised common labels. */
  groupDocument(group: string): { readonly doc: GroupDocument | undefined; readonly common: CommonLabels } | undefined {
    const e = this.groups.get(group);
    return e === undefined ? undefined : { doc: e.doc, common: e.common };
  }

  /** The document of a served node as last stored, heartbeats included (`node` is the key's last segment). */
  nodeDocument(group: string, node: string): NodeDocument | undefined {
    const entry = this.groups.get(group)?.nodes.get(node);
    if (entry === undefined) return undefined;
    const parsed = parseNodeDocument(entry.text);
    return parsed.ok ? parsed.value : undefined;
  }

  private touch(): void {
    this.version += 1;
    this.content = undefined;
  }

  private viewOf(name: string, entry: GroupEntry): GroupView {
    if (entry.view !== undefined && !entry.stale) return entry.view;
    entry.stale = false;
    const withheld = entry.broken && entry.doc === undefined;
    try {
      const chunks = withheld ? [] : entry.chunks.build((keys) => this.renderChunkOf(name, entry, keys));
      entry.view = groupView(name, entry.doc, entry.common, chunks, withheld ? 0 : entry.nodes.size);
      this.failures.delete(name);
    } catch (err) {
      // Contained here: a request or a reload never sees it. Retried with the group's next change.
      const failure = renderFailure(name, err, entry.view !== undefined);
      const first = !this.failures.has(name);
      this.failures.set(name, failure);
      entry.view ??= groupView(name, entry.doc, entry.common, [], 0);
      this.hooks.onRenderFailure?.(failure, first);
    }
    return entry.view;
  }

  private renderChunkOf(name: string, entry: GroupEntry, keys: readonly string[]): RenderedChunk {
    const chunk = renderChunk(name, entry.common, keys, entry.nodes, this.renderNode);
    // Keep the chunk's nodes, whose JSON points into its fragment, instead of copies.
    for (const n of chunk.nodes) {
      const stored = entry.nodes.get(n.key);
      if (stored !== undefined) stored.rendered = n;
    }
    return chunk;
  }

  /** Renders chunks ahead of the snapshot; a failure is left to viewOf, which renders again, contains and reports it. */
  private renderAhead(name: string, entry: GroupEntry, build: (render: (keys: readonly string[]) => RenderedChunk) => unknown): void {
    try {
      build((keys) => this.renderChunkOf(name, entry, keys));
    } catch {
      // Left to viewOf.
    }
  }

  // Skipped, never merged with a key it would decode to: two such keys must not collide.
  private applyUndecodable(change: Change): ApplyResult {
    if (change.type === 'delete') return this.forgetInvalid(change.key);
    const invalid: InvalidDocument = { key: change.key, reason: 'invalid_key_encoding', detail: 'key is not valid UTF-8' };
    this.invalidKeys.set(change.key, invalid);
    return { changed: false, invalid };
  }

  private forgetInvalid(key: string): ApplyResult {
    this.invalidKeys.delete(key);
    return UNCHANGED;
  }

  private entry(group: string): GroupEntry {
    let e = this.groups.get(group);
    if (e === undefined) {
      e = { doc: undefined, broken: false, common: {}, nodes: new Map(), chunks: new ChunkIndex(), view: undefined, stale: true };
      this.groups.set(group, e);
      this.views = undefined;
    }
    return e;
  }

  /** The group's view must be rebuilt with the next snapshot. */
  private markStale(group: string, e: GroupEntry): void {
    e.stale = true;
    this.dirty.add(group);
    this.unrendered.add(group);
  }

  private dropIfEmpty(group: string, e: GroupEntry): void {
    if (e.doc === undefined && !e.broken && e.nodes.size === 0) {
      this.groups.delete(group);
      this.failures.delete(group);
      this.views = undefined;
    }
  }

  private applyGroup(group: string, change: Change): ApplyResult {
    const key = change.key;
    if (change.type === 'delete') {
      this.invalidKeys.delete(key);
      const e = this.groups.get(group);
      this.lastGood.delete(group);
      if (e === undefined || (e.doc === undefined && !e.broken)) return UNCHANGED;
      e.broken = false;
      this.setGroupDoc(group, e, undefined);
      return CHANGED;
    }
    const parsed = parseWithinLimits(change.value, parseGroupDocument, (d) => d.commonLabels, this.limits);
    const e = this.entry(group);
    if (!parsed.ok) return this.brokenGroup(group, e, key, parsed);
    this.invalidKeys.delete(key);
    this.lastGood.delete(group);
    e.broken = false;
    this.setGroupDoc(group, e, parsed.value);
    return CHANGED;
  }

  /** A group document that does not decode: stale over partial, and reported either way. */
  private brokenGroup(group: string, e: GroupEntry, key: string, bad: { reason: InvalidReason; detail: string }): ApplyResult {
    const wasWithheld = e.broken && e.doc === undefined;
    e.broken = true;
    const stale = e.doc ?? this.lastGood.get(group);
    if (stale !== undefined) {
      const changed = e.doc === undefined;
      if (changed) this.setGroupDoc(group, e, stale);
      return { changed, invalid: this.recordInvalid({ key, reason: bad.reason, detail: `${bad.detail}; its last valid version stays in force` }) };
    }
    this.markStale(group, e);
    const detail = `${bad.detail}; never seen valid, so the group's nodes are withheld`;
    return { changed: !wasWithheld, invalid: this.recordInvalid({ key, reason: bad.reason, detail }) };
  }

  private recordInvalid(invalid: InvalidDocument): InvalidDocument {
    this.invalidKeys.set(invalid.key, invalid);
    return invalid;
  }

  /** The protected labels `labels` sets (the shared empty list for none, as nearly always). */
  private protectedIn(labels: Readonly<Record<string, unknown>> | undefined): readonly string[] {
    if (labels === undefined) return NONE;
    const found = protectedLabelsIn(labels, this.labelPolicy);
    return found.length === 0 ? NONE : found;
  }

  /** Moves the protected-label counts from the labels a document set `before` to those it sets `after`. */
  private countProtected(source: ProtectedLabelCount['source'], before: readonly string[], after: readonly string[]): void {
    const bump = (found: readonly string[], by: number): void => {
      for (const label of found) {
        const k = `${source}\0${label}`;
        const n = (this.protectedCounts.get(k) ?? 0) + by;
        if (n === 0) this.protectedCounts.delete(k);
        else this.protectedCounts.set(k, n);
      }
    };
    bump(before, -1);
    bump(after, 1);
  }

  private setGroupDoc(group: string, e: GroupEntry, doc: GroupDocument | undefined): void {
    this.countProtected('group', this.protectedIn(e.doc?.commonLabels), this.protectedIn(doc?.commonLabels));
    e.doc = doc;
    e.common = doc === undefined ? {} : sanitizeLabels(doc.commonLabels, undefined, this.labelPolicy);
    this.markStale(group, e);
    // Re-rendered with the next view. A node valid once stays valid under new common labels:
    // address and port do not depend on them.
    for (const n of e.nodes.values()) n.rendered = undefined;
    e.chunks.touchAll();
    this.dropIfEmpty(group, e);
  }

  private applyNode(group: string, node: string, change: Change): ApplyResult {
    const key = change.key;
    if (change.type === 'delete') {
      this.invalidKeys.delete(key);
      return this.removeNode(group, node) ? CHANGED : UNCHANGED;
    }
    const e = this.groups.get(group);
    const old = e?.nodes.get(node);
    // A heartbeat (only last_seen moved) renders the same target: skip parsing and rendering,
    // keep the new text in place, allocate nothing. The Go library sends one per node every
    // TTL/2, in its own bytes, which are told apart by comparing texts; any other spelling is parsed.
    if (old !== undefined && fitsDocumentBytes(change.value, this.limits) && isHeartbeatText(change.value, old.text)) {
      old.text = change.value;
      return UNCHANGED;
    }
    const parsedDoc = parseWithinLimits(change.value, parseNodeDocument, (d) => d.labels, this.limits);
    if (parsedDoc.ok && old !== undefined && sameTarget(documentOf(key, old), parsedDoc.value)) {
      old.text = change.value;
      return UNCHANGED;
    }
    // Rendered now, known or new: a change is told from none by its bytes, and the parsed
    // document dies young. Held until the first snapshot, 1,000,000 documents were most of
    // what loading copied from one heap space to the next.
    const rendered = !parsedDoc.ok ? parsedDoc : this.renderOnArrival(group, e?.common ?? {}, parsedDoc.value);
    if (!parsedDoc.ok || !rendered.ok) {
      // Here rendered failed whenever parsedDoc did not (it is parsedDoc then).
      const bad = !parsedDoc.ok ? parsedDoc : (rendered as Extract<typeof rendered, { ok: false }>);
      const invalid = { key, reason: bad.reason, detail: bad.detail };
      this.invalidKeys.set(key, invalid);
      return { changed: this.removeNode(group, node), invalid };
    }
    this.invalidKeys.delete(key);
    const protectedLabels = this.protectedIn(parsedDoc.value.labels);
    this.countProtected('node', old?.protectedLabels ?? NONE, protectedLabels);
    const target = this.entry(group);
    const json = rendered.value;
    // A new node's name is kept for its life: a copy of its own, not a slice that keeps the whole key.
    const name = old === undefined ? ownString(node) : node;
    target.nodes.set(name, { text: change.value, rendered: json === undefined ? undefined : { key: name, exporterType: parsedDoc.value.exporterType, json }, protectedLabels });
    if (old === undefined) {
      target.chunks.add(name);
      this.renderAhead(group, target, (render) => target.chunks.buildEndedBy(name, render));
    } else {
      if (json !== undefined && old.rendered?.json === json) return UNCHANGED; // e.g. a label the renderer drops
      target.chunks.touch(node);
    }
    this.markStale(group, target);
    return CHANGED;
  }

  /**
   * A node's target as it arrives; undefined when rendering threw (a bug, or a
   * test's renderer): its chunk renders it again and contains the failure.
   */
  private renderOnArrival(group: string, common: CommonLabels, doc: NodeDocument): Parsed<string | undefined> {
    try {
      return this.renderNode(group, common, doc);
    } catch {
      const address = resolveAddress(doc);
      return address.ok ? { ok: true, value: undefined } : address;
    }
  }

  private removeNode(group: string, node: string): boolean {
    const e = this.groups.get(group);
    const old = e?.nodes.get(node);
    if (e === undefined || old === undefined) return false;
    e.nodes.delete(node);
    this.countProtected('node', old.protectedLabels, NONE);
    e.chunks.remove(node);
    this.markStale(group, e);
    this.dropIfEmpty(group, e);
    return true;
  }
}

/** `s` in a string of its own: V8 makes longer slices views that keep their parent alive. */
function ownString(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

function renderFailure(group: string, err: unknown, servingLastGood: boolean): RenderFailure {
  const detail = err instanceof Error ? err.message : String(err);
  const reason = err instanceof RangeError && /string length/i.test(detail) ? 'too_large' : 'render_error';
  return { group, reason, detail, servingLastGood };
}

/**
 * Whether two node documents render the same target: every field but
 * `last_seen` equal, labels compared shallowly (a non-string label value
 * compares by identity, so it never counts as equal: the caller renders).
 */
function sameTarget(a: NodeDocument, b: NodeDocument): boolean {
  if (a.id !== b.id || a.exporterType !== b.exporterType || a.port !== b.port || a.metricsPath !== b.metricsPath) return false;
  if (a.status !== b.status || a.address !== b.address) return false;
  const names = Object.keys(a.labels);
  if (names.length !== Object.keys(b.labels).length) return false;
  for (const name of names) {
    const v = a.labels[name];
    if (typeof v !== 'string' || !Object.hasOwn(b.labels, name) || b.labels[name] !== v) return false;
  }
  return true;
}
