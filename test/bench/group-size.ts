/**
 * `npm run bench:group-size`: what one update costs with one large group
 * next to small ones, and whether requests for the small groups wait for
 * it. Per size of the large group (`--sizes 100,50000`), a child server
 * (group-size-server.ts) applies visible updates to random nodes of the
 * large group at `--rate` per second:
 *
 * - updates: CPU per update (apply, snapshot, event diff), while a client
 *   polls a one-node group every 20 ms: that group's latency;
 * - with a large-group reader: the same, plus a client reading the large
 *   group every second (a fast Prometheus refresh), which pays for the
 *   large body once per change; both groups' latencies.
 *
 * Prints a Markdown table on stdout. Not a test: figures depend on the machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { groupName } from './dataset.js';
import { loadedAsTestFile } from './entry.js';
import type { UpdateReply, UpdateRequest } from './group-size-server.js';
import { summarize, type LatencySummary } from './stats.js';

interface Row {
  readonly bigNodes: number;
  readonly aloneMicrosPerUpdate: number;
  readonly aloneUpdatesPerSecond: number;
  readonly aloneSmall: LatencySummary;
  readonly loadedMicrosPerUpdate: number;
  readonly small: LatencySummary;
  readonly big: LatencySummary;
}

interface Phase {
  readonly reply: UpdateReply;
  readonly small: LatencySummary;
  readonly big: LatencySummary;
}

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

function startChild(big: number): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(fileURLToPath(new URL('./group-size-server.js', import.meta.url)), [String(big)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
    child.once('message', (m: { url: string }) => resolve({ child, url: m.url }));
  });
}

function updates(child: ChildProcess, req: UpdateRequest): Promise<UpdateReply> {
  return new Promise((resolve) => {
    child.once('message', (m: UpdateReply) => resolve(m));
    child.send(req);
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

function timedGet(url: string): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(performance.now() - start));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Runs `fn` until `stop()` is true; every `periodMs`, or back to back when 0. */
async function loop(periodMs: number, done: () => boolean, fn: () => Promise<void>): Promise<void> {
  while (!done()) {
    const t = performance.now();
    await fn();
    const wait = periodMs - (performance.now() - t);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

/** One update run with a one-node group polled every 20 ms and, if `bigPeriodMs`, the large group read that often. */
async function phase(child: ChildProcess, url: string, req: UpdateRequest, bigPeriodMs: number | undefined): Promise<Phase> {
  let finished = false;
  const smallMs: number[] = [];
  const bigMs: number[] = [];
  const run = updates(child, req).finally(() => {
    finished = true;
  });
  const readers = Promise.all([
    loop(20, () => finished, async () => void smallMs.push(await timedGet(`${url}/v1/targets/${groupName(1)}`))),
    bigPeriodMs === undefined ? undefined : loop(bigPeriodMs, () => finished, async () => void bigMs.push(await timedGet(`${url}/v1/targets/${groupName(0)}`))),
  ]);
  const reply = await run;
  await readers;
  return { reply, small: summarize(smallMs), big: summarize(bigMs) };
}

async function benchSize(big: number, rate: number, ms: number): Promise<Row> {
  const { child, url } = await startChild(big);
  try {
    await timedGet(`${url}/v1/targets/${groupName(0)}`);
    const alone = await phase(child, url, { rate, ms }, undefined);
    const loaded = await phase(child, url, { rate, ms }, 1000);
    return {
      bigNodes: big,
      aloneMicrosPerUpdate: alone.reply.cpuMicros / alone.reply.updates,
      aloneUpdatesPerSecond: alone.reply.updates / (alone.reply.wallMs / 1000),
      aloneSmall: alone.small,
      loadedMicrosPerUpdate: loaded.reply.cpuMicros / loaded.reply.updates,
      small: loaded.small,
      big: loaded.big,
    };
  } finally {
    child.removeAllListeners('exit');
    child.disconnect();
  }
}

function argOf(argv: readonly string[], name: string, fallback: string): string {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] ?? fallback : fallback;
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined ? '–' : v.toFixed(digits));

async function main(argv: readonly string[]): Promise<void> {
  const sizes = argOf(argv, '--sizes', '100,50000').split(',').map(Number);
  const rate = Number(argOf(argv, '--rate', '55'));
  const ms = Number(argOf(argv, '--seconds', '8')) * 1000;
  const rows: Row[] = [];
  for (const big of sizes) {
    log(`== large group of ${big} nodes, ${rate} updates/s for ${ms / 1000} s`);
    rows.push(await benchSize(big, rate, ms));
  }
  agent.destroy();
  const lines = [
    '| large group | CPU/update (µs) | one-node group p50 / p99 (ms) | with a large-group reader: CPU/update (µs) | one-node group p50 / p99 (ms) | large group p50 / p99 (ms) |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.bigNodes} | ${fmt(r.aloneMicrosPerUpdate, 0)} | ${fmt(r.aloneSmall.p50Ms)} / ${fmt(r.aloneSmall.p99Ms)} | ${fmt(r.loadedMicrosPerUpdate, 0)} | ${fmt(r.small.p50Ms)} / ${fmt(r.small.p99Ms)} | ${fmt(r.big.p50Ms)} / ${fmt(r.big.p99Ms)} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}

if (!loadedAsTestFile()) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  });
}
