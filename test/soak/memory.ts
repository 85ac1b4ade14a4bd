/**
 * Memory soak (high availability): a server process mirrors `nodes` nodes that
 * heartbeat every 15 s as the Go library does (TTL 30 s, re-put at TTL/2),
 * with a little churn, while clients request it at a bounded rate; its
 * resident memory is sampled every 10 s. Resident memory must stay flat.
 * Called by `test/soak/run.ts` (`npm run soak`), not by CI.
 *
 * Everything is on 127.0.0.1 and bounded: the run ends at `seconds`, every
 * loop checks the deadline, and etcd, the server and leases are always
 * stopped.
 */
import { request } from 'node:http';
import type { Etcd3, IRequestOp, Lease } from 'etcd3';
import { rssBytes } from '../bench/procstat.js';
import { groupEntry, groupName, layoutOf, nodeEntry, nodesInGroup, type Layout } from '../bench/dataset.js';
import { CLI } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { freePort } from '../helpers/ports.js';
import { startChild, type Child } from '../helpers/process.js';

/** Options of `memorySoak`. */
export interface MemorySoakOptions {
  /** Duration of the measured run. The issue asks for 1800 (30 min). */
  readonly seconds: number;
  /** Registered nodes. The issue asks for 10,000. */
  readonly nodes: number;
  /** Progress and the final table, one line at a time. */
  readonly log: (line: string) => void;
}

/** One sample of the server process. */
interface Sample {
  /** Seconds since the measured run began. */
  readonly t: number;
  readonly rssMB: number;
  /** V8 heap in use, from the server's own /metrics. */
  readonly heapMB: number | undefined;
}

