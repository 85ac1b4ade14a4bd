/**
 * `npm run bench:heartbeat`: server CPU per watch message under Go-style
 * heartbeats (each node re-put on its own, so each is one event), next to a
 * bare `etcd3` watcher that only counts, in the same run on the same etcd.
 * Also what 100,000 nodes at a 30 s TTL (a re-put every 15 s) would cost at
 * the measured rate.
 *
 *   npm run bench:heartbeat -- [--nodes 10000] [--period 15s] [--seconds 20] [--profile DIR]
 */
import { benchScript, spawnNode, startOurServer, startWriter } from './children.js';
import { Cleanup, cleanupOnSignals } from './cleanup.js';
import { layoutOf } from './dataset.js';
import { loadedAsTestFile } from './entry.js';
import { parseDuration } from './options.js';
import { cpuWindow } from './procstat.js';
import { populate, startBenchEtcd } from './registry-etcd.js';

function arg(argv: readonly string[], name: string, dflt: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
}

const REST_MS = 10_000;
/** The server may spend at most this many times a bare watcher's CPU per watch message. */
const GOAL_RATIO = 1.2;

function perSecondMs(w: { cores: number }): string {
  return (w.cores * 1000).toFixed(2);
}

async function run(argv: readonly string[]): Promise<void> {
  const nodes = Number(arg(argv, 'nodes', '10000'));
  const periodMs = parseDuration(arg(argv, 'period', '15s'), '--period');
  const durationMs = parseDuration(`${arg(argv, 'seconds', '20')}s`, '--seconds');
  const cleanup = new Cleanup();
  const unhook = cleanupOnSignals(cleanup);
  try {
    const etcd = await startBenchEtcd(cleanup);
    await populate(etcd.client, layoutOf(nodes, 100));
    const profileDir = arg(argv, 'profile', '');
    const server = await startOurServer(cleanup, etcd.endpoint, { readyTimeoutMs: 120_000, ...(profileDir === '' ? {} : { profileDir }) });
    const bare = spawnNode(cleanup, 'bare-watcher', benchScript('bare-watcher.js'), [etcd.endpoint, '/services']);
    await bare.waitForLine((l) => l.startsWith('{"started"'), 30_000);
    // What each costs with no writes at all: a fixed cost per second, spread over the messages below.
    const rs = cpuWindow(server.pid);
    const rb = cpuWindow(bare.pid);
    await new Promise((r) => setTimeout(r, REST_MS));
    const restServer = rs.stop();
    const restBare = rb.stop();
    const writer = await startWriter(cleanup, { endpoint: etcd.endpoint, mode: 'heartbeat', nodes, groupSize: 100, heartbeatNodes: nodes, periodMs, durationMs });
    const ws = cpuWindow(server.pid);
    const wb = cpuWindow(bare.pid);
    const result = await writer.result;
    // Let both drain the last events before the windows close.
    await new Promise((r) => setTimeout(r, 1000));
    const s = ws.stop();
    const b = wb.stop();
    bare.child.kill('SIGTERM');
    const line = await bare.waitForLine((l) => l.startsWith('{"result"'), 10_000);
    const counted = (JSON.parse(line) as { result: { messages: number; events: number } }).result;
    const perMsg = (cpu: number): number => (cpu * 1e6) / counted.messages;
    const serverUs = perMsg(s.cpuSeconds);
    const bareUs = perMsg(b.cpuSeconds);
    const ratio = serverUs / bareUs;
    const rate100k = 100_000 / 15;
    process.stdout.write([
      `| nodes | heartbeats acked | watch messages | events | server µs/message | bare watcher µs/message | server ÷ bare |`,
      `|---|---|---|---|---|---|---|`,
      `| ${nodes} | ${result.acked} | ${counted.messages} | ${counted.events} | ${serverUs.toFixed(0)} | ${bareUs.toFixed(0)} | ${ratio.toFixed(2)}× |`,
      '',
      `Goal, the server within ${GOAL_RATIO}× of the bare watcher per message: ${ratio.toFixed(2)}×, ${ratio <= GOAL_RATIO ? 'met' : '**not met**'}.`,
      '',
      `At rest (${REST_MS / 1000} s, no writes): server ${perSecondMs(restServer)} ms of CPU per second, bare watcher ${perSecondMs(restBare)}; over this window that is ${((restServer.cores * s.wallSeconds * 1e6) / counted.messages).toFixed(1)} and ${((restBare.cores * b.wallSeconds * 1e6) / counted.messages).toFixed(1)} µs of each message's figure.`,
      '',
      `100,000 nodes at TTL 30 s = ${rate100k.toFixed(0)} messages/s: server ≈ ${((rate100k * serverUs) / 1e6 * 100).toFixed(0)}% of a core, bare watcher ≈ ${((rate100k * bareUs) / 1e6 * 100).toFixed(0)}% (at the per-message costs above)`,
      '',
    ].join('\n'));
  } finally {
    await cleanup.run();
    unhook();
  }
}

if (!loadedAsTestFile()) {
  run(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`bench:heartbeat: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
