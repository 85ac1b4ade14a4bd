/**
 * Background writes into the registry, in their own process so the
 * harness's measurements do not share its event loop:
 *
 * - `update`: at `rate` per second, a random node gets a new `version`
 *   label (a visible change);
 * - `heartbeat`: the first `nodes` nodes are re-put in turn, each once per
 *   `periodMs`, with only `last_seen` new, as the Go library does.
 *
 * Paced by wall clock, at most 1,024 puts in flight. Prints `{"started":…}`
 * once writing, and a JSON result line when done (after `durationMs`, or on
 * SIGTERM, whichever comes first); then exits.
 *
 *   node writer.js '<json WriterConfig>'
 */
import { Etcd3 } from 'etcd3';
import { leaseIdOf, layoutOf, nodeAt, nodeEntry, nodesInGroup } from './dataset.js';
import { loadedAsTestFile } from './entry.js';

/** What the writer is told. */
export interface WriterConfig {
  readonly endpoint: string;
  readonly mode: 'update' | 'heartbeat';
  readonly nodes: number;
  readonly groupSize: number;
  /** Nodes of the one large group, if the layout has one. */
  readonly bigGroup?: number;
  /** `update`: puts per second. */
  readonly rate?: number;
  /** `heartbeat`: each node's period. */
  readonly periodMs?: number;
  /** `heartbeat`: how many nodes heartbeat (the first ones). */
  readonly heartbeatNodes?: number;
  /** Hard bound of the run. */
  readonly durationMs: number;
}

/** The writer's result line. */
export interface WriterResult {
  readonly mode: WriterConfig['mode'];
  readonly sent: number;
  readonly acked: number;
  readonly failed: number;
  /** Puts skipped because 1,024 were in flight (etcd could not keep the pace). */
  readonly skipped: number;
  readonly seconds: number;
  readonly rate: number;
  /** Highest revision an acknowledged put reported. */
  readonly lastRevision: number;
}

const MAX_IN_FLIGHT = 1024;
const TICK_MS = 5;

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as WriterConfig;
  const layout = layoutOf(config.nodes, config.groupSize, config.bigGroup ?? 0);
  const client = new Etcd3({ hosts: [config.endpoint] });
  const heartbeatNodes = Math.min(config.heartbeatNodes ?? config.nodes, config.nodes);
  const rate = config.mode === 'heartbeat' ? (heartbeatNodes * 1000) / (config.periodMs ?? 15_000) : config.rate ?? 1000;
  let sent = 0;
  let acked = 0;
  let failed = 0;
  let skipped = 0;
  let inFlight = 0;
  let lastRevision = 0;
  let version = 0;
  const put = (i: number): void => {
    const { g, n } = nodeAt(layout, i);
    if (n >= nodesInGroup(layout, g)) return;
    const entry = config.mode === 'update' ? nodeEntry(g, n, new Date(), `2.${++version}.0`) : nodeEntry(g, n, new Date());
    inFlight++;
    sent++;
    client.kv.put({ key: Buffer.from(entry.key), value: Buffer.from(entry.value), lease: leaseIdOf(g) }).then(
      (res) => {
        acked++;
        lastRevision = Math.max(lastRevision, Number(res.header.revision));
      },
      () => failed++,
    ).finally(() => inFlight--);
  };
  await client.kv.range({ key: Buffer.from([0]), count_only: true }); // connected before the clock starts
  const started = performance.now();
  process.stdout.write(`${JSON.stringify({ started: true, rate })}\n`);
  let stop = false;
  process.once('SIGTERM', () => (stop = true));
  let due = 0;
  let cursor = 0;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by stop() during the awaits
  while (!stop && performance.now() - started < config.durationMs) {
    const target = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; due < target; due++) {
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped++;
        continue;
      }
      if (config.mode === 'update') put(Math.floor(Math.random() * config.nodes));
      else put(cursor++ % heartbeatNodes);
    }
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  const seconds = (performance.now() - started) / 1000;
  while (inFlight > 0) await new Promise((r) => setTimeout(r, TICK_MS));
  client.close();
  const result: WriterResult = { mode: config.mode, sent, acked, failed, skipped, seconds, rate: acked / seconds, lastRevision };
  process.stdout.write(`${JSON.stringify({ result })}\n`);
}

if (!loadedAsTestFile()) {
  main().catch((err: unknown) => {
    process.stderr.write(`writer: ${String(err)}\n`);
    process.exitCode = 1;
  });
}
