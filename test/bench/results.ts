/**
 * The shape of `bench-results/latest.json`, and what is derived from the
 * measurements: growth between the smallest and largest size, and the
 * issue's goals, each met, missed or not measured in this run.
 */
import type { ChurnFigures, IdleFigures, UpdateCostFigures } from './churn.js';
import type { ExtraResult } from './extras.js';
import type { LoadFigures } from './load.js';
import type { PropagationFigures } from './propagation.js';
import type { ViewFigures } from './throughput.js';
import type { WriterResult } from './writer.js';

/** Everything measured at one size. */
export interface SizeResult {
  readonly nodes: number;
  readonly groups: number;
  readonly groupSize: number;
  /** Nodes of the one large group (0: none). */
  readonly bigGroup: number;
  readonly populate: { readonly keys: number; readonly ms: number };
  readonly load: LoadFigures;
  readonly memory: { readonly rssAtReadyBytes: number | undefined; readonly rssAfterServingBytes: number; readonly peakRssBytes: number };
  readonly throughput: readonly ViewFigures[];
  readonly idle: IdleFigures;
  readonly churn: ChurnFigures;
  readonly updateCost: UpdateCostFigures;
  readonly propagation: {
    readonly idle: PropagationFigures;
    readonly loaded: PropagationFigures;
    /** The background writer during `loaded`. */
    readonly loadedWriter: WriterResult;
  };
}

/** The JSON file. */
export interface BenchResults {
  readonly meta: {
    readonly date: string;
    readonly cores: number;
    readonly cpuModel: string;
    readonly node: string;
    readonly etcd: string;
    readonly wrk: string;
    readonly totalSeconds: number;
  };
  readonly settings: Readonly<Record<string, unknown>>;
  readonly sizes: readonly SizeResult[];
  readonly growth: readonly Growth[];
  /** The focused benchmarks' sections, in the order run. */
  readonly extras?: readonly ExtraResult[];
  readonly goals: readonly Goal[];
}

/** How one figure changes from the smallest to the largest size. */
export interface Growth {
  readonly metric: string;
  readonly fromNodes: number;
  readonly toNodes: number;
  readonly from: number | undefined;
  readonly to: number | undefined;
  /** to / from. */
  readonly factor: number | undefined;
  /** k in cost ∝ nodes^k: 0 constant, 1 linear, above 1 worse than linear. */
  readonly exponent: number | undefined;
}

/** One goal of the benchmark. */
export interface Goal {
  readonly goal: string;
  readonly measured: string;
  /** null when this run did not measure it (size not run). */
  readonly met: boolean | null;
}

type Metric = readonly [string, (s: SizeResult) => number | undefined];

const view = (s: SizeResult, name: ViewFigures['view']): ViewFigures | undefined => s.throughput.find((v) => v.view === name);

const GROWTH_METRICS: readonly Metric[] = [
  ['body bytes of /v1/targets', (s) => view(s, 'full')?.bodyBytes],
  ['initial load ms', (s) => s.load.loadMs],
  ['RSS at ready (bytes)', (s) => s.memory.rssAtReadyBytes],
  ['time per /v1/targets response, ms (1/throughput)', (s) => inverseMs(view(s, 'full')?.ours.rps)],
  ['time per gzip response, ms (1/throughput)', (s) => inverseMs(view(s, 'gzip')?.ours.rps)],
  ['time per ?group= response, ms (1/throughput)', (s) => inverseMs(view(s, 'group')?.ours.rps)],
  ['CPU µs per update', (s) => s.updateCost.cpuMicrosPerUpdate],
  ['CPU µs per heartbeat', (s) => s.churn.cpuMicrosPerHeartbeat],
  ['put propagation p50 ms, idle', (s) => s.propagation.idle.put.p50Ms],
  ['put propagation p50 ms, 1,000 updates/s', (s) => s.propagation.loaded.put.p50Ms],
];

function inverseMs(rps: number | undefined): number | undefined {
  return rps === undefined || rps === 0 ? undefined : 1000 / rps;
}

/** Growth of every tracked figure from the smallest to the largest size. */
export function growthOf(sizes: readonly SizeResult[]): Growth[] {
  if (sizes.length < 2) return [];
  const sorted = [...sizes].sort((a, b) => a.nodes - b.nodes);
  const a = sorted[0]!;
  const b = sorted[sorted.length - 1]!;
  return GROWTH_METRICS.map(([metric, read]) => {
    const from = read(a);
    const to = read(b);
    const factor = from === undefined || to === undefined || from === 0 ? undefined : to / from;
    const exponent = factor === undefined || factor <= 0 ? undefined : Math.log(factor) / Math.log(b.nodes / a.nodes);
    return { metric, fromNodes: a.nodes, toNodes: b.nodes, from, to, factor, exponent };
  });
}

const fx = (n: number | undefined, d = 2): string => (n === undefined ? 'n/a' : n.toFixed(d));

function check(value: number | undefined, ok: (v: number) => boolean): boolean | null {
  return value === undefined ? null : ok(value);
}

