/**
 * A JSON array body made of fragments (the groups' rendered chunks): its
 * length, its bytes in one buffer, or its bytes written to a stream through a
 * few reused buffers, so that a body of any size costs no new memory per
 * request. Fragments are slices of a JSON array; empty ones are skipped.
 */
import type { Writable } from 'node:stream';

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
export function encodeArray(f: Fragments): Buffer {
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
/** Idle pieces a pool keeps: enough for eight bodies written at once. */
const MAX_IDLE = 8 * RING;

/**
 * Piece buffers shared by the bodies written one after another or at once.
 * A body takes its own pieces and gives them back once the sink has taken
 * every write of them. Fresh pieces per body (4 of 256 KiB) were freed by
 * V8 only at its next collection and by malloc into fragments: at
 * 1,000,000 nodes, eight clients reading the full body grew RSS by about
 * 110 MiB in ten seconds, outside V8's heap.
 */
export class PiecePool {
  private readonly idle: Buffer[] = [];
  /** Pieces made so far (the rest were reused). */
  allocated = 0;

  constructor(readonly pieceBytes: number = PIECE_BYTES) {}

  take(): Buffer {
    const piece = this.idle.pop();
    if (piece !== undefined) return piece;
    this.allocated++;
    return Buffer.allocUnsafeSlow(this.pieceBytes);
  }

  /** Gives `pieces` back once every one of `writes` is done; if one never is, they are left to the collector. */
  giveBack(pieces: readonly Buffer[], writes: readonly (Promise<void> | undefined)[]): void {
    void Promise.all(writes.filter((w) => w !== undefined)).then(() => {
      for (const piece of pieces) if (this.idle.length < MAX_IDLE) this.idle.push(piece);
    });
  }
}

const PIECES = new PiecePool();

/**
 * Writes the JSON array of `f` to `sink` through a few buffers from
 * `pieces`, each refilled once the sink has taken it (its write callback):
 * a body of any size allocates nothing per request. Allocating the pieces
 * per write instead made V8 collect its whole heap several times per
 * 420 MiB response (3-5 s of CPU at 1M nodes, against 0.1 s to write a
 * held body). A part larger than a piece is written on its own. Resolves
 * true when all was written (the caller ends `sink`), false when `sink`
 * closed first.
 */
export async function writeArray(sink: Writable, f: Fragments, pieces: PiecePool = PIECES): Promise<boolean> {
  // Waits end early when the sink closes; the sink is destroyed by then (a failed write, a client
  // gone, the write deadline), which is what ends the writing.
  const closed = new Promise<void>((resolve) => sink.once('close', () => resolve()));
  /** Per slot, the write of its buffer's last contents: done once the sink has taken them. */
  const taken: (Promise<void> | undefined)[] = [];
  const ring: Buffer[] = [];
  const pieceBytes = pieces.pieceBytes;
  let slot = 0;
  let used = 0;
  const write = (chunk: Buffer | string): Promise<void> => new Promise((resolve) => sink.write(chunk, () => resolve()));
  const current = (): Buffer => (ring[slot] ??= pieces.take());
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
  for (let i = 0; i < f.parts.length && !sink.destroyed; i++) {
    if (i > 0) await put(',', 1);
    await put(f.parts[i] ?? '', f.lengths[i] ?? 0);
  }
  if (!sink.destroyed) await put(']', 1);
  if (!sink.destroyed) await flush();
  // A sink closed mid-way may have writes of them still pending: those pieces are not reused.
  if (sink.destroyed) return false;
  pieces.giveBack(ring, taken);
  return true;
}

/** `Buffer.from(renderArray(fragments))`, without building the joined string. */
export function joinToBuffer(fragments: readonly string[]): Buffer {
  return encodeArray(measureFragments(fragments));
}
