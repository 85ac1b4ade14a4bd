/**
 * Phase 1: `/v1/targets` throughput and latency of the limit, our server
 * and the usual alternative, side by side: in every run each view is
 * measured on the three servers back to back (order rotated per run), the
 * ratios are taken within the run, and the median of the runs is reported.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { startAlternativeServer, startLimitServer } from './children.js';
import { PREFIX } from './dataset.js';
import { fetchRaw, type RawResponse } from './http.js';
import type { LimitManifest } from './limit-server.js';
import { median, ratio, sleep } from './stats.js';
import { runWrk, type WrkResult } from './wrk.js';

/** A response variant measured. */
export interface View {
  readonly name: 'full' | 'gzip' | 'group';
  readonly path: string;
  readonly headers: readonly string[];
}

/** The views of one size: everything, everything gzipped, and one group by `?group=`. */
export function viewsFor(group: string): readonly View[] {
  return [
    { name: 'full', path: '/v1/targets', headers: [] },
    { name: 'gzip', path: '/v1/targets', headers: ['Accept-Encoding: gzip'] },
    { name: 'group', path: `/v1/targets?group=${group}`, headers: [] },
  ];
}

/** Servers compared. */
export type Contender = 'limit' | 'ours' | 'alternative';
const CONTENDERS: readonly Contender[] = ['limit', 'ours', 'alternative'];

/** Medians of one contender's runs of one view. */
export interface ContenderFigures {
  /** wrk connections used. */
  readonly connections: number;
  readonly rps: number | undefined;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  readonly bytesPerResponse: number | undefined;
  readonly errors: number;
  readonly runs: readonly WrkResult[];
}

/** One view's figures. */
export interface ViewFigures {
  readonly view: View['name'];
  readonly path: string;
  /** Size of the body our server sent for this view (as sent: gzip for `gzip`). */
  readonly bodyBytes: number;
  readonly limit: ContenderFigures;
  readonly ours: ContenderFigures;
  readonly alternative: ContenderFigures;
  /** Median over runs of ours/limit requests per second, each taken within one run. */
  readonly oursVsLimit: number | undefined;
  /** Median over runs of ours/alternative. */
  readonly oursVsAlternative: number | undefined;
}

/** How to run the phase. */
export interface ThroughputOptions {
  readonly runs: number;
  readonly durationMs: number;
  readonly connections: number;
  readonly quick: boolean;
}

/** Writes the limit server's manifest: the exact bytes our server sends for every view. */
async function captureBodies(oursUrl: string, views: readonly View[], dir: string): Promise<{ manifest: string; bodyBytes: Map<View, number> }> {
  const routes: Record<string, { identity: string; gzip?: string }> = {};
  const bodyBytes = new Map<View, number>();
  let n = 0;
  for (const v of views) {
    const res = await fetchRaw(`${oursUrl}${v.path}`, { headers: headersOf(v) });
    if (res.status !== 200) throw new Error(`GET ${v.path}: status ${res.status}`);
    const file = join(dir, `body-${n++}`);
    await writeFile(file, res.body);
    bodyBytes.set(v, res.body.length);
    const route = (routes[v.path] ??= { identity: '' });
    if (res.headers['content-encoding'] === 'gzip') route.gzip = file;
    else route.identity = file;
  }
  const manifest = join(dir, 'manifest.json');
  await writeFile(manifest, JSON.stringify({ routes } satisfies LimitManifest));
  return { manifest, bodyBytes };
}

function headersOf(v: View): Record<string, string> {
  return Object.fromEntries(v.headers.map((h) => h.split(': ') as [string, string]));
}

/** How the alternative is measured for one view. */
interface AlternativePlan {
  readonly runs: number;
  readonly durationMs: number;
  readonly connections: number;
}

const NOT_MEASURED: AlternativePlan = { runs: 0, durationMs: 0, connections: 0 };

/**
 * A request of the alternative slower than this is all it is measured by at
 * that size. At 1,000,000 nodes each one is a range of every key (~30 s),
 * and under wrk the requests queued behind it had etcd build one copy of
 * the whole registry per range in flight: etcd 3.4 grew to 20 GB and was
 * killed by the kernel, failing the benchmark.
 */
