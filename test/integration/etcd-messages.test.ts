// Messages over grpc-js's default 4 MiB and keys that are not UTF-8, against a real etcd: the
// server must converge to a fresh listing's bytes at the same revision.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { formatGoTime, formatNodeDocument } from '../../src/registry/index.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { renderFromEtcd, waitForConvergence } from '../helpers/converge.js';
import { useTcpProxy } from '../helpers/tcp-proxy.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

function nodeDoc(id: string, labels: Record<string, string> = {}, extra: Record<string, string> = {}): string {
  const doc = formatNodeDocument({ id, exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels, status: 'healthy', lastSeen: formatGoTime(new Date(0)) });
  // Fields the registry does not know are legal (Go readers ignore them): a way to make a document large.
  return Object.keys(extra).length === 0 ? doc : JSON.stringify({ ...JSON.parse(doc), ...extra });
}

/** Puts `entries` in transactions of 128 operations (etcd's default --max-txn-ops); returns the last revision. */
async function putAll(c: Etcd3, entries: readonly (readonly [string | Buffer, string])[]): Promise<number> {
  let revision = 0;
  for (let i = 0; i < entries.length; i += 128) {
    const res = await c.kv.txn({ success: entries.slice(i, i + 128).map(([key, value]) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } })) });
    revision = Number(res.header.revision);
  }
  return revision;
}

test('start-up with a page of large documents over 4 MiB: loaded and served', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  const padding = 'x'.repeat(1_200_000);
  // One put each: etcd takes requests up to 1.5 MiB (--max-request-bytes).
  for (let i = 0; i < 4; i++) await c.put(`/services/big/nodes/n${i}_node_exporter`).value(nodeDoc(`n${i}`, {}, { note: padding }));
  const labels = Object.fromEntries(Array.from({ length: 110 }, (_, i) => [`label_${i}`, 'v'.repeat(30)]));
  await putAll(c, Array.from({ length: 1000 }, (_, i) => [`/services/wide/nodes/w${String(i).padStart(4, '0')}_node_exporter`, nodeDoc(`w${i}`, labels)] as const));
  const server = await useTestServer(t, etcd.endpoint);
  await eventually('first load', () => (server.mirror.status().ready ? true : undefined), 30_000);
  const converged = await waitForConvergence(server, c);
  assert.equal((JSON.parse(converged.body) as unknown[]).length, 1004);
});

test('one revision deleting a group whose delete events are over 4 MiB: applied, and later puts served', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  // 5,000 nodes with 1,000-byte ids: one delete event is about 1 KB, the revision 5 MB.
  const id = (i: number): string => `${'n'.repeat(990)}${String(i).padStart(5, '0')}`;
  await putAll(c, Array.from({ length: 5000 }, (_, i) => [`/services/doomed/nodes/${id(i)}_node_exporter`, nodeDoc(id(i))] as const));
  await c.put('/services/kept/nodes/k_node_exporter').value(nodeDoc('k'));
  await waitForConvergence(server, c, '/services', 30_000);
  await c.delete().prefix('/services/doomed/');
  await c.put('/services/kept/nodes/later_node_exporter').value(nodeDoc('later'));
  const converged = await waitForConvergence(server, c, '/services', 30_000);
  assert.deepEqual((JSON.parse(converged.body) as { targets: string[] }[]).map((g) => g.targets[0]), ['k:9100', 'later:9100']);
});

test('a catch-up over 4 MiB after a link cut: applied, converged, one initial load only', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  const proxy = await useTcpProxy(t, etcd.clientPort);
  const server = await useTestServer(t, proxy.endpoint);
  await server.mirror.whenReady();
  proxy.block();
  await eventually('disconnect noticed', () => (server.mirror.status().connected ? undefined : true));
  // 3,000 documents of 2.2 KB in 24 revisions: one catch-up message of about 6.6 MB.
  const labels = { note: 'y'.repeat(2000) };
  await putAll(c, Array.from({ length: 3000 }, (_, i) => [`/services/burst/nodes/b${i}_node_exporter`, nodeDoc(`b${i}`, labels)] as const));
  proxy.unblock();
  const converged = await waitForConvergence(server, c, '/services', 30_000);
  assert.equal((JSON.parse(converged.body) as unknown[]).length, 3000);
  const metrics = (await httpGet(`${server.url}/metrics`)).text;
  assert.match(metrics, /etcd_http_sd_reloads_total\{reason="watch_error"\} 0\n/);
  assert.match(metrics, /etcd_http_sd_watch_events_total\{type="put"\} 3000\n/);
});

test('keys that are not UTF-8 never collide: skipped and counted, replicas agree at one revision', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  const raw = (b: number): Buffer => Buffer.concat([Buffer.from('/services/g/nodes/a'), Buffer.from([b]), Buffer.from('_node_exporter')]);
  await putAll(c, [[raw(0xff), nodeDoc('a1')], [raw(0xfe), nodeDoc('a2')], ['/services/g/nodes/ok_node_exporter', nodeDoc('ok')]]);
  await waitForConvergence(server, c);
  await eventually('both undecodable keys counted', async () =>
    (await httpGet(`${server.url}/metrics`)).text.includes('etcd_http_sd_invalid_documents{reason="invalid_key_encoding"} 2\n') ? true : undefined);
  await c.delete().key(raw(0xff));
  const converged = await waitForConvergence(server, c);
  // A second replica started now serves the same bytes at the same revision.
  const fresh = await useTestServer(t, etcd.endpoint);
  await fresh.mirror.whenReady();
  const [a, b] = await Promise.all([httpGet(`${server.url}/v1/targets`), httpGet(`${fresh.url}/v1/targets`)]);
  assert.equal(a.headers['x-etcd-revision'], b.headers['x-etcd-revision']);
  assert.equal(a.text, b.text);
  assert.equal(a.text, converged.body);
  assert.equal(a.text, (await renderFromEtcd(c)).body);
  assert.match((await httpGet(`${server.url}/metrics`)).text, /etcd_http_sd_invalid_documents\{reason="invalid_key_encoding"\} 1\n/);
});

test('a group document with a 1.4 MB common label and 400 nodes: skipped and counted, the server stays up', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  await c.put('/services/small/nodes/s_node_exporter').value(nodeDoc('s'));
  await putAll(c, Array.from({ length: 400 }, (_, i) => [`/services/huge/nodes/h${i}_node_exporter`, nodeDoc(`h${i}`)] as const));
  await c.put('/services/huge').value(JSON.stringify({ name: 'huge', spec: { username: '', password: '', common_labels: { blob: 'b'.repeat(1_400_000) } } }));
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  const converged = await waitForConvergence(server, c);
  assert.ok(converged.body.length < 200_000, `body ${converged.body.length} bytes`);
  assert.equal((await httpGet(`${server.url}/v1/targets/small`)).status, 200);
  assert.match((await httpGet(`${server.url}/metrics`)).text, /etcd_http_sd_invalid_documents\{reason="label_too_long"\} 1\n/);
});
