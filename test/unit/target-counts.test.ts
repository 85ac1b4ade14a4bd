// etcd_http_sd_targets is kept by difference (src/metrics/target-counts.ts): after every change the
// gauge must read exactly what setting every series afresh would give, and a scrape of an unchanged
// registry must write nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gauge, Registry } from 'prom-client';
import { TargetCounts, type TargetLabels, type TargetSeriesSink } from '../../src/metrics/target-counts.js';
import type { GroupView } from '../../src/registry/index.js';

const view = (name: string, counts: Record<string, number>): GroupView => ({ name, exporterTypeCounts: new Map(Object.entries(counts)) }) as unknown as GroupView;

/** The series as a reset-and-set-all scrape gives them, sorted. */
function expected(groups: readonly GroupView[]): string[] {
  const lines: string[] = [];
  for (const g of groups) {
    if (g.exporterTypeCounts.size === 0) lines.push(`etcd_http_sd_targets{group="${g.name}",exporter_type=""} 0`);
    for (const [type, n] of g.exporterTypeCounts) lines.push(`etcd_http_sd_targets{group="${g.name}",exporter_type="${type}"} ${n}`);
  }
  return lines.sort();
}

function setUp(): { registry: Registry; counts: TargetCounts; writes: () => number; read: () => Promise<string[]> } {
  const registry = new Registry();
  const gauge = new Gauge({ name: 'etcd_http_sd_targets', help: 'h', labelNames: ['group', 'exporter_type'], registers: [registry] });
  let writes = 0;
  const sink: TargetSeriesSink = {
    set: (labels: TargetLabels, v: number) => {
      writes++;
      gauge.set(labels, v);
    },
    remove: (labels: TargetLabels) => {
      writes++;
      gauge.remove(labels);
    },
  };
  const read = async (): Promise<string[]> => (await registry.metrics()).split('\n').filter((l) => l.startsWith('etcd_http_sd_targets{')).sort();
  return { registry, counts: new TargetCounts(sink), writes: () => writes, read };
}

test('every change reads as setting all series afresh would, and only changed groups are written', async () => {
  const { counts, writes, read } = setUp();
  const a1 = view('a', { node_exporter: 2, nginx_exporter: 1 });
  const b1 = view('b', {});
  const steps: { groups: GroupView[]; writes: number; what: string }[] = [
    { groups: [a1, b1], writes: 3, what: 'first scrape: every series' },
    { groups: [a1, view('b', { node_exporter: 1 })], writes: 2, what: 'an empty group gets a node: its 0 series goes' },
    { groups: [view('a', { node_exporter: 3 }), view('b', { node_exporter: 1 })], writes: 2, what: 'a type gone and a count changed; b rebuilt alike writes nothing' },
    { groups: [view('a', { node_exporter: 3 })], writes: 1, what: 'a group gone' },
    { groups: [view('a', {}), view('c', { x: 5 })], writes: 3, what: 'a group emptied, a new one' },
    { groups: [], writes: 2, what: 'everything gone' },
  ];
  let before = 0;
  for (const step of steps) {
    counts.update(step.groups);
    assert.deepEqual(await read(), expected(step.groups), step.what);
    assert.equal(writes() - before, step.writes, `${step.what}: writes`);
    before = writes();
  }
});

test('a scrape of an unchanged registry writes nothing', async () => {
  const { counts, writes, read } = setUp();
  const groups = Array.from({ length: 1000 }, (_, i) => view(`g${i}`, { node_exporter: i % 7, ...(i % 3 === 0 ? { nginx_exporter: 1 } : {}) }));
  counts.update(groups);
  const first = writes();
  assert.ok(first >= 1000);
  counts.update(groups);
  counts.update([...groups]); // a new snapshot holding the same views
  assert.equal(writes(), first);
  assert.deepEqual(await read(), expected(groups));
});
