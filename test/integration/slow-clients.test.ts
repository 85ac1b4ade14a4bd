// Clients that never read, or open too many connections, cannot hold the server's memory or sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { Etcd3 } from 'etcd3';
import { formatGoTime, formatNodeDocument } from '../../src/registry/index.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { waitForConvergence } from '../helpers/converge.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

async function putNodes(c: Etcd3, count: number): Promise<void> {
  const note = 'n'.repeat(2000);
  for (let i = 0; i < count; i += 128) {
    const ops = [];
    for (let j = i; j < Math.min(count, i + 128); j++) {
      const value = formatNodeDocument({ id: `n${j}`, exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: { note }, status: 'healthy', lastSeen: formatGoTime(new Date(0)) });
      ops.push({ request_put: { key: Buffer.from(`/services/g/nodes/n${j}_node_exporter`), value: Buffer.from(value) } });
    }
    await c.kv.txn({ success: ops });
  }
}

/** Opens a socket, sends one request and never reads; resolves with the socket once connected. */
function nonReader(url: string, path: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => {
      s.pause();
      s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      resolve(s);
    });
    s.once('error', reject);
  });
}

test('non-reading clients are cut after the write timeout; connections over the limit are closed', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  await putNodes(c, 2000); // a body of about 4.4 MB, far more than socket buffers hold
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
