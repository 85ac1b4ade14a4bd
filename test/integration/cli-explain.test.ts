// `etcd-http-sd explain` against a real etcd, and one-shot commands stopping on the first Ctrl-C.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { runCli, spawnCli } from '../helpers/cli.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { CONSOLE_GROUP_PASSWORD, PREFIX, putConsoleFixtures } from '../helpers/console-fixtures.js';

test('explain GROUP [NODE] tells the label, address and skip reasons from etcd, never a credential', async (t) => {
  const etcd = await useTestEtcd(t);
  await putConsoleFixtures(etcd.client());
  const conn = ['--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX];
  const all = await runCli(t, ['explain', 'akash', ...conn]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^group akash \(\/services\/akash\): document valid; scrape credentials: password only/m);
  assert.match(all.stdout, /node abc_metrics_exporter .*: served\n {2}address rule ingress_host_label: abc\.ingress\.example\.net:31080/);
  assert.match(all.stdout, /label node "exporter_type": overridden \(exporter_type is always the document's exporter_type\)/);
  assert.match(all.stdout, /node broken .*: NOT served: invalid_json/);
  assert.match(all.stdout, /node noport_x .*: NOT served: invalid_port/);
  const one = await runCli(t, ['explain', 'web', 'web-1_node_exporter', '--json', ...conn]);
  assert.equal(one.code, 0, one.stderr);
  const x = JSON.parse(one.stdout) as { served: boolean; labels: { name: string; action: string; to?: string }[] };
  assert.equal(x.served, true);
  assert.deepEqual(x.labels.find((l) => l.name === 'app.kubernetes.io/name'), { source: 'node', name: 'app.kubernetes.io/name', action: 'renamed', to: 'app_kubernetes_io_name', rule: 'characters outside [a-zA-Z0-9_] become "_"' });
  assert.equal(x.labels.find((l) => l.name === '__scheme__')?.action, 'dropped');
  for (const out of [all.stdout, one.stdout]) assert.ok(!out.includes(CONSOLE_GROUP_PASSWORD) && !out.includes('pw-akash-Q1'));
  const missing = await runCli(t, ['explain', 'web', 'nope', ...conn]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no node "nope" in group web/);
  const bad = await runCli(t, ['explain', 'bad group', ...conn]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /GROUP/);
});

test('a one-shot command waiting on an etcd that never answers stops on the first SIGINT', async (t) => {
  // Accepts connections and never answers: every etcd call would wait for its timeout.
  const sockets: Socket[] = [];
  const blackhole = createServer((s) => sockets.push(s));
  blackhole.listen(0, '127.0.0.1');
  await once(blackhole, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    blackhole.close();
  });
  const port = (blackhole.address() as { port: number }).port;
  for (const command of ['targets', 'explain']) {
    const args = command === 'explain' ? ['explain', 'web'] : ['targets'];
    const connected = once(blackhole, 'connection');
    const p = spawnCli(t, [...args, '--etcd-endpoints', `http://127.0.0.1:${port}`, '--etcd-call-timeout', '120s']);
    await connected;
    p.child.kill('SIGINT');
    assert.equal(await p.exited, 130, `${command}: ${p.stderr()}`);
    assert.match(p.stderr(), new RegExp(`${command} interrupted \\(SIGINT\\)`));
  }
});
