// `etcd-http-sd group ...` and `etcd-http-sd targets` as child processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { loadFixtureFile, putFixtures } from '../helpers/fixtures.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

test('group configure / show / list / delete', async (t) => {
  const etcd = await useTestEtcd(t);
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, 's3cret\n');
  const conn = ['--etcd-endpoints', etcd.endpoint];

  const configured = await runCli(t, ['group', 'configure', 'web', ...conn, '--label', 'environment=production', '--label', 'region=us-east', '--username', 'scraper', '--password-file', passwordFile]);
  assert.equal(configured.code, 0, configured.stderr);
  assert.deepEqual(JSON.parse(configured.stdout), {
    name: 'web', username: 'scraper', password: '********', common_labels: { environment: 'production', region: 'us-east' },
    created: (JSON.parse(configured.stdout) as { created: string }).created,
  });
  assert.doesNotMatch(configured.stdout + configured.stderr, /s3cret/);
  const stored = JSON.parse((await etcd.client().get('/services/web').string()) ?? '{}') as { spec: Record<string, unknown> };
  assert.deepEqual(stored.spec, { username: 'scraper', password: 's3cret', common_labels: { environment: 'production', region: 'us-east' } });

  const again = await runCli(t, ['group', 'configure', 'web', ...conn, '--remove-label', 'region', '--label', 'tier=front']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual((JSON.parse(again.stdout) as { common_labels: object }).common_labels, { environment: 'production', tier: 'front' });

  await etcd.client().put('/services/web/nodes/w1_node_exporter').value('{"id":"w1","exporter_type":"node_exporter","port":9100}');
  await etcd.client().put('/services/web-canary/nodes/c1_node_exporter').value('{"id":"c1","exporter_type":"node_exporter","port":9100}');
  const show = await runCli(t, ['group', 'show', 'web', ...conn]);
  assert.equal(show.code, 0, show.stderr);
  const shown = JSON.parse(show.stdout) as { password: string; nodes: { key: string; id: string }[] };
  assert.equal(shown.password, '********');
  assert.doesNotMatch(show.stdout, /s3cret/);
  assert.deepEqual(shown.nodes.map((n) => [n.key, n.id]), [['/services/web/nodes/w1_node_exporter', 'w1']]);

  const list = await runCli(t, ['group', 'list', ...conn]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(list.stdout.trim().split('\n').map((l) => l.split(/\s+/)), [['NAME', 'NODES', 'DOCUMENT', 'SERVED'], ['web', '1', 'yes', 'yes'], ['web-canary', '1', 'no', 'yes']]);

  const del = await runCli(t, ['group', 'delete', 'web', ...conn]);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, /deleted group web: 2 keys/);
  assert.equal(await etcd.client().get('/services/web-canary/nodes/c1_node_exporter').string() !== null, true, 'web-canary untouched');

  const missing = await runCli(t, ['group', 'show', 'web', ...conn]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /group "web" does not exist/);
});

test('group: bad usage exits 2 naming the problem', async (t) => {
  const conn = ['--etcd-endpoints', 'http://127.0.0.1:1'];
  const cases: [string[], RegExp][] = [
    [['group', 'frobnicate'], /group frobnicate: unknown action: expected one of configure, list, show, delete/],
    [['group', 'show', ...conn], /<group>: missing/],
    [['group', 'show', 'a b', ...conn], /<group>: group: must be 1 to 63 bytes, without/],
    [['group', 'configure', 'web', ...conn, '--username', 'u'], /--username: needs --password-file/],
    [['group', 'configure', 'web', ...conn, '--password', 'x'], /--password: unknown flag/],
    [['group', 'configure', 'web', ...conn, '--label', 'x'], /--label: expected NAME=VALUE/],
    [['targets', ...conn, '--group', 'a/b'], /--group: "a\/b" is not a group name/],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(t, argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('targets prints exactly what the server serves, filtered the same way', async (t) => {
  const etcd = await useTestEtcd(t);
  const put = await putFixtures(etcd.client(), loadFixtureFile().entries);
  t.after(() => put.lease?.revoke().catch(() => undefined));
  const server = await useTestServer(t, etcd.endpoint);
  const conn = ['--etcd-endpoints', etcd.endpoint];
  for (const [flags, query] of [[[], ''], [['--group', 'web'], '?group=web'], [['--exporter-type', 'postgres_exporter', '--group', 'db,web'], '?group=db&group=web&exporter_type=postgres_exporter']] as const) {
    const served = await eventually('server ready', async () => {
      const r = await httpGet(`${server.url}/v1/targets${query}`);
      return r.status === 200 ? r.text : undefined;
    });
    const printed = await runCli(t, ['targets', ...conn, ...flags]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, `${served}\n`, `targets ${flags.join(' ')}`);
  }
  const withSkips = await runCli(t, ['targets', ...conn]);
  assert.match(withSkips.stderr, /skipped \/services\/hostile\/nodes\/broken_json: invalid_json/);
});
