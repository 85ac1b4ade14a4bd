/**
 * A reader of protobuf wire bytes, for the etcd responses decoded straight
 * off the wire (range.ts, watch.ts) instead of through etcd3's protobufjs
 * objects and Long strings.
 */

/** Bytes that are not the message etcd's protocol says they are. */
export class WireDecodeError extends Error {
  constructor(what: string, detail: string, readonly offset: number) {
    super(`etcd's ${what} does not decode at byte ${offset}: ${detail}`);
    this.name = 'WireDecodeError';
  }
}

export const VARINT = 0;
const FIXED64 = 1;
export const BYTES = 2;
const FIXED32 = 5;

/** A field's tag as it stands on the wire. */
export const tagOf = (field: number, wireType: number): number => (field << 3) | wireType;

// Field numbers of the messages both decoders read: etcd's ResponseHeader (rpc.proto) and
// mvccpb.KeyValue (kv.proto).
export const HEADER_CLUSTER_ID = 1;
export const HEADER_MEMBER_ID = 2;
export const HEADER_REVISION = 3;
export const HEADER_RAFT_TERM = 4;
export const KV_KEY = 1;
export const KV_CREATE_REVISION = 2;
export const KV_MOD_REVISION = 3;
export const KV_VERSION = 4;
export const KV_VALUE = 5;
export const KV_LEASE = 6;

/** The error a decoder throws for bytes it cannot read, from what is wrong and where. */
export type DecodeFailure = new (detail: string, offset: number) => Error;

const TWO_32 = 2 ** 32;
/** Below this high word a 64-bit value is exact as a number (2^53). */
const EXACT_HIGH = 2 ** 21;

/** A cursor over protobuf wire bytes; `end` bounds the message being read. */
export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
    private readonly failure: DecodeFailure,
  ) {
    this.pos = start;
  }

  private fail(detail: string, offset: number): Error {
    return new this.failure(detail, offset);
  }

  /** A varint as a number: exact up to 2^53, which revisions and counts stay under. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw this.fail('truncated varint', this.pos);
      const b = this.buf[this.pos++] ?? 0;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw this.fail('varint longer than 10 bytes', this.pos);
  }

  /**
   * A 64-bit varint as the decimal text etcd3 gives (protobufjs with
   * `longs: String`): exact at any size, so lease and member IDs, which use
   * all 64 bits, keep every digit. `signed` reads int64, else uint64.
   */
  int64Text(signed: boolean): string {
    let low = 0;
    let high = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw this.fail('truncated varint', this.pos);
      const b = this.buf[this.pos++] ?? 0;
      const bits = b & 0x7f;
      const shift = 7 * i;
      // Bits 0-31 fill the low word, 32-63 the high one; byte 4 straddles both.
      if (shift < 28) low += bits * 2 ** shift;
      else if (shift === 28) {
        low += (bits & 0x0f) * 2 ** 28;
        high += bits >>> 4;
      } else high += bits * 2 ** (shift - 32);
      if (b < 0x80) return textOf(low, high % TWO_32, signed);
    }
    throw this.fail('varint longer than 10 bytes', this.pos);
  }

  /** Start of a length-delimited field's bytes; the cursor moves past them. */
  bytes(): number {
    const length = this.varint();
    const start = this.pos;
    if (length > this.end - start) throw this.fail(`field of ${length} bytes runs past its message`, start);
    this.pos = start + length;
    return start;
  }

  skip(wireType: number): void {
    if (wireType === VARINT) this.varint();
    else if (wireType === BYTES) this.bytes();
    else if (wireType === FIXED64 || wireType === FIXED32) {
      const size = wireType === FIXED64 ? 8 : 4;
      if (size > this.end - this.pos) throw this.fail('truncated fixed-size field', this.pos);
      this.pos += size;
    } else throw this.fail(`unsupported wire type ${wireType}`, this.pos);
  }
}

function textOf(low: number, high: number, signed: boolean): string {
  if (high < EXACT_HIGH) return String(high * TWO_32 + low);
  const bits = (BigInt(high) << 32n) | BigInt(low);
  return (signed ? BigInt.asIntN(64, bits) : bits).toString();
}
