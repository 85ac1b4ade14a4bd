// The register library against a real etcd and our server: served targets,
// Go-shaped documents, one shared lease, in-place updates, close, groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { prefixEnd } from '../../src/etcd/client.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { RegistryClient } from '../../src/register/index.js';
import { useTestEtcd, type CleanupContext } from '../helpers/etcd.js';
import { loadFixtureFile, putFixtures } from '../helpers/fixtures.js';
import { eventually, targets, useTestServer } from '../helpers/server.js';

const GO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{0,8}[1-9])?Z$/;

function useClient(t: CleanupContext, endpoint: string, ttlSeconds = 10): RegistryClient {
  const client = new RegistryClient({ endpoints: [endpoint], ttlSeconds, callTimeoutMs: 2000 });
  t.after(() => client.close().catch(() => undefined));
  return client;
}

async function keysUnder(etcd: Etcd3, prefix: string): Promise<{ key: string; value: string; lease: string; mod: number }[]> {
  const start = Buffer.from(`${prefix}/`);
  const res = await etcd.kv.range({ key: start, range_end: prefixEnd(start) });
  return res.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString(), lease: kv.lease, mod: Number(kv.mod_revision) }));
}

/** Field names, in order, with the JSON type of each value. */
function shape(json: string): [string, string][] {
  return Object.entries(JSON.parse(json) as Record<string, unknown>).map(([k, v]) => [k, v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v]);
}

function fixture(key: string): string {
  const e = loadFixtureFile().entries.find((x) => x.key === key);
  assert.ok(e, `fixture ${key}`);
  return e.value;
}

test('a registered node is served by the server with the group labels merged', async (t) => {
  const etcd = await useTestEtcd(t);
  const server = await useTestServer(t, etcd.endpoint);
  const client = useClient(t, etcd.endpoint);
  await client.configureGroup('web', { setLabels: { environment: 'production', team: 'group' } });
  await client.register({ group: 'web', id: 'web-1', exporterType: 'node_exporter', port: 9100, host: '127.0.0.1', labels: { team: 'node', instance: 'i-1' } });
  const served = await eventually('the node served', async () => {
    const body = await targets(server);
    return body.groups.length === 1 ? body.groups[0] : undefined;
  });
  assert.deepEqual(served, {
    targets: ['127.0.0.1:9100'],
    labels: {
      __meta_etcd_group: 'web', __meta_etcd_node_id: 'web-1', __meta_etcd_exporter_type: 'node_exporter', __meta_etcd_node_status: 'healthy',
      __metrics_path__: '/metrics', environment: 'production', exporter_type: 'node_exporter', ingress_host: '127.0.0.1', instance: 'i-1', team: 'node',
    },
  });
});

test('documents written are shaped like the Go-written fixtures (fields, order, types, time format)', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = useClient(t, etcd.endpoint);
  const { group } = await client.createOrJoinGroup('web');
  await client.configureGroup('web', { setLabels: { environment: 'production' }, username: 'scraper', password: 's3cret' });
  await client.register({ group: 'web', id: 'web-1', exporterType: 'node_exporter', port: 9100, labels: { instance: 'i-1' } });
  await client.register({ group: 'ext', id: 'ext-1', exporterType: 'app', port: 3000, host: '127.0.0.1', labels: { team: 'api' } });
  const kvs = new Map((await keysUnder(etcd.client(), '/services')).map((kv) => [kv.key, kv]));
  const web1 = kvs.get('/services/web/nodes/web-1_node_exporter');
  const ext1 = kvs.get('/services/ext/nodes/ext-1_app');
  const webGroup = kvs.get('/services/web');
  assert.ok(web1 && ext1 && webGroup);
  assert.deepEqual(shape(web1.value), shape(fixture('/services/web/nodes/web-1_node_exporter')));
  assert.deepEqual(shape(ext1.value), shape(fixture('/services/ext/nodes/ext-1_app')));
  assert.deepEqual(shape(webGroup.value), shape(fixture('/services/web')));
  const groupDoc = JSON.parse(webGroup.value) as { spec: Record<string, unknown>; created: string };
  assert.deepEqual(Object.keys(groupDoc.spec), Object.keys((JSON.parse(fixture('/services/web')) as { spec: object }).spec));
  assert.match(groupDoc.created, GO_TIME);
  assert.equal(groupDoc.created, group.created, 'configure keeps the creation time');
  const doc = JSON.parse(ext1.value) as Record<string, unknown>;
  assert.match(String(doc['last_seen']), GO_TIME);
  assert.equal(doc['address'], '127.0.0.1:3000');
  assert.equal(doc['status'], 'healthy');
  assert.equal(web1.lease, client.leaseId, 'node keys are leased');
  assert.equal(ext1.lease, client.leaseId, 'one lease for every node of the client');
  assert.equal(webGroup.lease, '0', 'group documents are not leased');
});

