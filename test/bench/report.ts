/** Renders `BenchResults` as Markdown tables. Every number comes from the results. */
import type { BenchResults, SizeResult } from './results.js';
import { median, type LatencySummary } from './stats.js';
import type { ContenderFigures } from './throughput.js';

const MiB = 2 ** 20;

function n(v: number | undefined, digits = 0): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function bytes(v: number | undefined): string {
  if (v === undefined) return 'n/a';
  return v >= MiB ? `${n(v / MiB, 1)} MiB` : v >= 1024 ? `${n(v / 1024, 1)} KiB` : `${v} B`;
}

function lat(s: LatencySummary): string {
  return s.samples === 0 ? 'n/a' : `${n(s.p50Ms, 1)} / ${n(s.p99Ms, 1)}`;
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function rps(c: ContenderFigures, like?: ContenderFigures): string {
  const notes: string[] = [];
  if (like !== undefined && (c.runs.length !== like.runs.length || c.connections !== like.connections)) {
    notes.push(`${c.runs.length} run${c.runs.length === 1 ? '' : 's'} of ${n(median(c.runs.map((r) => r.seconds)), 0)} s, ${c.connections} conn.`);
  }
  if (c.errors > 0) notes.push(`${c.errors} err`);
  return notes.length > 0 ? `${n(c.rps, 1)} (${notes.join(', ')})` : n(c.rps, 1);
}

function throughputTable(sizes: readonly SizeResult[]): string {
  const rows = sizes.flatMap((s) =>
    s.throughput.map((v) => [
      n(s.nodes), v.view === 'group' ? `\`${v.path.replace('/v1/targets', '')}\`` : v.view, bytes(v.bodyBytes),
      rps(v.limit), rps(v.ours), rps(v.alternative, v.ours),
      `**${n(v.oursVsLimit, 2)}×**`, `**${n(v.oursVsAlternative, 0)}×**`,
      `${n(v.limit.p50Ms, 2)} / ${n(v.limit.p99Ms, 2)}`, `${n(v.ours.p50Ms, 2)} / ${n(v.ours.p99Ms, 2)}`, `${n(v.alternative.p50Ms, 1)} / ${n(v.alternative.p99Ms, 1)}`,
    ]),
  );
  return table(['nodes', 'view', 'body', 'limit req/s', 'ours req/s', 'alternative req/s', 'ours ÷ limit', 'ours ÷ alternative', 'limit p50 / p99 ms', 'ours p50 / p99 ms', 'alternative p50 / p99 ms'], rows);
}

function propagationTable(sizes: readonly SizeResult[]): string {
  const rows = sizes.flatMap((s) =>
    (['idle', 'loaded'] as const).map((cond) => {
      const p = s.propagation[cond];
      return [
        n(s.nodes), cond === 'idle' ? 'idle' : `${n(s.propagation.loadedWriter.rate, 0)} updates/s`,
        lat(p.put), lat(p.delete), lat(p.leaseExpiry),
        `${p.put.samples} / ${p.delete.samples} / ${p.leaseExpiry.samples}${p.timeouts > 0 ? ` (${p.timeouts} timed out)` : ''}${p.failures > 0 ? ` (${p.failures} failed)` : ''}`,
        n(p.etcdPutAckMs, 2), n(p.pollRttMs, 2),
      ];
    }),
  );
  return table(['nodes', 'background', 'put p50 / p99 ms', 'delete p50 / p99 ms', 'lease expiry p50 / p99 ms', 'samples', 'etcd put ack p50 ms', 'poll RTT p50 ms'], rows);
}

function loadTable(sizes: readonly SizeResult[]): string {
  return table(
    ['nodes', 'groups', 'written to etcd in', 'initial load (log)', 'spawn → /readyz 200', 'RSS at ready', 'RSS after serving', 'peak RSS'],
    sizes.map((s) => [
      n(s.nodes), s.bigGroup > 0 ? `${n(s.groups)} (the first of ${n(s.bigGroup)})` : n(s.groups), `${n(s.populate.ms / 1000, 1)} s`, `${n(s.load.loadMs)} ms`, `${n(s.load.spawnToReadyMs)} ms`,
      bytes(s.memory.rssAtReadyBytes), bytes(s.memory.rssAfterServingBytes), bytes(s.memory.peakRssBytes),
    ]),
  );
}

function cpuTable(sizes: readonly SizeResult[]): string {
  return table(
    ['nodes', 'idle CPU', 'heartbeating nodes', 'heartbeats/s', 'CPU (one core = 100%)', 'µs per heartbeat', 'ETag', 'updates/s', 'CPU', 'µs per update'],
    sizes.map((s) => [
      n(s.nodes), `${n(s.idle.cores * 100, 1)}%`,
      n(s.churn.heartbeatNodes), n(s.churn.heartbeatsPerSecond, 0), `${n(s.churn.cores * 100, 1)}%`, n(s.churn.cpuMicrosPerHeartbeat, 0),
      s.churn.etagUnchanged ? `unchanged (${s.churn.revisionAfter - s.churn.revisionBefore} revisions)` : '**changed**',
      n(s.updateCost.updatesPerSecond, 0), `${n(s.updateCost.cores * 100, 1)}%`, n(s.updateCost.cpuMicrosPerUpdate, 0),
    ]),
  );
}

function growthTable(r: BenchResults): string {
  if (r.growth.length === 0) return '_One size only: no growth to report._';
  const g0 = r.growth[0]!;
  return table(
    ['figure', `${n(g0.fromNodes)} nodes`, `${n(g0.toNodes)} nodes`, 'factor', `exponent k (∝ nodes^k; ${n(g0.toNodes / g0.fromNodes)}× nodes)`],
    r.growth.map((g) => [g.metric, n(g.from, g.from !== undefined && g.from < 100 ? 2 : 0), n(g.to, g.to !== undefined && g.to < 100 ? 2 : 0), `${n(g.factor, 2)}×`, n(g.exponent, 2)]),
  );
}

/** The whole report. */
export function renderMarkdown(r: BenchResults): string {
  const s = r.settings;
  const goals = table(['goal', 'measured', 'met'], r.goals.map((g) => [g.goal, g.measured, g.met === null ? 'not measured' : g.met ? 'yes' : '**no**']));
  return [
    `## etcd-http-sd benchmark, ${r.meta.date}`,
    '',
    `Machine: ${r.meta.cores} cores (${r.meta.cpuModel}), Node ${r.meta.node}, ${r.meta.etcd}, ${r.meta.wrk}. ` +
      `All servers, etcd and wrk on this machine, loopback only. Medians of ${String(s['runs'])} runs; ratios taken within each run. ` +
      `wrk: 1 thread, ${String(s['connections'])} connections, ${String(s['durationSeconds'])} s per figure. Groups of ${String(s['groupSize'])} nodes, ` +
      `5 common labels per group, 3 own labels per node. Took ${n(r.meta.totalSeconds)} s.`,
    '',
    '### Goals',
    goals,
    '',
    '### `/v1/targets` throughput: the limit (bare node:http, same bytes), etcd-http-sd, the usual alternative (etcd read per request)',
    throughputTable(r.sizes),
    '',
    '### Propagation: etcd change → served (`X-Etcd-Revision`)',
    propagationTable(r.sizes),
    '',
    `### Initial load and memory`,
    loadTable(r.sizes),
    '',
    `### Background writes: heartbeat churn (each node re-put every ${String(s['heartbeatPeriodSeconds'])} s, only \`last_seen\` new; ${String(s['churnSeconds'])} s window) and visible updates (${String(s['updateCostSeconds'])} s window, no reader)`,
    cpuTable(r.sizes),
    '',
    '### Cost growth',
    growthTable(r),
    '',
  ].join('\n');
}
