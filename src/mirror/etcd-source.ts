/**
 * `RegistrySource` over etcd3. Knows etcd3 1.1.2's quirks:
 * pagination pinned to a revision,
 * watchers that need their own error listener, and stream-level resume
 * that we do not trust.
 */
import { GRPCOutOfRangeError, type Etcd3, type IKeyValue, type IWatchResponse, type Namespace, type Watcher } from 'etcd3';
import { prefixEnd } from '../etcd/client.js';
import { rangePages, type RangeKeyValue, type RangePage, type RangePageRequest } from '../etcd/range.js';
import { rawWatchNamespace } from '../etcd/watch.js';
import { decodeKey } from '../registry/raw-key.js';
import { RangeWindows, sharedLength } from './range-windows.js';
import type { KeyValue, RegistrySource, WatchEvent, WatchHandle, WatchSink } from './source.js';

/** Default page size of the initial listing, in keys. */
export const DEFAULT_PAGE_SIZE = 1000;
/**
 * Pages are sized by bytes too: after a page of large documents the next
 * page asks for fewer keys, so a page is about this size (etcd has no byte
 * limit on a range, so one page may overshoot by its keys' sizes).
 */
export const DEFAULT_PAGE_BYTES = 4 * 1024 * 1024;
const MIN_PAGE_SIZE = 1;
/** The first page is small and pages grow at most this fast: the first page's documents may be 1.5 MiB each. */
const FIRST_PAGE_SIZE = 64;
const PAGE_GROWTH = 4;
/** Default time a new watch may take to be attached before it is given up. */
export const DEFAULT_WATCH_CREATE_TIMEOUT_MS = 10_000;
const MAX_LIST_ATTEMPTS = 5;

function toKeyValue(kv: RangeKeyValue): KeyValue {
  return { key: decodeKey(kv.key), value: kv.value.toString('utf8'), modRevision: kv.modRevision };
}

/** Tuning of an {@link EtcdSource}. */
export interface EtcdSourceOptions {
  /** Page size of listings, in keys. Default {@link DEFAULT_PAGE_SIZE}. */
  readonly pageSize?: number;
  /** Target size of a listing page, in bytes. Default {@link DEFAULT_PAGE_BYTES}. */
  readonly pageBytes?: number;
  /** A watch not attached within this time is reported as disconnected. Default {@link DEFAULT_WATCH_CREATE_TIMEOUT_MS}. */
  readonly createTimeoutMs?: number;
}

/**
 * Thrown to the sink when a watch was not attached in time: etcd3 1.1.2
 * wedges a namespace's watch stream after a refused create (spec: an
 * expired auth token), and every later watch on it would wait forever.
 */
export class WatchCreateTimeoutError extends Error {
  readonly code = 'WATCH_CREATE_TIMEOUT';
  constructor(ms: number) {
    super(`etcd did not attach the watch within ${ms} ms`);
    this.name = 'WatchCreateTimeoutError';
  }
}