test('update changes labels and status in place; close deletes the keys and revokes the lease', async (t) => {
  const etcd = await useTestEtcd(t);
  const server = await useTestServer(t, etcd.endpoint);
  const client = useClient(t, etcd.endpoint);
  const node = await client.register({ group: 'web', id: 'w1', exporterType: 'node_exporter', port: 9100, host: '127.0.0.1' });
  const other = await client.register({ group: 'web', id: 'w2', exporterType: 'node_exporter', port: 9101, host: '127.0.0.1' });
  const before = await keysUnder(etcd.client(), '/services');
  await node.update({ status: 'maintenance', labels: { rack: 'r1' } });
  const after = await keysUnder(etcd.client(), '/services');
  assert.deepEqual(after.map((k) => k.key), before.map((k) => k.key), 'same keys, no second key');
  const w1 = after.find((k) => k.key === node.key);
  assert.equal(w1?.lease, client.leaseId);
  assert.deepEqual((JSON.parse(w1?.value ?? '{}') as { labels?: unknown }).labels, { ingress_host: '127.0.0.1', rack: 'r1' });
  await eventually('maintenance served', async () => {
    const g = (await targets(server)).groups.find((x) => x.targets[0] === '127.0.0.1:9100');
    return g?.labels['__meta_etcd_node_status'] === 'maintenance' && g.labels['rack'] === 'r1' ? true : undefined;
  });
  await assert.rejects(node.update({ labels: { 'bad-name': 'x' } }), (err: unknown) => err instanceof InvalidArgumentError && err.field === 'labels.bad-name');

  await other.close();
  assert.deepEqual((await keysUnder(etcd.client(), '/services')).map((k) => k.key), ['/services/web', node.key], 'the group document register() created, and the node left');
  const leaseId = client.leaseId;
  const started = Date.now();
  await client.close();
  const closeMs = Date.now() - started;
  t.diagnostic(`close() took ${closeMs} ms`);
  assert.deepEqual((await keysUnder(etcd.client(), '/services')).map((k) => k.key), ['/services/web'], 'node keys gone when close() resolves; the group document stays');
  const ttl = await etcd.client().leaseClient.leaseTimeToLive({ ID: leaseId ?? '' });
  assert.equal(ttl.TTL, '-1', 'lease revoked');
  assert.equal(node.state, 'closed');
  await assert.rejects(client.register({ group: 'web', id: 'w3', exporterType: 'x', port: 1 }), { code: 'CLOSED' });
});

