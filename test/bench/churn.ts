/**
 * Phases 4 and 5: what background writes cost the server, in CPU read from
 * /proc, with no reader but the harness's few checks.
 *
 * - idle: the server's CPU with nothing happening (probes, progress notifications);
 * - heartbeat churn: nodes re-put with only `last_seen` new; the ETag of
 *   `/v1/targets` must not move while the served revision does;
 * - update cost: random visible changes at a fixed rate; CPU per update.
 */
import type { Cleanup } from './cleanup.js';
import { startWriter, type OurServer } from './children.js';
import { RevisionPoller, waitForAppliedRevision } from './http.js';
import { cpuWindow } from './procstat.js';
import { sleep } from './stats.js';
import type { WriterConfig, WriterResult } from './writer.js';

/** The idle baseline. */
export interface IdleFigures {
  readonly seconds: number;
  /** CPU used, in cores (1 = one core busy). */
  readonly cores: number;
}

/** Heartbeat churn. */
export interface ChurnFigures {
  readonly heartbeatNodes: number;
  readonly periodSeconds: number;
  readonly seconds: number;
  readonly heartbeats: number;
  readonly heartbeatsPerSecond: number;
  readonly cores: number;
  readonly cpuMicrosPerHeartbeat: number;
  readonly etagBefore: string;
  readonly etagAfter: string;
  readonly etagUnchanged: boolean;
  readonly revisionBefore: number;
  readonly revisionAfter: number;
  readonly writer: WriterResult;
}

/** Update cost. */
export interface UpdateCostFigures {
  readonly seconds: number;
  readonly updates: number;
  readonly updatesPerSecond: number;
  readonly cores: number;
  readonly cpuMicrosPerUpdate: number;
  readonly writer: WriterResult;
}

/** Measures the server's CPU over `ms` of nothing. */
export async function measureIdle(server: OurServer, ms: number): Promise<IdleFigures> {
  const w = cpuWindow(server.pid);
  await sleep(ms);
  const r = w.stop();
  return { seconds: r.wallSeconds, cores: r.cores };
}

/**
 * Runs a writer and measures the server's CPU from the writer's first put
 * until the server has applied the writer's last revision (read from
 * `/readyz`, which renders nothing: the figure is the cost of the writes).
 */
async function writeAndMeasure(cleanup: Cleanup, server: OurServer, config: WriterConfig): Promise<{ writer: WriterResult; seconds: number; cpuSeconds: number; cores: number }> {
  const scope = cleanup.scope();
  try {
    const run = await startWriter(scope, config);
    const w = cpuWindow(server.pid);
    const writer = await run.result;
    if (writer.acked === 0) throw new Error(`the ${config.mode} writer wrote nothing: ${run.proc.lines().slice(-5).join('\n')}`);
    if (!(await waitForAppliedRevision(server.url, writer.lastRevision, 30_000))) throw new Error(`server never applied revision ${writer.lastRevision}`);
    const r = w.stop();
    return { writer, seconds: r.wallSeconds, cpuSeconds: r.cpuSeconds, cores: r.cores };
  } finally {
    await scope.run();
  }
}

/** Heartbeats `heartbeatNodes` nodes, each every `periodMs`, for `ms`. */
export async function measureChurn(cleanup: Cleanup, server: OurServer, base: Omit<WriterConfig, 'mode' | 'durationMs'>, heartbeatNodes: number, periodMs: number, ms: number): Promise<ChurnFigures> {
  const poller = new RevisionPoller(`${server.url}/v1/targets`);
  try {
    const before = await poller.head();
    const m = await writeAndMeasure(cleanup, server, { ...base, mode: 'heartbeat', heartbeatNodes, periodMs, durationMs: ms });
    const after = await poller.head();
    return {
      heartbeatNodes: Math.min(heartbeatNodes, base.nodes),
      periodSeconds: periodMs / 1000,
      seconds: m.seconds,
      heartbeats: m.writer.acked,
      heartbeatsPerSecond: m.writer.acked / m.seconds,
      cores: m.cores,
      cpuMicrosPerHeartbeat: (m.cpuSeconds * 1e6) / m.writer.acked,
      etagBefore: before.etag,
      etagAfter: after.etag,
      etagUnchanged: before.etag === after.etag,
      revisionBefore: before.revision,
      revisionAfter: after.revision,
      writer: m.writer,
    };
  } finally {
    poller.close();
  }
}

/** Visible updates to random nodes at `rate` per second for `ms`. */
export async function measureUpdateCost(cleanup: Cleanup, server: OurServer, base: Omit<WriterConfig, 'mode' | 'durationMs'>, rate: number, ms: number): Promise<UpdateCostFigures> {
  const m = await writeAndMeasure(cleanup, server, { ...base, mode: 'update', rate, durationMs: ms });
  return {
    seconds: m.seconds,
    updates: m.writer.acked,
    updatesPerSecond: m.writer.acked / m.seconds,
    cores: m.cores,
    cpuMicrosPerUpdate: (m.cpuSeconds * 1e6) / m.writer.acked,
    writer: m.writer,
  };
}
