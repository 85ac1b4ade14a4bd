// `file-sd` against a real etcd: files in step with what /v1/targets serves, atomic, written only on change.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { parse } from 'yaml';
import { runCli, spawnCli } from '../helpers/cli.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { freePort } from '../helpers/ports.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-file-sd-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function node(id: string, address: string, lastSeen = '2026-01-01T00:00:00Z'): string {
  return JSON.stringify({ id, exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: { address }, status: 'healthy', last_seen: lastSeen });
}

async function putNodes(client: Etcd3, group: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await client.put(`/services/${group}/nodes/${group}${i}_node_exporter`).value(node(`${group}${i}`, `127.0.${group.length}.${i + 1}:9100`));
}

const readText = (path: string): Promise<string | undefined> => readFile(path, 'utf8').catch(() => undefined);

test('--output FILE follows the registry: the /v1/targets body, YAML by extension, shards; metrics and readiness', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  await putNodes(client, 'web', 6);
  const dir = await tempDir(t);
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  const port = await freePort();
  const json = join(dir, 'targets.json');
  const yml = join(dir, 'shard1.yml');
  spawnCli(t, ['file-sd', '--etcd-endpoints', etcd.endpoint, '--output', json, '--listen', `127.0.0.1:${port}`]);
  spawnCli(t, ['file-sd', '--etcd-endpoints', etcd.endpoint, '--output', yml, '--shards', '2', '--shard', '1']);
  const body = async (path: string): Promise<string> => (await httpGet(`${server.url}${path}`)).text;

  const first = await eventually('the JSON file to hold the served body', async () => ((await readText(json)) === `${await body('/v1/targets')}\n` ? true : undefined));
  assert.ok(first);
  // The rename makes the file visible before the write (directory fsync included) is done and counted.
  await eventually('file-sd ready once its first write is done', async () => ((await httpGet(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined));
  await eventually('the YAML file to hold shard 1', async () => {
    const text = await readText(yml);
    return text !== undefined && JSON.stringify(parse(text)) === (await body('/v1/targets?shard=1&shards=2')) ? true : undefined;
  });

  const inode = (await stat(json)).ino;
  await client.put('/services/web/nodes/web0_node_exporter').value(node('web0', '127.0.3.1:9100', '2026-02-02T00:00:00Z')); // heartbeat
  await client.put('/services/db/nodes/db0_node_exporter').value(node('db0', '127.0.9.9:9100'));
  await eventually('the new node in the file', async () => ((await readText(json))?.includes('127.0.9.9:9100') ? true : undefined));
  assert.equal(await readText(json), `${await body('/v1/targets')}\n`);
  assert.notEqual((await stat(json)).ino, inode, 'replaced by rename, not rewritten in place');
  // Counted once the write is done; a heartbeat write would have come before the new node's, so two is exact.
  const metrics = await eventually('the new node\'s write counted', async () => {
    const text = (await httpGet(`http://127.0.0.1:${port}/metrics`)).text;
    return text.includes('etcd_http_sd_file_sd_in_step 1\n') && !/etcd_http_sd_file_sd_writes_total [01]\n/.test(text) ? text : undefined;
  });
  assert.match(metrics, /etcd_http_sd_file_sd_writes_total 2\n/, 'one write on load, one for the new node, none for the heartbeat');
  assert.deepEqual((await readdir(dir)).sort(), ['shard1.yml', 'targets.json'], 'no temp file left behind');
});

test('--output-dir: one file per group, each replaced only when its group changes, removed when it goes', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  await putNodes(client, 'web', 2);
  await putNodes(client, 'db', 2);
  const dir = await tempDir(t);
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  const p = spawnCli(t, ['file-sd', '--etcd-endpoints', etcd.endpoint, '--output-dir', dir, '--exporter-type', 'node_exporter']);
  const groupBody = async (g: string): Promise<string> => `${(await httpGet(`${server.url}/v1/targets/${g}?exporter_type=node_exporter`)).text}\n`;
  await eventually('both group files', async () => ((await readText(join(dir, 'db.json'))) === (await groupBody('db')) && (await readText(join(dir, 'web.json'))) === (await groupBody('web')) ? true : undefined));
  const dbInode = (await stat(join(dir, 'db.json'))).ino;
  await client.put('/services/web/nodes/web9_node_exporter').value(node('web9', '127.0.0.99:9100'));
  await eventually('web.json to gain the node', async () => ((await readText(join(dir, 'web.json')))?.includes('127.0.0.99:9100') ? true : undefined));
  assert.equal((await stat(join(dir, 'db.json'))).ino, dbInode, 'a change in web leaves db.json alone');
  await client.delete().prefix('/services/db');
  await eventually('db.json to go with its group', async () => ((await readText(join(dir, 'db.json'))) === undefined ? true : undefined));
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
});

test('file-sd usage errors exit 2 with a message naming the flag', async (t) => {
  const etcd = await useTestEtcd(t);
  const dir = await tempDir(t);
  for (const [args, message] of [
    [[], /give exactly one of --output FILE and --output-dir DIR/],
    [['--output', join(dir, 'a.json'), '--output-dir', dir], /give exactly one/],
    [['--output-dir', join(dir, 'nope')], /--output-dir: .* is not an existing directory/],
    [['--output', join(dir, 'a.json'), '--shards', '3'], /--shard: required with --shards/],
    [['--output-dir', dir, '--format', 'toml'], /--format: must be json or yaml/],
  ] as const) {
    const r = await runCli(t, ['file-sd', '--etcd-endpoints', etcd.endpoint, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
