// Go writes, we serve: a Go program that writes the registry as the Go
// library does (our own, from docs/registry-layout.md: the library itself
// cannot be fetched here) against a real etcd and our real server; what we
// serve is checked against the promster jobs the same program derives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestEtcd } from '../helpers/etcd.js';
import { eventually, httpGet, targets, useTestServer } from '../helpers/server.js';
import { goJson, goRun, goStart, type GoJob } from './go-program.js';
import { comparePromster, GO_SCENARIO, NAMED_DIFFERENCES, writeSpec } from './scenario.js';

const TTL = 2;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-http-sd-go-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('Go writes, we serve every target, as promster would scrape it; heartbeats change nothing served', async (t) => {
  const etcd = await useTestEtcd(t);
  const server = await useTestServer(t, etcd.endpoint);
  const conn = ['-endpoints', etcd.endpoint, '-prefix', '/services'];
  const go = await goStart(t, ['register', ...conn, '-spec', writeSpec(tempDir(t), GO_SCENARIO), '-ttl', String(TTL)], { TZ: 'America/New_York' });
  await eventually('Go registration', () => (go.lines().some((l) => l['ready'] === true) ? true : undefined));
  const first = await eventually('every Go node served', async () => {
    const body = await targets(server);
    return body.groups.length === GO_SCENARIO.nodes.length ? body : undefined;
  });

  // Bytes as Go writes them: <>& escaped, local offset, common labels copied.
  const raw = (await etcd.client().get('/services/web/nodes/web-1_node_exporter').string()) ?? '';
  assert.match(raw, /"note":"a\\u0026b\\u003cc\\u003e"/);
  assert.match(raw, /"last_seen":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?-0[45]:00"/, 'a non-UTC offset');
  assert.match(raw, /"environment":"production"/, 'common label copied into the node');
  const groupDoc = (await etcd.client().get('/services/akash').string()) ?? '';
  assert.match(groupDoc, /"spec":\{"username":"","password":"pw"/);

  // Served: every group name Go allows, with its labels.
  const byId = new Map(first.groups.map((g) => [g.labels['__meta_etcd_node_id'], g]));
  assert.deepEqual([...new Set(first.groups.map((g) => g.labels['__meta_etcd_group']))].sort(), ['a:b', 'akash', 'web', 'web.prod', '\u00e9t\u00e9']);
  assert.equal(byId.get('web-1')?.labels['note'], 'a&b<c>');
  assert.deepEqual(byId.get('abc')?.targets, ['abc.ingress.example.net:31080']);
  assert.deepEqual(byId.get('def')?.targets, ['def.ingress.example.net:8080']);
  assert.deepEqual(byId.get('n1')?.targets, ['n1:3000']);
  for (const path of ['/v1/targets/web.prod', '/v1/targets/a%3Ab', '/v1/targets/%C3%A9t%C3%A9', '/v1/targets?group=a%3Ab']) {
    const one = await targets(server, path);
    assert.equal(one.groups.length, 1, path);
  }

  // promster agrees on every address and on each job's first node's labels.
  const jobs = await goJson<GoJob[]>(['promster-targets', ...conn]);
  const met = comparePromster(jobs, first.groups);
  assert.deepEqual([...met].sort(), [...NAMED_DIFFERENCES].sort(), 'each named difference is met, and no other');
  const auth = Object.fromEntries(jobs.map((j) => [j.job_name, j.basic_auth ?? null]));
  assert.deepEqual(auth['akash-metrics_exporter'], { username: '', password: 'pw' });
  assert.deepEqual(auth['web-node_exporter'], { username: 'scraper', password: 's3cret' });
  assert.equal(auth['a:b-app'], null);

  // Heartbeats over 3 x TTL: new leases and mod revisions, the same body and ETag.
  const modBefore = (await etcd.client().get('/services/web/nodes/web-1_node_exporter').exec()).kvs[0]?.mod_revision;
  await eventually('six heartbeats (3 x TTL)', () => (go.lines().filter((l) => l['heartbeat'] !== undefined).length >= 6 ? true : undefined), 30_000);
  const leases = new Set(go.lines().flatMap((l) => (l['leases'] as string[] | undefined)?.slice(0, 1) ?? []));
  assert.ok(leases.size >= 3, `the node moved to new leases (${leases.size})`);
  const modAfter = (await etcd.client().get('/services/web/nodes/web-1_node_exporter').exec()).kvs[0]?.mod_revision;
  assert.notEqual(modAfter, modBefore, 'heartbeats are puts');
  const after = await httpGet(`${server.url}/v1/targets`);
  assert.equal(after.headers['etag'], first.etag);
  assert.deepEqual(JSON.parse(after.text), first.groups);
  assert.ok(Number(after.headers['x-etcd-revision']) > first.revision, 'the served revision moves on');

  // Cancel: the Go registrant deletes its nodes (DeleteNode each, best effort).
  const started = Date.now();
  assert.equal(await go.stop(), 0);
  await eventually('all gone after cancel', async () => ((await targets(server)).groups.length === 0 ? true : undefined));
  t.diagnostic(`cancel: every target gone ${Date.now() - started} ms after stdin closed (TTL ${TTL} s)`);
});

test('DeleteNode and group.Delete: targets go, and the prefix delete without "/" takes web.prod with web', async (t) => {
  const etcd = await useTestEtcd(t);
  const server = await useTestServer(t, etcd.endpoint);
  const conn = ['-endpoints', etcd.endpoint, '-prefix', '/services'];
  // Leases kept alive without re-puts, so what the deletes remove stays removed.
  const go = await goStart(t, ['register', ...conn, '-spec', writeSpec(tempDir(t), GO_SCENARIO), '-ttl', String(TTL), '-reput=false']);
  await eventually('every Go node served', async () => ((await targets(server)).groups.length === GO_SCENARIO.nodes.length ? true : undefined));

  // DeleteNode of a group's last node: Go deletes the group by prefix, without a trailing slash.
  let started = Date.now();
  await goRun(['delete-node', ...conn, '-group', 'a:b', '-id', 'n1', '-exporter-type', 'app']);
  await eventually('n1 gone', async () => ((await targets(server)).groups.some((g) => g.targets[0] === 'n1:3000') ? undefined : true));
  t.diagnostic(`DeleteNode: target gone ${Date.now() - started} ms after the Go call`);
  assert.equal(await etcd.client().get('/services/a:b').string(), null, 'the empty group went with it');

  // group.Delete() of web: a prefix delete without trailing slash takes web.prod too. We serve what etcd holds.
  started = Date.now();
  await goRun(['delete-group', ...conn, '-group', 'web']);
  const left = await eventually('web and web.prod gone', async () => {
    const body = await targets(server);
    return body.groups.some((g) => g.labels['__meta_etcd_group']?.startsWith('web')) ? undefined : body;
  });
  t.diagnostic(`group.Delete: targets gone ${Date.now() - started} ms after the Go call`);
  assert.deepEqual([...new Set(left.groups.map((g) => g.labels['__meta_etcd_group']))].sort(), ['akash', '\u00e9t\u00e9']);
  assert.equal(await etcd.client().get('/services/web.prod').string(), null, 'web.prod\'s group document went too');
  assert.equal(await go.stop(), 0);
});

test('a relative Go base path (services) is served with --etcd-prefix services', async (t) => {
  const etcd = await useTestEtcd(t);
  const server = await useTestServer(t, etcd.endpoint, { prefix: 'services/' });
  const spec = { groups: [{ name: 'web', configure: null }], nodes: [GO_SCENARIO.nodes[0]] };
  const go = await goStart(t, ['register', '-endpoints', etcd.endpoint, '-prefix', 'services', '-spec', writeSpec(tempDir(t), spec), '-ttl', String(TTL)]);
  await eventually('Go registration', () => (go.lines().some((l) => l['ready'] === true) ? true : undefined));
  assert.notEqual(await etcd.client().get('services/web/nodes/web-1_node_exporter').string(), null, 'keys without a leading "/"');
  const body = await eventually('served', async () => {
    const b = await targets(server);
    return b.groups.length === 1 ? b : undefined;
  });
  assert.deepEqual(body.groups[0]?.targets, ['web-1:9100']);
  assert.equal(await go.stop(), 0);
});