export const ALTERNATIVE_ONE_REQUEST_MS = 15_000;

/**
 * When one request of the alternative takes more than a quarter of a wrk
 * run (its full views at 100,000 nodes take seconds), a normal run would
 * complete next to nothing and leave minutes of abandoned work behind. Then
 * it is measured once, with 2 connections, for 3 request times (5 s to 60 s).
 * Its throughput is bound by its own CPU and etcd's, not by the clients.
 * Past {@link ALTERNATIVE_ONE_REQUEST_MS} it is not run under wrk at all.
 */
export function planAlternative(singleMs: number, opts: Pick<ThroughputOptions, 'runs' | 'durationMs' | 'connections'>): AlternativePlan {
  if (singleMs > ALTERNATIVE_ONE_REQUEST_MS) return NOT_MEASURED;
  if (singleMs * 4 <= opts.durationMs) return { runs: opts.runs, durationMs: opts.durationMs, connections: opts.connections };
  return { runs: 1, durationMs: Math.min(60_000, Math.max(opts.durationMs, singleMs * 3)), connections: Math.min(2, opts.connections) };
}

/** How long the alternative may take to finish the requests wrk gave up on. */
export const DRAIN_MS = 120_000;

/**
 * Whether the server at `url` finished its requests in progress within
 * `withinMs` (the alternative keeps working on requests wrk gave up on).
 * While it builds a 1,000,000-node body it may not answer even `/healthz`
 * for a minute: a request that gets no answer is asked again, not a failure.
 */
export async function drained(url: string, withinMs = DRAIN_MS): Promise<boolean> {
  const deadline = performance.now() + withinMs;
  for (let left = withinMs; left > 0; left = deadline - performance.now()) {
    const res = await fetchRaw(`${url}/healthz`, { timeoutMs: Math.ceil(left) }).catch(() => undefined);
    if (res?.body.toString() === '0') return true;
    if (deadline - performance.now() > 50) await sleep(50);
  }
  return false;
}

