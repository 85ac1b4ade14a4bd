// `register` as child processes, on what another writer does to its key: the host it
// registers is the one it checks; two registrants of one node never delete each other's
// key; its own /metrics count what it repaired.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawnCli, type CliProcess } from '../helpers/cli.js';
import { useTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { freePort } from '../helpers/ports.js';
import { eventually, httpGet } from '../helpers/server.js';

const KEY = '/services/web/nodes/n1_node_exporter';

function args(etcd: TestEtcd, extra: readonly string[] = []): string[] {
  return ['register', '--etcd-endpoints', etcd.endpoint, '--group', 'web', '--id', 'n1', '--exporter-type', 'node_exporter',
    '--port', '9100', '--ttl', '5s', ...extra];
}

interface LogLine { readonly msg: string; readonly level: string; readonly [field: string]: unknown }

function logLines(p: CliProcess): LogLine[] {
  return p.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

/** The key's document and lease, or `undefined` while absent. */
async function keyOf(etcd: TestEtcd): Promise<{ readonly doc: { address?: string }; readonly lease: string } | undefined> {
  const kv = (await etcd.client().get(KEY).exec()).kvs[0];
  return kv === undefined ? undefined : { doc: JSON.parse(kv.value.toString()) as { address?: string }, lease: kv.lease };
}

/** A stand-in exporter: answers 200 on 127.0.0.1 until the test ends. */
async function exporter(t: TestContext): Promise<number> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('up 1\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('register: without --host, the node is registered at the host --check-url checks', async (t) => {
  const etcd = await useTestEtcd(t);
  const port = await exporter(t);
  const p = spawnCli(t, args(etcd, ['--port', String(port), '--check-url', `http://127.0.0.1:${port}/metrics`]));
  const key = await eventually('key written', () => keyOf(etcd), 10_000);
  assert.equal(key.doc.address, `127.0.0.1:${port}`);
  assert.ok(logLines(p).some((l) => l.level === 'warn' && l.msg.includes('loopback address')), 'says only a local Prometheus can scrape it');
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0, p.stderr());
});

test('register --metrics-listen: /metrics counts lease losses and restores, and the node while registered', async (t) => {
  const etcd = await useTestEtcd(t);
  const metricsPort = await freePort();
  const p = spawnCli(t, args(etcd, ['--host', '127.0.0.1', '--metrics-listen', `127.0.0.1:${metricsPort}`]));
  const first = await eventually('key written', () => keyOf(etcd), 10_000);
  const url = `http://127.0.0.1:${metricsPort}/metrics`;
  const registered = await eventually('node counted', async () => {
    const text = (await httpGet(url)).text;
    return metricValue(text, 'etcd_http_sd_register_nodes') === 1 ? text : undefined;
  }, 5000);
  assert.equal(metricValue(registered, 'etcd_http_sd_register_lease_losses_total'), 0);
  assert.equal(metricValue(registered, 'etcd_http_sd_register_repairs_total{cause="deleted"}'), 0);
  assert.equal((await httpGet(`http://127.0.0.1:${metricsPort}/readyz`)).status, 200);

  // Revoked from outside: noticed, and back under a new lease.
  const revokedAt = Date.now();
  await etcd.client().leaseClient.leaseRevoke({ ID: first.lease });
  const back = await eventually('key back under a new lease', async () => {
    const k = await keyOf(etcd);
    return k !== undefined && k.lease !== first.lease ? k : undefined;
  }, 10_000);
  t.diagnostic(`revoked lease ${first.lease}: key back under lease ${back.lease} after ${Date.now() - revokedAt} ms`);
  const after = await eventually('loss and restore counted', async () => {
    const text = (await httpGet(url)).text;
    return metricValue(text, 'etcd_http_sd_register_lease_restores_total') === 1 ? text : undefined;
  }, 5000);
  assert.equal(metricValue(after, 'etcd_http_sd_register_lease_losses_total'), 1);
  assert.equal(metricValue(after, 'etcd_http_sd_register_nodes'), 1);
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0, p.stderr());
});

test('register --metrics-listen on a taken port exits 2 naming the flag', async (t) => {
  const etcd = await useTestEtcd(t);
  const taken = await exporter(t);
  const p = spawnCli(t, args(etcd, ['--host', '127.0.0.1', '--metrics-listen', `127.0.0.1:${taken}`]));
  assert.equal(await p.exited, 2, p.stderr());
  assert.match(p.stderr(), new RegExp(`--metrics-listen: 127\\.0\\.0\\.1:${taken} is already in use`));
  assert.equal(await keyOf(etcd), undefined, 'registers nothing');
});
