/**
 * etcd's Range, answered as the few fields a listing reads. etcd3 decodes
 * each response into objects with protobufjs and turns every 64-bit field
 * into a string through Long (four per key); at 1,000,000 keys that was
 * about 3 s of the listing's ~6.5 s of client CPU. Here the response bytes
 * are read straight off the wire: keys and values stay slices of the
 * message, revisions become numbers. The call itself still goes through
 * etcd3's connection pool, so deadlines, retries, the circuit breaker, auth
 * tokens and TLS are etcd3's as for every other call.
 */
import type { Etcd3, IRangeRequest } from 'etcd3';
import { BYTES, HEADER_REVISION, KV_KEY, KV_MOD_REVISION, KV_VALUE, Reader, tagOf, VARINT, WireDecodeError } from './wire.js';

/** One key of a range page. `key` and `value` are views of the response's bytes. */
export interface RangeKeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly modRevision: number;
}

/** The part of a RangeResponse a listing reads. */
export interface RangePage {
  /** The store's revision the page was read at (the response header's). */
  readonly revision: number;
  readonly kvs: readonly RangeKeyValue[];
  /** Whether the range held more keys than the limit let through. */
  readonly more: boolean;
  /** Keys in the range, all of them, not only those returned. */
  readonly count: number;
}

/** The request a listing sends. */
export interface RangePageRequest {
  readonly key: Buffer;
  readonly rangeEnd: Buffer;
  readonly limit: number;
  readonly revision?: number;
}

/** Reads a RangeResponse that is not what etcd's protocol says. */
export class RangeDecodeError extends WireDecodeError {
  constructor(detail: string, offset: number) {
    super('range response', detail, offset);
    this.name = 'RangeDecodeError';
  }
}

// Field numbers of etcd's RangeResponse (rpc.proto).
const RESPONSE_HEADER = 1;
const RESPONSE_KVS = 2;
const RESPONSE_MORE = 3;
const RESPONSE_COUNT = 4;

function readHeaderRevision(buf: Buffer, start: number, end: number): number {
  const h = new Reader(buf, start, end, RangeDecodeError);
  let revision = 0;
  while (h.pos < end) {
    const tag = h.varint();
    if (tag === tagOf(HEADER_REVISION, VARINT)) revision = h.varint();
    else h.skip(tag & 7);
  }
  return revision;
}

function readKeyValue(buf: Buffer, start: number, end: number): RangeKeyValue {
  const r = new Reader(buf, start, end, RangeDecodeError);
  let key = buf.subarray(start, start);
  let value = key;
  let modRevision = 0;
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === tagOf(KV_KEY, BYTES)) {
      const at = r.bytes();
      key = buf.subarray(at, r.pos);
    } else if (tag === tagOf(KV_VALUE, BYTES)) {
      const at = r.bytes();
      value = buf.subarray(at, r.pos);
    } else if (tag === tagOf(KV_MOD_REVISION, VARINT)) modRevision = r.varint();
    else r.skip(tag & 7);
  }
  return { key, value, modRevision };
}

/** Decodes the RangeResponse in `buf` (pure; unknown fields are skipped). */
export function decodeRangeResponse(buf: Buffer): RangePage {
  const r = new Reader(buf, 0, buf.length, RangeDecodeError);
  let revision = 0;
  let more = false;
  let count = 0;
  const kvs: RangeKeyValue[] = [];
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === BYTES && (field === RESPONSE_HEADER || field === RESPONSE_KVS)) {
      const start = r.bytes();
      if (field === RESPONSE_HEADER) revision = readHeaderRevision(buf, start, r.pos);
      else kvs.push(readKeyValue(buf, start, r.pos));
    } else if (wireType === VARINT && field === RESPONSE_MORE) more = r.varint() !== 0;
    else if (wireType === VARINT && field === RESPONSE_COUNT) count = r.varint();
    else r.skip(wireType);
  }
  return { revision, kvs, more, count };
}

