/**
 * Where each page of a prefix listing ends. etcd 3.4 answers a range with a
 * limit in time proportional to every key in the range, not to the limit: its
 * index collects the revisions of the whole range before it applies the limit.
 * Paging with an open end (`[last key, prefix end)`) therefore cost O(n) per
 * page and O(n²) per listing: 80 ms a page at 300,000 keys, and 1,000,000
 * nodes were not loaded after two minutes. So each page asks for a window
 * `[position, end of the keys sharing the position's first `depth` bytes)`,
 * and `depth` adapts to what etcd reports (`count`, the keys in the window):
 * narrower while a window holds many pages' worth, wider while windows come
 * back nearly empty. The windows tile the range, so every key is listed once.
 *
 * Widening is where the keys etcd walks pile up: one byte less can hold 256
 * times the keys. A window that comes back empty usually sits in a gap
 * between siblings (the bytes after `9` before the next digit carries), not in
 * a sparse part of the range, so it is skipped to its parent's end once and
 * the depth kept; and a depth just found too wide is not widened back to
 * until windows have come back small several times in a row. At 1,000,000
 * nodes in groups of 100 this cut the keys etcd walks from 12.6 to 3.7 per
 * key listed.
 */
import { prefixEnd } from '../etcd/client.js';

/**
 * A window holding more than this many pages' worth of keys is narrowed: each
 * page of a window of W keys makes etcd walk W keys, so keys listed from it
 * cost about W / limit each.
 */
const NARROW_ABOVE_PAGES = 2;
/** A window holding more than this many pages' worth is narrowed by two bytes at once. */
const NARROW_FAST_ABOVE_PAGES = 64;
/** Small windows in a row after which a depth found too wide is tried again (the keys may have thinned out). */
const RETRY_WIDER_AFTER = 8;

/** What one page said, as far as choosing the next window goes. */
export interface PageOutcome {
  /** Keys returned. */
  readonly returned: number;
  /** Keys the window held (etcd's `count`). */
  readonly count: number;
  /** Whether the window held more than was returned. */
  readonly more: boolean;
  /** Whether the page went on in a window already begun (its count is then what was left of it). */
  readonly continued: boolean;
  /** Leading bytes the page's first and last keys share (0 without keys). */
  readonly shared: number;
}

/** The length of the part `a` and `b` share at their start. */
export function sharedLength(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Chooses successive windows over `[start, end)`; see the module comment. */
export class RangeWindows {
  private depth: number;
  /** The depth the last window was cut at (at most its position's length). */
  private used: number;
  /** Whether the last window started where its depth's windows start (its position was exactly `used` bytes long). */
  private aligned = true;
  /** The next window runs to the end of its position's parent, once. */
  private skipToParentEnd = false;
  /** A window this wide (this depth or less) held too many keys; -1: none. */
  private tooWide = -1;
  private smallInARow = 0;

  /** `minDepth` is the length of the part every key shares (the prefix): no window is wider than the range. */
  constructor(
    private readonly end: Buffer,
    private readonly minDepth: number,
  ) {
    this.depth = minDepth;
    this.used = minDepth;
  }

  /** End (exclusive) of the window that starts at `position`; never past the range's end, always after `position`. */
  windowEnd(position: Buffer): Buffer {
    let depth = Math.min(this.depth, position.length);
    if (this.skipToParentEnd) {
      depth = Math.max(this.minDepth, depth - 1);
      this.skipToParentEnd = false;
    }
    this.used = depth;
    this.aligned = position.length === depth;
    if (depth <= this.minDepth) return this.end;
    const end = prefixEnd(position.subarray(0, depth));
    // prefixEnd of all-0xff bytes is the "no end" sentinel; past the range's end means the range's end.
    if ((end.length === 1 && end[0] === 0) || Buffer.compare(end, this.end) >= 0) return this.end;
    return end;
  }

  /** Adapts the width to the page just read with `limit`. */
  after(page: PageOutcome, limit: number): void {
    if (page.count > NARROW_ABOVE_PAGES * limit) {
      // The page's keys share `shared` bytes: a window cut any shallower holds them all and more.
      const by = page.count > NARROW_FAST_ABOVE_PAGES * limit ? 2 : 1;
      this.depth = Math.max(this.used + by, page.shared);
      this.tooWide = this.used;
      this.smallInARow = 0;
      return;
    }
    if (page.continued) return;
    if (page.more || page.returned >= limit / 2 || !this.aligned) {
      this.smallInARow = 0;
      return;
    }
    if (page.returned === 0 && this.used > this.minDepth) {
      this.skipToParentEnd = true;
      return;
    }
    const wider = this.used - 1;
    if (wider > this.tooWide || ++this.smallInARow >= RETRY_WIDER_AFTER) {
      this.depth = Math.max(this.minDepth, wider);
      this.smallInARow = 0;
      if (wider <= this.tooWide) this.tooWide = -1;
    }
  }
}
