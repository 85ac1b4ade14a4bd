/**
 * `npm run bench`: benchmarks etcd-http-sd against the limit (a bare
 * node:http server with the same bytes) and the usual alternative (etcd read
 * per request), on a real etcd started here, at each size. Prints a Markdown
 * report on stdout, progress on stderr, and writes the JSON results.
 * Everything it starts is stopped at the end, on error and on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { ETCD_BIN } from '../helpers/etcd.js';
import { measureChurn, measureIdle, measureUpdateCost } from './churn.js';
import { Cleanup, cleanupOnSignals } from './cleanup.js';
import { startWriter } from './children.js';
import { groupName, layoutOf } from './dataset.js';
import { measureLoad } from './load.js';
import { BenchUsageError, parseBenchArgs, USAGE, type BenchOptions } from './options.js';
import { peakRssBytes, rssBytes } from './procstat.js';
import { measurePropagation } from './propagation.js';
import { loadedAsTestFile } from './entry.js';
import { renderExtras, runExtras, type ExtraResult } from './extras.js';
import { startBenchEtcd, populate } from './registry-etcd.js';
import { renderMarkdown } from './report.js';
import { goalsOf, growthOf, type BenchResults, type SizeResult } from './results.js';
import { measureThroughput } from './throughput.js';
import { WRK_BIN } from './wrk.js';

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

async function benchSize(cleanup: Cleanup, nodes: number, opts: BenchOptions): Promise<SizeResult> {
  const scope = cleanup.scope();
  try {
    const layout = layoutOf(nodes, opts.groupSize, opts.bigGroup);
    log(`\n== ${nodes} nodes in ${layout.groups} groups${layout.bigGroup > 0 ? `, the first of ${layout.bigGroup}` : ''}`);
    const etcd = await startBenchEtcd(scope);
    const pop = await populate(etcd.client, layout);
    log(`  wrote ${pop.keys} keys in ${(pop.ms / 1000).toFixed(1)} s`);

    const { figures: load, server } = await measureLoad(scope, etcd.endpoint, opts.runs, opts.profileDir, log);
    const throughput = await measureThroughput(scope, server.url, etcd.endpoint, groupName(Math.floor(layout.groups / 2)), opts, log);
    const memory = { rssAtReadyBytes: load.rssAtReadyBytes, rssAfterServingBytes: rssBytes(server.pid), peakRssBytes: peakRssBytes(server.pid) };

    const writerBase = { endpoint: etcd.endpoint, nodes, groupSize: opts.groupSize, bigGroup: layout.bigGroup };
    const idle = await measureIdle(server, opts.idleMs);
    log(`  idle: ${(idle.cores * 100).toFixed(2)}% of a core`);
    // Heartbeats first: they re-put the documents as written, so nothing visible may have changed before.
    const churn = await measureChurn(scope, server, writerBase, opts.heartbeatNodes, opts.heartbeatPeriodMs, opts.churnMs);
    log(`  heartbeats: ${churn.heartbeatsPerSecond.toFixed(0)}/s, ${(churn.cores * 100).toFixed(2)}% of a core, ETag ${churn.etagUnchanged ? 'unchanged' : 'CHANGED'}${churn.writer.failed > 0 ? `, ${churn.writer.failed} of ${churn.writer.sent} puts FAILED (etcd overloaded?)` : ''}`);

    const probeGroup = groupName(0);
    const propOpts = { samples: opts.propagationSamples, leaseSamples: opts.leaseSamples, maxMs: 60_000 };
    const propIdle = await measurePropagation(etcd.client, server.url, probeGroup, 'idle', propOpts);
    log(`  propagation idle: put p99 ${propIdle.put.p99Ms?.toFixed(1)} ms, delete p99 ${propIdle.delete.p99Ms?.toFixed(1)} ms, lease p99 ${propIdle.leaseExpiry.p99Ms?.toFixed(1)} ms`);

    const updateCost = await measureUpdateCost(scope, server, writerBase, opts.updateRate, opts.updateCostMs);
    log(`  updates: ${updateCost.updatesPerSecond.toFixed(0)}/s, ${updateCost.cpuMicrosPerUpdate.toFixed(0)} µs CPU each`);

    const background = await startWriter(scope, { ...writerBase, mode: 'update', rate: opts.updateRate, durationMs: 300_000 });
    const propLoaded = await measurePropagation(etcd.client, server.url, probeGroup, 'loaded', propOpts);
    const loadedWriter = await background.finish();
    log(`  propagation at ${loadedWriter.rate.toFixed(0)} updates/s: put p99 ${propLoaded.put.p99Ms?.toFixed(1)} ms, delete p99 ${propLoaded.delete.p99Ms?.toFixed(1)} ms, lease p99 ${propLoaded.leaseExpiry.p99Ms?.toFixed(1)} ms`);

    await server.stop();
    return {
      nodes, groups: layout.groups, groupSize: opts.groupSize, bigGroup: layout.bigGroup,
      populate: { keys: pop.keys, ms: pop.ms },
      load, memory, throughput, idle, churn, updateCost,
      propagation: { idle: propIdle, loaded: propLoaded, loadedWriter },
    };
  } finally {
    await scope.run();
  }
}

function versionOf(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim();
  } catch (err) {
    // wrk -v exits 1 after printing its version.
    const out = (err as { stdout?: string }).stdout ?? '';
    return out.split('\n')[0]?.trim() || `${cmd}: unknown version`;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let opts: BenchOptions | undefined;
  try {
    opts = parseBenchArgs(argv);
  } catch (err) {
    if (err instanceof BenchUsageError) {
      log(`bench: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (opts === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  const started = performance.now();
  const cleanup = new Cleanup();
  const unhook = cleanupOnSignals(cleanup);
  const sizes: SizeResult[] = [];
  let extras: ExtraResult[];
  try {
    if (opts.profileDir !== undefined) mkdirSync(opts.profileDir, { recursive: true });
    for (const nodes of opts.sizes) sizes.push(await benchSize(cleanup, nodes, opts));
    await cleanup.run(); // nothing of the sizes may run while the focused benchmarks measure
    extras = await runExtras(opts.extras, opts.quick, log);
  } finally {
    await cleanup.run();
    unhook();
  }
  const results: BenchResults = {
    meta: {
      date: new Date().toISOString(),
      cores: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      etcd: versionOf(ETCD_BIN, ['--version']),
      wrk: versionOf(WRK_BIN, ['-v']).replace(/ Copyright.*$/, ''),
      totalSeconds: (performance.now() - started) / 1000,
    },
    settings: {
      sizes: opts.sizes, groupSize: opts.groupSize, runs: opts.runs, durationSeconds: opts.durationMs / 1000,
      connections: opts.connections, propagationSamples: opts.propagationSamples, leaseSamples: opts.leaseSamples,
      updateRate: opts.updateRate, updateCostSeconds: opts.updateCostMs / 1000, churnSeconds: opts.churnMs / 1000,
      idleSeconds: opts.idleMs / 1000, heartbeatNodes: opts.heartbeatNodes, heartbeatPeriodSeconds: opts.heartbeatPeriodMs / 1000,
      quick: opts.quick,
    },
    sizes,
    growth: growthOf(sizes),
    goals: goalsOf(sizes),
    extras,
  };
  const out = resolve(opts.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${renderMarkdown(results)}\n${renderExtras(extras)}`);
  log(`\nJSON written to ${out}`);
  return 0;
}

// Loaded by `node --test dist/test/` (npm test) it must not start a benchmark: see entry.ts.
if (!loadedAsTestFile()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    },
  );
}
