/**
 * etcd's watch stream, decoded straight off the wire. A node heartbeat is
 * one watch message of one event, and etcd3 turns each into protobufjs
 * objects and then into plain ones, every 64-bit field through Long into a
 * string: about a tenth of the server's CPU per heartbeat. Here the same
 * plain objects (`IWatchResponse`, the very field names, types and
 * defaults etcd3 gives) are read from the bytes at once, so etcd3's watch
 * manager and watchers run unchanged on top: attach, resume, reconnect,
 * auth and TLS stay etcd3's.
 */
import type { Etcd3, IEvent, IKeyValue, IResponseHeader, IWatchResponse, Namespace } from 'etcd3';
import {
  BYTES, HEADER_CLUSTER_ID, HEADER_MEMBER_ID, HEADER_RAFT_TERM, HEADER_REVISION, KV_CREATE_REVISION, KV_KEY, KV_LEASE, KV_MOD_REVISION, KV_VALUE, KV_VERSION,
  Reader, tagOf, VARINT, WireDecodeError,
} from './wire.js';

/** Reads a WatchResponse that is not what etcd's protocol says. */
export class WatchDecodeError extends WireDecodeError {
  constructor(detail: string, offset: number) {
    super('watch response', detail, offset);
    this.name = 'WatchDecodeError';
  }
}

// Field numbers of etcd's WatchResponse (rpc.proto) and mvccpb.Event (kv.proto).
const RESPONSE_HEADER = 1;
const RESPONSE_WATCH_ID = 2;
const RESPONSE_CREATED = 3;
const RESPONSE_CANCELED = 4;
const RESPONSE_COMPACT_REVISION = 5;
const RESPONSE_CANCEL_REASON = 6;
const RESPONSE_FRAGMENT = 7;
const RESPONSE_EVENTS = 11;
const EVENT_TYPE = 1;
const EVENT_KV = 2;
const EVENT_PREV_KV = 3;

function readHeader(buf: Buffer, start: number, end: number): IResponseHeader {
  const r = new Reader(buf, start, end, WatchDecodeError);
  const h: IResponseHeader = { cluster_id: '0', member_id: '0', revision: '0', raft_term: '0' };
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === tagOf(HEADER_CLUSTER_ID, VARINT)) h.cluster_id = r.int64Text(false);
    else if (tag === tagOf(HEADER_MEMBER_ID, VARINT)) h.member_id = r.int64Text(false);
    else if (tag === tagOf(HEADER_REVISION, VARINT)) h.revision = r.int64Text(true);
    else if (tag === tagOf(HEADER_RAFT_TERM, VARINT)) h.raft_term = r.int64Text(false);
    else r.skip(tag & 7);
  }
  return h;
}

function readKeyValue(buf: Buffer, start: number, end: number): IKeyValue {
  const r = new Reader(buf, start, end, WatchDecodeError);
  const empty = buf.subarray(start, start);
  const kv: IKeyValue = { key: empty, create_revision: '0', mod_revision: '0', version: '0', value: empty, lease: '0' };
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === tagOf(KV_KEY, BYTES)) {
      const at = r.bytes();
      kv.key = buf.subarray(at, r.pos);
    } else if (tag === tagOf(KV_VALUE, BYTES)) {
      const at = r.bytes();
      kv.value = buf.subarray(at, r.pos);
    } else if (tag === tagOf(KV_MOD_REVISION, VARINT)) kv.mod_revision = r.int64Text(true);
    else if (tag === tagOf(KV_CREATE_REVISION, VARINT)) kv.create_revision = r.int64Text(true);
    else if (tag === tagOf(KV_VERSION, VARINT)) kv.version = r.int64Text(true);
    else if (tag === tagOf(KV_LEASE, VARINT)) kv.lease = r.int64Text(true);
    else r.skip(tag & 7);
  }
  return kv;
}

/** etcd3 gives an absent message as null, whatever its types say (etcd always sends an event's `kv`). */
const ABSENT = null as unknown as IKeyValue;

function readEvent(buf: Buffer, start: number, end: number): IEvent {
  const r = new Reader(buf, start, end, WatchDecodeError);
  let type = 0;
  let kv = ABSENT;
  let prev = ABSENT;
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === tagOf(EVENT_TYPE, VARINT)) type = r.varint();
    else if (tag === tagOf(EVENT_KV, BYTES) || tag === tagOf(EVENT_PREV_KV, BYTES)) {
      const at = r.bytes();
      const read = readKeyValue(buf, at, r.pos);
      if (tag === tagOf(EVENT_KV, BYTES)) kv = read;
      else prev = read;
    } else r.skip(tag & 7);
  }
  if (type !== 0 && type !== 1) throw new WatchDecodeError(`unknown event type ${type}`, start);
  return { type: type === 0 ? 'Put' : 'Delete', kv, prev_kv: prev };
}