const HEARTBEAT_MS = 15_000; // the Go library: TTL 30 s, re-put every TTL/2
const SAMPLE_MS = 10_000;
const REQUESTS_PER_SECOND = 20;
const MAX_IN_FLIGHT = 4;
const LEASES = 20;
const TXN_OPS = 50;
const GROUP_SIZE = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the soak and returns its report (samples, summary, verdict); also logs a text table. */
export async function memorySoak(opts: MemorySoakOptions): Promise<object> {
  const layout = layoutOf(opts.nodes, GROUP_SIZE);
  let etcd: TestEtcd | undefined;
  let server: Child | undefined;
  const leases: Lease[] = [];
  try {
    etcd = await startTestEtcd({ extraArgs: ['--quota-backend-bytes=4294967296', '--auto-compaction-mode=revision', '--auto-compaction-retention=200000'], readyTimeoutMs: 30_000 });
    const client = etcd.client();
    for (let i = 0; i < LEASES; i++) {
      const lease = client.lease(30);
      lease.on('lost', (err) => opts.log(`lease ${i} lost: ${err.message}`));
      leases.push(lease);
    }
    const leaseIds = await Promise.all(leases.map((l) => l.grant()));
    const loadStarted = Date.now();
    await writeAll(client, layout, leaseIds);
    opts.log(`loaded ${opts.nodes} nodes in ${layout.groups} groups in ${Date.now() - loadStarted} ms`);
    const port = await freePort();
    server = await startChild({
      name: 'etcd-http-sd', command: process.execPath, readyUrl: `http://127.0.0.1:${port}/readyz`, readyTimeoutMs: 60_000,
      args: [CLI, 'serve', '--etcd-endpoints', etcd.endpoint, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    });
    return await measure(opts, client, layout, leaseIds, server, port);
  } finally {
    await server?.stop();
    for (const l of leases) await l.revoke().catch(() => l.release());
    await etcd?.stop();
  }
}

async function writeAll(client: Etcd3, layout: Layout, leaseIds: readonly string[]): Promise<void> {
  const now = new Date();
  for (let g = 0; g < layout.groups; g++) {
    const group = groupEntry(g);
    await client.put(group.key).value(group.value);
    await putNodes(client, layout, leaseIds, g, [...Array(nodesInGroup(layout, g)).keys()], now);
  }
}

/** Puts nodes `ns` of group `g` (same lease each time), in txns of `TXN_OPS`. */
async function putNodes(client: Etcd3, layout: Layout, leaseIds: readonly string[], g: number, ns: readonly number[], lastSeen: Date, version?: string): Promise<void> {
  for (let i = 0; i < ns.length; i += TXN_OPS) {
    const success: IRequestOp[] = ns.slice(i, i + TXN_OPS).map((n) => {
      const e = nodeEntry(g, n, lastSeen, version);
      return { request_put: { key: Buffer.from(e.key), value: Buffer.from(e.value), lease: leaseIds[(g * layout.groupSize + n) % leaseIds.length]! } };
    });
    await client.kv.txn({ compare: [], success, failure: [] });
  }
}

interface Counters {
  heartbeats: number;
  changes: number;
  requests: Map<string, number>;
  inFlight: number;
  etag: string;
}

async function measure(opts: MemorySoakOptions, client: Etcd3, layout: Layout, leaseIds: readonly string[], server: Child, port: number): Promise<object> {
  const pid = server.pid!;
  const counters: Counters = { heartbeats: 0, changes: 0, requests: new Map(), inFlight: 0, etag: '' };
  const started = Date.now();
  const deadline = started + opts.seconds * 1000;
  const samples: Sample[] = [];
  const sampler = (async () => {
    // One sample every SAMPLE_MS from the start, and a last one at the deadline.
    for (let k = 1; server.running; k++) {
      const sample = { t: Math.round((Date.now() - started) / 1000), rssMB: rssBytes(pid) / 2 ** 20, heapMB: await heapMB(port) };
      samples.push(sample);
      opts.log(`t=${String(sample.t).padStart(5)}s rss=${sample.rssMB.toFixed(1)} MB heap=${sample.heapMB?.toFixed(1) ?? '?'} MB heartbeats=${counters.heartbeats} requests=${sum(counters.requests)}`);
      if (Date.now() >= deadline) break;
      await sleep(Math.max(0, Math.min(started + k * SAMPLE_MS, deadline) - Date.now()));
    }
  })();
  await Promise.all([heartbeats(client, layout, leaseIds, counters, deadline), clients(port, layout, counters, deadline), sampler]);
  if (!server.running) throw new Error(`the server died during the soak:\n${server.output()}`);
  return report(opts, layout, samples, counters);
}

/** Every node re-put once per `HEARTBEAT_MS`, spread over the period; each period, 20 nodes change a label and 10 leave and return. */
async function heartbeats(client: Etcd3, layout: Layout, leaseIds: readonly string[], counters: Counters, deadline: number): Promise<void> {
  for (let cycle = 0; Date.now() < deadline; cycle++) {
    const cycleStart = Date.now();
    for (let g = 0; g < layout.groups && Date.now() < deadline; g++) {
      const count = nodesInGroup(layout, g);
      await putNodes(client, layout, leaseIds, g, [...Array(count).keys()], new Date());
      counters.heartbeats += count;
      // Keep pace: group g is due at g/groups of the period.
      await sleep(Math.max(0, cycleStart + ((g + 1) * HEARTBEAT_MS) / layout.groups - Date.now()));
    }
    const g = cycle % layout.groups;
    await putNodes(client, layout, leaseIds, g, [...Array(Math.min(20, nodesInGroup(layout, g))).keys()], new Date(), `2.${cycle}.0`);
    for (let n = 0; n < Math.min(10, nodesInGroup(layout, g)); n++) await client.delete().key(nodeEntry(g, n, new Date()).key);
    await putNodes(client, layout, leaseIds, g, [...Array(Math.min(10, nodesInGroup(layout, g))).keys()], new Date(), `2.${cycle}.0`);
    counters.changes += 40;
  }
}

/** Requests at `REQUESTS_PER_SECOND`, at most `MAX_IN_FLIGHT` at once, over what Prometheus, vmagent and people ask for. */
async function clients(port: number, layout: Layout, counters: Counters, deadline: number): Promise<void> {
  const gap = 1000 / REQUESTS_PER_SECOND;
  const pending = new Set<Promise<void>>();
  for (let i = 0; Date.now() < deadline; i++) {
    const g = groupName(i % layout.groups);
    const menu: [string, Record<string, string>][] = [
      ['/v1/targets', { accept: 'application/json', 'x-prometheus-refresh-interval-seconds': '30' }],
      ['/v1/targets', { 'accept-encoding': 'gzip' }],
      ['/v1/targets', { 'if-none-match': counters.etag }],
      [`/v1/targets?group=${g}`, {}],
      [`/v1/targets/${g}?exporter_type=node_exporter`, { 'accept-encoding': 'gzip' }],
      ['/v1/targets?exporter_type=postgres_exporter', {}],
      ['/v1/groups', {}],
      ['/metrics', {}],
      ['/readyz', {}],
    ];
    const [path, headers] = menu[i % menu.length]!;
    if (counters.inFlight < MAX_IN_FLIGHT) {
      const p = get(port, path, headers, counters).finally(() => pending.delete(p));
      pending.add(p);
    }
    await sleep(gap);
  }
  await Promise.all(pending);
}

function get(port: number, path: string, headers: Record<string, string>, counters: Counters): Promise<void> {
  counters.inFlight++;
  return new Promise<void>((resolve) => {
    const count = (k: string): void => void counters.requests.set(k, (counters.requests.get(k) ?? 0) + 1);
    const req = request({ host: '127.0.0.1', port, path, headers: { connection: 'close', ...headers } }, (res) => {
      if (path === '/v1/targets' && typeof res.headers.etag === 'string') counters.etag = res.headers.etag;
      res.resume();
      res.on('end', () => {
        count(String(res.statusCode));
        resolve();
      });
      res.on('error', () => resolve());
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      count(`error ${err.message}`);
      resolve();
    });
    req.end();
  }).finally(() => counters.inFlight--);
}

async function heapMB(port: number): Promise<number | undefined> {
  const text = await new Promise<string>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve(''));
    req.end();
  });
  const m = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  return m === null ? undefined : Number(m[1]) / 2 ** 20;
}

