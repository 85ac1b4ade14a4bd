// Staying registered: etcd down longer than the TTL, a short etcd restart,
// and a lease revoked from outside. Checked with a fresh client each time,
// so the observer's own reconnect delays never count against the library.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEtcdClient, prefixEnd } from '../../src/etcd/client.js';
import { RegistryClient, type LostEvent, type RestoredEvent } from '../../src/register/index.js';
import { useTestEtcd, type CleanupContext, type TestEtcd } from '../helpers/etcd.js';
import { eventually } from '../helpers/server.js';


const TTL = 3;
const NODES = [
  { group: 'web', id: 'w1', exporterType: 'node_exporter', port: 9100, host: '127.0.0.1' },
  { group: 'web', id: 'w1', exporterType: 'nginx_exporter', port: 9113, host: '127.0.0.1' },
  { group: 'db', id: 'd1', exporterType: 'postgres_exporter', port: 9187, host: '127.0.0.1' },
];
const KEYS = ['/services/db/nodes/d1_postgres_exporter', '/services/web/nodes/w1_nginx_exporter', '/services/web/nodes/w1_node_exporter'];

interface Recorded {
  readonly lost: { at: number; e: LostEvent }[];
  readonly restored: { at: number; e: RestoredEvent }[];
  readonly errors: Error[];
  /** Unhandled rejections while this test ran: each test has its own, so none is blamed on another. */
  readonly unhandled: unknown[];
}

async function registerAll(t: CleanupContext, endpoint: string): Promise<{ client: RegistryClient; events: Recorded }> {
  const client = new RegistryClient({ endpoints: [endpoint], ttlSeconds: TTL, callTimeoutMs: 1000 });
  t.after(() => client.close(2000).catch(() => undefined));
  const events: Recorded = { lost: [], restored: [], errors: [], unhandled: [] };
  const onUnhandled = (reason: unknown): void => void events.unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));
  client.on('lost', (e) => events.lost.push({ at: Date.now(), e }));
  client.on('restored', (e) => events.restored.push({ at: Date.now(), e }));
  client.on('error', (err) => events.errors.push(err));
  for (const n of NODES) await client.register(n);
  return { client, events };
}

/** Every node key under /services/ with its lease, read by a fresh client (group documents, unleased, are left out). */
async function snapshot(etcd: TestEtcd): Promise<{ key: string; lease: string }[]> {
  const c = createEtcdClient({ endpoints: [etcd.endpoint], callTimeoutMs: 1000 });
  try {
    const start = Buffer.from('/services/');
    const res = await c.kv.range({ key: start, range_end: prefixEnd(start) });
    return res.kvs.map((kv) => ({ key: kv.key.toString(), lease: kv.lease })).filter((kv) => kv.key.includes('/nodes/'));
  } finally {
    c.close();
  }
}

async function leaseTtl(etcd: TestEtcd, id: string): Promise<string> {
  const c = createEtcdClient({ endpoints: [etcd.endpoint], callTimeoutMs: 1000 });
  try {
    return (await c.leaseClient.leaseTimeToLive({ ID: id })).TTL;
  } finally {
    c.close();
  }
}

function assertOncePerNode(kvs: { key: string; lease: string }[], leaseId: string | undefined): void {
  assert.deepEqual(kvs.map((k) => k.key), KEYS, 'exactly one key per node');
  for (const kv of kvs) assert.equal(kv.lease, leaseId, `${kv.key} under the current lease`);
}

test(`etcd down ${2 * TTL} s (TTL ${TTL} s), restarted on the same data dir: every node back within one TTL, exactly once`, async (t) => {
  const etcd = await useTestEtcd(t);
  const { client, events } = await registerAll(t, etcd.endpoint);
  const firstLease = client.leaseId ?? '';
  const killedAt = Date.now();
  await etcd.kill();
  await new Promise((r) => setTimeout(r, 2 * TTL * 1000));
  assert.equal(events.lost.length, 1, 'lost reported while etcd is down');
  const lostAfter = (events.lost[0]?.at ?? 0) - killedAt;
  t.diagnostic(`lost reported ${lostAfter} ms after the kill`);
  assert.ok(lostAfter <= TTL * 1000 + 1500, 'lost within about one TTL of the last renewal');
  assert.equal(client.leaseState, 'lost');

  await etcd.restart();
  const upAt = Date.now();
  await eventually('nodes under a new lease', async () => {
    const kvs = await snapshot(etcd);
    return kvs.length === KEYS.length && kvs.every((k) => k.lease === client.leaseId && k.lease !== firstLease) ? true : undefined;
  }, TTL * 1000, 20);
  const backMs = Date.now() - upAt;
  // The event fires once the puts are answered, which may be just after etcd shows them.
  const restored = await eventually('restored event', () => events.restored[0], 2000);
  t.diagnostic(`nodes back under a new lease ${backMs} ms after etcd answered; restored event ${restored.at - upAt} ms, downMs ${restored.e.downMs}`);
  assert.ok(backMs < TTL * 1000, 'back within one TTL');
  assert.equal(restored.e.nodes, NODES.length);
  assert.equal(restored.e.previousLeaseId, firstLease);

  // Stays registered (renewed), once per node, and the old lease is gone.
  await new Promise((r) => setTimeout(r, 2 * TTL * 1000));
  assertOncePerNode(await snapshot(etcd), client.leaseId);
  assert.equal(await leaseTtl(etcd, firstLease), '-1', 'the old lease was revoked');
  assert.equal(events.lost.length, 1);
  assert.equal(events.restored.length, 1);
  assert.deepEqual(events.unhandled, []);
});

test('etcd restarted within the TTL: the lease survives, nothing is lost', async (t) => {
  const etcd = await useTestEtcd(t);
  const { client, events } = await registerAll(t, etcd.endpoint);
  const lease = client.leaseId;
  await etcd.kill();
  await new Promise((r) => setTimeout(r, 1000));
  await etcd.restart();
  await new Promise((r) => setTimeout(r, 2 * TTL * 1000));
  assert.equal(events.lost.length, 0, `no loss (errors seen: ${events.errors.length})`);
  assert.equal(client.leaseId, lease);
  assertOncePerNode(await snapshot(etcd), lease);
  assert.deepEqual(events.unhandled, []);
});

test('lease revoked from outside: every node is put again under a new lease', async (t) => {
  const etcd = await useTestEtcd(t);
  const { client, events } = await registerAll(t, etcd.endpoint);
  const old = client.leaseId ?? '';
  const revokedAt = Date.now();
  await etcd.client().leaseClient.leaseRevoke({ ID: old });
  assert.deepEqual(await snapshot(etcd), [], 'revocation deleted the keys');
  await eventually('nodes put again', async () => {
    const kvs = await snapshot(etcd);
    return kvs.length === KEYS.length ? true : undefined;
  }, TTL * 1000, 20);
  t.diagnostic(`nodes back ${Date.now() - revokedAt} ms after the revocation`);
  assert.equal(events.lost.length, 1);
  assert.match(events.lost[0]?.e.reason.message ?? '', /no longer exists/);
  await eventually('restored event', () => (events.restored.length === 1 ? true : undefined), 2000);
  assert.notEqual(client.leaseId, old);
  assertOncePerNode(await snapshot(etcd), client.leaseId);
  assert.deepEqual(events.unhandled, []);
});