/** Registry source reading `{prefix}/` from an etcd3 client it does not own. */
export class EtcdSource implements RegistrySource {
  private readonly start: Buffer;
  private readonly end: Buffer;
  private readonly pageSize: number;
  private readonly pageBytes: number;
  private readonly createTimeoutMs: number;
  /** Where watches are created, made on first use; dropped when etcd3 may have wedged its stream. */
  private watchNs: Namespace | undefined;
  /** Range pages, decoded straight from the wire where etcd3 allows it (etcd/range.ts). */
  private readonly range: (req: RangePageRequest) => Promise<RangePage>;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
    opts: EtcdSourceOptions | number = {},
  ) {
    // The trailing slash keeps `/services/web` from matching `/services/web-canary`'s siblings of the prefix itself.
    this.start = Buffer.from(`${prefix}/`);
    this.end = prefixEnd(this.start);
    const o = typeof opts === 'number' ? { pageSize: opts } : opts;
    this.pageSize = o.pageSize ?? DEFAULT_PAGE_SIZE;
    this.pageBytes = o.pageBytes ?? DEFAULT_PAGE_BYTES;
    this.createTimeoutMs = o.createTimeoutMs ?? DEFAULT_WATCH_CREATE_TIMEOUT_MS;
    this.range = rangePages(client);
  }

  /**
   * Lists the prefix page by page at one revision and resolves with it.
   * Without `atRevision` the listing starts again (`onRestart`) when that
   * revision is compacted away under it; with it, the listing is of that
   * revision or fails, since no other revision would do.
   */
  async list(onPage: (kvs: readonly KeyValue[]) => void, onRestart: () => void, atRevision?: number): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.listOnce(onPage, atRevision);
      } catch (err) {
        if (!(err instanceof GRPCOutOfRangeError) || attempt >= MAX_LIST_ATTEMPTS || atRevision !== undefined) throw err;
        onRestart(); // compacted under us: start again at a new revision
      }
    }
  }

  private async listOnce(onPage: (kvs: readonly KeyValue[]) => void, atRevision: number | undefined): Promise<number> {
    let revision = atRevision;
    let key = this.start;
    let limit = Math.min(this.pageSize, FIRST_PAGE_SIZE);
    // Each page reads a window of the range, not the rest of it: see range-windows.ts.
    const windows = new RangeWindows(this.end, this.start.length);
    let continued = false;
    let windowEnd = windows.windowEnd(key);
    let pending = this.page(key, windowEnd, limit, revision);
    for (;;) {
      const res = await pending;
      revision ??= res.revision;
      const first = res.kvs[0];
      const last = res.kvs[res.kvs.length - 1];
      const shared = first !== undefined && last !== undefined ? sharedLength(first.key, last.key) : 0;
      windows.after({ returned: res.kvs.length, count: res.count, more: res.more, continued, shared }, limit);
      continued = res.more && last !== undefined;
      const done = !continued && windowEnd === this.end;
      if (!done) {
        // Ask for the next page before applying this one, so etcd reads it while we apply.
        if (continued && last !== undefined) {
          key = Buffer.concat([last.key, Buffer.from([0])]);
          limit = this.nextLimit(res.kvs, limit);
        } else {
          key = windowEnd;
        }
        windowEnd = windows.windowEnd(key);
        pending = this.page(key, windowEnd, limit, revision);
      }
      try {
        onPage(res.kvs.map(toKeyValue));
      } catch (err) {
        if (!done) pending.catch(() => undefined); // the listing is abandoned: its next page no longer matters
        throw err;
      }
      if (done) return revision;
    }
  }

  private page(key: Buffer, rangeEnd: Buffer, limit: number, revision: number | undefined): Promise<RangePage> {
    return this.range({ key, rangeEnd, limit, ...(revision !== undefined ? { revision } : {}) });
  }

  /** Keys to ask for next so that a page is about `pageBytes`, judged by the page just read. */
  private nextLimit(kvs: readonly RangeKeyValue[], limit: number): number {
    let bytes = 0;
    for (const kv of kvs) bytes += kv.key.length + kv.value.length;
    const perKey = Math.max(1, bytes / kvs.length);
    return Math.max(MIN_PAGE_SIZE, Math.min(this.pageSize, limit * PAGE_GROWTH, Math.floor(this.pageBytes / perKey)));
  }

  watch(fromRevision: number, sink: WatchSink): WatchHandle {
    const ns = (this.watchNs ??= rawWatchNamespace(this.client));
    const watcher: Watcher = ns.watch().inRange({ start: this.start, end: this.end }).startRevision(String(fromRevision)).watcher();
    let live = true;
    let attached = false;
    let cancelled: Promise<void> | undefined;
    const cancelOnce = (): Promise<void> => (cancelled ??= cancelWatcher(watcher));
    const end = (): boolean => {
      clearTimeout(timer);
      const was = live;
      live = false;
      return was;
    };
    // A refused create (auth, permission) wedges etcd3's attach queue: watch on a fresh namespace next time.
    const timer = setTimeout(() => {
      if (!end()) return;
      this.abandon(ns, cancelOnce());
      sink.onDisconnected(new WatchCreateTimeoutError(this.createTimeoutMs));
    }, this.createTimeoutMs);
    watcher.on('data', (res: IWatchResponse) => {
      if (live) sink.onData(res.events.map(toEvent), Number(res.header.revision));
    });
    watcher.on('connected', () => {
      attached = true;
      clearTimeout(timer);
      if (live) sink.onConnected();
    });
    // etcd3 emits 'disconnected' twice per drop, and resumes on its own from the
    // wrong revision: report once and let the caller re-create the watch.
    watcher.on('disconnected', (err: Error) => {
      if (end()) sink.onDisconnected(err);
    });
    // etcd3 has already dropped a watcher it reports an error for: no cancel to send then.
    let dropped = false;
    watcher.on('error', (err: Error) => {
      dropped = true;
      if (!end()) return;
      if (!attached) this.abandon(ns, Promise.resolve());
      sink.onError(err);
    });
    return {
      cancel: async () => {
        end();
        if (dropped) watcher.removeAllListeners('data');
        else await cancelOnce();
      },
    };
  }

  /** Stops creating watches on `ns` and, once its watcher is `gone`, ends its (possibly wedged) stream. */
  private abandon(ns: Namespace, gone: Promise<void>): void {
    if (this.watchNs === ns) this.watchNs = undefined;
    void gone.then(() => endIdleWatchStream(ns));
  }

  async probe(): Promise<number> {
    const res = await this.client.kv.range({ key: this.start, range_end: this.end, count_only: true });
    return Number(res.header.revision);
  }

  /** etcd filters by mod revision after reading the range: O(keys of the prefix), so the mirror calls it rarely. */
  async changedSince(revision: number): Promise<boolean> {
    const res = await this.client.kv.range({ key: this.start, range_end: this.end, keys_only: true, limit: 1, min_mod_revision: revision + 1 });
    return res.kvs.length > 0;
  }

  async isCompacted(revision: number): Promise<boolean> {
    try {
      await this.client.kv.range({ key: this.start, range_end: this.end, limit: 1, keys_only: true, revision });
      return false;
    } catch (err) {
      if (err instanceof GRPCOutOfRangeError) return true;
      throw err;
    }
  }

  async close(): Promise<void> {
    // Nothing of our own: watchers are cancelled by their handles.
  }
}

