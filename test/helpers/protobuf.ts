// Protobuf wire bytes built field by field, for tests of the decoders that read etcd's responses
// straight off the wire (src/etcd/range.ts, src/etcd/watch.ts).

export function varint(n: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return Buffer.from(out);
}
export const tag = (field: number, wireType: number): Buffer => varint((field << 3) | wireType);
export const num = (field: number, n: number | bigint): Buffer => Buffer.concat([tag(field, 0), varint(n)]);
export const bytes = (field: number, b: Buffer | string): Buffer => {
  const body = Buffer.from(b);
  return Buffer.concat([tag(field, 2), varint(body.length), body]);
};
export const fixed64 = (field: number): Buffer => Buffer.concat([tag(field, 1), Buffer.alloc(8, 0xab)]);
export const fixed32 = (field: number): Buffer => Buffer.concat([tag(field, 5), Buffer.alloc(4, 0xcd)]);
