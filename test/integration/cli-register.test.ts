// `etcd-http-sd register` as a child process: registers, deregisters on
// SIGTERM/SIGINT within a second, waits for a late etcd, refuses bad flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { eventually } from '../helpers/server.js';

const KEY = '/services/web/nodes/n1_node_exporter';

function args(etcd: TestEtcd, extra: readonly string[] = []): string[] {
  return ['register', '--etcd-endpoints', etcd.endpoint, '--group', 'web', '--id', 'n1', '--exporter-type', 'node_exporter',
    '--port', '9100', '--host', '127.0.0.1', '--ttl', '5s', '--label', 'team=infra', ...extra];
}

async function value(etcd: TestEtcd): Promise<string | undefined> {
  return (await etcd.client().get(KEY).string()) ?? undefined;
}

function logLines(p: CliProcess): { msg: string }[] {
  return p.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`register: ${signal} removes the key within a second, then exit 0`, async (t) => {
    const etcd = await useTestEtcd(t);
    const p = spawnCli(t, args(etcd));
    const doc = await eventually('key written', () => value(etcd), 10_000);
    assert.deepEqual(JSON.parse(doc), {
      ...(JSON.parse(doc) as object),
      id: 'n1', exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: { ingress_host: '127.0.0.1', team: 'infra' }, status: 'healthy', address: '127.0.0.1:9100',
    });
    // The group document is created or joined after the node, as the Go registrar does.
    await eventually('group document', async () => (await etcd.client().get('/services/web').string()) ?? undefined, 5000);
    const sentAt = Date.now();
    p.child.kill(signal);
    await eventually('key removed', async () => ((await value(etcd)) === undefined ? true : undefined), 1000, 10);
    const removedMs = Date.now() - sentAt;
    const code = await p.exited;
    t.diagnostic(`${signal}: key removed ${removedMs} ms after the signal; exited ${code} after ${Date.now() - sentAt} ms`);
    assert.equal(code, 0, p.stderr());
    const msgs = logLines(p).map((l) => l.msg);
    for (const m of ['registering', 'node registered', 'signal received: deregistering', 'deregistered; exiting']) assert.ok(msgs.includes(m), `log ${m}: ${msgs.join(' | ')}`);
  });
}

test('register: started before etcd, it retries and registers once etcd answers', async (t) => {
  const etcd = await useTestEtcd(t);
  await etcd.kill();
  const p = spawnCli(t, args(etcd));
  // etcd comes back only once the CLI has failed against it: a fixed wait raced the
  // CLI's own start-up, which under CPU load outlasted it, and then nothing was retried.
  const failedFirst = (): true | undefined => (logLines(p).some((l) => l.msg === 'registration failed; retrying') ? true : undefined);
  await eventually('a failed attempt while etcd is down', async () => failedFirst(), 30_000);
  await etcd.restart();
  const upAt = Date.now();
  await eventually('key written', () => value(etcd), 20_000);
  t.diagnostic(`registered ${Date.now() - upAt} ms after etcd came up (retry backoff 1 s, 2 s, 4 s, at most 5 s)`);
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
  assert.equal(await value(etcd), undefined);
});

test('register: bad flags exit 2 with a message naming the flag and the expected form', async (t) => {
  const base = ['register', '--etcd-endpoints', 'http://127.0.0.1:1', '--group', 'web', '--exporter-type', 'node_exporter', '--port', '9100'];
  const cases: [string[], RegExp][] = [
    [[...base, '--port', 'abc'], /--port: expected an integer, got "abc"/],
    [[...base, '--port', '70000'], /--port: must be an integer from 1 to 65535/],
    [[...base, '--bogus'], /--bogus: unknown flag/],
    [[...base, '--label', 'team'], /--label: expected NAME=VALUE, got "team"/],
    [[...base, '--label', '__address__=evil:1'], /--label: label __address__: names starting with "__" are reserved/],
    [[...base, '--ttl', '500ms'], /--ttl: must be whole seconds, at least 1s/],
    [[...base, '--ttl', 'soon'], /--ttl: expected a duration such as 500ms, 30s/],
    [[...base, '--host', 'h', '--address', 'h:1'], /--address: give host or address, not both/],
    [[...base, '--group', 'web/x'], /--group: must be 1 to 63 bytes, without/],
    [[...base, '--check-url', 'ftp://x'], /--check-url: must be an http:\/\/ or https:\/\/ URL/],
    [[...base, '--host', '10.0.0.5', '--check-url', 'http://127.0.0.1:9100/metrics'], /--host: "10\.0\.0\.5" is not the host --check-url checks \("127\.0\.0\.1"\)/],
    [[...base, '--metrics-listen', 'nine'], /--metrics-listen: expected host:port, :port or \[ipv6\]:port/],
    [['register', '--exporter-type', 'node_exporter', '--port', '9100'], /--group: is required, e.g. --group web/],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(t, argv);
    assert.equal(r.code, 2, `${argv.slice(base.length).join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, 'one clear line');
  }
  const env = await runCli(t, ['register', '--etcd-endpoints', 'http://127.0.0.1:1', '--group', 'web', '--exporter-type', 'x'], { env: { ETCD_HTTP_SD_PORT: '0' } });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /ETCD_HTTP_SD_PORT: must be an integer from 1 to 65535 \(got 0\)/);
  const help = await runCli(t, ['register', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--check-url URL/);
});
