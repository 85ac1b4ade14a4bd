/**
 * A group's node keys in order, cut into chunks that are rendered (and
 * hashed) one at a time, so a change to one node re-renders its chunk, not
 * its group. Where a chunk ends depends on the keys alone (a key whose hash
 * is 0 modulo `CHUNK_MEAN` ends one), never on the order changes arrived in:
 * two replicas holding the same nodes cut them alike, and their content
 * hashes, built from the chunks' hashes, agree. Pure.
 */

/** Mean number of nodes in a chunk (chunk sizes are geometric around it). */
export const CHUNK_MEAN = 32;

/** 32-bit FNV-1a over UTF-16 code units: cheap and the same in every process. */
function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Whether a chunk ends with `key`. */
export function endsChunk(key: string): boolean {
  // Keys arrive in order when loading: each add asks about the key added just before.
  if (key !== lastKey) {
    lastKey = key;
    lastEnds = keyHash(key) % CHUNK_MEAN === 0;
  }
  return lastEnds;
}

let lastKey: string | undefined;
let lastEnds = false;

/** Index of the first element of sorted `keys` that is not below `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] ?? '') < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface Slot<C> {
  /** Sorted; every slot but the last ends with a key that `endsChunk`. */
  keys: string[];
  /** The rendered chunk; undefined after a change to one of its keys. */
  built: C | undefined;
}

/** Ordered node keys in chunks, each with a cached rendering of type `C`. */
export class ChunkIndex<C> {
  private slots: Slot<C>[] = [];

  /** The slot that holds `key`, or would. */
  private find(key: string): number {
    let lo = 0;
    let hi = this.slots.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const keys = this.slots[mid]?.keys ?? [];
      if ((keys[keys.length - 1] ?? '') < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds `key` (absent). */
  add(key: string): void {
    const i = this.find(key);
    const slot = this.slots[i];
    if (slot === undefined) {
      this.slots.push({ keys: [key], built: undefined });
      return;
    }
    const at = lowerBound(slot.keys, key);
    if (at === slot.keys.length && endsChunk(slot.keys[at - 1] ?? '')) {
      // Past the last key, which ends its chunk: a new last chunk.
      this.slots.push({ keys: [key], built: undefined });
      return;
    }
    slot.keys.splice(at, 0, key);
    slot.built = undefined;
    if (endsChunk(key) && at < slot.keys.length - 1) this.slots.splice(i + 1, 0, { keys: slot.keys.splice(at + 1), built: undefined });
  }

  /** Removes `key` (present). */
  remove(key: string): void {
    const i = this.find(key);
    const slot = this.slots[i];
    if (slot === undefined) return;
    const at = lowerBound(slot.keys, key);
    if (slot.keys[at] !== key) return;
    slot.keys.splice(at, 1);
    slot.built = undefined;
    const next = this.slots[i + 1];
    if (slot.keys.length === 0) this.slots.splice(i, 1);
    else if (at === slot.keys.length && next !== undefined) {
      // The key that ended this chunk is gone: the next chunk's keys join it.
      slot.keys.push(...next.keys);
      this.slots.splice(i + 1, 1);
    }
  }

  /**
   * Renders the chunk that `key` ends, if it ends one and it is not rendered:
   * when keys arrive in order (a listing), each chunk is complete then, and
   * rendering it at once lets its nodes' own renderings die young instead of
   * outliving the load in the old heap. If `render` throws, the chunk is left
   * for `build`.
   */
  buildEndedBy(key: string, render: (keys: readonly string[]) => C): void {
    if (!endsChunk(key)) return;
    // A key that ends a chunk is always its slot's last (add splits there).
    const slot = this.slots[this.find(key)];
    if (slot === undefined || slot.built !== undefined) return;
    slot.built = render(slot.keys);
  }

  /** The keys of each chunk, in order (for tests). */
  chunkKeys(): string[][] {
    return this.slots.map((s) => [...s.keys]);
  }

  /** Marks `key`'s chunk for re-rendering. */
  touch(key: string): void {
    const slot = this.slots[this.find(key)];
    if (slot !== undefined) slot.built = undefined;
  }

  /** Marks every chunk for re-rendering. */
  touchAll(): void {
    for (const slot of this.slots) slot.built = undefined;
  }

  /**
   * Every chunk in order, rendering with `render` those changed since the
   * last call. If `render` throws, the chunks rendered so far are kept and
   * the error propagates.
   */
  build(render: (keys: readonly string[]) => C): C[] {
    return this.slots.map((slot) => {
      slot.built ??= render(slot.keys);
      return slot.built;
    });
  }
}
