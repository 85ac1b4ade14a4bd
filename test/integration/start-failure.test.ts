// A start-up that fails after the etcd client, the mirror or the listener started stops them all
// before the error propagates. Checked in a child process: once startServer has rejected, it must
// end on its own, which it cannot while a listener, an etcd connection or a timer is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { useTestEtcd } from '../helpers/etcd.js';
import { repoRoot } from '../helpers/fixtures.js';
import { LOOPBACK, loopbackAddress } from '../helpers/ports.js';
import { runCommand } from '../helpers/process.js';

const DIST = join(repoRoot(), 'dist', 'src');

/**
 * A child that starts the server with `argv` (a registry already holding
 * `preRegistered`, when given), prints how the start ended, and then has
 * nothing left to do: it exits when nothing of the start is left.
 */
function childScript(argv: readonly string[], preRegistered?: string): string {
  return `
    import { readFileSync } from 'node:fs';
    import { Gauge, Registry } from 'prom-client';
    import { loadServeConfig } from ${JSON.stringify(join(DIST, 'config', 'serve.js'))};
    import { createLogger } from ${JSON.stringify(join(DIST, 'log.js'))};
    import { startServer } from ${JSON.stringify(join(DIST, 'server.js'))};
    const registry = new Registry();
    const taken = ${JSON.stringify(preRegistered ?? null)};
    if (taken !== null) new Gauge({ name: taken, help: 'registered by the embedder', registers: [registry] });
    const config = loadServeConfig(${JSON.stringify(argv)}, {}, (p) => readFileSync(p));
    const lines = [];
    const logger = createLogger({ level: 'debug', write: (l) => lines.push(l) });
    try {
      await startServer(config, logger, { registry });
      console.log(JSON.stringify({ started: true }));
    } catch (err) {
      const loaded = lines.some((l) => l.includes('"msg":"registry loaded"'));
      console.log(JSON.stringify({ error: err.message, loaded, at: Date.now() }));
    }
  `;
}

interface ChildOutcome {
  readonly error?: string;
  readonly started?: boolean;
  readonly loaded?: boolean;
  /** Milliseconds from the rejection to the child's exit. */
  readonly exitMs: number;
}

async function runChild(argv: readonly string[], preRegistered?: string): Promise<ChildOutcome> {
  const r = await runCommand(process.execPath, ['--input-type=module', '-e', childScript(argv, preRegistered)], {
    cwd: repoRoot(), timeoutMs: 20_000,
  });
  const exitedAt = Date.now();
  assert.equal(r.code, 0, `the child ended on its own (killed after 20 s if something kept it alive): ${r.stdout}${r.stderr}`);
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { error?: string; started?: boolean; loaded?: boolean; at?: number };
  return { ...last, exitMs: exitedAt - (last.at ?? exitedAt) };
}

test('listen EADDRINUSE: startServer rejects, and the etcd client it made is closed', async (t) => {
  const etcd = await useTestEtcd(t);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, LOOPBACK, resolve));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as { port: number }).port;
  const outcome = await runChild(['--etcd-endpoints', etcd.endpoint, '--listen', loopbackAddress(port)]);
  assert.match(outcome.error ?? '', /already in use/);
  t.diagnostic(`the child exited ${outcome.exitMs} ms after the rejection`);
});

test('a step after the mirror and the listener started throws: both are stopped before the error propagates', async (t) => {
  const etcd = await useTestEtcd(t);
  await etcd.client().put('/services/web/nodes/a_node_exporter').value(JSON.stringify({ id: 'a', exporter_type: 'node_exporter', port: 9100 }));
  // The cleanup's metrics are registered after the mirror started: a registry that already has one makes that step throw.
  const outcome = await runChild(
    ['--etcd-endpoints', etcd.endpoint, '--listen', loopbackAddress(0), '--cleanup-empty-groups'],
    'etcd_http_sd_cleanup_leader',
  );
  assert.equal(outcome.started, undefined, 'the start failed');
  assert.match(outcome.error ?? '', /etcd_http_sd_cleanup_leader/);
  t.diagnostic(`the child exited ${outcome.exitMs} ms after the rejection; the mirror had ${outcome.loaded === true ? '' : 'not '}loaded`);
});