function figures(runs: readonly WrkResult[], connections: number): ContenderFigures {
  return {
    connections,
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    bytesPerResponse: median(runs.map((r) => r.bytesPerRequest)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    runs,
  };
}

const ALTERNATIVE_WARM_UP_MS = 120_000;

/** The warm-up request; undefined when the alternative did not answer within its time. */
async function warmUp(url: string, headers: Record<string, string>, c: Contender): Promise<RawResponse | undefined> {
  if (c !== 'alternative') return fetchRaw(url, { headers, timeoutMs: 300_000 });
  try {
    return await fetchRaw(url, { headers, timeoutMs: ALTERNATIVE_WARM_UP_MS });
  } catch (err) {
    if (err instanceof Error && err.message.includes('no answer within')) return undefined;
    throw err;
  }
}

/** Runs the phase against our running server; starts (and stops) the limit and the alternative. */
export async function measureThroughput(cleanup: Cleanup, oursUrl: string, etcdEndpoint: string, group: string, opts: ThroughputOptions, log: (msg: string) => void): Promise<ViewFigures[]> {
  const scope = cleanup.scope();
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-bench-limit-'));
  scope.after(() => rm(dir, { recursive: true, force: true }));
  try {
    const views = viewsFor(group);
    const { manifest, bodyBytes } = await captureBodies(oursUrl, views, dir);
    const limit = await startLimitServer(scope, manifest);
    const alternative = await startAlternativeServer(scope, etcdEndpoint, PREFIX);
    const urls: Record<Contender, string> = { limit: limit.url, ours: oursUrl, alternative: alternative.url };
    const results = new Map<View, Record<Contender, WrkResult[]>>(views.map((v) => [v, { limit: [], ours: [], alternative: [] }]));
    const plans = new Map<View, AlternativePlan>();
    let alternativeStopped = false;
    // Paths one request of the alternative took too long for: not asked again at this size. At
    // 1,000,000 nodes the gzip view after the full one was a second range of every key, and etcd
    // grew to 19 GB and was killed by the kernel, taking the rest of the benchmark with it.
    const tooSlow = new Set<string>();
    for (const v of views) {
      for (const c of CONTENDERS) {
        if (c === 'alternative' && (alternativeStopped || tooSlow.has(v.path))) {
          if (!alternativeStopped) log(`  alternative not asked for ${v.path} again (${v.name}): one request took too long at this size`);
          plans.set(v, NOT_MEASURED);
          continue;
        }
        // Warm-up: renders and caches on our side, JIT everywhere. The alternative gets one
        // timed request, which decides how it can be measured (see planAlternative).
        const t0 = performance.now();
        const res = await warmUp(`${urls[c]}${v.path}`, headersOf(v), c);
        // An alternative that cannot answer in time goes on reading etcd for minutes (1,000,000
        // nodes on a quiet machine): stopped, so that it does not load the machine under the others.
        if (res === undefined) {
          log(`  alternative cannot answer ${v.path} within ${ALTERNATIVE_WARM_UP_MS / 1000} s; stopped, not measured at this size`);
          await alternative.stop();
          alternativeStopped = true;
          plans.set(v, NOT_MEASURED);
          continue;
        }
        // Errors answered fast would pass for throughput: every contender must answer 200 first.
        // The alternative may not manage at all at the largest sizes (etcd times its range out):
        // that is a finding, reported as no runs, not a reason to lose the rest of the benchmark.
        if (res.status !== 200 && c === 'alternative') {
          log(`  alternative cannot answer ${v.path}: ${res.status} ${res.body.toString().slice(0, 200)}; not measured`);
          plans.set(v, NOT_MEASURED);
          continue;
        }
        if (res.status !== 200) throw new Error(`${c} answered ${v.path} with ${res.status}: ${res.body.toString().slice(0, 300)}`);
        if (c !== 'alternative') {
          if (!opts.quick) await runWrk(`${urls[c]}${v.path}`, { durationMs: 1000, connections: opts.connections, headers: v.headers });
          continue;
        }
        const singleMs = performance.now() - t0;
        const plan = planAlternative(singleMs, opts);
        if (plan === NOT_MEASURED) tooSlow.add(v.path);
        if (plan.runs === 0) log(`  alternative took ${(singleMs / 1000).toFixed(1)} s for one ${v.path}; not run under wrk at this size`);
        plans.set(v, plan);
      }
    }
    for (let run = 0; run < opts.runs; run++) {
      for (const v of views) {
        const plan = plans.get(v)!;
        const order = CONTENDERS.map((_, i) => CONTENDERS[(i + run) % CONTENDERS.length]!);
        for (const c of order) {
          if (c === 'alternative' && (run >= plan.runs || alternativeStopped)) continue;
          const wrkOpts = c === 'alternative'
            ? { durationMs: plan.durationMs, connections: plan.connections, timeoutMs: Math.max(30_000, plan.durationMs * 2) }
            : { durationMs: opts.durationMs, connections: opts.connections };
          const r = await runWrk(`${urls[c]}${v.path}`, { ...wrkOpts, headers: v.headers });
          results.get(v)![c].push(r);
          log(`  run ${run + 1}/${opts.runs} ${v.name.padEnd(5)} ${c.padEnd(11)} ${r.rps.toFixed(1)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms${r.errors > 0 ? `, ${r.errors} errors` : ''}`);
          // One that is still busy would load the machine under the others: stopped, as in its warm-up.
          if (c === 'alternative' && !(await drained(alternative.url))) {
            log(`  alternative still busy ${DRAIN_MS / 1000} s after its run; stopped, not measured further at this size`);
            await alternative.stop();
            alternativeStopped = true;
          }
        }
      }
    }
    return views.map((v) => {
      const r = results.get(v)!;
      // Ratios within each run; where the alternative ran fewer runs, against those runs only.
      const perRun = (other: Contender): number | undefined =>
        median(r.ours.map((o, i) => ratio(o.rps, r[other][i]?.rps)).filter((x): x is number => x !== undefined));
      return {
        view: v.name,
        path: v.path,
        bodyBytes: bodyBytes.get(v)!,
        limit: figures(r.limit, opts.connections),
        ours: figures(r.ours, opts.connections),
        alternative: figures(r.alternative, plans.get(v)!.connections),
        oursVsLimit: perRun('limit'),
        oursVsAlternative: perRun('alternative'),
      };
    });
  } finally {
    await scope.run();
  }
}
