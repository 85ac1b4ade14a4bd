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
interface NodeKey { readonly doc: { readonly address?: string; readonly labels?: Record<string, string> }; readonly lease: string }

async function keyOf(etcd: TestEtcd): Promise<NodeKey | undefined> {
  const kv = (await etcd.client().get(KEY).exec()).kvs[0];
  return kv === undefined ? undefined : { doc: JSON.parse(kv.value.toString()) as NodeKey['doc'], lease: kv.lease };
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

/** Scrapes `url` until `series` reads `want`; resolves with that scrape. */
function scrapeUntil(url: string, series: string, want: number): Promise<string> {
  return eventually(`${series} ${want}`, async () => {
    const text = (await httpGet(url)).text;
    return metricValue(text, series) === want ? text : undefined;
  }, 5000);
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

test('register --metrics-listen: /metrics counts a repair, a lease loss and its restore, and the node while registered', async (t) => {
  const etcd = await useTestEtcd(t);
  const metricsPort = await freePort();
  const p = spawnCli(t, args(etcd, ['--host', '127.0.0.1', '--metrics-listen', `127.0.0.1:${metricsPort}`]));
  const first = await eventually('key written', () => keyOf(etcd), 10_000);
  const url = `http://127.0.0.1:${metricsPort}/metrics`;
  const registered = await scrapeUntil(url, 'etcd_http_sd_register_nodes', 1);
  assert.equal(metricValue(registered, 'etcd_http_sd_register_lease_losses_total'), 0);
  assert.equal(metricValue(registered, 'etcd_http_sd_register_repairs_total{cause="deleted"}'), 0);
  assert.equal((await httpGet(`http://127.0.0.1:${metricsPort}/readyz`)).status, 200);

  // Deleted from outside: put back under the same lease, and counted.
  const deletedAt = Date.now();
  await etcd.client().delete().key(KEY);
  const repaired = await eventually('key put back', () => keyOf(etcd), 5000, 5);
  t.diagnostic(`deleted from outside: key back ${Date.now() - deletedAt} ms later`);
  assert.equal(repaired.lease, first.lease);
  await scrapeUntil(url, 'etcd_http_sd_register_repairs_total{cause="deleted"}', 1);

  // Revoked from outside: noticed, and back under a new lease.
  const revokedAt = Date.now();
  await etcd.client().leaseClient.leaseRevoke({ ID: first.lease });
  const back = await eventually('key back under a new lease', async () => {
    const k = await keyOf(etcd);
    return k !== undefined && k.lease !== first.lease ? k : undefined;
  }, 10_000, 5);
  t.diagnostic(`revoked lease ${first.lease}: key back under lease ${back.lease} after ${Date.now() - revokedAt} ms`);
  const after = await scrapeUntil(url, 'etcd_http_sd_register_lease_restores_total', 1);
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

test('register: a second registrant of the same node exits 1 naming the holder\'s lease and --id; the first keeps its key', async (t) => {
  const etcd = await useTestEtcd(t);
  const a = spawnCli(t, args(etcd, ['--host', '127.0.0.1']));
  const held = await eventually('first registered', () => keyOf(etcd), 10_000);
  const b = spawnCli(t, args(etcd, ['--host', '127.0.0.1']));
  assert.equal(await b.exited, 1, b.stderr());
  assert.match(b.stderr(), new RegExp(`lease ${held.lease}`));
  assert.match(b.stderr(), /--id/);
  assert.match(b.stderr(), /--takeover/);
  assert.equal((await keyOf(etcd))?.lease, held.lease, 'the second one\'s exit deleted nothing');
  a.child.kill('SIGTERM');
  assert.equal(await a.exited, 0, a.stderr());
  assert.equal(await keyOf(etcd), undefined);
});

test('register --takeover: the second takes the key, the first reports it and exits 1; neither exit deletes the other\'s key', async (t) => {
  const etcd = await useTestEtcd(t);
  const a = spawnCli(t, args(etcd, ['--host', '127.0.0.1']));
  const before = await eventually('first registered', () => keyOf(etcd), 10_000);
  const b = spawnCli(t, args(etcd, ['--host', '127.0.0.1', '--takeover', '--label', 'owner=b']));
  const taken = await eventually('key under the second one\'s lease', async () => {
    const k = await keyOf(etcd);
    return k !== undefined && k.lease !== before.lease ? k : undefined;
  }, 10_000);
  const takenAt = Date.now();
  assert.equal(await a.exited, 1, a.stderr());
  t.diagnostic(`first registrant exited ${Date.now() - takenAt} ms after the takeover`);
  assert.ok(logLines(a).some((l) => l.level === 'error' && l.msg.includes('took this node over')), a.stderr());
  assert.ok(logLines(b).some((l) => l.msg.includes('taken over')), b.stderr());
  assert.equal(taken.doc.labels?.['owner'], 'b');
  assert.equal((await keyOf(etcd))?.lease, taken.lease, 'the first one\'s exit left the taker\'s key');
  b.child.kill('SIGTERM');
  assert.equal(await b.exited, 0, b.stderr());
  assert.equal(await keyOf(etcd), undefined, 'the taker removes its own key');
});

test('register: a prefix delete of the group, siblings with the same name prefix included, is repaired in every group', async (t) => {
  const etcd = await useTestEtcd(t);
  const metricsPort = await freePort();
  const canaryKey = '/services/web-canary/nodes/n1_node_exporter';
  const web = spawnCli(t, args(etcd, ['--host', '127.0.0.1', '--metrics-listen', `127.0.0.1:${metricsPort}`]));
  const canary = spawnCli(t, [...args(etcd, ['--host', '127.0.0.1']).map((a) => (a === 'web' ? 'web-canary' : a))]);
  const present = async (key: string): Promise<true | undefined> => ((await etcd.client().get(key).string()) === null ? undefined : true);
  const all = async (): Promise<true | undefined> => {
    for (const k of [KEY, canaryKey, '/services/web', '/services/web-canary']) if ((await present(k)) === undefined) return undefined;
    return true;
  };
  await eventually('both registered, with their group documents', all, 10_000);
  // What the Go library's DeleteServiceGroup("web") does: one prefix delete, /services/web-canary… included.
  const deletedAt = Date.now();
  const deleted = await etcd.client().delete().prefix('/services/web').exec();
  assert.equal(Number(deleted.deleted), 4);
  await eventually('every key and group document back', all, 5000, 5);
  t.diagnostic(`prefix delete of 4 keys in 2 groups: all back ${Date.now() - deletedAt} ms later`);
  await scrapeUntil(`http://127.0.0.1:${metricsPort}/metrics`, 'etcd_http_sd_register_repairs_total{cause="group_deleted"}', 1);
  for (const p of [web, canary]) p.child.kill('SIGTERM');
  assert.deepEqual(await Promise.all([web.exited, canary.exited]), [0, 0]);
});
