/**
 * Prometheus's `hashmod` relabel action, bit for bit: md5 of the bytes,
 * digest bytes 8..15 read as a big-endian unsigned 64-bit integer, modulo
 * the modulus. Kept as two 32-bit halves so taking it modulo any shard count
 * needs no BigInt.
 */
import { createHash } from 'node:crypto';

/** The 64-bit hash Prometheus reduces modulo `modulus`, as its high and low 32 bits. */
export interface Hash64 {
  readonly hi: number;
  readonly lo: number;
}

/** The largest shard count: keeps `hi % n * 2^32 + lo` exact in a double. */
export const MAX_MODULUS = 1 << 20;

const TWO_32 = 4294967296;

/** The hash of `value` (UTF-8 bytes, as Go's `[]byte(string)`). */
export function hash64(value: string): Hash64 {
  const digest = createHash('md5').update(value, 'utf8').digest();
  return { hi: digest.readUInt32BE(8), lo: digest.readUInt32BE(12) };
}

/** `(hi * 2^32 + lo) mod n` for 1 <= n <= MAX_MODULUS, exactly. */
export function reduce(hi: number, lo: number, n: number): number {
  return (((hi % n) * TWO_32) + lo) % n;
}

/** What `hashmod` with `modulus: n` writes to its target label for `value`. */
export function hashmod(value: string, n: number): number {
  const h = hash64(value);
  return reduce(h.hi, h.lo, n);
}

/** Joins source label values the way relabelling does; a missing label is "". */
export function joinSourceValues(values: readonly (string | undefined)[], separator = ';'): string {
  return values.map((v) => v ?? '').join(separator);
}
