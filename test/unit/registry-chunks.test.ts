// Chunked group views: chunk boundaries are a function of the keys, a change re-renders one chunk,
// and a group whose rendering throws keeps its last good view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChunkIndex, endsChunk } from '../../src/registry/node-chunks.js';
import { RegistryState, renderNodeTarget, type NodeRenderer, type RenderFailure } from '../../src/registry/index.js';
import { diffContent } from '../../src/events/diff.js';

const P = '/services';
const node = (id: string, version = '1'): string =>
  JSON.stringify({ id, exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: { version }, status: 'healthy', last_seen: '2025-03-01T10:00:05.987654321Z' });
const nodeKey = (group: string, id: string): string => `${P}/${group}/nodes/${id}_node_exporter`;

/** The chunks a sorted key list must be cut into: after every key that ends one. */
function expectedChunks(keys: readonly string[]): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  for (const k of [...keys].sort()) {
    cur.push(k);
    if (endsChunk(k)) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

test('chunk boundaries depend on the key set only, whatever order keys came and went in', () => {
  const op = fc.record({ add: fc.boolean(), key: fc.integer({ min: 0, max: 400 }).map((n) => `n${n}`) });
  fc.assert(fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
    const index = new ChunkIndex<string>();
    const present = new Set<string>();
    for (const { add, key } of ops) {
      if (add && !present.has(key)) {
        index.add(key);
        present.add(key);
      } else if (!add && present.has(key)) {
        index.remove(key);
        present.delete(key);
      }
    }
    assert.deepEqual(index.chunkKeys(), expectedChunks([...present]));
  }), { numRuns: 300 });
});

function bigState(nodes: number, hooks = {}): RegistryState {
  const s = new RegistryState(P, 0, new Map(), undefined, undefined, hooks);
  for (let i = 0; i < nodes; i++) s.apply({ type: 'put', key: nodeKey('big', `n${String(i).padStart(5, '0')}`), value: node(`n${i}`) });
  s.apply({ type: 'put', key: nodeKey('small', 'a'), value: node('a') });
  return s;
}

test('a change to one node re-renders one chunk: the other chunks are the same objects', () => {
  const s = bigState(2000);
  const before = s.snapshot();
  s.apply({ type: 'put', key: nodeKey('big', 'n01000'), value: node('n1000', '2') });
  const after = s.snapshot();
  const old = new Set(before.group('big')?.chunks);
  const fresh = after.group('big')?.chunks.filter((c) => !old.has(c)) ?? [];
  assert.equal(fresh.length, 1);
  assert.equal(after.group('small'), before.group('small'), 'other groups keep their view');
  assert.deepEqual(diffContent(before, after).map((c) => `${c.type} ${c.node}`), ['changed n01000_node_exporter']);
  // The same nodes loaded in one go give the same bytes and the same hashes.
  const fresh2 = bigState(2000);
  fresh2.apply({ type: 'put', key: nodeKey('big', 'n01000'), value: node('n1000', '2') });
  assert.equal(fresh2.snapshot().body, after.body);
  assert.equal(fresh2.snapshot().etag, after.etag);
  assert.equal(after.group('big')?.size, 2000);
  assert.equal(after.group('big')?.nodes.length, 2000);
});

test('a node added and one removed show up in the diff, across a chunk split and merge', () => {
  const s = bigState(300);
  let prev = s.snapshot();
  for (let i = 0; i < 300; i += 7) {
    const key = nodeKey('big', `n${String(i).padStart(5, '0')}x`);
    s.apply({ type: 'put', key, value: node(`x${i}`) });
    let next = s.snapshot();
    assert.deepEqual(diffContent(prev, next).map((c) => c.type), ['added']);
    prev = next;
    s.apply({ type: 'delete', key: nodeKey('big', `n${String(i).padStart(5, '0')}`) });
    next = s.snapshot();
    assert.deepEqual(diffContent(prev, next).map((c) => c.type), ['removed']);
    prev = next;
  }
  assert.equal((JSON.parse(prev.body) as unknown[]).length, 301);
});

test('a group whose rendering throws keeps its last good view, is reported once, and other groups are served', () => {
  let failing = false;
  const renderNode: NodeRenderer = (group, common, doc) => {
    if (failing && group === 'big') throw new RangeError('Invalid string length');
    return renderNodeTarget(group, common, doc);
  };
  const reports: [RenderFailure, boolean][] = [];
  const s = bigState(50, { renderNode, onRenderFailure: (f: RenderFailure, first: boolean) => reports.push([f, first]) });
  const good = s.snapshot().group('big')?.fragment;
  failing = true;
  // A new node is rendered with its chunk's next view: that build throws.
  s.apply({ type: 'put', key: nodeKey('big', 'zz'), value: node('zz') });
  s.apply({ type: 'put', key: nodeKey('small', 'b'), value: node('b') });
  const c = s.snapshot();
  assert.equal(c.group('big')?.fragment, good);
  assert.equal(c.group('small')?.size, 2);
  assert.doesNotThrow(() => JSON.parse(c.body));
  assert.deepEqual(reports.map(([f, first]) => [f.group, f.reason, f.servingLastGood, first]), [['big', 'too_large', true, true]]);
  assert.equal(s.renderFailures().get('big')?.reason, 'too_large');
  // Not retried until the group changes; the next failure is not a first one.
  s.snapshot();
  s.apply({ type: 'put', key: nodeKey('big', 'zy'), value: node('zy') });
  s.snapshot();
  assert.deepEqual(reports.map(([, first]) => first), [true, false]);
  failing = false;
  s.apply({ type: 'put', key: nodeKey('big', 'zx'), value: node('zx') });
  assert.equal(s.snapshot().group('big')?.size, 53);
  assert.equal(s.renderFailures().size, 0);
});

test('a group whose first rendering throws serves no nodes and is reported', () => {
  const renderNode: NodeRenderer = (group, common, doc) => {
    if (group === 'big') throw new Error('boom');
    return renderNodeTarget(group, common, doc);
  };
  const s = bigState(5, { renderNode });
  const c = s.snapshot();
  assert.equal(c.group('big')?.size, 0);
  assert.equal(c.group('small')?.size, 1);
  assert.deepEqual(s.renderFailures().get('big'), { group: 'big', reason: 'render_error', detail: 'boom', servingLastGood: false });
});
