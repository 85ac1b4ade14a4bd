// --protected-labels against a real etcd: what the server, its explain route and metrics, and the
// CLI commands that render or write labels do with `job` and `instance`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, spawnCli } from '../helpers/cli.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { eventually, httpGet, targets, useTestServer } from '../helpers/server.js';

const P = '/services';
const node = (id: string, labels: Record<string, string>): string =>
  JSON.stringify({ id, exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels, status: 'healthy', last_seen: '2025-03-01T10:00:05Z' });

async function putRegistry(etcd: Awaited<ReturnType<typeof useTestEtcd>>): Promise<void> {
  const c = etcd.client();
  await c.put(`${P}/web`).value(JSON.stringify({ name: 'web', spec: { username: '', password: '', common_labels: { job: 'y', team: 'a' } } }));
  await c.put(`${P}/web/nodes/w1_node_exporter`).value(node('w1', { job: 'x', instance: 'i-1' }));
  await c.put(`${P}/web/nodes/w2_node_exporter`).value(node('w2', {}));
}

function jobs(groups: readonly { labels: Record<string, string> }[]): (string | undefined)[] {
  return groups.map((g) => g.labels['job']);
}

test('job from a node or a group label is not served by default; instance is; both routes, explain and metrics agree', async (t) => {
  const etcd = await useTestEtcd(t);
  await putRegistry(etcd);
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();

  const all = await targets(server);
  assert.deepEqual(jobs(all.groups), [undefined, undefined]);
  assert.deepEqual(all.groups.map((g) => [g.labels['instance'], g.labels['team']]), [['i-1', 'a'], [undefined, 'a']]);
  // The fast path and the Express route (a trailing slash goes through Express) serve the same bytes.
  for (const path of ['/v1/targets', '/v1/targets/web']) {
    const fast = await httpGet(`${server.url}${path}`);
    const viaExpress = await httpGet(`${server.url}${path}/`);
    assert.equal(fast.text, viaExpress.text, path);
    assert.doesNotMatch(fast.text, /"job"/, path);
  }

  const explained = JSON.parse((await httpGet(`${server.url}/v1/explain/web/w1_node_exporter`)).text) as { labels: { source: string; name: string; action: string; rule: string }[] };
  const job = explained.labels.filter((l) => l.name === 'job').map((l) => [l.source, l.action, l.rule]).sort();
  const rule = 'protected label: "job" is listed in --protected-labels (default job), so no document may set it';
  assert.deepEqual(job, [['group', 'dropped', rule], ['node', 'dropped', rule]]);
  assert.equal(explained.labels.find((l) => l.name === 'instance')?.action, 'kept');

  const metrics = (await httpGet(`${server.url}/metrics`)).text;
  assert.match(metrics, /etcd_http_sd_protected_labels_dropped\{label="job",source="group"\} 1\n/);
  assert.match(metrics, /etcd_http_sd_protected_labels_dropped\{label="job",source="node"\} 1\n/);
});

test('an empty --protected-labels serves job, the node\'s over the group\'s; a listed instance is dropped', async (t) => {
  const etcd = await useTestEtcd(t);
  await putRegistry(etcd);
  const open = await useTestServer(t, etcd.endpoint, { args: ['--protected-labels='] });
  const strict = await useTestServer(t, etcd.endpoint, { args: ['--protected-labels', 'job,instance'] });
  await Promise.all([open.mirror.whenReady(), strict.mirror.whenReady()]);
  assert.deepEqual(jobs((await targets(open)).groups), ['x', 'y']);
  const strictGroups = (await targets(strict)).groups;
  assert.deepEqual(strictGroups.map((g) => [g.labels['job'], g.labels['instance']]), [[undefined, undefined], [undefined, undefined]]);
  assert.doesNotMatch((await httpGet(`${open.url}/metrics`)).text, /etcd_http_sd_protected_labels_dropped\{/);
});

test('targets and explain render with the same setting as the server', async (t) => {
  const etcd = await useTestEtcd(t);
  await putRegistry(etcd);
  const conn = ['--etcd-endpoints', etcd.endpoint];
  const byDefault = await runCli(t, ['targets', ...conn]);
  assert.equal(byDefault.code, 0, byDefault.stderr);
  assert.deepEqual(jobs(JSON.parse(byDefault.stdout) as { labels: Record<string, string> }[]), [undefined, undefined]);
  const open = await runCli(t, ['targets', ...conn, '--protected-labels=']);
  assert.deepEqual(jobs(JSON.parse(open.stdout) as { labels: Record<string, string> }[]), ['x', 'y']);
  const explained = await runCli(t, ['explain', 'web', 'w1_node_exporter', ...conn]);
  assert.equal(explained.code, 0, explained.stderr);
  assert.match(explained.stdout, /label node "job": dropped \(protected label: "job" is listed in --protected-labels \(default job\)/);
  const bad = await runCli(t, ['targets', ...conn, '--protected-labels', '__address__']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--protected-labels: "__address__": names starting with "__" are reserved/);
});

test('file-sd writes what the server with the same setting serves', async (t) => {
  const etcd = await useTestEtcd(t);
  await putRegistry(etcd);
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-protected-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const [byDefault, open] = [join(dir, 'default.json'), join(dir, 'open.json')];
  spawnCli(t, ['file-sd', '--etcd-endpoints', etcd.endpoint, '--output', byDefault]);
  spawnCli(t, ['file-sd', '--etcd-endpoints', etcd.endpoint, '--output', open, '--protected-labels=']);
  const written = (path: string): Promise<{ labels: Record<string, string> }[]> => eventually(`${path} written`, async () => {
    const text = await readFile(path, 'utf8').catch(() => undefined);
    return text === undefined ? undefined : JSON.parse(text) as { labels: Record<string, string> }[];
  });
  assert.deepEqual(jobs(await written(byDefault)), [undefined, undefined]);
  assert.deepEqual(jobs(await written(open)), ['x', 'y']);
});

test('register and group configure refuse reserved and protected label names: exit 2 naming --label and the name', async (t) => {
  const conn = ['--etcd-endpoints', 'http://127.0.0.1:1'];
  const register = ['register', ...conn, '--group', 'web', '--exporter-type', 'node_exporter', '--port', '9100'];
  const cases: [string[], RegExp][] = [
    [['group', 'configure', 'web', ...conn, '--label', '__address__=x'], /--label: label __address__: names starting with "__" are reserved/],
    [['group', 'configure', 'web', ...conn, '--label', 'job=x'], /--label: label job: protected label/],
    [[...register, '--label', 'job=x'], /--label: label job: protected label/],
    [[...register, '--label', '__scheme__=https'], /--label: label __scheme__: names starting with "__" are reserved/],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(t, argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /=x|=https/, 'the value is never shown');
  }
});

test('group configure --protected-labels= lets the group set job, for a server that serves it', async (t) => {
  const etcd = await useTestEtcd(t);
  const r = await runCli(t, ['group', 'configure', 'web', '--etcd-endpoints', etcd.endpoint, '--label', 'job=web', '--protected-labels=']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as { common_labels: object }).common_labels, { job: 'web' });
});
