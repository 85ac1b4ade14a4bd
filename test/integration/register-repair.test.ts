// A registrant stays served whatever else writes to the registry: its keys
// deleted from outside come back, a key held by another registrant is never
// taken without saying so, and a lease revoked from outside is replaced at
// once. Times are recorded (t.diagnostic), never asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { prefixEnd } from '../../src/etcd/client.js';
import { CollisionError, RegistryClient, type CollisionEvent, type LostEvent, type RepairedEvent, type RestoredEvent } from '../../src/register/index.js';
import { useTestEtcd, type CleanupContext } from '../helpers/etcd.js';
import { eventually, targets, useTestServer } from '../helpers/server.js';

const TTL = 3;
const ROUNDS = 20;
/** Generous bound of one wait: a busy machine must not fail the test, the diagnostics show the real times. */
const BACK_WITHIN_MS = 10_000;
const NODE = { group: 'web', id: 'w1', exporterType: 'node_exporter', port: 9100, host: '127.0.0.1' };
const KEY = '/services/web/nodes/w1_node_exporter';

interface Recorded {
  readonly repaired: RepairedEvent[];
  readonly collisions: CollisionEvent[];
  readonly lost: { at: number; e: LostEvent }[];
  readonly restored: RestoredEvent[];
  readonly errors: Error[];
}

function useClient(t: CleanupContext, endpoint: string, opts: { takeover?: boolean } = {}): { client: RegistryClient; events: Recorded } {
  const client = new RegistryClient({ endpoints: [endpoint], ttlSeconds: TTL, callTimeoutMs: 1000, ...opts });
  t.after(() => client.close(2000).catch(() => undefined));
  const events: Recorded = { repaired: [], collisions: [], lost: [], restored: [], errors: [] };
  client.on('repaired', (e) => events.repaired.push(e));
  client.on('collision', (e) => events.collisions.push(e));
  client.on('lost', (e) => events.lost.push({ at: Date.now(), e }));
  client.on('restored', (e) => events.restored.push(e));
  client.on('error', (err) => events.errors.push(err));
  return { client, events };
}

async function keys(etcd: Etcd3, prefix = '/services/'): Promise<{ key: string; lease: string; value: string }[]> {
  const start = Buffer.from(prefix);
  const res = await etcd.kv.range({ key: start, range_end: prefixEnd(start) });
  return res.kvs.map((kv) => ({ key: kv.key.toString(), lease: kv.lease, value: kv.value.toString() }));
}

async function leaseOf(etcd: Etcd3, key: string): Promise<string | undefined> {
  return (await etcd.kv.range({ key: Buffer.from(key) })).kvs[0]?.lease;
}

/** Polls until `check` holds, resolving with the milliseconds it took. */
async function timeUntil(what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  await eventually(what, async () => ((await check()) ? true : undefined), BACK_WITHIN_MS, 5);
  return Date.now() - started;
}

function summary(ms: readonly number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return `n=${sorted.length} min ${sorted[0]} ms, median ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${sorted[sorted.length - 1]} ms`;
}

const served = (server: { url: string }) => async (): Promise<boolean> =>
  (await targets(server)).groups.some((g) => g.labels['__meta_etcd_node_id'] === 'w1');

/** What each kind of outside delete does, as a list of deletes by the test's own etcd client. */
const DELETES: [string, (etcd: Etcd3) => Promise<unknown>, RepairedEvent['cause'][]][] = [
  ['the node key (etcdctl del)', (etcd) => etcd.delete().key(KEY).exec(), ['deleted']],
  ['the group document', (etcd) => etcd.delete().key('/services/web').exec(), ['group-deleted']],
  // The Go library's group delete: a prefix without the slash, which also takes web-canary.
  ['the whole group by prefix, as the Go library deletes it', (etcd) => etcd.delete().prefix('/services/web').exec(), ['deleted', 'group-deleted']],
];

