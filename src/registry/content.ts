/**
 * An immutable snapshot of the whole registry as served. Readers hold one
 * `Content` at a time; the body and its ETag are computed once, on first use.
 */
import { contentHash, type GroupView } from './group-view.js';

/** Everything a response needs, for one state of the registry. */
export class Content {
  /** Increases with every visible change; never reused within a process. */
  readonly version: number;
  /** All groups, sorted by name (code-unit order, as `Array.prototype.sort`), including those without nodes. */
  readonly groups: readonly GroupView[];
  private targetCountCache: number | undefined;
  private bodyCache: string | undefined;
  private etagCache: string | undefined;

  /**
   * Costs nothing per group: a registry of 10,000 groups is snapshotted
   * several times a second under load (the event stream diffs each batch),
   * and an index built here was most of the cost of an update at 1,000,000 nodes.
   */
  constructor(version: number, groups: readonly GroupView[]) {
    this.version = version;
    this.groups = groups;
  }

  /** Targets served, over all groups. */
  get targetCount(): number {
    this.targetCountCache ??= this.groups.reduce((n, g) => n + g.size, 0);
    return this.targetCountCache;
  }

  /** One group's view, if the group exists (binary search: the groups are sorted). */
  group(name: string): GroupView | undefined {
    const i = indexOfName(this.groups, name);
    return i < 0 ? undefined : this.groups[i];
  }

  /** The full `/v1/targets` body: every node's target group, groups in name order. */
  get body(): string {
    this.bodyCache ??= renderArray(fragmentsOf(this.groups));
    return this.bodyCache;
  }

  /**
   * Strong ETag of `body`, derived from the groups' hashes so it costs
   * O(groups), not O(bytes). A heartbeat changes no fragment, so no ETag.
   */
  get etag(): string {
    this.etagCache ??= `"${contentHash('all', ...this.groups.filter((g) => g.size > 0).map((g) => g.hash))}"`;
    return this.etagCache;
  }
}

/** A snapshot and the etcd revision it reflects. */
export interface Served {
  readonly content: Content;
  readonly revision: number;
}

/** Where the served snapshot and its revision are read from: the mirror. */
export interface ServedSource {
  content(): Content | undefined;
  readonly revision: number;
}

/**
 * The snapshot and its revision, read together so that the revision
 * describes exactly this content (both move only when the mirror applies
 * events or reloads, never between the two reads). Undefined before the first load.
 */
export function served(source: ServedSource): Served | undefined {
  const content = source.content();
  return content === undefined ? undefined : { content, revision: source.revision };
}

/** The groups' chunk fragments, in order: the pieces of their JSON array. */
export function fragmentsOf(groups: readonly GroupView[]): string[] {
  return groups.flatMap((g) => g.chunks.map((c) => c.fragment));
}

/** Joins JSON array fragments (empty ones skipped) into one JSON array. */
export function renderArray(fragments: readonly string[]): string {
  let out = '[';
  let first = true;
  for (const f of fragments) {
    if (f === '') continue;
    if (!first) out += ',';
    out += f;
    first = false;
  }
  return `${out}]`;
}

/** Index of the group named `name` in `groups` (sorted by name), or -1. */
export function indexOfName(groups: readonly { readonly name: string }[], name: string): number {
  let lo = 0;
  let hi = groups.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const n = groups[mid]?.name;
    if (n === name) return mid;
    if (n === undefined) return -1;
    if (n < name) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
