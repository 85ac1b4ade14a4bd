/**
 * `npm run bench:discovery`: time from an etcd put to the target showing in
 * a real Prometheus's `/api/v1/targets`, for file_sd (fed by `file-sd`)
 * and for http_sd at `refresh_interval` 5 s and the default 60 s, side by
 * side in one Prometheus, one run. A new node is put every --every; each
 * is tracked until all three jobs list it, so samples overlap and the run
 * stays bounded (--seconds).
 *
 *   npm run bench:discovery -- [--seconds 180] [--every 7s]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatGoTime, formatNodeDocument } from '../../src/registry/documents.js';
import { nodeKey } from '../../src/registry/keys.js';
import { spawnCli } from '../helpers/cli.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { usePrometheus } from '../helpers/prometheus.js';
import { useTestServer } from '../helpers/server.js';
import { Cleanup, cleanupOnSignals } from './cleanup.js';
import { loadedAsTestFile } from './entry.js';
import { parseDuration } from './options.js';
import { sleep, summarize } from './stats.js';

const JOBS = ['file_sd', 'http_sd_5s', 'http_sd_60s'] as const;
type Job = (typeof JOBS)[number];
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

function arg(argv: readonly string[], name: string, dflt: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
}

async function run(argv: readonly string[]): Promise<void> {
  const totalMs = parseDuration(arg(argv, 'seconds', '180') + 's', '--seconds');
  const everyMs = parseDuration(arg(argv, 'every', '7s'), '--every');
  const cleanup = new Cleanup();
  const unhook = cleanupOnSignals(cleanup);
  try {
    const etcd = await useTestEtcd(cleanup);
    const server = await useTestServer(cleanup, etcd.endpoint);
    await server.mirror.whenReady();
    const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-discovery-'));
    cleanup.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'targets.json');
    spawnCli(cleanup, ['file-sd', '--etcd-endpoints', etcd.endpoint, '--output', file]);
    const prom = await usePrometheus(cleanup, {
      config: {
        global: { scrape_interval: '1m' },
        scrape_configs: [
          { job_name: 'file_sd', file_sd_configs: [{ files: [file] }] },
          { job_name: 'http_sd_5s', http_sd_configs: [{ url: `${server.url}/v1/targets`, refresh_interval: '5s' }] },
          { job_name: 'http_sd_60s', http_sd_configs: [{ url: `${server.url}/v1/targets` }] },
        ],
      },
    });
    const pending = new Map<string, { putAt: number; seen: Partial<Record<Job, number>> }>();
    const done: Record<Job, number>[] = [];
    const started = Date.now();
    let n = 0;
    let nextPut = started;
    while (Date.now() - started < totalMs || pending.size > 0) {
      if (Date.now() >= nextPut && Date.now() - started < totalMs) {
        const address = `127.0.${(n >> 8) + 1}.${(n & 255) + 1}:9100`;
        const id = `probe-${n++}`;
        await etcd.client().put(nodeKey('/services', 'probe', id, 'node_exporter')).value(formatNodeDocument({
          id, exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: { address }, status: 'healthy', lastSeen: formatGoTime(new Date()),
        }));
        pending.set(address, { putAt: Date.now(), seen: {} });
        nextPut += everyMs;
      }
      const active = await prom.api.targets();
      const now = Date.now();
      for (const tg of active) {
        const p = pending.get(tg.discoveredLabels['__address__'] ?? '');
        const job = tg.scrapePool as Job;
        if (p !== undefined && JOBS.includes(job) && p.seen[job] === undefined) p.seen[job] = now - p.putAt;
      }
      for (const [address, p] of pending) {
        if (JOBS.every((j) => p.seen[j] !== undefined)) {
          done.push(p.seen as Record<Job, number>);
          pending.delete(address);
          log(`  ${address}: ${JOBS.map((j) => `${j} ${(p.seen[j]! / 1000).toFixed(2)} s`).join(', ')}`);
        } else if (now - p.putAt > 150_000) {
          throw new Error(`${address} not in every job after 150 s: ${JSON.stringify(p.seen)}`);
        }
      }
      await sleep(100);
    }
    const rows = JOBS.map((j) => {
      const s = summarize(done.map((d) => d[j]));
      const max = Math.max(...done.map((d) => d[j]));
      return `| ${j} | ${done.length} | ${((s.p50Ms ?? 0) / 1000).toFixed(2)} s | ${((s.p99Ms ?? 0) / 1000).toFixed(2)} s | ${(max / 1000).toFixed(2)} s |`;
    });
    process.stdout.write(`\n| discovery (put → in /api/v1/targets) | samples | p50 | p99 | max |\n|---|---|---|---|---|\n${rows.join('\n')}\n`);
  } finally {
    await cleanup.run();
    unhook();
  }
}

if (!loadedAsTestFile()) {
  run(process.argv.slice(2)).catch((err: unknown) => {
    log(`bench:discovery: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