function sum(m: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

/** Least-squares slope of `ys` over `xs` (per unit of x). */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function summarize(samples: readonly Sample[], pick: (s: Sample) => number | undefined, warmupS: number): Record<string, number> {
  const all = samples.filter((s) => pick(s) !== undefined);
  const steady = all.filter((s) => s.t >= warmupS);
  const values = all.map((s) => pick(s)!);
  const round = (x: number): number => Math.round(x * 10) / 10;
  return {
    first: round(values[0] ?? 0),
    last: round(values[values.length - 1] ?? 0),
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
    steadyMean: round(steady.reduce((a, s) => a + pick(s)!, 0) / Math.max(1, steady.length)),
    slopeMBPerHour: round(slope(steady.map((s) => s.t / 3600), steady.map((s) => pick(s)!))),
  };
}

/** Highest RSS in each quarter of the steady part (fewer than 4 when a quarter has no sample). */
function quarterPeaks(steady: readonly Sample[], steadySeconds: number, fromS: number): number[] {
  const peaks: number[] = [];
  for (let q = 0; q < 4; q++) {
    const inQ = steady.filter((s) => s.t >= fromS + (q * steadySeconds) / 4 && s.t < fromS + ((q + 1) * steadySeconds) / 4 + (q === 3 ? 1 : 0));
    if (inQ.length > 0) peaks.push(Math.round(Math.max(...inQ.map((s) => s.rssMB)) * 10) / 10);
  }
  return peaks;
}

function report(opts: MemorySoakOptions, layout: Layout, samples: readonly Sample[], counters: Counters): object {
  // The first 2 minutes (or 20 %) fill caches and let V8 size its heap: the trend is judged after.
  const warmupS = Math.min(120, Math.round(opts.seconds * 0.2));
  const rss = summarize(samples, (s) => s.rssMB, warmupS);
  const heap = summarize(samples, (s) => s.heapMB, warmupS);
  const steadyHours = Math.max(1e-9, (opts.seconds - warmupS) / 3600);
  const drift = Math.abs((rss['slopeMBPerHour'] ?? 0) * steadyHours);
  // RSS is a sawtooth (V8 grows the heap, a major GC gives it back), so a straight-line slope is
  // noisy: judge by the peaks. Flat: the last quarter's peak is within 10 MB or 5 % of the first's.
  const peaks = quarterPeaks(samples.filter((s) => s.t >= warmupS), opts.seconds - warmupS, warmupS);
  const tolerance = Math.max(10, 0.05 * (rss['steadyMean'] ?? 0));
  const flat = peaks.length === 4 && peaks[3]! <= peaks[0]! + tolerance;
  const result = {
    nodes: opts.nodes, groups: layout.groups, seconds: opts.seconds, warmupSeconds: warmupS,
    heartbeats: counters.heartbeats, visibleChanges: counters.changes, requests: Object.fromEntries(counters.requests),
    rssMB: rss, heapMB: heap, rssQuarterPeaksMB: peaks, trendOverSteadyPartMB: Math.round(drift * 10) / 10,
    verdict: flat ? 'flat' : peaks.length < 4 ? 'too short to judge' : 'growing',
    samples,
  };
  opts.log('');
  opts.log('    t (s) | RSS (MB) | heap (MB)');
  opts.log('  --------+----------+----------');
  for (const s of samples) opts.log(`  ${String(s.t).padStart(7)} | ${s.rssMB.toFixed(1).padStart(8)} | ${(s.heapMB?.toFixed(1) ?? '?').padStart(8)}`);
  opts.log(`  RSS  first ${rss['first']} last ${rss['last']} min ${rss['min']} max ${rss['max']} MB; slope after ${warmupS}s warm-up ${rss['slopeMBPerHour']} MB/h`);
  opts.log(`  heap first ${heap['first']} last ${heap['last']} min ${heap['min']} max ${heap['max']} MB; slope ${heap['slopeMBPerHour']} MB/h`);
  opts.log(`  RSS peak per quarter of the steady part: ${peaks.join(', ')} MB (tolerance ${tolerance.toFixed(1)} MB)`);
  opts.log(`  verdict: ${result.verdict} (straight-line trend over the steady part ${result.trendOverSteadyPartMB} MB)`);
  return result;
}

/** The memory soak as a part of `npm run soak` (`--parts memory`; `--nodes N`, default 10,000). */
export const soakPart = {
  name: 'memory',
  async run(opts: { seconds: number; args: ReadonlyMap<string, string>; log: (line: string) => void }): Promise<{ ok: boolean; summary: string; figures: Record<string, unknown> }> {
    const nodes = Number(opts.args.get('nodes') ?? 10_000);
    const report = (await memorySoak({ seconds: opts.seconds, nodes, log: opts.log })) as Record<string, unknown>;
    const verdict = String(report['verdict']);
    return { ok: verdict !== 'growing', summary: `memory: ${nodes} nodes, ${opts.seconds} s, verdict ${verdict}`, figures: report };
  },
};
