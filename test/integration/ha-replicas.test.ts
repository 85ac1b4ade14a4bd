// Two replicas against one etcd (high availability): at the same revision they
// serve byte-identical bodies with the same ETag, however each got there
// (watch events, or a first listing), so a load balancer can mix them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import type { Etcd3 } from 'etcd3';
import { EtcdSource } from '../../src/mirror/etcd-source.js';
import { RegistryState } from '../../src/registry/index.js';
import type { RunningServer } from '../../src/server.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { loadFixtureFile, putFixtures } from '../helpers/fixtures.js';
import { eventually, httpGet, useTestServer, type TestResponse } from '../helpers/server.js';

const P = '/services';
const VIEWS = [
  '/v1/targets', '/v1/targets/web', '/v1/targets/db', '/v1/targets/nosuch', '/v1/targets?group=web&group=akash',
  '/v1/targets?exporter_type=node_exporter', '/v1/targets?exporter_type=app&exporter_type=postgres_exporter',
  '/v1/targets/web?exporter_type=nginx_exporter', '/v1/groups',
];

/** A small deterministic generator, so a failure replays. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

const node = (id: string, type: string, labels: Record<string, string>, lastSeen: string): string =>
  JSON.stringify({ id, exporter_type: type, port: 9100, metrics_path: '/metrics', labels, status: 'healthy', last_seen: lastSeen });

/** One batch of mixed writes: new nodes, label changes, heartbeats, deletes, group relabels, garbage. */
async function writeBatch(client: Etcd3, random: () => number, batch: number): Promise<void> {
  const groups = ['web', 'db', 'batch', 'new-a', 'new-b'];
  for (let i = 0; i < 40; i++) {
    const g = groups[Math.floor(random() * groups.length)]!;
    const n = Math.floor(random() * 8);
    const key = `${P}/${g}/nodes/h${n}_node_exporter`;
    const r = random();
    if (r < 0.4) await client.put(key).value(node(`h${n}`, 'node_exporter', { zone: `z${Math.floor(random() * 3)}`, 'odd-name': 'x' }, `2025-03-01T10:00:${String(i % 60).padStart(2, '0')}.000000001Z`));
    else if (r < 0.55) await client.put(key).value(node(`h${n}`, 'node_exporter', { zone: 'z0', 'odd-name': 'x' }, `2025-03-01T11:${String(batch % 60).padStart(2, '0')}:00.123456789Z`));
    else if (r < 0.75) await client.delete().key(key);
    else if (r < 0.85) await client.put(`${P}/${g}`).value(JSON.stringify({ name: g, spec: { username: '', password: '', common_labels: { env: `e${Math.floor(random() * 3)}` } } }));
    else if (r < 0.9) await client.delete().key(`${P}/${g}`);
    else if (r < 0.95) await client.put(key).value('{"id": broken');
    else await client.put(`${P}/${g}/nodes/x${n}_app`).value(node(`x${n}`, 'app', {}, '2025-03-01T10:00:00Z'));
  }
}

interface Seen {
  readonly revision: number;
  readonly responses: ReadonlyMap<string, TestResponse>;
}

async function fetchAll(server: RunningServer, headers: Record<string, string> = {}): Promise<Seen | undefined> {
  const responses = new Map<string, TestResponse>();
  let revision: number | undefined;
  for (const path of VIEWS) {
    const res = await httpGet(`${server.url}${path}`, headers);
    if (res.status !== 200) return undefined;
    const rev = Number(res.headers['x-etcd-revision']);
    if (revision !== undefined && rev !== revision) return undefined; // moved on mid-way: ask again
    revision = rev;
    responses.set(path, res);
  }
  return revision === undefined ? undefined : { revision, responses };
}

/** Waits until every server answers every view at `atLeast` or later, all at one revision; returns their answers. */
async function sameRevision(servers: readonly RunningServer[], atLeast: number, headers: Record<string, string> = {}): Promise<Seen[]> {
  return eventually(`replicas at one revision >= ${atLeast}`, async () => {
    const seen: Seen[] = [];
    for (const s of servers) {
      const r = await fetchAll(s, headers);
      if (r === undefined || r.revision < atLeast) return undefined;
      seen.push(r);
    }
    return seen.every((s) => s.revision === seen[0]!.revision) ? seen : undefined;
  }, 45_000, 50);
}

