/**
 * Rendered responses: the bytes of a view, its ETag and its gzip, each
 * computed once per state and reused by every request until the state
 * changes. Filtered views live in an LRU bounded in bytes. A full body larger
 * than that bound is not copied: it is written from the groups' own rendered
 * chunks on each request, so the registry's bytes are held once, not twice.
 */
import type { ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { createGzip, gzip as gzipCb, constants as zlibConstants } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { contentHash, fragmentsOf, renderArray, type Content, type GroupView } from '../registry/index.js';
import { ShardMemo, shardKey, shardParts, type ShardSpec } from '../shard/index.js';
import { encodeArray, joinToBuffer, measureFragments, writeArray, type Fragments } from './array-body.js';

const gzipAsync = promisify(gzipCb);
// Level 6 is zlib's default; faster levels save little at these sizes and cost bytes.
const GZIP_OPTIONS = { level: zlibConstants.Z_DEFAULT_COMPRESSION };

/** One response body with what is needed to serve it: its bytes, or the fragments to write them from. */
export class RenderedView {
  readonly byteLength: number;
  private gz: Promise<Buffer> | undefined;

  private constructor(
    private readonly source: Buffer | Fragments,
    readonly etag: string,
  ) {
    this.byteLength = source.byteLength;
  }

  /** A view whose bytes are held. */
  static held(body: string | Buffer, etag: string): RenderedView {
    return new RenderedView(typeof body === 'string' ? Buffer.from(body, 'utf8') : body, etag);
  }

  /** A view written from `fragments` on each request: its bytes are never held whole. */
  static streamed(fragments: Fragments, etag: string): RenderedView {
    return new RenderedView(fragments, etag);
  }

  /** Whether the body is written from fragments rather than held. */
  get streamed(): boolean {
    return !Buffer.isBuffer(this.source);
  }

  /** The whole body; for a streamed view, a new copy on every call (for writers of files, not responses). */
  get body(): Buffer {
    return Buffer.isBuffer(this.source) ? this.source : encodeArray(this.source);
  }

  /**
   * Writes the body to `res` and ends it, heeding backpressure. Resolves
   * when written, or when `res` was closed first (client gone, write
   * deadline): there is nothing left to answer then.
   */
  async send(res: ServerResponse): Promise<void> {
    if (Buffer.isBuffer(this.source)) {
      res.end(this.source);
      return;
    }
    if (await writeArray(res, this.source)) res.end();
  }

  /** The gzip of the body, computed on first request and then reused. */
  gzipped(): Promise<Buffer> {
    this.gz ??= Buffer.isBuffer(this.source) ? gzipAsync(this.source, GZIP_OPTIONS) : gzipPieces(this.source);
    return this.gz;
  }
}

async function gzipPieces(f: Fragments): Promise<Buffer> {
  const gz = createGzip(GZIP_OPTIONS);
  const out: Buffer[] = [];
  gz.on('data', (b: Buffer) => out.push(b));
  const ended = new Promise<void>((resolve, reject) => {
    gz.once('end', resolve);
    gz.once('error', reject);
  });
  await writeArray(gz, f);
  gz.end();
  await ended;
  return Buffer.concat(out);
}

/** A filter of `/v1/targets`: groups and exporter types, each empty for "all"; one shard of them, if given. */
export interface TargetFilter {
  readonly groups: readonly string[];
  readonly exporterTypes: readonly string[];
  readonly shard?: ShardSpec;
}

/** What one cached view costs besides its body and key: objects, ETag, the LRU's own slots. */
const ENTRY_OVERHEAD_BYTES = 512;

/** Renders views of `Content`, caching the unfiltered one and an LRU of filtered ones. */
export class ViewCache {
  private full: { version: number; view: RenderedView } | undefined;
  private readonly filtered: LRUCache<string, RenderedView>;
  private readonly shards = new ShardMemo();
  private shardsPrunedAt: number | undefined;

  constructor(private readonly maxBytes: number) {
    this.filtered = new LRUCache<string, RenderedView>({
      maxSize: maxBytes,
      // Counts the body twice (once for itself, once for a gzip that may come), and the key and
      // the entry itself: the key is client-chosen and up to ~16 KB, so with bodies alone a
      // client sending distinct filters filled memory far past the bound (http-fuzz).
      sizeCalculation: (v, key) => v.byteLength * 2 + key.length * 2 + ENTRY_OVERHEAD_BYTES,
    });
  }

  /** The view of `content` under `filter`. */
  view(content: Content, filter: TargetFilter): RenderedView {
    if (isFull(filter)) return this.fullView(content);
    const key = filterKey(content, filter);
    let view = this.filtered.get(key);
    if (view === undefined) {
      view = filter.shard === undefined ? filteredView(content, filter) : this.shardView(content, filter, filter.shard);
      this.filtered.set(key, view);
    }
    return view;
  }

  /** The view of `content` under `filter` if it is rendered already; never renders. */
  cached(content: Content, filter: TargetFilter): RenderedView | undefined {
    if (isFull(filter)) return this.full?.version === content.version ? this.full.view : undefined;
    return this.filtered.peek(filterKey(content, filter));
  }

  private shardView(content: Content, filter: TargetFilter, spec: ShardSpec): RenderedView {
    if (this.shardsPrunedAt !== content.version) {
      this.shards.retain(new Set(content.groups.map((g) => g.name)));
      this.shardsPrunedAt = content.version;
    }
    const { parts, etag } = shardParts(this.shards, selectedGroups(content, filter), filter.exporterTypes, spec);
    return RenderedView.held(joinToBuffer(parts), etag);
  }

  private fullView(content: Content): RenderedView {
    if (this.full?.version !== content.version) {
      // Straight from the groups' chunks: going through `content.body` would keep a flat
      // copy of the whole response alive in the heap next to this buffer (+44 MB at 100k nodes).
      // Over the cache's bound, not even the buffer: a second copy of a 1M-node registry is 420 MB.
      const f = measureFragments(fragmentsOf(content.groups));
      const view = f.byteLength <= this.maxBytes ? RenderedView.held(encodeArray(f), content.etag) : RenderedView.streamed(f, content.etag);
      this.full = { version: content.version, view };
    }
    return this.full.view;
  }
}

function isFull(filter: TargetFilter): boolean {
  return filter.groups.length === 0 && filter.exporterTypes.length === 0 && filter.shard === undefined;
}

function filterKey(content: Content, filter: TargetFilter): string {
  const shard = filter.shard === undefined ? '' : `\0${shardKey(filter.shard)}`;
  return `${content.version}\0${filter.groups.join(',')}\0${filter.exporterTypes.join(',')}${shard}`;
}

function filteredView(content: Content, filter: TargetFilter): RenderedView {
  if (filter.exporterTypes.length === 0) {
    // Whole groups: written from their chunks and tagged from their hashes, so a request for a
    // large group costs one copy of its bytes per change, not a join, a re-encode and a hash.
    const groups = selectedGroups(content, filter).filter((g) => g.size > 0);
    return RenderedView.held(joinToBuffer(fragmentsOf(groups)), `"${contentHash('groups', ...groups.map((g) => `${g.name}:${g.hash}`))}"`);
  }
  const body = renderFiltered(content, filter);
  return RenderedView.held(body, `"${contentHash('filtered', body)}"`);
}

function selectedGroups(content: Content, filter: TargetFilter): readonly GroupView[] {
  return filter.groups.length === 0 ? content.groups : filter.groups.map((g) => content.group(g)).filter((g) => g !== undefined);
}

/** The body of a filtered view: groups in name order, nodes in key order. */
export function renderFiltered(content: Content, filter: TargetFilter): string {
  const groups = selectedGroups(content, filter);
  if (filter.exporterTypes.length === 0) return renderArray(fragmentsOf(groups));
  const types = new Set(filter.exporterTypes);
  const parts: string[] = [];
  for (const g of groups) {
    for (const n of g.nodes) if (types.has(n.exporterType)) parts.push(n.json);
  }
  return renderArray(parts);
}
