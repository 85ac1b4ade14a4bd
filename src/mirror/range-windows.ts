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
}

/** Chooses successive windows over `[start, end)`; see the module comment. */
export class RangeWindows {
  private depth: number;
  /** The depth the last window was cut at (at most its position's length). */
  private used: number;

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
    const depth = Math.min(this.depth, position.length);
    this.used = depth;
    if (depth <= this.minDepth) return this.end;
    const end = prefixEnd(position.subarray(0, depth));
    // prefixEnd of all-0xff bytes is the "no end" sentinel; past the range's end means the range's end.
    if ((end.length === 1 && end[0] === 0) || Buffer.compare(end, this.end) >= 0) return this.end;
    return end;
  }

  /** Adapts the width to the page just read with `limit`. */
  after(page: PageOutcome, limit: number): void {
    if (page.count > NARROW_FAST_ABOVE_PAGES * limit) this.depth = this.used + 2;
    else if (page.count > NARROW_ABOVE_PAGES * limit) this.depth = this.used + 1;
    else if (!page.continued && !page.more && page.returned < limit / 2) this.depth = Math.max(this.minDepth, this.used - 1);
  }
}
