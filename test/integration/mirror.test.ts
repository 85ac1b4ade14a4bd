// The mirror against a real etcd: changes, lease expiry, outages, compaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoTime, formatGroupDocument, formatNodeDocument } from '../../src/registry/index.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { waitForConvergence } from '../helpers/converge.js';
import { useTcpProxy } from '../helpers/tcp-proxy.js';
import { eventually, httpGet, targets, useTestServer } from '../helpers/server.js';

const node = (id: string, port = 9100, labels: Record<string, string> = {}, lastSeen = new Date()): string =>
  formatNodeDocument({ id, exporterType: 'node_exporter', port, metricsPath: '/metrics', labels, status: 'healthy', lastSeen: formatGoTime(lastSeen) });
const group = (name: string, labels: Record<string, string>): string =>
  formatGroupDocument({ name, username: '', password: '', commonLabels: labels, created: formatGoTime(new Date()) });
const key = (g: string, id: string): string => `/services/${g}/nodes/${id}_node_exporter`;

async function servedRevisionAtLeast(server: { url: string }, revision: number): Promise<Awaited<ReturnType<typeof targets>>> {
  return eventually(`served revision >= ${revision}`, async () => {
    const r = await targets(server);
    return r.revision >= revision ? r : undefined;
  });
}

test('put, update, delete and lease expiry are each visible; a group label change reaches all its nodes', async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();

  const put = await c.put(key('g', 'a')).value(node('a')).exec();
  let r = await servedRevisionAtLeast(server, Number(put.header.revision));
  assert.deepEqual(r.groups.map((g) => g.targets[0]), ['a:9100']);

  const upd = await c.put(key('g', 'a')).value(node('a', 9200)).exec();
  r = await servedRevisionAtLeast(server, Number(upd.header.revision));
  assert.deepEqual(r.groups.map((g) => g.targets[0]), ['a:9200']);

  await c.put(key('g', 'b')).value(node('b'));
  const grp = await c.put('/services/g').value(group('g', { env: 'prod' })).exec();
  r = await servedRevisionAtLeast(server, Number(grp.header.revision));
  assert.deepEqual(r.groups.map((g) => g.labels['env']), ['prod', 'prod']);

  const del = await c.delete().key(key('g', 'a')).exec();
  r = await servedRevisionAtLeast(server, Number(del.header.revision));
  assert.deepEqual(r.groups.map((g) => g.targets[0]), ['b:9100']);

  const lease = c.lease(1, { autoKeepAlive: false });
  t.after(() => lease.release());
  await lease.put(key('g', 'leased')).value(node('leased'));
  await eventually('leased node to appear', async () => ((await targets(server)).groups.length === 2 ? true : undefined));
  const started = Date.now();
  await eventually('leased node to disappear after its TTL', async () => ((await targets(server)).groups.length === 1 ? true : undefined), 10_000);
  t.diagnostic(`lease of 1 s: node gone from /v1/targets ${Date.now() - started} ms after it was seen`);
});

test('a heartbeat that only changes last_seen keeps the ETag and the bytes, and moves the revision', async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  await c.put(key('g', 'a')).value(node('a', 9100, {}, new Date(0)));
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  const before = await httpGet(`${server.url}/v1/targets`);
  const hb = await c.put(key('g', 'a')).value(node('a', 9100, {}, new Date())).exec();
  const after = await servedRevisionAtLeast(server, Number(hb.header.revision));
  assert.equal(after.etag, before.headers['etag']);
  assert.equal(JSON.stringify(after.groups), before.text);
  const cond = await httpGet(`${server.url}/v1/targets`, { 'if-none-match': String(before.headers['etag']) });
  assert.equal(cond.status, 304);
});

