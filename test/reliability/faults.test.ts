// The headline reliability test: a seeded randomized workload under injected faults, short form (the soak runs it long).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEtcdClient } from '../../src/etcd/client.js';
import { EtcdSource, WatchCreateTimeoutError } from '../../src/mirror/etcd-source.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { formatSummary, runFaultRun } from '../helpers/fault-run.js';
import { eventually } from '../helpers/server.js';
import { useTcpProxy } from '../helpers/tcp-proxy.js';

const SEED = Number(process.env['FAULT_SEED'] ?? 20250306);
const SECONDS = Number(process.env['FAULT_SECONDS'] ?? 60);

test(`consistency under faults: served /v1/targets at revision R equals etcd listed at R (seed ${SEED}, ${SECONDS} s)`, { timeout: (SECONDS + 180) * 1000 }, async (t) => {
  const r = await runFaultRun(t, { seed: SEED, durationMs: SECONDS * 1000, log: (line) => t.diagnostic(line) });
  t.diagnostic(formatSummary(r));
  for (const d of r.mismatchDetails) t.diagnostic(d);
  assert.equal(r.mismatches, 0, 'served state differed from etcd at its own revision');
  assert.equal(r.revisionRegressions, 0, 'served revision went backwards');
  assert.equal(r.notReady, 0, 'readiness or /v1/targets failed after the first load');
  assert.ok(r.finalConverged, 'converged after quiescing');
  const faults = Object.values(r.faults).reduce((a, b) => a + b, 0);
  assert.ok(faults >= 5, `faults were injected (${faults})`);
  assert.ok(r.checkpoints >= 10, `checkpoints compared (${r.checkpoints})`);
  assert.ok(r.eventsApplied.put + r.eventsApplied.delete > 500, 'the watch applied events');
});

// The backstop behind the fault run: a watch etcd never attaches (here: a stalled link) is given up after the
// create timeout instead of waiting forever, and the next watch, on a fresh etcd3 namespace, works.
test('a watch that is never attached is given up after the create timeout; the next one works', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const proxy = await useTcpProxy(t, etcd.clientPort);
  const client = createEtcdClient({ endpoints: [proxy.endpoint], callTimeoutMs: 2000 });
  t.after(() => client.close());
  const src = new EtcdSource(client, '/services', { createTimeoutMs: 1000 });
  await src.probe(); // the connection is up; now nothing gets through
  proxy.pause();
  const started = Date.now();
  const first = await new Promise<Error>((resolve, reject) => {
    const h = src.watch(1, {
      onData: () => undefined, onConnected: () => reject(new Error('attached through a paused link')),
      onDisconnected: (err) => resolve(err), onError: (err) => reject(err),
    });
    t.after(() => h.cancel());
  });
  assert.ok(first instanceof WatchCreateTimeoutError, String(first));
  t.diagnostic(`given up after ${Date.now() - started} ms: ${first.message}`);
  proxy.resume();
  const events: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const h = src.watch(1, {
      onData: (evs) => void events.push(...evs.map((e) => e.modRevision)), onConnected: () => resolve(),
      onDisconnected: reject, onError: reject,
    });
    t.after(() => h.cancel());
  });
  const put = await etcd.client().put('/services/g/nodes/a_t').value('{}').exec();
  await eventually('the event on the new watch', () => (events.includes(Number(put.header.revision)) ? true : undefined), 10_000);
});