for (const [what, del, causes] of DELETES) {
  test(`${what} deleted from outside ${ROUNDS} times: back in etcd and served again every time`, async (t) => {
    const etcd = await useTestEtcd(t);
    const server = await useTestServer(t, etcd.endpoint);
    const { client, events } = useClient(t, etcd.endpoint);
    const node = await client.register(NODE);
    const lease = client.leaseId;
    await timeUntil('served at first', served(server));
    await etcd.client().put('/services/web-canary/nodes/c1_node_exporter').value(JSON.stringify({ id: 'c1', exporter_type: 'node_exporter', port: 9101 }));
    const backMs: number[] = [];
    const servedMs: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const before = events.repaired.length;
      await del(etcd.client());
      const deletedAt = Date.now();
      await timeUntil(`round ${round}: node key and group document back`, async () => {
        const kvs = await keys(etcd.client(), '/services/web');
        return kvs.some((k) => k.key === KEY && k.lease === lease) && kvs.some((k) => k.key === '/services/web');
      });
      backMs.push(Date.now() - deletedAt);
      await timeUntil(`round ${round}: served again`, served(server));
      servedMs.push(Date.now() - deletedAt);
      await eventually(`round ${round}: repaired events`, () => (events.repaired.length >= before + causes.length ? true : undefined), BACK_WITHIN_MS);
      assert.deepEqual(events.repaired.slice(before).map((e) => e.cause).sort(), [...causes].sort(), `round ${round}: one repair per key deleted`);
    }
    t.diagnostic(`back in etcd after the delete: ${summary(backMs)}`);
    t.diagnostic(`served again by etcd-http-sd: ${summary(servedMs)}`);
    t.diagnostic(`repaired event ms (seen to committed): ${summary(events.repaired.map((e) => e.ms))}`);
    assert.ok(events.repaired.every((e) => e.node.key === KEY));
    // Our own writes are not repairs: an update, then quiet.
    const before = events.repaired.length;
    await node.update({ status: 'maintenance' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(events.repaired.length, before, 'an update of ours is not taken for an outside change');
    assert.equal(client.leaseId, lease, 'repairs never needed a new lease');
    assert.deepEqual(events.lost, []);
    assert.deepEqual(events.errors, []);
    assert.deepEqual((await keys(etcd.client(), '/services/web/')).map((k) => k.key), [KEY], 'exactly one key');
  });
}

test('an overwrite by a writer without a lease is put back; a deleted node of a closed handle stays deleted', async (t) => {
  const etcd = await useTestEtcd(t);
  const { client, events } = useClient(t, etcd.endpoint);
  const node = await client.register(NODE);
  const other = await client.register({ ...NODE, id: 'w2' });
  await etcd.client().put(KEY).value('{"id":"w1","exporter_type":"node_exporter","port":1}');
  await timeUntil('put back under our lease', async () => (await leaseOf(etcd.client(), KEY)) === client.leaseId);
  await eventually('the repaired event', () => (events.repaired.length > 0 ? true : undefined), BACK_WITHIN_MS);
  assert.deepEqual(events.repaired.map((e) => e.cause), ['overwritten']);
  assert.equal((JSON.parse((await keys(etcd.client(), KEY))[0]?.value ?? '{}') as { port?: number }).port, 9100);
  await other.close();
  // A later outside delete of the open node: its repair is queued behind anything the closed
  // node's delete could have caused (one watch stream, in revision order; writes run one at a time).
  await etcd.client().delete().key(KEY);
  await eventually('the open node repaired after the close', () => (events.repaired.length > 1 ? true : undefined), BACK_WITHIN_MS);
  assert.equal(await leaseOf(etcd.client(), '/services/web/nodes/w2_node_exporter'), undefined, 'a closed node is never put back');
  assert.equal(node.state, 'registered');
});

test('two registrants of one identity: the second is refused naming the holder; with takeover it takes the key and the first yields; close() never removes the other\'s key', async (t) => {
  const etcd = await useTestEtcd(t);
  const first = useClient(t, etcd.endpoint);
  const firstNode = await first.client.register(NODE);
  const holder = first.client.leaseId ?? '';

  const second = useClient(t, etcd.endpoint);
  const refusedAt = Date.now();
  await assert.rejects(second.client.register(NODE), (err: unknown) => {
    assert.ok(err instanceof CollisionError, String(err));
    assert.equal(err.code, 'COLLISION');
    assert.equal(err.key, KEY);
    assert.equal(err.holderLeaseId, holder);
    assert.match(err.message, new RegExp(`lease ${holder}\\b.*--takeover`));
    return true;
  });
  t.diagnostic(`collision reported ${Date.now() - refusedAt} ms after register() (the holder's renewal must be seen; TTL ${TTL} s)`);
  assert.deepEqual(second.events.collisions.map((e) => [e.action, e.holderLeaseId]), [['refused', holder]]);
  assert.equal(await leaseOf(etcd.client(), KEY), holder, 'the refused registrant wrote nothing');
  await second.client.close();
  assert.equal(await leaseOf(etcd.client(), KEY), holder, 'closing the refused registrant left the holder\'s key');

  const third = useClient(t, etcd.endpoint, { takeover: true });
  await third.client.register(NODE);
  const taker = third.client.leaseId ?? '';
  assert.equal(await leaseOf(etcd.client(), KEY), taker, 'taken over');
  assert.deepEqual(third.events.collisions.map((e) => [e.action, e.holderLeaseId]), [['taken-over', holder]]);
  await eventually('the first yields', () => (first.events.collisions.length > 0 ? true : undefined), BACK_WITHIN_MS);
  assert.deepEqual(first.events.collisions.map((e) => [e.action, e.holderLeaseId]), [['yielded', taker]]);
  assert.equal(firstNode.state, 'yielded');
  // No fight: over several renewals the key stays with the taker, written once.
  const mod = (await etcd.client().kv.range({ key: Buffer.from(KEY) })).kvs[0]?.mod_revision;
  await new Promise((r) => setTimeout(r, TTL * 1000));
  assert.equal((await etcd.client().kv.range({ key: Buffer.from(KEY) })).kvs[0]?.mod_revision, mod, 'nobody rewrote the key');
  assert.deepEqual(first.events.repaired, []);
  await first.client.close();
  assert.equal(await leaseOf(etcd.client(), KEY), taker, 'closing the yielded registrant left the taker\'s key');
  await third.client.close();
  assert.equal(await leaseOf(etcd.client(), KEY), undefined, 'the taker removes its own key');
});

test('a key left by a crashed predecessor (lease no longer renewed) is written once that lease expires, not refused', async (t) => {
  const etcd = await useTestEtcd(t);
  const dead = await etcd.client().leaseClient.leaseGrant({ TTL });
  await etcd.client().kv.put({ key: Buffer.from(KEY), value: Buffer.from('{"id":"w1","exporter_type":"node_exporter","port":9100}'), lease: dead.ID });
  const { client, events } = useClient(t, etcd.endpoint);
  const started = Date.now();
  await client.register(NODE);
  t.diagnostic(`registered ${Date.now() - started} ms after register() (predecessor's TTL ${TTL} s)`);
  assert.equal(await leaseOf(etcd.client(), KEY), client.leaseId);
  assert.deepEqual(events.collisions, [], 'an expired holder is no collision');
});

test('lease revoked from outside: noticed at once, every node back under a new lease exactly once', async (t) => {
  const etcd = await useTestEtcd(t);
  const { client, events } = useClient(t, etcd.endpoint);
  const nodes = [NODE, { ...NODE, exporterType: 'nginx_exporter', port: 9113 }, { ...NODE, group: 'db', id: 'd1' }];
  for (const n of nodes) await client.register(n);
  const old = client.leaseId ?? '';
  const revokedAt = Date.now();
  await etcd.client().leaseClient.leaseRevoke({ ID: old });
  await eventually('restored', () => (events.restored.length > 0 ? true : undefined), BACK_WITHIN_MS);
  const noticedMs = (events.lost[0]?.at ?? NaN) - revokedAt;
  t.diagnostic(`lost noticed ${noticedMs} ms after the revocation (TTL ${TTL} s, renewals every ${TTL * 1000 / 3} ms)`);
  const nodeKeys = async (): Promise<{ key: string; lease: string }[]> => (await keys(etcd.client())).filter((k) => k.key.includes('/nodes/'));
  await timeUntil('every node under the new lease', async () => {
    const kvs = await nodeKeys();
    return kvs.length === nodes.length && kvs.every((k) => k.lease === client.leaseId);
  });
  t.diagnostic(`every node back ${Date.now() - revokedAt} ms after the revocation`);
  await new Promise((r) => setTimeout(r, TTL * 1000));
  assert.equal(events.lost.length, 1);
  assert.equal(events.restored.length, 1, 'restored exactly once');
  assert.equal(events.restored[0]?.nodes, nodes.length);
  assert.deepEqual(events.repaired, [], 'the restore puts the nodes back, not a repair each');
  const kvs = await nodeKeys();
  assert.equal(kvs.length, nodes.length, 'no duplicate keys');
  assert.ok(kvs.every((k) => k.lease === client.leaseId && k.lease !== old));
});

test('after etcd restarts (within the TTL, and after the lease was lost) the watches are back: a delete is still repaired', async (t) => {
  const etcd = await useTestEtcd(t);
  const { client, events } = useClient(t, etcd.endpoint);
  await client.register(NODE);
  const deleteAndWait = async (what: string): Promise<number> => {
    const before = events.repaired.length;
    await etcd.client().delete().key(KEY).exec();
    const ms = await timeUntil(`${what}: node key back`, async () => (await leaseOf(etcd.client(), KEY)) === client.leaseId);
    await eventually(`${what}: repaired`, () => (events.repaired.length > before ? true : undefined), BACK_WITHIN_MS);
    return ms;
  };
  await etcd.kill();
  await new Promise((r) => setTimeout(r, 500));
  await etcd.restart();
  // The watch re-attaches on its own; until it has, a delete is caught by the read that follows the attach.
  const shortMs = await deleteAndWait('etcd restarted within the TTL');
  assert.deepEqual(events.lost, []);

  await etcd.kill();
  await eventually('lost', () => (events.lost.length > 0 ? true : undefined), BACK_WITHIN_MS);
  await etcd.restart();
  await eventually('restored', () => (events.restored.length > 0 ? true : undefined), BACK_WITHIN_MS);
  const longMs = await deleteAndWait('after a new lease (and a new etcd3 client)');
  t.diagnostic(`node back ${shortMs} ms after a delete once etcd restarted within the TTL; ${longMs} ms once restored under a new lease`);
  assert.equal(events.restored.length, 1);
  assert.deepEqual((await keys(etcd.client(), '/services/web/')).map((k) => [k.key, k.lease]), [[KEY, client.leaseId]]);
});
