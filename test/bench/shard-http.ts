/**
 * `npm run bench:shard-http`: full `/v1/targets` next to one shard of 1/20
 * (`?shard=7&shards=20`) over HTTP, against a real etcd filled by the
 * benchmark's data set, wrk in its own process, in one run.
 *
 *   npm run bench:shard-http -- [--nodes 10000] [--seconds 3]
 */
import { useTestServer } from '../helpers/server.js';
import { Cleanup, cleanupOnSignals } from './cleanup.js';
import { layoutOf } from './dataset.js';
import { loadedAsTestFile } from './entry.js';
import { populate, startBenchEtcd } from './registry-etcd.js';
import { runWrk } from './wrk.js';

function arg(argv: readonly string[], name: string, dflt: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
}

async function run(argv: readonly string[]): Promise<void> {
  const nodes = arg(argv, 'nodes', 10_000);
  const durationMs = arg(argv, 'seconds', 3) * 1000;
  const cleanup = new Cleanup();
  const unhook = cleanupOnSignals(cleanup);
  try {
    const etcd = await startBenchEtcd(cleanup);
    await populate(etcd.client, layoutOf(nodes, 100));
    const server = await useTestServer(cleanup, etcd.endpoint);
    await server.mirror.whenReady();
    const rows: string[] = [];
    const results = [];
    for (const [name, path] of [['full', '/v1/targets'], ['shard 7 of 20', '/v1/targets?shard=7&shards=20']] as const) {
      const r = await runWrk(`${server.url}${path}`, { durationMs, connections: 4 });
      results.push(r);
      rows.push(`| ${nodes} | ${name} | ${(r.bytesPerRequest / 1024).toFixed(1)} KiB | ${r.rps.toFixed(1)} | ${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)} | ${r.errors} |`);
    }
    const ratio = results[1]!.rps / results[0]!.rps;
    process.stdout.write(`| nodes | view | body | req/s | p50 / p99 ms | errors |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n\nshard ÷ full throughput: ${ratio.toFixed(1)}×\n`);
  } finally {
    await cleanup.run();
    unhook();
  }
}

if (!loadedAsTestFile()) {
  run(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`bench:shard-http: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