test('bad nodes are refused before anything is written, naming the field', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = useClient(t, etcd.endpoint);
  const base = { group: 'web', id: 'n1', exporterType: 'node_exporter', port: 9100 };
  const cases: [Record<string, unknown>, string][] = [
    [{ id: '' }, 'id'],
    [{ port: 0 }, 'port'],
    [{ port: 65536 }, 'port'],
    [{ group: 'web/x' }, 'group'],
    [{ group: 'a'.repeat(64) }, 'group'],
    [{ labels: { __address__: 'evil:1' } }, 'labels.__address__'],
    [{ labels: { 'a-b': 'x' } }, 'labels.a-b'],
    [{ labels: { a: '' } }, 'labels.a'],
    [{ host: 'h', address: 'h:1' }, 'address'],
  ];
  for (const [change, field] of cases) {
    await assert.rejects(client.register({ ...base, ...change }), (err: unknown) => err instanceof InvalidArgumentError && err.field === field, field);
  }
  assert.throws(() => new RegistryClient({ endpoints: [etcd.endpoint], ttlSeconds: 0.5 }), (err: unknown) => err instanceof InvalidArgumentError && err.field === 'ttlSeconds');
  assert.deepEqual(await keysUnder(etcd.client(), '/services'), []);
  assert.equal(client.leaseState, 'idle', 'no lease granted for refused nodes');
});

test('groups: create-or-join is atomic; delete of web never touches web-canary', async (t) => {
  const etcd = await useTestEtcd(t);
  const a = useClient(t, etcd.endpoint);
  const b = useClient(t, etcd.endpoint);
  const joined = await Promise.all([a.createOrJoinGroup('new'), b.createOrJoinGroup('new'), a.createOrJoinGroup('new')]);
  assert.equal(joined.filter((j) => j.created).length, 1, 'exactly one creator');
  assert.equal(new Set(joined.map((j) => j.group.created)).size, 1, 'all see the same document');

  const put = await putFixtures(etcd.client(), loadFixtureFile().entries);
  t.after(() => put.lease?.revoke().catch(() => undefined));
  const canaryBefore = (await keysUnder(etcd.client(), '/services')).filter((k) => k.key.startsWith('/services/web-canary'));
  assert.equal(canaryBefore.length, 2);
  assert.equal(await a.deleteGroup('web'), 4, 'group document and its three nodes');
  const left = await keysUnder(etcd.client(), '/services');
  assert.equal(left.filter((k) => k.key === '/services/web' || k.key.startsWith('/services/web/')).length, 0);
  assert.deepEqual(left.filter((k) => k.key.startsWith('/services/web-canary')), canaryBefore);
  const listed = await a.listGroups();
  assert.ok(listed.some((g) => g.name === 'web-canary' && g.hasDocument && g.nodes === 1));
  assert.ok(listed.some((g) => g.name === 'orphans' && !g.hasDocument && g.nodes === 1));
  assert.ok(!listed.some((g) => g.name === 'web'));
  const canary = await a.getGroup('web-canary');
  assert.deepEqual(canary?.commonLabels, { environment: 'canary' });
  assert.equal(await a.getGroup('nope'), undefined);
});

test('concurrent configure from two clients: no update lost', async (t) => {
  const etcd = await useTestEtcd(t);
  const a = useClient(t, etcd.endpoint);
  const b = useClient(t, etcd.endpoint);
  const ROUNDS = 20;
  let attempts = 0;
  const add = (client: RegistryClient, name: string) =>
    client.configureGroup('shared', (spec) => {
      attempts += 1;
      return { ...spec, commonLabels: { ...spec.commonLabels, [name]: 'x' } };
    });
  await Promise.all([
    ...Array.from({ length: ROUNDS }, (_, i) => add(a, `a${i}`)),
    ...Array.from({ length: ROUNDS }, (_, i) => add(b, `b${i}`)),
  ]);
  const group = await a.getGroup('shared');
  const names = Object.keys(group?.commonLabels ?? {}).sort();
  const expected = [...Array.from({ length: ROUNDS }, (_, i) => `a${i}`), ...Array.from({ length: ROUNDS }, (_, i) => `b${i}`)].sort();
  assert.deepEqual(names, expected);
  t.diagnostic(`${2 * ROUNDS} concurrent configures took ${attempts} attempts (${attempts - 2 * ROUNDS} lost the compare-and-swap and retried)`);
  assert.ok(attempts > 2 * ROUNDS, 'the test did produce conflicts');
});
