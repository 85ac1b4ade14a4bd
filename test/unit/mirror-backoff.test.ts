// The mirror's retry delays, on fake timers: the reconnect delay starts over once contact is back
// (a complete reload, an attached watch), while a watch etcd keeps refusing still backs off.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { nullLogger } from '../../src/log.js';
import { Mirror } from '../../src/mirror/mirror.js';
import type { KeyValue, RegistrySource, WatchSink } from '../../src/mirror/source.js';

const INITIAL_MS = 100;

/** A source whose first `failLists` listings fail; it counts listings and probes. */
class FlakySource implements RegistrySource {
  lists = 0;
  probes = 0;
  sinks: WatchSink[] = [];
  constructor(private failLists: number) {}

  async list(onPage: (kvs: readonly KeyValue[]) => void): Promise<number> {
    this.lists++;
    if (this.failLists-- > 0) throw new Error('etcd unavailable');
    onPage([{ key: '/s/g/nodes/a_t', value: JSON.stringify({ id: 'a', exporter_type: 't', port: 9100 }), modRevision: 5 }]);
    return 10;
  }
  watch(_from: number, sink: WatchSink): { cancel(): Promise<void> } {
    this.sinks.push(sink);
    queueMicrotask(() => sink.onConnected());
    return { cancel: async () => undefined };
  }
  async probe(): Promise<number> {
    this.probes++;
    return 10;
  }
  async isCompacted(): Promise<boolean> {
    return false;
  }
  async close(): Promise<void> {
    // nothing to release
  }
}

/** Lets pending promise callbacks run (setImmediate is not faked). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** Whatever is pending sets its timers; fake time passes by `ms`; what that released runs. */
async function advance(t: TestContext, ms: number): Promise<void> {
  await settle();
  t.mock.timers.tick(ms);
  await settle();
}

function mirrorOn(t: TestContext, source: FlakySource): Mirror {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const m = new Mirror({ source, prefix: '/s', logger: nullLogger, backoffInitialMs: INITIAL_MS, backoffMaxMs: 1_000_000, probeIntervalMs: 1e9 });
  t.after(async () => {
    const closing = m.close();
    await advance(t, 0);
    await closing;
  });
  m.start();
  return m;
}

test('after failed loads and then a good one, a dropped watch is retried after the initial delay, not the grown one', async (t) => {
  const source = new FlakySource(6);
  const m = mirrorOn(t, source);
  // Six failures grow the delay to 100 * 2^6 = 6.4 s (±20 %).
  for (let i = 0; i < 7; i++) await advance(t, 1_000_000);
  assert.equal(source.lists, 7);
  assert.notEqual(m.content(), undefined, 'the seventh listing loaded');
  assert.equal(source.sinks.length, 1, 'and its watch is open');
  const probes = source.probes;
  source.sinks[0]!.onDisconnected(new Error('connection reset'));
  await advance(t, INITIAL_MS * 1.2);
  assert.equal(source.probes, probes + 1, 'etcd probed again within the initial delay (+20 % jitter)');
  assert.equal(source.sinks.length, 2, 'and the watch re-created');
});

test('a watch that attached resets the delay too: each drop of a working watch is retried after the initial delay', async (t) => {
  const source = new FlakySource(0);
  mirrorOn(t, source);
  await advance(t, 0);
  assert.equal(source.sinks.length, 1);
  for (let drop = 1; drop <= 5; drop++) {
    source.sinks[drop - 1]!.onDisconnected(new Error('connection reset'));
    await advance(t, INITIAL_MS * 1.2);
    assert.equal(source.sinks.length, drop + 1, `drop ${drop}: re-watched within the initial delay`);
  }
});

test('a watch etcd keeps ending with an error still backs off, though it attaches and the reload succeeds', async (t) => {
  const source = new FlakySource(0);
  mirrorOn(t, source);
  await advance(t, 0);
  for (let refusal = 1; refusal <= 5; refusal++) {
    source.sinks[refusal - 1]!.onError(new Error('permission denied'));
    await advance(t, 1_000_000);
    assert.equal(source.sinks.length, refusal + 1);
  }
  // Five refusals: the next delay is 100 * 2^5 = 3.2 s (±20 %), so nothing within 2.5 s.
  const lists = source.lists;
  source.sinks[5]!.onError(new Error('permission denied'));
  await advance(t, 2500);
  assert.equal(source.lists, lists, 'no reload within 2.5 s of the sixth refusal');
  await advance(t, 1500);
  assert.equal(source.lists, lists + 1, 'the reload after the grown delay');
});
