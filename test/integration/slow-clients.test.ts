// Clients that never read, or open too many connections, cannot hold the server's memory or sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoTime, formatNodeDocument } from '../../src/registry/index.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { metricValue, nonReader, putLargeNodes } from '../helpers/large-bodies.js';
import { liveBytes } from '../helpers/memory.js';
import { waitForConvergence } from '../helpers/converge.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

test('non-reading clients are cut after the write timeout; connections over the limit are closed', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  await putLargeNodes(c, 2000); // a body of about 4.4 MB, far more than socket buffers hold
  const server = await useTestServer(t, etcd.endpoint, { args: ['--http-write-timeout', '2s', '--max-connections', '60'] });
  await waitForConvergence(server, c);
  const sockets = await Promise.all(Array.from({ length: 40 }, (_, i) => nonReader(server.url, `/v1/targets?exporter_type=node_exporter&exporter_type=x${i}`)));
  t.after(() => sockets.forEach((s) => s.destroy()));
  // A reading client is still served while they hang.
  const full = await httpGet(`${server.url}/v1/targets?exporter_type=node_exporter`);
  assert.equal(full.status, 200);
  // The clients' behaviour: no reading for longer than the write timeout (not a race being waited out).
  await new Promise((r) => setTimeout(r, 3000));
  const received = await Promise.all(sockets.map((s) => new Promise<number>((resolve) => {
    let bytes = 0;
    s.on('data', (b: Buffer) => { bytes += b.length; });
    s.once('close', () => resolve(bytes));
    s.once('error', () => undefined);
    s.resume();
  })));
  for (const bytes of received) assert.ok(bytes < full.body.length, `a non-reading client got ${bytes} of ${full.body.length} bytes: cut before the end`);
  // Over the limit: 60 idle connections are held open, the next ones are closed by the server.
  const idle = await Promise.all(Array.from({ length: 60 }, () => nonReader(server.url, '/healthz')));
  t.after(() => idle.forEach((s) => s.destroy()));
  const extra = await nonReader(server.url, '/healthz');
  await eventually('a connection over the limit closed', () => (extra.destroyed || extra.readableEnded ? true : new Promise<true | undefined>((r) => {
    extra.resume();
    extra.once('close', () => r(true));
    setTimeout(() => r(undefined), 500);
  })), 10_000);
  idle.forEach((s) => s.destroy());
  await eventually('served again once they left', async () => ((await httpGet(`${server.url}/healthz`)).status === 200 ? true : undefined));
});

test('200 non-reading clients asking for distinct bodies hold at most the pending-bytes budget', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  await putLargeNodes(c, 2000);
  const small = formatNodeDocument({ id: 'a', exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: {}, status: 'healthy', lastSeen: formatGoTime(new Date(0)) });
  await c.put('/services/small/nodes/a_node_exporter').value(small);
  const budget = 32 * 1024 * 1024;
  // A long write timeout: the budget, not the deadline, is what bounds memory here.
  const server = await useTestServer(t, etcd.endpoint, {
    args: ['--http-write-timeout', '120s', '--max-pending-response-bytes', String(budget), '--cache-max-bytes', String(16 * 1024 * 1024)],
  });
  await waitForConvergence(server, c);
  const one = await httpGet(`${server.url}/v1/targets?group=g&exporter_type=node_exporter`);
  const bodyBytes = one.body.length;
  const metrics = async (): Promise<string> => (await httpGet(`${server.url}/metrics`)).text;
  const before = liveBytes();
  const clients = 200;
  const sockets = await Promise.all(Array.from({ length: clients }, (_, i) => nonReader(server.url, `/v1/targets?group=g&exporter_type=node_exporter&exporter_type=x${i}`)));
  t.after(() => sockets.forEach((s) => s.destroy()));
  // Bodies are admitted while they fit: the rest are refused, not rendered into memory for good.
  const admitted = Math.floor(budget / bodyBytes);
  await eventually('every request answered or refused', async () => {
    const m = await metrics();
    return metricValue(m, 'etcd_http_sd_http_pending_bytes_refusals_total') === clients - admitted ? m : undefined;
  }, 30_000);
  const m = await metrics();
  const pending = metricValue(m, 'etcd_http_sd_http_pending_response_bytes');
  assert.equal(pending, admitted * bodyBytes);
  assert.ok(pending <= budget);
  // Stated bound: the process keeps at most the budget plus the view cache plus 96 MiB of
  // working memory more (without the budget these clients pinned 200 bodies, ~880 MB).
  const grown = liveBytes() - before;
  assert.ok(grown < budget + 16 * 1024 * 1024 + 96 * 1024 * 1024, `live memory grew by ${(grown / 1048576).toFixed(0)} MiB`);
  // A client asking for a small body is served; one asking for another large one is told to come back.
  const smallRes = await httpGet(`${server.url}/v1/targets/small`);
  assert.equal(smallRes.status, 200);
  assert.equal((JSON.parse(smallRes.text) as unknown[]).length, 1);
  const busy = await httpGet(`${server.url}/v1/targets?exporter_type=node_exporter`);
  assert.equal(busy.status, 503);
  assert.equal(busy.headers['retry-after'], '1');
  assert.equal((await httpGet(`${server.url}/readyz`)).status, 200);
  // Once they leave, their bytes are released and large bodies are served again.
  sockets.forEach((s) => s.destroy());
  await eventually('pending bytes back to 0', async () => (metricValue(await metrics(), 'etcd_http_sd_http_pending_response_bytes') === 0 ? true : undefined));
  assert.equal((await httpGet(`${server.url}/v1/targets?exporter_type=node_exporter`)).status, 200);
});

test('a body over the whole budget, held by a client that does not read, is still served to others asking for it: it is held once', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  await putLargeNodes(c, 2000); // about 4.4 MB, four times the budget below
  const server = await useTestServer(t, etcd.endpoint, { args: ['--http-write-timeout', '120s', '--max-pending-response-bytes', String(1024 * 1024)] });
  await waitForConvergence(server, c);
  const metrics = async (): Promise<string> => (await httpGet(`${server.url}/metrics`)).text;
  const holder = await nonReader(server.url, '/v1/targets');
  t.after(() => holder.destroy());
  const held = await eventually('the full body held for the non-reader', async () => {
    const n = metricValue(await metrics(), 'etcd_http_sd_http_pending_response_bytes');
    return n > 1024 * 1024 ? n : undefined;
  });
  // What a Prometheus refreshing the full body meets when its previous response has not closed yet.
  for (let i = 0; i < 3; i++) {
    const again = await httpGet(`${server.url}/v1/targets`);
    assert.equal(again.status, 200, `request ${i}: ${again.text.slice(0, 100)}`);
    assert.equal(again.body.length, held);
  }
  assert.equal(metricValue(await metrics(), 'etcd_http_sd_http_pending_bytes_refusals_total'), 0);
  // A body not held yet still waits for room.
  assert.equal((await httpGet(`${server.url}/v1/targets?exporter_type=node_exporter`)).status, 503);
});
