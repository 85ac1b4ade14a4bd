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

test('keys added in order: each chunk is rendered once, when its last key arrives; build renders only the open one', () => {
  const keys = Array.from({ length: 500 }, (_, i) => `n${String(i).padStart(4, '0')}`);
  const rendered: string[] = [];
  const render = (ks: readonly string[]): string => {
    rendered.push(ks.join(','));
    return ks.join(',');
  };
  const index = new ChunkIndex<string>();
  for (const k of keys) {
    index.add(k);
    index.buildEndedBy(k, render);
    index.buildEndedBy(k, render); // already rendered: not again
  }
  const chunks = expectedChunks(keys).map((c) => c.join(','));
  assert.ok(chunks.length > 2 && !endsChunk(keys[keys.length - 1]!), 'the fixture has closed chunks and an open last one');
  assert.deepEqual(rendered, chunks.slice(0, -1));
  assert.deepEqual(index.build(render), chunks);
  assert.deepEqual(rendered, chunks, 'build rendered only the open chunk');
});

test('buildEndedBy leaves a chunk alone unless the key ends it, and a throwing render to build', () => {
  const keys = Array.from({ length: 200 }, (_, i) => `n${String(i).padStart(4, '0')}`);
  const ender = keys.find((k) => endsChunk(k))!;
  const index = new ChunkIndex<string>();
  for (const k of keys) index.add(k);
  let calls = 0;
  index.buildEndedBy(keys.find((k) => !endsChunk(k))!, () => String(++calls));
  assert.equal(calls, 0, 'a key that ends no chunk renders nothing');
  assert.throws(() => index.buildEndedBy(ender, () => { throw new Error('boom'); }), /boom/);
  const built = index.build((ks) => ks.join(','));
  assert.deepEqual(built, expectedChunks(keys).map((c) => c.join(',')), 'the failed chunk is rendered by build');
});

const groupDoc = (labels: Record<string, string>): string => JSON.stringify({ name: 'big', spec: { username: '', password: '', common_labels: labels } });

test('renderPending renders what the next snapshot would, so the snapshot renders nothing more', () => {
  let renders = 0;
  const renderNode: NodeRenderer = (group, common, doc) => {
    renders++;
    return renderNodeTarget(group, common, doc);
  };
  const s = bigState(300, { renderNode });
  s.snapshot();
  s.apply({ type: 'put', key: `${P}/big`, value: groupDoc({ team: 'a' }) }); // every node of big re-renders
  renders = 0;
  s.renderPending();
  assert.equal(renders, 300);
  const c = s.snapshot();
  assert.equal(renders, 300, 'the snapshot used the chunks rendered ahead');
  assert.equal(c.group('big')?.nodes[0]?.json.includes('"team":"a"'), true);
});

test('renderPending, called anywhere between changes, never changes what is served or what fails', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), n: fc.integer({ min: 0, max: 120 }), v: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('delete' as const), n: fc.integer({ min: 0, max: 120 }), v: fc.constant(0) }),
    fc.record({ kind: fc.constant('group' as const), n: fc.constant(0), v: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('pending' as const), n: fc.constant(0), v: fc.constant(0) }),
    fc.record({ kind: fc.constant('snapshot' as const), n: fc.constant(0), v: fc.constant(0) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
    // Version 3 of a node fails to render, as a bug or an oversized chunk would.
    const renderNode: NodeRenderer = (group, common, doc) => {
      if (doc.labels['version'] === '3') throw new Error('boom');
      return renderNodeTarget(group, common, doc);
    };
    const ahead = new RegistryState(P, 0, new Map(), undefined, undefined, { renderNode });
    const plain = new RegistryState(P, 0, new Map(), undefined, undefined, { renderNode });
    const same = (): void => {
      const [a, b] = [ahead.snapshot(), plain.snapshot()];
      assert.equal(a.body, b.body);
      assert.equal(a.etag, b.etag);
      assert.deepEqual([...ahead.renderFailures()], [...plain.renderFailures()]);
    };
    for (const { kind, n, v } of ops) {
      const key = nodeKey('big', `n${String(n).padStart(3, '0')}`);
      if (kind === 'pending') ahead.renderPending();
      else if (kind === 'snapshot') same();
      else {
        const change = kind === 'put' ? { type: 'put' as const, key, value: node(`n${n}`, String(v)) }
          : kind === 'delete' ? { type: 'delete' as const, key, value: '' }
          : { type: 'put' as const, key: `${P}/big`, value: groupDoc({ team: String(v) }) };
        ahead.apply(change);
        plain.apply(change);
      }
    }
    same();
  }), { numRuns: 200 });
});
