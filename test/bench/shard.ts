/**
 * `npm run bench:shard`: the cost of shard views in process, next to the
 * full view, on one registry state: load (applying every document), heap
 * per node, cold render of the full body and of one shard of 1/20 (a new
 * state, nothing cached), the cached answer, and the cost of one update
 * followed by re-rendering both. Layouts: groups of 100, and one big group.
 *
 *   npm run bench:shard -- [--nodes 10000] [--big-group 10000]
 */
import { ViewCache } from '../../src/http/rendered.js';
import { RegistryState } from '../../src/registry/index.js';
import { loadedAsTestFile } from './entry.js';
import { median } from './stats.js';

const P = '/services';

function nodeDoc(i: number): string {
  return JSON.stringify({ id: `n${i}`, exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9100`, rack: `r${i % 40}` }, status: 'healthy', last_seen: '2026-01-01T00:00:00Z' });
}

function ms(from: bigint): number {
  return Number(process.hrtime.bigint() - from) / 1e6;
}

interface Row {
  readonly layout: string;
  readonly loadMs: number;
  readonly heapBytesPerNode: number;
  readonly fullColdMs: number;
  readonly shardColdMs: number;
  readonly fullBytes: number;
  readonly shardBytes: number;
  readonly cachedMicros: number;
  readonly updateFullMs: number;
  readonly updateShardMs: number;
}

function measure(nodes: number, groupSize: number): Row {
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  const state = new RegistryState(P);
  for (let i = 0; i < nodes; i++) state.apply({ type: 'put', key: `${P}/g${Math.floor(i / groupSize)}/nodes/n${i}_node_exporter`, value: nodeDoc(i) });
  let content = state.snapshot();
  const loadMs = ms(t0);
  const cache = new ViewCache(1 << 30);
  const all = { groups: [], exporterTypes: [] };
  const shard = { ...all, shard: { index: 7, count: 20, by: ['__address__'] } };
  let t = process.hrtime.bigint();
  const full = cache.view(content, all);
  const fullColdMs = ms(t);
  t = process.hrtime.bigint();
  const one = cache.view(content, shard);
  const shardColdMs = ms(t);
  globalThis.gc?.();
  const heapBytesPerNode = (process.memoryUsage().heapUsed - heap0) / nodes;
  t = process.hrtime.bigint();
  for (let i = 0; i < 1000; i++) cache.view(content, shard);
  const cachedMicros = ms(t);
  // One visible update, then the next full and shard views (what the next requests pay).
  const fullUpd: number[] = [];
  const shardUpd: number[] = [];
  for (let k = 0; k < 5; k++) {
    const i = (k * 7919) % nodes;
    state.apply({ type: 'put', key: `${P}/g${Math.floor(i / groupSize)}/nodes/n${i}_node_exporter`, value: nodeDoc(i).replace('"r', `"u${k}r`) });
    t = process.hrtime.bigint();
    content = state.snapshot();
    cache.view(content, all);
    fullUpd.push(ms(t));
    t = process.hrtime.bigint();
    cache.view(content, shard);
    shardUpd.push(ms(t));
  }
  return {
    layout: `${nodes} nodes, groups of ${groupSize}`, loadMs, heapBytesPerNode, fullColdMs, shardColdMs,
    fullBytes: full.body.length, shardBytes: one.body.length, cachedMicros,
    updateFullMs: median(fullUpd) ?? 0, updateShardMs: median(shardUpd) ?? 0,
  };
}

function arg(argv: readonly string[], name: string, dflt: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
}

if (!loadedAsTestFile()) {
  const argv = process.argv.slice(2);
  const nodes = arg(argv, 'nodes', 10_000);
  const big = arg(argv, 'big-group', 10_000);
  const rows = [measure(nodes, 100), measure(big, big)];
  process.stdout.write('| layout | load | heap/node | full cold | shard 1/20 cold | full bytes | shard bytes | shard cached | update → full | update → shard |\n|---|---|---|---|---|---|---|---|---|---|\n');
  for (const r of rows) {
    process.stdout.write(`| ${r.layout} | ${r.loadMs.toFixed(0)} ms | ${r.heapBytesPerNode.toFixed(0)} B | ${r.fullColdMs.toFixed(1)} ms | ${r.shardColdMs.toFixed(1)} ms | ${r.fullBytes} | ${r.shardBytes} | ${r.cachedMicros.toFixed(2)} µs | ${r.updateFullMs.toFixed(1)} ms | ${r.updateShardMs.toFixed(1)} ms |\n`);
  }
}
