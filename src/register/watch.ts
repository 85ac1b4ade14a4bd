/**
 * Watches the keys a registry client owns (its node keys and the documents
 * of their groups), so that a delete or overwrite by another writer is seen
 * at once instead of never.
 *
 * One etcd watcher per key, not one range watch over the prefix: a
 * registrant's etcd role may cover only its own group (`{prefix}/web` and
 * `{prefix}/web/`), and etcd refuses a watch over any range it cannot read.
 * A group's node prefix would do for permissions, but every registrant
 * would then receive every sibling's heartbeat. All watchers share one
 * namespace made once per etcd3 client, so a refused create (which wedges
 * etcd3 1.1.2's attach queue) never stalls the watches of a caller-given
 * client, and all of them are cancelled before that client is closed
 * (etcd3 re-dials a watch stream forever otherwise, and the process never exits).
 */
import type { Etcd3, IKeyValue, IWatchResponse, Namespace, Watcher } from 'etcd3';
import { cancelWatcher, endIdleWatchStream } from '../mirror/etcd-source.js';
import type { SeenKey } from './store.js';

/** What the client does with what the watch sees. */
export interface KeyWatchSink {
  /** A change of `key` (events in revision order). */
  onChange(key: string, seen: SeenKey): void;
  /** The watch of `key` is attached (first time, or after a reconnect): anything may have happened while it was not. */
  onAttached(key: string): void;
  /** A watch failed (refused, cancelled by etcd); it is not re-created until the keys are watched again after a lease restore. */
  onError(key: string, err: Error): void;
}

/** Per-key watches on one etcd3 client at a time. */
export class KeyWatch {
  private readonly watchers = new Map<string, Watcher>();
  private ns: Namespace | undefined;
  private nsOf: Etcd3 | undefined;
  private closed = false;

  constructor(
    private readonly client: () => Etcd3,
    private readonly sink: KeyWatchSink,
  ) {}

  /** Whether `key` is watched. */
  has(key: string): boolean {
    return this.watchers.has(key);
  }

  /** Starts watching `key` (no-op if already watched or closed). */
  add(key: string): void {
    if (this.closed || this.watchers.has(key)) return;
    const watcher = this.namespace().watch().key(key).watcher();
    this.watchers.set(key, watcher);
    watcher.on('connected', () => {
      if (this.watchers.get(key) === watcher) this.sink.onAttached(key);
    });
    watcher.on('data', (res: IWatchResponse) => {
      if (this.watchers.get(key) !== watcher) return;
      for (const ev of res.events) this.sink.onChange(key, toSeen(ev.type, ev.kv));
    });
    watcher.on('disconnected', () => undefined); // etcd3 re-attaches by itself; `connected` follows
    watcher.on('error', (err: Error) => {
      if (this.watchers.get(key) !== watcher) return;
      this.watchers.delete(key);
      this.sink.onError(key, err);
    });
  }

  /** The namespace of the current etcd3 client, made once per client. */
  private namespace(): Namespace {
    const client = this.client();
    if (this.ns === undefined || this.nsOf !== client) {
      this.ns = client.namespace('');
      this.nsOf = client;
      capWatchBackoff(this.ns);
    }
    return this.ns;
  }

  /** Stops watching `key`. */
  remove(key: string): Promise<void> {
    const watcher = this.watchers.get(key);
    if (watcher === undefined) return Promise.resolve();
    this.watchers.delete(key);
    return cancelWatcher(watcher);
  }

  /**
   * Cancels every watcher (resolves once done, bounded), to be called
   * before the etcd3 client they use is closed; `add` then watches on the
   * client current at that time.
   */
  async detach(): Promise<void> {
    const all = [...this.watchers.values()];
    const ns = this.ns;
    this.watchers.clear();
    this.ns = undefined;
    this.nsOf = undefined;
    await Promise.all(all.map(cancelWatcher));
    if (ns !== undefined) endIdleWatchStream(ns);
  }

  /** Cancels every watcher for good. */
  async close(): Promise<void> {
    this.closed = true;
    await this.detach();
  }
}

/** Longest wait of our watch streams between two reconnects. */
const MAX_WATCH_BACKOFF_MS = 1000;

interface Backoff {
  readonly duration: number;
  next(): Backoff;
}

function backoff(ms: number): Backoff {
  return { duration: ms, next: () => backoff(Math.min(MAX_WATCH_BACKOFF_MS, ms * 2)) };
}

/**
 * etcd3 1.1.2 schedules a reconnect of a broken watch stream twice per
 * failure (on `error` and on `end`), so its backoff reaches its 30 s cap
 * within a second of etcd going away; those timers cannot be cancelled and
 * keep the process up that long after close() (measured: 25 s). Capped at
 * 1 s, a watch is also back within a second of etcd returning. Reaches into
 * etcd3 internals, guarded: an etcd3 without these fields keeps its own.
 */
function capWatchBackoff(ns: Namespace): void {
  const manager = (ns as unknown as { watchManager?: { initialBackoff?: unknown; backoff?: unknown } }).watchManager;
  if (manager?.initialBackoff === undefined || manager.backoff === undefined) return;
  const first = backoff(100);
  manager.initialBackoff = first;
  manager.backoff = first;
}

function toSeen(type: string, kv: IKeyValue): SeenKey {
  const del = type === 'Delete';
  return { type: del ? 'delete' : 'put', lease: del ? '0' : kv.lease, value: del ? '' : kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) };
}