function assertIdentical(seen: readonly Seen[], label: string): void {
  const [first, ...rest] = seen;
  for (const other of rest) {
    for (const path of VIEWS) {
      const a = first!.responses.get(path)!;
      const b = other.responses.get(path)!;
      assert.ok(a.body.equals(b.body), `${label}: ${path} bodies differ at revision ${first!.revision}`);
      assert.equal(a.headers['etag'], b.headers['etag'], `${label}: ${path} ETag`);
      assert.equal(a.headers['content-type'], b.headers['content-type']);
      assert.equal(a.headers['content-encoding'], b.headers['content-encoding']);
    }
  }
}

/** The ETag and body a fresh process would compute from etcd now: content-derived, no process state. */
async function offline(client: Etcd3): Promise<{ body: string; etag: string; revision: number }> {
  let state = new RegistryState(P);
  const revision = await new EtcdSource(client, P, 7).list((kvs) => {
    for (const kv of kvs) state.apply({ type: 'put', key: kv.key, value: kv.value });
  }, () => {
    state = new RegistryState(P);
  });
  const content = state.snapshot();
  return { body: content.body, etag: content.etag, revision };
}

test('two replicas serve byte-identical bodies and ETags at the same revision, plain, gzip and filtered', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  const put = await putFixtures(client, loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const a = await useTestServer(t, etcd.endpoint);
  await a.mirror.whenReady();
  const random = rng(20250301);
  await writeBatch(client, random, 0);
  // b starts later: it gets the same state from a first listing, a from watch events.
  const b = await useTestServer(t, etcd.endpoint);
  await b.mirror.whenReady();
  // Nothing but this loop writes to etcd (lease keep-alives move no revision), so after
  // each batch every answer below is at the batch's revision: each check always runs.
  for (let batch = 1; batch <= 6; batch++) {
    await writeBatch(client, random, batch);
    const revision = await etcd.revision();
    const plain = await sameRevision([a, b], revision);
    assert.equal(plain[0]!.revision, revision, `batch ${batch}: no write after the batch`);
    assertIdentical(plain, `batch ${batch}`);
    const gz = await sameRevision([a, b], revision, { 'accept-encoding': 'gzip' });
    assertIdentical(gz, `batch ${batch} gzip`);
    // The gzip is of the same bytes as the plain body, and the ETag is the same.
    assert.equal(gz[0]!.revision, revision);
    const z = gz[0]!.responses.get('/v1/targets')!;
    assert.equal(z.headers['content-encoding'], 'gzip');
    assert.ok(gunzipSync(z.body).equals(plain[0]!.responses.get('/v1/targets')!.body));
    assert.equal(z.headers['etag'], plain[0]!.responses.get('/v1/targets')!.headers['etag']);
    // An ETag from one replica is good for a conditional request to the other.
    const etag = String(plain[0]!.responses.get('/v1/targets')!.headers['etag']);
    const cross = await httpGet(`${b.url}/v1/targets`, { 'if-none-match': etag });
    assert.equal(Number(cross.headers['x-etcd-revision']), revision);
    assert.equal(cross.status, 304);
    // And a process that only lists etcd computes the same ETag and body.
    const fresh = await offline(client);
    assert.equal(fresh.revision, revision);
    assert.equal(fresh.etag, etag);
    assert.ok(Buffer.from(fresh.body).equals(plain[0]!.responses.get('/v1/targets')!.body));
  }
  t.diagnostic(`6 checkpoints x ${VIEWS.length} views identical, gzip of the same bytes, cross-replica 304, offline listing ETag`);

  // A heartbeat moves the revision but not the content: the same ETag on both.
  const before = String((await httpGet(`${a.url}/v1/targets`)).headers['etag']);
  await client.put(`${P}/web/nodes/web-1_node_exporter`).value((JSON.parse(JSON.stringify(loadFixtureFile().entries.find((e) => e.key === `${P}/web/nodes/web-1_node_exporter`)!.value)) as string).replace('10:00:05', '10:00:20'));
  const after = await sameRevision([a, b], await etcd.revision());
  assertIdentical(after, 'after a heartbeat');
  assert.equal(after[0]!.responses.get('/v1/targets')!.headers['etag'], before);

  // A replica restarted from scratch agrees too.
  await a.close();
  const c = await useTestServer(t, etcd.endpoint);
  await c.mirror.whenReady();
  assertIdentical(await sameRevision([b, c], await etcd.revision()), 'after a restart');
});
