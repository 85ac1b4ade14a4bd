// `etcd-http-sd serve` as users run it: embedded etcd, signals, exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEtcdClient } from '../../src/etcd/client.js';
import { formatGoTime, formatNodeDocument } from '../../src/registry/index.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { freePorts, isPortFree } from '../helpers/ports.js';
import { eventually, httpGet, targets } from '../helpers/server.js';

async function tempDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('serve with no endpoints runs its own etcd, serves it, and SIGTERM stops both with exit 0', async (t) => {
  const dir = await tempDir(t);
  const [http, client, peer] = await freePorts(3);
  const p = spawnCli(t, ['serve', '--listen', `127.0.0.1:${http}`, '--embedded-etcd-client-port', String(client), '--embedded-etcd-peer-port', String(peer)], { cwd: dir });
  const url = `http://127.0.0.1:${http}`;
  await eventually('readyz 200', async () => ((await httpGet(`${url}/readyz`)).status === 200 ? true : undefined), 20_000);
  assert.match(p.stderr(), /"msg":"embedded etcd ready"/);
  assert.match(p.stderr(), new RegExp(`"dataDir":"[^"]*etcd-data"`), 'logs where the embedded etcd keeps its data');

  const etcd = createEtcdClient({ endpoints: [`http://127.0.0.1:${client}`] });
  t.after(() => etcd.close());
  await etcd.put('/services/g/nodes/a_node_exporter').value(formatNodeDocument({ id: 'a', exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: {}, status: 'healthy', lastSeen: formatGoTime(new Date()) }));
  await eventually('node served', async () => ((await targets({ url })).groups.length === 1 ? true : undefined));
  etcd.close();

  const started = Date.now();
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
  t.diagnostic(`SIGTERM → exit 0 in ${Date.now() - started} ms, embedded etcd included`);
  assert.ok(Date.now() - started < 10_000);
  assert.ok(await isPortFree(client!), 'the embedded etcd is gone');
  assert.ok(await isPortFree(http!), 'the HTTP port is released');
});

test('a bad setting stops start-up with exit 2 and a message naming the setting', async (t) => {
  const bad = await runCli(t, ['serve', '--listen', 'nowhere']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--listen/);
  const unknown = await runCli(t, ['serve', '--no-such-flag']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--no-such-flag/);
  const pw = await runCli(t, ['serve', '--etcd-password', 'hunter2']);
  assert.equal(pw.code, 2);
  assert.match(pw.stderr, /--etcd-password-file/);
  assert.doesNotMatch(pw.stderr, /hunter2/);
  const dir = await tempDir(t);
  const file = join(dir, 'config.yml');
  // A relative prefix is fine (the Go library takes one); one that cleans to "." is not.
  await writeFile(file, 'listen: 127.0.0.1:1\netcd:\n  prefix: ./\n');
  const yml = await runCli(t, ['serve', '--config', file]);
  assert.equal(yml.code, 2);
  assert.match(yml.stderr, /config\.yml:3:\d+/);
  assert.match(yml.stderr, /prefix/);
  const help = await runCli(t, ['serve', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--etcd-endpoints/);
});

test('without the etcd binary, serve names the package to install', async (t) => {
  const dir = await tempDir(t);
  const [http, client, peer] = await freePorts(3);
  const r = await runCli(t, ['serve', '--listen', `127.0.0.1:${http}`, '--etcd-binary', 'etcd-not-installed', '--embedded-etcd-client-port', String(client), '--embedded-etcd-peer-port', String(peer)], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /apt-get install etcd-server/);
});