function toEvent(ev: { type: string; kv: IKeyValue }): WatchEvent {
  return {
    type: ev.type === 'Delete' ? 'delete' : 'put',
    key: decodeKey(ev.kv.key),
    value: ev.kv.value.toString('utf8'),
    modRevision: Number(ev.kv.mod_revision),
  };
}

/**
 * Ends a namespace's watch stream when it has no watchers left. etcd3 1.1.2
 * never does so after a refused create (its attach queue stays stuck on the
 * refused watcher), leaving one idle stream per failure. Reaches into etcd3
 * internals, guarded: `destroyStream` checks its own preconditions and throws.
 */
export function endIdleWatchStream(ns: Namespace): void {
  // Internal, untyped: WatchManager is not exported by etcd3.
  const manager = (ns as unknown as { watchManager?: { watchers?: unknown[]; destroyStream?: () => void } }).watchManager;
  if (manager?.watchers?.length !== 0 || typeof manager.destroyStream !== 'function') return;
  try {
    manager.destroyStream();
  } catch {
    // not connected, or watchers came back: nothing to end
  }
}

const CANCEL_TIMEOUT_MS = 2000;

// A cancel waits for the server's acknowledgement; a broken stream may never
// send it, and a hung cancel must not hold the mirror.
export async function cancelWatcher(watcher: Watcher): Promise<void> {
  watcher.removeAllListeners('data');
  watcher.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    watcher.cancel().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CANCEL_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
}
