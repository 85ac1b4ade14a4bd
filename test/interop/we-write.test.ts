// We write, Go reads: groups and nodes written by RegistryClient, the
// register CLI and group configure are decoded by the Go program's readers
// (json.Unmarshal: case-insensitive, strict types, strict RFC 3339), seen by
// its watch, scraped by promster's rules at the address we serve; and
// Configure on either side keeps what the other needs. Plus: for the same
// documents, Go's decoder and ours accept and refuse the same ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient } from '../../src/register/index.js';
import { parseGroupDocument, parseNodeDocument } from '../../src/registry/index.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { eventually, targets, useTestServer } from '../helpers/server.js';
import { goJson, goRun, goStart, type GoGroupRead, type GoJob } from './go-program.js';

test('what we write, Go reads without error, watches, and promster scrapes at our address', async (t) => {
  const etcd = await useTestEtcd(t);
  const server = await useTestServer(t, etcd.endpoint);
  const conn = ['-endpoints', etcd.endpoint, '-prefix', '/services'];
  const watch = await goStart(t, ['watch', ...conn]);
  await eventually('Go watch started', () => (watch.lines().some((l) => l['watching'] === true) ? true : undefined));

  const client = new RegistryClient({ endpoints: [etcd.endpoint], ttlSeconds: 10, callTimeoutMs: 2000 });
  t.after(() => client.close().catch(() => undefined));
  await client.configureGroup('akash', { password: 'pw', setLabels: { provider: 'akash' } });
  await client.register({ group: 'akash', id: 'lib-1', exporterType: 'node_exporter', port: 9100, host: '127.0.0.1', labels: { team: 'a&b<c>' } });
  const dir = mkdtempSync(join(tmpdir(), 'etcd-http-sd-we-write-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'pw'), 'cli-pw\n');
  const cliConn = ['--etcd-endpoints', etcd.endpoint];
  const configured = await runCli(t, ['group', 'configure', 'web.prod', ...cliConn, '--password-file', join(dir, 'pw'), '--label', 'tier=prod']);
  assert.equal(configured.code, 0, configured.stderr);
  const cli = spawnCli(t, ['register', ...cliConn, '--group', 'web.prod', '--id', 'cli-1', '--exporter-type', 'node_exporter', '--port', '9101', '--host', '127.0.0.1', '--ttl', '10s']);
  const served = await eventually('both nodes served', async () => {
    const body = await targets(server);
    return body.groups.length === 2 ? body.groups : undefined;
  });

  const read = await goJson<GoGroupRead[]>(['read-all', ...conn]);
  assert.deepEqual(read.map((g) => g.name), ['akash', 'web.prod']);
  for (const g of read) {
    assert.equal(g.group_error, undefined, `${g.name}: GetServiceGroup decodes`);
    assert.deepEqual(g.skipped_nodes, [], `${g.name}: GetNodes decodes every node`);
    assert.equal(g.nodes.length, 1);
    const n = g.nodes[0]!;
    assert.equal(n.status, 'healthy');
    assert.ok(n.port === 9100 || n.port === 9101);
    assert.ok(!Number.isNaN(Date.parse(n.last_seen)) && !n.last_seen.startsWith('0001-'), `last_seen parsed: ${n.last_seen}`);
    assert.equal(n.labels?.['ingress_host'], '127.0.0.1', 'promster sees the host we scrape');
  }
  const akash = read.find((g) => g.name === 'akash')!;
  assert.deepEqual(akash.group?.spec, { username: '', password: 'pw', common_labels: { provider: 'akash' } });
  assert.deepEqual(akash.nodes[0]?.labels, { ingress_host: '127.0.0.1', provider: 'akash', team: 'a&b<c>' }, 'common labels copied as Go does');
  assert.equal(read.find((g) => g.name === 'web.prod')?.group?.spec.password, 'cli-pw', 'group configure wrote a password-only group');

  const events = watch.lines().filter((l) => l['type'] === 'PUT');
  for (const key of ['/services/akash', '/services/akash/nodes/lib-1_node_exporter', '/services/web.prod/nodes/cli-1_node_exporter']) {
    const ev = events.find((e) => e['key'] === key);
    assert.ok(ev, `Go's watch saw ${key}`);
    assert.equal(ev[key.includes('/nodes/') ? 'node_error' : 'group_error'], '', `${key} decodes in the watch`);
  }
  await watch.stop();

  const jobs = await goJson<GoJob[]>(['promster-targets', ...conn]);
  assert.deepEqual(jobs.flatMap((j) => j.targets).sort(), served.map((g) => g.targets[0]).sort(), 'promster scrapes every node at the address we serve');
  assert.deepEqual(jobs.find((j) => j.job_name === 'akash-node_exporter')?.basic_auth, { username: '', password: 'pw' });
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});

test('Configure on either side keeps what the other needs', async (t) => {
  const etcd = await useTestEtcd(t);
  const conn = ['-endpoints', etcd.endpoint, '-prefix', '/services'];
  const client = new RegistryClient({ endpoints: [etcd.endpoint], ttlSeconds: 10, callTimeoutMs: 2000 });
  t.after(() => client.close().catch(() => undefined));

  // Go configures a group we made: the whole spec replaced, our reader still reads it, name and created kept.
  const ours = await client.configureGroup('ours', { username: 'u', password: 'p', setLabels: { a: 'b' } });
  await goRun(['configure', ...conn, '-group', 'ours', '-spec', JSON.stringify({ username: '', password: 'go-pw', common_labels: { provider: 'akash' } })]);
  const after = await client.getGroup('ours');
  assert.deepEqual(after && { ...after, modRevision: 0 }, { ...ours, modRevision: 0, username: '', password: 'go-pw', commonLabels: { provider: 'akash' } });

  // We configure a group Go made: Go still decodes it, with its spec merged, not replaced.
  await goRun(['create-group', ...conn, '-group', 'theirs']);
  await goRun(['configure', ...conn, '-group', 'theirs', '-spec', JSON.stringify({ username: '', password: 'pw', common_labels: { exporter_type: 'node_exporter' } })]);
  const before = (await goJson<GoGroupRead[]>(['read-all', ...conn])).find((g) => g.name === 'theirs')!;
  await client.configureGroup('theirs', { setLabels: { region: 'eu' } });
  const read = (await goJson<GoGroupRead[]>(['read-all', ...conn])).find((g) => g.name === 'theirs')!;
  assert.equal(read.group_error, undefined);
  assert.ok(read.group !== undefined && before.group !== undefined, 'both reads decoded the group');
  assert.deepEqual(read.group.spec, { username: '', password: 'pw', common_labels: { exporter_type: 'node_exporter', region: 'eu' } });
  assert.equal(read.group.created, before.group.created, 'created kept');
  assert.equal(read.group.name, 'theirs');
});

// [document, whether we differ from Go on purpose]
const NODE_DOCS: [string, boolean][] = [
  ['{"id":"a","exporter_type":"x","port":9100,"metrics_path":"/m","labels":{"k":"v"},"status":"healthy","last_seen":"2026-12-01T14:44:25.87494476-05:00"}', false],
  ['{"ID":"a","Exporter_Type":"x","PORT":9100}', false],
  ['{"id":"a","exporter_type":"x","port":9100.0}', false],
  ['{"id":"a","exporter_type":"x","port":9.1e3}', false],
  ['{"id":"a","exporter_type":"x","port":"3"}', false],
  ['{"id":"a","exporter_type":"x","port":1,"labels":{"k":1}}', false],
  ['{"id":"a","exporter_type":"x","port":1,"labels":{"k":null}}', false],
  ['{"id":"a","exporter_type":"x","port":1,"labels":"x"}', false],
  ['{"id":"a","exporter_type":"x","port":1,"status":true}', false],
  ['{"id":"a","exporter_type":"x","port":1,"last_seen":"2026-12-01 14:44:25Z"}', false],
  ['{"id":"a","exporter_type":"x","port":1,"last_seen":"2026-12-01T14:44:25"}', false],
  ['{"id":"a","exporter_type":"x","port":1,"last_seen":"2026-12-01t14:44:25z"}', false],
  ['{"id":"a","exporter_type":"x","port":1,"last_seen":"2026-12-01T14:44:25.123456789123Z"}', false],
  ['{"id":"a","exporter_type":"x","port":1,"last_seen":"2026-02-30T00:00:00Z"}', false],
  ['{"id":"a","exporter_type":"x","port":1,"last_seen":null,"extra":{"port":1.5}}', false],
  ['{"id":1,"exporter_type":"x","port":1}', false],
  ['{"id":"a","exporter_type":"x","port":1', false],
  ['[]', false],
  // We require what a scrape target needs; Go decodes these and promster would scrape "a:0" or ":9100".
  ['{"id":"a","exporter_type":"x","port":0}', true],
  ['{"id":"a","exporter_type":"x","port":70000}', true],
  ['{"exporter_type":"x","port":1}', true],
  ['{"id":"a","port":1}', true],
  ['null', true],
];
const GROUP_DOCS: [string, boolean][] = [
  ['{"name":"g","spec":{"username":"","password":"pw","common_labels":{"a":"b"}},"created":"2026-12-01T14:44:25.864722776-05:00"}', false],
  ['{"Name":"g","SPEC":{"UserName":"u","Password":"p"}}', false],
  ['{"spec":{"common_labels":{"a":2}}}', false],
  ['{"spec":{"username":1}}', false],
  ['{"spec":[]}', false],
  ['{"spec":null,"created":null}', false],
  ['{"created":"yesterday"}', false],
  ['[1,2,3]', false],
  ['null', true],
];

test('Go\'s decoder and ours accept and refuse the same documents, but for the named differences', async () => {
  for (const [kind, docs, parse] of [['node', NODE_DOCS, parseNodeDocument], ['group', GROUP_DOCS, parseGroupDocument]] as const) {
    const go = await goJson<{ ok: boolean; error?: string }[]>(['decode', '-kind', kind], { stdin: JSON.stringify(docs.map(([d]) => d)) });
    docs.forEach(([doc, differs], i) => {
      const ours = parse(doc).ok;
      if (differs) assert.notEqual(ours, go[i]!.ok, `${kind} ${doc}: a named difference`);
      else assert.equal(ours, go[i]!.ok, `${kind} ${doc}: Go says ${go[i]!.ok ? 'ok' : go[i]!.error ?? ''}`);
    });
  }
});