/** The goals against this run's figures. */
export function goalsOf(sizes: readonly SizeResult[]): Goal[] {
  const at = (n: number): SizeResult | undefined => sizes.find((s) => s.nodes === n);
  const s10 = at(10_000);
  const s100 = at(100_000);
  const goals: Goal[] = [];
  for (const name of ['full', 'gzip'] as const) {
    const v = s10 === undefined ? undefined : view(s10, name);
    const label = name === 'full' ? '' : ', gzip';
    goals.push({ goal: `10k targets${label}: ≥ 0.8× the limit`, measured: `${fx(v?.oursVsLimit)}×`, met: check(v?.oursVsLimit, (r) => r >= 0.8) });
    goals.push({ goal: `10k targets${label}: ≥ 50× the usual alternative`, measured: `${fx(v?.oursVsAlternative, 0)}×`, met: check(v?.oursVsAlternative, (r) => r >= 50) });
  }
  const worst = (p: PropagationFigures | undefined): number | undefined =>
    p === undefined ? undefined : p.timeouts > 0 ? Infinity : Math.max(p.put.p99Ms ?? Infinity, p.delete.p99Ms ?? Infinity, p.leaseExpiry.samples === 0 ? 0 : p.leaseExpiry.p99Ms ?? Infinity);
  const pi = worst(s10?.propagation.idle);
  const pl = worst(s10?.propagation.loaded);
  goals.push({ goal: '10k nodes: propagation p99 < 20 ms idle (worst of put, delete, lease expiry)', measured: `${fx(pi, 1)} ms`, met: check(pi, (v) => v < 20) });
  goals.push({ goal: '10k nodes: propagation p99 < 100 ms during 1,000 updates/s', measured: `${fx(pl, 1)} ms at ${fx(s10?.propagation.loadedWriter.rate, 0)} updates/s`, met: check(pl, (v) => v < 100) });
  goals.push({ goal: '100k nodes loaded in < 5 s (registry loaded log line)', measured: `${fx(s100?.load.loadMs, 0)} ms (spawn → ready ${fx(s100?.load.spawnToReadyMs, 0)} ms)`, met: check(s100?.load.loadMs, (v) => v < 5000) });
  const rss = s100?.memory.rssAtReadyBytes;
  goals.push({ goal: '100k nodes: RSS after load < 300 MB', measured: `${fx(rss === undefined ? undefined : rss / 1e6, 0)} MB at ready, ${fx(s100 === undefined ? undefined : s100.memory.rssAfterServingBytes / 1e6, 0)} MB after serving`, met: check(rss, (v) => v < 300e6) });
  const c = s10?.churn;
  goals.push({ goal: '10k nodes heartbeating every 15 s: < 10% of one core', measured: `${fx(c === undefined ? undefined : c.cores * 100, 1)}% at ${fx(c?.heartbeatsPerSecond, 0)} heartbeats/s`, met: check(c?.cores, (v) => v < 0.1) });
  goals.push({ goal: 'heartbeat churn: ETag unchanged', measured: c === undefined ? 'n/a' : c.etagUnchanged ? `unchanged over ${c.revisionAfter - c.revisionBefore} revisions` : `${c.etagBefore} → ${c.etagAfter}`, met: c === undefined ? null : c.etagUnchanged });
  const g = growthOf(sizes).find((x) => x.metric === 'CPU µs per update');
  goals.push({
    goal: 'one update\'s cost independent of registry size (µs/update, largest ÷ smallest size ≤ 1.5)',
    measured: g === undefined ? 'n/a' : `${fx(g.from, 0)} → ${fx(g.to, 0)} µs (${fx(g.factor)}× for ${g.toNodes / g.fromNodes}× nodes)`,
    met: check(g?.factor, (f) => f <= 1.5),
  });
  goals.push(...millionGoals(at(1_000_000), s10));
  return goals;
}

/** The goals at 1,000,000 nodes, when that size was measured (`--sizes ...,1000000`). */
export function millionGoals(s: SizeResult | undefined, s10: SizeResult | undefined): Goal[] {
  if (s === undefined) return [];
  const m = s.memory;
  const worstRss = m.rssAtReadyBytes === undefined ? undefined : Math.max(m.rssAtReadyBytes, m.rssAfterServingBytes);
  const perUpdate = s10 === undefined || s10.updateCost.cpuMicrosPerUpdate === 0 ? undefined : s.updateCost.cpuMicrosPerUpdate / s10.updateCost.cpuMicrosPerUpdate;
  return [
    { goal: '1M nodes loaded in < 20 s (registry loaded log line)', measured: `${fx(s.load.loadMs === undefined ? undefined : s.load.loadMs / 1000, 1)} s`, met: check(s.load.loadMs, (v) => v < 20_000) },
    {
      goal: '1M nodes: RSS < 1.5 GB at ready and after serving',
      measured: `${fx(m.rssAtReadyBytes === undefined ? undefined : m.rssAtReadyBytes / 1e9)} GB at ready, ${fx(m.rssAfterServingBytes / 1e9)} GB after serving (peak ${fx(m.peakRssBytes / 1e9)} GB)`,
      met: check(worstRss, (v) => v < 1.5e9),
    },
    { goal: '1M nodes: CPU per update within 2× of 10k', measured: `${fx(perUpdate)}×`, met: check(perUpdate, (v) => v <= 2) },
  ];
}
