/**
 * `RegistrySource` over etcd3. Knows etcd3's quirks
 * (shared/spec/etcd3-and-friends.md): pagination pinned to a revision,
 * watchers that need their own error listener, and stream-level resume
 * that we do not trust.
 */
import { GRPCOutOfRangeError, type Etcd3, type IKeyValue, type IWatchResponse, type Watcher } from 'etcd3';
import { prefixEnd } from '../etcd/client.js';
import type { KeyValue, RegistrySource, WatchEvent, WatchHandle, WatchSink } from './source.js';

/** Default page size of the initial listing. */
export const DEFAULT_PAGE_SIZE = 1000;
const MAX_LIST_ATTEMPTS = 5;

function toKeyValue(kv: IKeyValue): KeyValue {
  return { key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) };
}

/** Registry source reading `{prefix}/` from an etcd3 client it does not own. */
export class EtcdSource implements RegistrySource {
  private readonly start: Buffer;
  private readonly end: Buffer;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly pageSize = DEFAULT_PAGE_SIZE,
  ) {
    // The trailing slash keeps `/services/web` from matching `/services/web-canary`'s siblings of the prefix itself.
    this.start = Buffer.from(`${prefix}/`);
    this.end = prefixEnd(this.start);
  }

  async list(onPage: (kvs: readonly KeyValue[]) => void, onRestart: () => void): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.listOnce(onPage);
      } catch (err) {
        if (!(err instanceof GRPCOutOfRangeError) || attempt >= MAX_LIST_ATTEMPTS) throw err;
        onRestart(); // compacted under us: start again at a new revision
      }
    }
  }

  private async listOnce(onPage: (kvs: readonly KeyValue[]) => void): Promise<number> {
    let revision: number | undefined;
    let key = this.start;
    for (;;) {
      const res = await this.client.kv.range({
        key,
        range_end: this.end,
        limit: this.pageSize,
        ...(revision !== undefined ? { revision } : {}),
      });
      revision ??= Number(res.header.revision);
      onPage(res.kvs.map(toKeyValue));
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || last === undefined) return revision;
      key = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  watch(fromRevision: number, sink: WatchSink): WatchHandle {
    const watcher: Watcher = this.client.watch().inRange({ start: this.start, end: this.end }).startRevision(String(fromRevision)).watcher();
    let live = true;
    watcher.on('data', (res: IWatchResponse) => {
      if (live) sink.onData(res.events.map(toEvent), Number(res.header.revision));
    });
    watcher.on('connected', () => live && sink.onConnected());
    // etcd3 emits 'disconnected' twice per drop, and resumes on its own from the
    // wrong revision: report once and let the caller re-create the watch.
    watcher.on('disconnected', (err: Error) => {
      if (!live) return;
      live = false;
      sink.onDisconnected(err);
    });
    watcher.on('error', (err: Error) => {
      if (!live) return;
      live = false;
      sink.onError(err);
    });
    return {
      cancel: async () => {
        live = false;
        await cancelWatcher(watcher);
      },
    };
  }

  async probe(): Promise<number> {
    const res = await this.client.kv.range({ key: this.start, range_end: this.end, count_only: true });
    return Number(res.header.revision);
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
    key: ev.kv.key.toString('utf8'),
    value: ev.kv.value.toString('utf8'),
    modRevision: Number(ev.kv.mod_revision),
  };
}

const CANCEL_TIMEOUT_MS = 2000;

// A cancel waits for the server's acknowledgement; a broken stream may never
// send it, and a hung cancel must not hold the mirror.
async function cancelWatcher(watcher: Watcher): Promise<void> {
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
