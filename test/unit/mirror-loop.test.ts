// The mirror loop against a scripted fake source: resume points, replays, reload reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nullLogger } from '../../src/log.js';
import { Mirror, type MirrorMetrics, type ReloadReason } from '../../src/mirror/mirror.js';
import type { KeyValue, RegistrySource, WatchEvent, WatchSink } from '../../src/mirror/source.js';

const doc = (id: string, port = 9100): string => JSON.stringify({ id, exporter_type: 't', port });
const put = (id: string, rev: number, port = 9100): WatchEvent => ({ type: 'put', key: `/s/g/nodes/${id}_t`, value: doc(id, port), modRevision: rev });

class FakeSource implements RegistrySource {
  kvs: KeyValue[] = [];
  revision = 10;
  compactedBelow = 0;
  watches: { from: number; sink: WatchSink; cancelled: boolean }[] = [];
  lists = 0;

  async list(onPage: (kvs: readonly KeyValue[]) => void): Promise<number> {
    this.lists++;
    onPage(this.kvs);
    return this.revision;
  }
  watch(fromRevision: number, sink: WatchSink): { cancel(): Promise<void> } {
    const w = { from: fromRevision, sink, cancelled: false };
    this.watches.push(w);
    queueMicrotask(() => sink.onConnected());
    return { cancel: async () => void (w.cancelled = true) };
  }
  async probe(): Promise<number> {
    return this.revision;
  }
  async isCompacted(revision: number): Promise<boolean> {
    return revision < this.compactedBelow;
  }
  async close(): Promise<void> {
    // nothing to release
  }
  get last(): { from: number; sink: WatchSink; cancelled: boolean } {
    return this.watches[this.watches.length - 1]!;
  }
}

function recorder(): MirrorMetrics & { reloads: ReloadReason[]; puts: number } {
  const r = { reloads: [] as ReloadReason[], puts: 0 };
  return Object.assign(r, {
    eventsApplied: (type: 'put' | 'delete', n: number) => {
      if (type === 'put') r.puts += n;
    },
    invalidDocument: () => undefined,
    reload: (reason: ReloadReason) => void r.reloads.push(reason),
  });
}

const until = async (what: string, cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), what);
};

async function started(t: { after(fn: () => unknown): void }): Promise<{ src: FakeSource; m: Mirror; metrics: ReturnType<typeof recorder> }> {
  const src = new FakeSource();
  src.kvs = [{ key: '/s/g/nodes/a_t', value: doc('a'), modRevision: 5 }];
  const metrics = recorder();
  const m = new Mirror({ source: src, prefix: '/s', logger: nullLogger, metrics, backoffInitialMs: 1, backoffMaxMs: 5, probeIntervalMs: 10_000 });
  t.after(() => m.close());
  m.start();
  await m.whenReady();
  await until('watch created', () => src.watches.length === 1);
  return { src, m, metrics };
}

test('watches from the listing revision + 1; a replay after a resume is not applied twice', async (t) => {
  const { src, m, metrics } = await started(t);
  assert.equal(src.last.from, 11);
  src.last.sink.onData([put('b', 11), put('c', 12)], 12);
  assert.equal(m.revision, 12);
  src.last.sink.onDisconnected(new Error('drop'));
  await until('re-watch', () => src.watches.length === 2);
  assert.equal(src.last.from, 13, 'resumes from last applied + 1, not from the server revision');
  assert.ok(src.watches[0]!.cancelled, 'the broken watcher is cancelled');
  src.last.sink.onData([put('c', 12, 1), put('d', 13)], 13);
  assert.equal(metrics.puts, 3, 'the replayed event at revision 12 was skipped');
  const targets = JSON.parse(m.content()!.body) as { targets: string[] }[];
  assert.deepEqual(targets.map((x) => x.targets[0]), ['a:9100', 'b:9100', 'c:9100', 'd:9100']);
});

test('several events of one revision (a transaction) are all applied', async (t) => {
  const { src, m } = await started(t);
  src.last.sink.onData([put('x', 11), put('y', 11)], 11);
  assert.equal(m.content()!.targetCount, 3);
});

test('a progress notification moves the served revision without a content change', async (t) => {
  const { src, m } = await started(t);
  const version = m.content()!.version;
  src.last.sink.onData([], 42);
  assert.equal(m.revision, 42);
  assert.equal(m.content()!.version, version);
});

test('a watch error reloads: "compacted" when the resume revision is gone, else "watch_error"', async (t) => {
  const { src, m, metrics } = await started(t);
  src.revision = 30;
  src.compactedBelow = 20;
  src.kvs = [{ key: '/s/g/nodes/z_t', value: doc('z'), modRevision: 25 }];
  src.last.sink.onError(new Error('Watcher canceled: '));
  await until('reload', () => metrics.reloads.length === 2);
  assert.deepEqual(metrics.reloads, ['initial', 'compacted']);
  await until('re-watch', () => src.watches.length === 2);
  assert.equal(src.last.from, 31);
  assert.deepEqual((JSON.parse(m.content()!.body) as { targets: string[] }[]).map((x) => x.targets[0]), ['z:9100'], 'the new state replaced the old one whole');
  src.last.sink.onError(new Error('permission denied'));
  await until('second reload', () => metrics.reloads.length === 3);
  assert.equal(metrics.reloads[2], 'watch_error');
});

test('close() ends the loop and cancels the watch', async (t) => {
  const { src, m } = await started(t);
  await m.close();
  assert.ok(src.last.cancelled);
});

test('whenReady() rejects with CLOSED when the mirror closes before its first load, waiting or not', async () => {
  const m = new Mirror({ source: new FakeSource(), prefix: '/s', logger: nullLogger, metrics: recorder(), backoffInitialMs: 1, backoffMaxMs: 5, probeIntervalMs: 10_000 });
  const waiting = m.whenReady();
  await m.close();
  await assert.rejects(waiting, { code: 'CLOSED' });
  await assert.rejects(m.whenReady(), { code: 'CLOSED' });
});