function toEtcd3Request(req: RangePageRequest): IRangeRequest {
  return { key: req.key, range_end: req.rangeEnd, limit: req.limit, ...(req.revision !== undefined ? { revision: req.revision } : {}) };
}

/** A method of etcd3's KV service client that answers Range with `decodeRangeResponse`. */
const RAW_RANGE = 'etcdHttpSdRangeRaw';

type UnaryCallback = (err: Error | null, res?: RangePage) => void;

interface KvServiceClient {
  makeUnaryRequest(path: string, serialize: (req: IRangeRequest) => Buffer, deserialize: (buf: Buffer) => RangePage, req: IRangeRequest, metadata: unknown, options: unknown, callback: UnaryCallback): unknown;
  constructor: { service?: { Range?: { path?: unknown; requestSerialize?: unknown } } };
}

/** The parts of etcd3 1.1.2's connection pool the raw call goes through (not public API). */
interface Pool {
  exec(service: 'KV', method: string, req: IRangeRequest): Promise<RangePage>;
  hosts?: readonly { getServiceClient(name: 'KV'): KvServiceClient }[];
}

/**
 * Teaches etcd3's KV service class one more method, Range with the raw
 * decoder, so that `exec` (policies, auth, retry on a stale token) runs it
 * like any of etcd3's own calls. Undefined when etcd3 is not shaped as
 * 1.1.2 is: the caller then uses etcd3's `range`.
 */
function rawRangeOf(client: Etcd3): ((req: RangePageRequest) => Promise<RangePage>) | undefined {
  const pool = (client.kv as unknown as { client?: Pool }).client;
  const host = pool?.hosts?.[0];
  if (pool === undefined || host === undefined || typeof pool.exec !== 'function') return undefined;
  const sample = host.getServiceClient('KV');
  const range = sample.constructor.service?.Range;
  const proto = Object.getPrototypeOf(sample) as Record<string, unknown>;
  if (typeof range?.path !== 'string' || typeof range.requestSerialize !== 'function' || typeof sample.makeUnaryRequest !== 'function') return undefined;
  if (typeof proto[RAW_RANGE] !== 'function') {
    const path = range.path;
    const serialize = range.requestSerialize as (req: IRangeRequest) => Buffer;
    proto[RAW_RANGE] = function rangeRaw(this: KvServiceClient, req: IRangeRequest, metadata: unknown, options: unknown, callback: UnaryCallback): unknown {
      return this.makeUnaryRequest(path, serialize, decodeRangeResponse, req, metadata, options, callback);
    };
  }
  return (req) => pool.exec('KV', RAW_RANGE, toEtcd3Request(req));
}

/** A page read through etcd3's own range and decoding: what a listing uses when the raw call is not available. */
async function etcd3Range(client: Etcd3, req: RangePageRequest): Promise<RangePage> {
  const res = await client.kv.range(toEtcd3Request(req));
  return {
    revision: Number(res.header.revision),
    kvs: res.kvs.map((kv) => ({ key: kv.key, value: kv.value, modRevision: Number(kv.mod_revision) })),
    more: res.more,
    count: Number(res.count),
  };
}

/**
 * Reads range pages from `client`, raw where etcd3 allows it (see the module
 * comment). The raw call is set up on first use, not here: etcd3 creates its
 * service client then, which throws on a closed client, and that error
 * belongs to the call (as etcd3's own range reports it), not to whoever
 * holds the reader.
 */
export function rangePages(client: Etcd3): (req: RangePageRequest) => Promise<RangePage> {
  let read: ((req: RangePageRequest) => Promise<RangePage>) | undefined;
  return (req) => {
    try {
      read ??= rawRangeOf(client) ?? ((r) => etcd3Range(client, r));
    } catch {
      return etcd3Range(client, req);
    }
    return read(req);
  };
}
