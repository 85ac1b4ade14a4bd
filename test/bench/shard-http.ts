/**
 * `npm run bench:shard-http`: full `/v1/targets` next to one shard of 1/20
 * (`?shard=7&shards=20`) over HTTP, against a real etcd filled by the
 * benchmark's data set, wrk in its own process, in one run.
 *
 *   npm run bench:shard-http -- [--nodes 10000] [--seconds 3] [--connections 4]
 *
 * At 1,000,000 nodes the full body (~420 MB) is over the default
 * `--max-pending-response-bytes` for concurrent readers: use one connection.
 */
import { httpGet, useTestServer } from '../helpers/server.js';
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
  const connections = arg(argv, 'connections', 4);
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
      // The first request renders (and, for a shard, hashes) the view: seconds at 1,000,000 nodes, not what is compared.
      await httpGet(`${server.url}${path}`);
      const r = await runWrk(`${server.url}${path}`, { durationMs, connections });
      if (r.errors > 0) process.stderr.write(`${name}: errors ${JSON.stringify(r.errorKinds)}\n`);
      results.push(r);
      rows.push(`| ${nodes} | ${name} | ${(r.bytesPerRequest / 1024).toFixed(1)} KiB | ${r.rps.toFixed(1)} | ${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)} | ${r.errors} |`);
    }
    const errors = results.reduce((n, r) => n + r.errors, 0);
    // Refused (503) or failed requests are cheap and would flatter whichever view had them.
    const ratio = errors > 0 ? `not comparable: ${errors} requests failed or were refused (fewer --connections?)` : `${(results[1]!.rps / results[0]!.rps).toFixed(1)}×`;
    process.stdout.write(`| nodes | view | body | req/s | p50 / p99 ms | errors |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n\nshard ÷ full throughput (${connections} connections): ${ratio}\n`);
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
