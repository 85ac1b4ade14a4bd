// A full body larger than the view cache's bound is written from the registry's chunks on each
// request: over HTTP it is the same response as a held one, it stays the snapshot it started
// from while the registry changes, and a client that stops reading holds it only until it leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { Etcd3 } from 'etcd3';
import { formatGoTime, formatNodeDocument } from '../../src/registry/index.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { metricValue, nonReader, putLargeNodes } from '../helpers/large-bodies.js';
import { waitForConvergence } from '../helpers/converge.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

const NODES = 2000;
const putNodes = (c: Etcd3): Promise<void> => putLargeNodes(c, NODES, (j) => `g${j % 5}`, '\u00e9'.repeat(1000));
/** Far below the body of NODES nodes (about 4.4 MB): the full view is streamed. */
const SMALL_CACHE = ['--cache-max-bytes', String(256 * 1024)];

/** A GET that asks the server to close after the response, so its end is the body's end. */
const rawGet = (url: string, path: string): Promise<Socket> => nonReader(url, path, 'Connection: close\r\n');

/** Reads `s` to its end; the bytes. */
function readAll(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (b: Buffer) => chunks.push(b));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
    s.resume();
  });
}

test('a streamed full body is the held one: bytes, ETag, Content-Length, HEAD and gzip agree across replicas', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  await putNodes(c);
  const streaming = await useTestServer(t, etcd.endpoint, { args: SMALL_CACHE });
  const holding = await useTestServer(t, etcd.endpoint);
  await waitForConvergence(streaming, c);
  await waitForConvergence(holding, c);
  const [s, h] = await Promise.all([httpGet(`${streaming.url}/v1/targets`), httpGet(`${holding.url}/v1/targets`)]);
  assert.equal(s.status, 200);
  assert.ok(s.body.length > 4_000_000, `a body of ${s.body.length} bytes`);
  assert.deepEqual(s.body, h.body);
  assert.equal(s.headers['etag'], h.headers['etag']);
  assert.equal(s.headers['content-length'], String(s.body.length));
  assert.equal((JSON.parse(s.text) as unknown[]).length, NODES);
  const head = await httpGet(`${streaming.url}/v1/targets`, {}, 'HEAD');
  assert.equal(head.headers['content-length'], String(s.body.length));
  const gz = { 'Accept-Encoding': 'gzip' };
  const [sg, hg] = await Promise.all([httpGet(`${streaming.url}/v1/targets`, gz), httpGet(`${holding.url}/v1/targets`, gz)]);
  assert.equal(sg.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(sg.body), s.body);
  assert.deepEqual(sg.body, hg.body, 'one ETag, one gzip: replicas agree byte for byte');
  assert.equal((await httpGet(`${streaming.url}/v1/targets`, { 'If-None-Match': String(s.headers['etag']) })).status, 304);
});

test('a client reading a streamed body slowly while the registry changes gets the snapshot it asked for, whole', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  await putNodes(c);
  const server = await useTestServer(t, etcd.endpoint, { args: SMALL_CACHE });
  await waitForConvergence(server, c);
  const before = await httpGet(`${server.url}/v1/targets`);
  const slow = await rawGet(server.url, '/v1/targets');
  t.after(() => slow.destroy());
  // The first bytes arrive: the response has started on the old state...
  const first = await new Promise<Buffer>((resolve) => {
    slow.once('data', (b: Buffer) => {
      slow.pause();
      resolve(b);
    });
    slow.resume();
  });
  // ...which then goes away: every node of every group replaced by one other.
  await c.delete().prefix('/services/');
  await c.put('/services/other/nodes/x_node_exporter').value(formatNodeDocument({ id: 'x', exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: {}, status: 'healthy', lastSeen: formatGoTime(new Date(0)) }));
  const after = await waitForConvergence(server, c);
  assert.equal((JSON.parse(after.body) as unknown[]).length, 1);
  const raw = Buffer.concat([first, await readAll(slow)]);
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, split).toString('latin1');
  const body = raw.subarray(split + 4);
  assert.match(head, new RegExp(`etag: ${String(before.headers['etag'])}`, 'i'));
  assert.deepEqual(body, before.body, 'the old snapshot, whole');
});

test('a client that stops reading a streamed body holds it once, until it is cut or leaves', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  await putNodes(c);
  const server = await useTestServer(t, etcd.endpoint, { args: [...SMALL_CACHE, '--http-write-timeout', '3s', '--max-pending-response-bytes', String(1024 * 1024)] });
  await waitForConvergence(server, c);
  const metrics = async (): Promise<string> => (await httpGet(`${server.url}/metrics`)).text;
  const size = Number((await httpGet(`${server.url}/v1/targets`, {}, 'HEAD')).headers['content-length']);
  const [leaver, stayer] = await Promise.all([rawGet(server.url, '/v1/targets'), rawGet(server.url, '/v1/targets')]);
  t.after(() => [leaver, stayer].forEach((s) => s.destroy()));
  await eventually('the streamed body counted once for both', async () => (metricValue(await metrics(), 'etcd_http_sd_http_pending_response_bytes') === size ? true : undefined));
  // Others reading the same body are served meanwhile; a different large body is not, for now.
  const again = await httpGet(`${server.url}/v1/targets`);
  assert.equal(again.status, 200);
  assert.equal(again.body.length, size);
  assert.equal((await httpGet(`${server.url}/v1/targets?exporter_type=node_exporter`)).status, 503);
  // One leaves; the other is cut at the write deadline, short of the whole body. Then nothing is held.
  leaver.destroy();
  assert.equal(metricValue(await metrics(), 'etcd_http_sd_http_pending_response_bytes'), size, 'still held by the other');
  await eventually('pending bytes back to 0', async () => (metricValue(await metrics(), 'etcd_http_sd_http_pending_response_bytes') === 0 ? true : undefined));
  const received = await readAll(stayer).catch(() => Buffer.alloc(0));
  assert.ok(received.length < size, `a client that did not read got ${received.length} of ${size} bytes`);
  assert.equal((await httpGet(`${server.url}/v1/targets?exporter_type=node_exporter`)).status, 200);
});
