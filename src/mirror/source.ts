/**
 * What the mirror loop needs from a registry source. etcd implements it
 * (`etcd-source.ts`); tests can implement it with a fake.
 */

/** One key/value at a revision. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Revision of the last change of this key. */
  readonly modRevision: number;
}

/** One watch event. A delete's `modRevision` is the revision of the delete. */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
}

/** Callbacks of one watch. Called only until the watch is cancelled. */
export interface WatchSink {
  /** Events (possibly none: a progress notification) and the response's header revision. */
  onData(events: readonly WatchEvent[], headerRevision: number): void;
  /** The watch is attached on the server. */
  onConnected(): void;
  /** The stream broke; the watch must be re-created by the caller. */
  onDisconnected(err: Error): void;
  /** The server cancelled the watch (compaction, auth, ...): reload needed. */
  onError(err: Error): void;
}

/** A running watch. */
export interface WatchHandle {
  /** Stops delivery at once and releases the watch; resolves when done. */
  cancel(): Promise<void>;
}

/** A source of registry data: a listing pinned to one revision, and a watch. */
export interface RegistrySource {
  /**
   * Lists every key under the prefix at one revision, page by page
   * (`onPage` in key order), and resolves with that revision. Restarts by
   * itself if the revision is compacted mid-listing.
   */
  list(onPage: (kvs: readonly KeyValue[]) => void, onRestart: () => void): Promise<number>;
  /** Watches the prefix from `fromRevision` (inclusive). */
  watch(fromRevision: number, sink: WatchSink): WatchHandle;
  /** A cheap unary call; resolves with the store's current revision. */
  probe(): Promise<number>;
  /** Whether a key under the prefix was put after `revision` (optional: without it a quiet watch is always re-created). */
  changedSince?(revision: number): Promise<boolean>;
  /** Whether `revision` has been compacted away (so a watch from it cannot resume). */
  isCompacted(revision: number): Promise<boolean>;
  /** Releases the source's resources (not the client it was given). */
  close(): Promise<void>;
}
