/**
 * Rendered responses: the bytes of a view, its ETag and its gzip, each
 * computed once per state and reused by every request until the state
 * changes. Filtered views live in an LRU bounded in bytes. A full body larger
 * than that bound is not copied: it is written from the groups' own rendered
 * chunks on each request, so the registry's bytes are held once, not twice.
 */
import type { ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { createGzip, gzip as gzipCb, constants as zlibConstants } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { contentHash, fragmentsOf, renderArray, type Content, type GroupView } from '../registry/index.js';
import { ShardMemo, shardKey, shardParts, type ShardSpec } from '../shard/index.js';

const gzipAsync = promisify(gzipCb);
// Level 6 is zlib's default; faster levels save little at these sizes and cost bytes.
const GZIP_OPTIONS = { level: zlibConstants.Z_DEFAULT_COMPRESSION };

/**
 * Bytes a streamed body is encoded in at a time: few enough writes, and
 * little held per response beyond what the socket holds.
 */
const PIECE_BYTES = 256 * 1024;

/** JSON array fragments with something in them, measured once. */
export interface Fragments {
  readonly parts: readonly string[];
  /** UTF-8 byte length of each part. */
  readonly lengths: readonly number[];
  /** Bytes of the whole array: brackets, commas and parts. */
  readonly byteLength: number;
}

/** The fragments that are not empty, with their byte lengths. */
export function measureFragments(fragments: readonly string[]): Fragments {
  const parts = fragments.filter((f) => f !== '');
  const lengths = parts.map((f) => Buffer.byteLength(f, 'utf8'));
  let byteLength = 2 + Math.max(0, parts.length - 1);
  for (const n of lengths) byteLength += n;
  return { parts, lengths, byteLength };
}

/** The JSON array of `f` in one buffer. */
function encodeArray(f: Fragments): Buffer {
  const out = Buffer.allocUnsafe(f.byteLength);
  let at = out.write('[', 0, 'latin1');
  f.parts.forEach((part, i) => {
    if (i > 0) at += out.write(',', at, 'latin1');
    at += out.write(part, at, 'utf8');
  });
  out.write(']', at, 'latin1');
  return out;
}

/** Buffers a streamed body is written through, reused: more in flight buys nothing on loopback or LAN. */
const RING = 4;

/**
 * Writes the JSON array of `f` to `sink` through a few buffers of
 * `pieceBytes`, each refilled once the sink has taken it (its write
 * callback): a body of any size allocates nothing per request. Allocating
 * the pieces instead made V8 collect its whole heap several times per 420 MiB
 * response (3-5 s of CPU at 1M nodes, against 0.1 s to write a held body).
 * A part larger than a buffer is written on its own. Resolves true when all
 * was written (the caller ends `sink`), false when `sink` closed first.
 */
export async function writeArray(sink: Writable, f: Fragments, pieceBytes: number = PIECE_BYTES): Promise<boolean> {
  let open = !sink.destroyed;
  const closed = new Promise<void>((resolve) => sink.once('close', () => resolve()));
  void closed.then(() => (open = false));
  const taken: (Promise<void> | undefined)[] = new Array<Promise<void> | undefined>(RING).fill(undefined);
  const ring: Buffer[] = [];
  let slot = 0;
  let used = 0;
  const write = (chunk: Buffer | string): Promise<void> => new Promise((resolve) => sink.write(chunk, () => resolve()));
  const current = (): Buffer => (ring[slot] ??= Buffer.allocUnsafe(pieceBytes));
  const flush = async (): Promise<void> => {
    if (used === 0) return;
    taken[slot] = write(current().subarray(0, used));
    slot = (slot + 1) % RING;
    used = 0;
    await Promise.race([taken[slot], closed]);
  };
  const put = async (text: string, bytes: number): Promise<void> => {
    if (used + bytes > pieceBytes) await flush();
    if (bytes > pieceBytes) await Promise.race([write(text), closed]);
    else used += current().write(text, used, 'utf8');
  };
  await put('[', 1);
  for (let i = 0; i < f.parts.length && open; i++) {
    if (i > 0) await put(',', 1);
    await put(f.parts[i] ?? '', f.lengths[i] ?? 0);
  }
  if (open) await put(']', 1);
  if (open) await flush();
  return open;
}

/** `Buffer.from(renderArray(fragments))`, without building the joined string. */
export function joinToBuffer(fragments: readonly string[]): Buffer {
  return encodeArray(measureFragments(fragments));
}

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