test('503 before the first load; ready as soon as etcd answers, without a restart', async (t) => {
  const etcd = await useTestEtcd(t);
  await etcd.client().put(key('g', 'a')).value(node('a'));
  await etcd.kill();
  const server = await useTestServer(t, etcd.endpoint);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await httpGet(`${server.url}/v1/targets`)).status, 503);
  assert.equal((await httpGet(`${server.url}/v1/groups`)).status, 503);
  const ready = await httpGet(`${server.url}/readyz`);
  assert.equal(ready.status, 503);
  assert.equal((JSON.parse(ready.text) as { ready: boolean }).ready, false);
  assert.equal((await httpGet(`${server.url}/healthz`)).status, 200);
  await etcd.restart();
  await eventually('readyz 200', async () => ((await httpGet(`${server.url}/readyz`)).status === 200 ? true : undefined));
  assert.deepEqual((await targets(server)).groups.map((g) => g.targets[0]), ['a:9100']);
});

test('etcd killed mid-run: the last state is served, then changes made after the restart converge', async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  for (let i = 0; i < 20; i++) await c.put(key(`g${i % 4}`, `n${i}`)).value(node(`n${i}`));
  const server = await useTestServer(t, etcd.endpoint);
  await waitForConvergence(server, c);
  const before = await targets(server);
  await etcd.kill();
  await eventually('disconnect noticed', () => (server.mirror.status().connected ? undefined : true));
  const during = await targets(server);
  assert.equal(during.etag, before.etag, 'the last state keeps being served while etcd is down');
  const ready = await eventually('readyz to name why etcd is unreachable', async () => {
    const body = JSON.parse((await httpGet(`${server.url}/readyz`)).text) as { ready: boolean; etcd_connected: boolean; etcd_error?: string };
    return body.etcd_error === undefined ? undefined : body;
  });
  assert.deepEqual([ready.ready, ready.etcd_connected], [true, false]);
  assert.ok((ready.etcd_error ?? '').length > 0);
  await etcd.restart();
  for (let i = 0; i < 5; i++) await c.delete().key(key(`g${i % 4}`, `n${i}`));
  for (let i = 20; i < 30; i++) await c.put(key('g9', `n${i}`)).value(node(`n${i}`));
  const started = Date.now();
  const converged = await waitForConvergence(server, c);
  t.diagnostic(`converged ${Date.now() - started} ms after the post-restart writes`);
  assert.equal((JSON.parse(converged.body) as unknown[]).length, 25);
});

test('connection drops: the watch resumes from the last applied revision, nothing lost, nothing twice', async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  const proxy = await useTcpProxy(t, etcd.clientPort);
  const server = await useTestServer(t, proxy.endpoint);
  await server.mirror.whenReady();
  let puts = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 10; i++, puts++) await c.put(key('g', `r${round}n${i}`)).value(node(`r${round}n${i}`));
    proxy.dropAll();
    for (let i = 0; i < 10; i++, puts++) await c.put(key('h', `r${round}n${i}`)).value(node(`r${round}n${i}`));
  }
  await waitForConvergence(server, c);
  const metrics = (await httpGet(`${server.url}/metrics`)).text;
  assert.match(metrics, new RegExp(`etcd_http_sd_watch_events_total\\{type="put"\\} ${puts}\\n`), 'each event applied exactly once');
  assert.match(metrics, /etcd_http_sd_reloads_total\{reason="initial"\} 1\n/);
});

test('a compaction past the watch revision forces a full reload that converges', async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  const proxy = await useTcpProxy(t, etcd.clientPort);
  await c.put(key('g', 'old')).value(node('old'));
  const server = await useTestServer(t, proxy.endpoint);
  await server.mirror.whenReady();
  proxy.block();
  await eventually('disconnect noticed', () => (server.mirror.status().connected ? undefined : true));
  await c.delete().key(key('g', 'old'));
  for (let i = 0; i < 10; i++) await c.put(key('g', `new${i}`)).value(node(`new${i}`));
  await etcd.compact();
  proxy.unblock();
  await waitForConvergence(server, c);
  const metrics = (await httpGet(`${server.url}/metrics`)).text;
  assert.match(metrics, /etcd_http_sd_reloads_total\{reason="compacted"\} 1\n/);
  assert.deepEqual((await targets(server)).groups.length, 10);
});
