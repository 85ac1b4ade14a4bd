/**
 * The harness's command line: sizes, repetitions and durations, parsed and
 * checked once. `--quick` shortens every phase for a smoke run; explicit
 * flags still win over it.
 */

import { EXTRA_NAMES, type ExtraName } from './extras.js';

/** Everything the harness can be told. Durations in milliseconds. */
export interface BenchOptions {
  /** Registered nodes per size. Default 1000,10000,100000. */
  readonly sizes: readonly number[];
  /** Nodes per group. Default 100 (1,000 groups of 100 at 100,000). */
  readonly groupSize: number;
  /** Nodes of one large group among the others (0: none). */
  readonly bigGroup: number;
  /** Repetitions of every throughput figure and of the initial load; the median is reported. Default 3. */
  readonly runs: number;
  /** Length of one wrk run. Default 5 s. */
  readonly durationMs: number;
  /** wrk connections (concurrent clients). Default 8. */
  readonly connections: number;
  /** Put and delete samples per propagation condition. Default 200 (quick 10). */
  readonly propagationSamples: number;
  /** Lease-expiry samples per propagation condition. Default 10 (quick 2). */
  readonly leaseSamples: number;
  /** Background node updates per second in the "loaded" condition and the update-cost window. Default 1000. */
  readonly updateRate: number;
  /** Length of the update-cost window (updates with no reader). Default 10 s (quick 2 s). */
  readonly updateCostMs: number;
  /** Length of the heartbeat-churn window. Default 30 s (quick 2 s). */
  readonly churnMs: number;
  /** Length of the idle CPU baseline window. Default 5 s (quick 1 s). */
  readonly idleMs: number;
  /** Nodes that heartbeat (at most the size). Default 10000. */
  readonly heartbeatNodes: number;
  /** Heartbeat period of each node (the Go library's TTL/2). Default 15 s. */
  readonly heartbeatPeriodMs: number;
  /** Where the JSON goes. Default `bench-results/latest.json`. */
  readonly out: string;
  /** Focused benchmarks run after the sizes (see extras.ts). Default all; `--extras none` for none. */
  readonly extras: readonly ExtraName[];
  /** When set, the server runs with `--cpu-prof` and writes its profiles here. */
  readonly profileDir?: string;
  readonly quick: boolean;
}

/** A bad command line. */
export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

/** Help text of `npm run bench -- --help`. */
export const USAGE = `Usage: npm run bench -- [flags]

  --sizes N,N,...        registered nodes per size (default 1000,10000,100000)
  --group-size N         nodes per group (default 100)
  --big-group N          one group of N nodes first, the rest in groups (default 0: none)
  --runs N               repetitions; medians are reported (default 3)
  --duration D           one wrk run, e.g. 5s, 500ms (default 5s)
  --connections N        wrk connections (default 8)
  --samples N            put/delete propagation samples per condition (default 200)
  --lease-samples N      lease-expiry samples per condition (default 10)
  --update-rate N        background updates per second (default 1000)
  --update-cost D        update-cost window (default 10s)
  --churn D              heartbeat-churn window (default 30s)
  --idle D               idle CPU baseline window (default 5s)
  --heartbeat-nodes N    nodes that heartbeat (default 10000)
  --heartbeat-period D   each node's heartbeat period (default 15s)
  --out FILE             JSON results (default bench-results/latest.json)
  --profile DIR          run the server with --cpu-prof, profiles into DIR
  --extras LIST          focused benchmarks after the sizes: shard,shard-http,heartbeat,discovery
                         or none (default all of them)
  --quick                short phases, for a smoke run (explicit flags win)
`;

/** Parses `5s`, `500ms`, `2m` or a bare number of milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (m === null) throw new BenchUsageError(`${flag}: expected a duration such as 5s or 500ms, got ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  const ms = m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
  if (!(ms > 0)) throw new BenchUsageError(`${flag}: must be more than 0, got ${JSON.stringify(text)}`);
  return Math.round(ms);
}

function parseCount(text: string, flag: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new BenchUsageError(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}

function parseExtras(text: string, flag: string): readonly ExtraName[] {
  if (text === 'none') return [];
  const names = text.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(EXTRA_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) throw new BenchUsageError(`${flag}: unknown benchmark ${JSON.stringify(unknown[0])}; expected none or a list of ${EXTRA_NAMES.join(', ')}`);
  return names as ExtraName[];
}

type Parser = (value: string, flag: string) => unknown;
const FLAGS: Readonly<Record<string, readonly [string, Parser]>> = {
  '--sizes': ['sizes', (v, f) => v.split(',').map((s) => parseCount(s, f, 1))],
  '--group-size': ['groupSize', (v, f) => parseCount(v, f)],
  '--big-group': ['bigGroup', (v, f) => parseCount(v, f, 0)],
  '--runs': ['runs', (v, f) => parseCount(v, f)],
  '--duration': ['durationMs', parseDuration],
  '--connections': ['connections', (v, f) => parseCount(v, f)],
  '--samples': ['propagationSamples', (v, f) => parseCount(v, f)],
  '--lease-samples': ['leaseSamples', (v, f) => parseCount(v, f, 0)],
  '--update-rate': ['updateRate', (v, f) => parseCount(v, f)],
  '--update-cost': ['updateCostMs', parseDuration],
  '--churn': ['churnMs', parseDuration],
  '--idle': ['idleMs', parseDuration],
  '--heartbeat-nodes': ['heartbeatNodes', (v, f) => parseCount(v, f)],
  '--heartbeat-period': ['heartbeatPeriodMs', parseDuration],
  '--out': ['out', (v) => v],
  '--profile': ['profileDir', (v) => v],
  '--extras': ['extras', parseExtras],
};

/** Parses the harness's argv (without node and script). Returns undefined for `--help`. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | undefined {
  const given: Record<string, unknown> = {};
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return undefined;
    if (arg === '--quick') {
      quick = true;
      continue;
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const spec = FLAGS[flag];
    if (spec === undefined) throw new BenchUsageError(`unknown flag ${JSON.stringify(arg)}\n\n${USAGE}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new BenchUsageError(`${flag} needs a value`);
    given[spec[0]] = spec[1](value, flag);
  }
  const defaults = {
    sizes: [1000, 10_000, 100_000],
    groupSize: 100,
    bigGroup: 0,
    runs: 3,
    durationMs: quick ? 1000 : 5000,
    connections: 8,
    propagationSamples: quick ? 10 : 200,
    leaseSamples: quick ? 2 : 10,
    updateRate: 1000,
    updateCostMs: quick ? 2000 : 10_000,
    churnMs: quick ? 2000 : 30_000,
    idleMs: quick ? 1000 : 5000,
    heartbeatNodes: 10_000,
    heartbeatPeriodMs: 15_000,
    out: 'bench-results/latest.json',
    extras: EXTRA_NAMES,
  };
  return { ...defaults, ...given, quick };
}