/**
 * Decodes the WatchResponse in `buf` (pure; unknown fields are skipped) into
 * what etcd3 would have made of it.
 */
export function decodeWatchResponse(buf: Buffer): IWatchResponse {
  const r = new Reader(buf, 0, buf.length, WatchDecodeError);
  const res: IWatchResponse & { fragment: boolean } = {
    header: null as unknown as IResponseHeader, // as ABSENT; etcd always sends one
    watch_id: '0',
    created: false,
    canceled: false,
    compact_revision: '0',
    cancel_reason: '',
    fragment: false,
    events: [],
  };
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === tagOf(RESPONSE_EVENTS, BYTES)) {
      const at = r.bytes();
      res.events.push(readEvent(buf, at, r.pos));
    } else if (tag === tagOf(RESPONSE_HEADER, BYTES)) {
      const at = r.bytes();
      res.header = readHeader(buf, at, r.pos);
    } else if (tag === tagOf(RESPONSE_WATCH_ID, VARINT)) res.watch_id = r.int64Text(true);
    else if (tag === tagOf(RESPONSE_CREATED, VARINT)) res.created = r.varint() !== 0;
    else if (tag === tagOf(RESPONSE_CANCELED, VARINT)) res.canceled = r.varint() !== 0;
    else if (tag === tagOf(RESPONSE_COMPACT_REVISION, VARINT)) res.compact_revision = r.int64Text(true);
    else if (tag === tagOf(RESPONSE_CANCEL_REASON, BYTES)) {
      const at = r.bytes();
      res.cancel_reason = buf.toString('utf8', at, r.pos);
    } else if (tag === tagOf(RESPONSE_FRAGMENT, VARINT)) res.fragment = r.varint() !== 0;
    else r.skip(tag & 7);
  }
  return res;
}

/** The parts of etcd3 1.1.2's watch RPC and connection pool this module goes through (not public API). */
interface WatchServiceClient {
  makeBidiStreamRequest(path: string, serialize: (req: unknown) => Buffer, deserialize: (buf: Buffer) => IWatchResponse, metadata: unknown, options: unknown): unknown;
  watch(metadata: unknown, options: unknown): unknown;
  constructor: { service?: { Watch?: { path?: unknown; requestSerialize?: unknown } } };
}

interface Connection {
  resource: unknown;
  client: WatchServiceClient;
  metadata: unknown;
}

interface Pool {
  withConnection(service: string, fn: (conn: Connection) => unknown): Promise<unknown>;
  markFailed(resource: unknown, err: unknown): void;
  callOptionsFactory?: unknown;
}

interface WatchRpc {
  client?: Pool;
  watch?: (this: { client: Pick<Pool, 'withConnection' | 'markFailed' | 'callOptionsFactory'> }, options?: unknown) => unknown;
}

/** `c` with its watch stream decoded by `decodeWatchResponse`; `c` itself where it is not shaped as expected. */
function rawWatchOf(c: WatchServiceClient): Pick<WatchServiceClient, 'watch'> {
  const def = c.constructor.service?.Watch;
  if (typeof def?.path !== 'string' || typeof def.requestSerialize !== 'function' || typeof c.makeBidiStreamRequest !== 'function') return c;
  const path = def.path;
  const serialize = def.requestSerialize as (req: unknown) => Buffer;
  return { watch: (metadata, options) => c.makeBidiStreamRequest(path, serialize, decodeWatchResponse, metadata, options) };
}

/**
 * Has `ns`'s watches decoded raw: etcd3's own `watch` call runs, options,
 * failure marking and all, on a view of the pool whose Watch clients open
 * the stream with our decoder. Nothing is changed outside `ns`. False (and
 * `ns` as it was) when etcd3 is not shaped as 1.1.2 is.
 */
export function decodeWatchesRaw(ns: Namespace): boolean {
  const rpc = (ns as unknown as { watchClient?: WatchRpc }).watchClient;
  const pool = rpc?.client;
  const original = rpc?.watch;
  if (rpc === undefined || pool === undefined || typeof original !== 'function' || typeof pool.withConnection !== 'function' || typeof pool.markFailed !== 'function') return false;
  const view = {
    callOptionsFactory: pool.callOptionsFactory,
    markFailed: (resource: unknown, err: unknown): void => pool.markFailed(resource, err),
    withConnection: (service: string, fn: (conn: Connection) => unknown): Promise<unknown> =>
      pool.withConnection(service, (conn) => fn({ resource: conn.resource, metadata: conn.metadata, client: rawWatchOf(conn.client) as WatchServiceClient })),
  };
  rpc.watch = (options?: unknown): unknown => original.call({ client: view }, options);
  return true;
}

/** A namespace of `client` with no prefix of its own, whose watches are decoded raw where etcd3 allows it. */
export function rawWatchNamespace(client: Etcd3): Namespace {
  const ns = client.namespace('');
  decodeWatchesRaw(ns);
  return ns;
}
