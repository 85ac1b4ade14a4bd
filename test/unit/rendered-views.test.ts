// Rendered views: a full body over the cache's bound is written from the groups' chunks, byte for
// byte what a held body would be, with the same ETag, length and gzip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { RegistryState, renderArray } from '../../src/registry/index.js';
import { joinToBuffer, measureFragments, PiecePool, writeArray } from '../../src/http/array-body.js';
import { ViewCache } from '../../src/http/rendered.js';

const P = '/services';
const ALL = { groups: [], exporterTypes: [] };

function registry(n: number): RegistryState {
  const s = new RegistryState(P);
  for (let i = 0; i < n; i++) {
    const doc = { id: `n${i}`, exporter_type: 'node_exporter', port: 9100, address: `127.0.${i >> 8}.${i & 255}:9100`, labels: { note: `\u00e9t\u00e9 ${i}` } };
    s.apply({ type: 'put', key: `${P}/g${i % 7}/nodes/n${i}_node_exporter`, value: JSON.stringify(doc) });
  }
  return s;
}

/**
 * A sink that takes each chunk's bytes only when it calls back, later, as a socket does: a writer
 * that refilled a buffer before its callback would show here as corrupted output.
 */
function lateSink(): { sink: Writable; taken: Buffer[] } {
  const taken: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      setImmediate(() => {
        taken.push(Buffer.from(chunk));
        cb();
      });
    },
  });
  return { sink, taken };
}

test('written through reused buffers of any size, the array is the fragments\' JSON array, empty ones skipped', async () => {
  const fragment = fc.oneof(fc.constant(''), fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => JSON.stringify(s)));
  await fc.assert(fc.asyncProperty(fc.array(fragment, { maxLength: 30 }), fc.integer({ min: 1, max: 200 }), async (fragments, size) => {
    const f = measureFragments(fragments);
    const { sink, taken } = lateSink();
    assert.equal(await writeArray(sink, f, new PiecePool(size)), true);
    await new Promise((resolve) => sink.end(resolve));
    const whole = Buffer.concat(taken);
    assert.equal(whole.toString('utf8'), renderArray(fragments));
    assert.equal(whole.length, f.byteLength);
    assert.deepEqual(whole, joinToBuffer(fragments));
    // No piece overruns its buffer unless it is one part larger than the buffer, written alone; none is empty.
    taken.forEach((p) => assert.ok(p.length <= size || f.parts.includes(p.toString('utf8')), `a piece of ${p.length} > ${size} bytes`));
    assert.ok(taken.every((p) => p.length > 0), 'an empty write');
  }), { numRuns: 2000, seed: 1207 });
});

test('a sink that closes mid-way stops the writing', async () => {
  const f = measureFragments(Array.from({ length: 100 }, (_, i) => JSON.stringify(`part ${i}`)));
  const { sink, taken } = lateSink();
  setImmediate(() => sink.destroy());
  assert.equal(await writeArray(sink, f, new PiecePool(16)), false);
  assert.ok(Buffer.concat(taken).length < f.byteLength);
});

test('pieces are shared by bodies written one after another and at once, and reused only once the sink took them', async () => {
  const bodies = [0, 1, 2].map((b) => Array.from({ length: 60 }, (_, i) => JSON.stringify(`body ${b} part ${i} ${'x'.repeat(i % 13)}`)));
  const pool = new PiecePool(40);
  /** Writes a body; resolves once writeArray has, with what the sink will have taken in the end. */
  const write = async (fragments: readonly string[]): Promise<{ out: Promise<string> }> => {
    const { sink, taken } = lateSink();
    assert.equal(await writeArray(sink, measureFragments(fragments), pool), true);
    return { out: new Promise((resolve) => sink.end(() => resolve(Buffer.concat(taken).toString('utf8')))) };
  };
  const writeAll = async (fragments: readonly string[]): Promise<string> => (await write(fragments)).out;
  // One after another, each started as soon as writeArray resolved for the one before: the last
  // writes of that one are still pending in its late sink, so pieces reused then would corrupt them.
  const ends: Promise<string>[] = [];
  for (const fragments of bodies) ends.push((await write(fragments)).out);
  (await Promise.all(ends)).forEach((out, i) => assert.equal(out, renderArray(bodies[i] ?? [])));
  const afterFirst = pool.allocated;
  assert.ok(afterFirst <= 8, `${afterFirst} pieces for three bodies one after another`);
  // At once: each body has pieces of its own.
  const outputs = await Promise.all(bodies.map(writeAll));
  outputs.forEach((out, i) => assert.equal(out, renderArray(bodies[i] ?? [])));
  await new Promise((resolve) => setImmediate(resolve));
  const settled = pool.allocated;
  for (const fragments of bodies) assert.equal(await writeAll(fragments), renderArray(fragments));
  assert.equal(pool.allocated, settled, 'bodies written after the pieces came back allocate none');
});

test('a full body over the cache bound is streamed: same bytes, length, ETag and gzip as a held one', async () => {
  const content = registry(500).snapshot();
  const heldView = new ViewCache(1 << 24).view(content, ALL);
  const streamed = new ViewCache(1024).view(content, ALL);
  assert.equal(heldView.streamed, false);
  assert.equal(streamed.streamed, true, 'a body larger than the bound is not held');
  assert.ok(streamed.byteLength > 1024);
  assert.equal(streamed.etag, heldView.etag, 'the ETag is the content\'s, however the body is kept');
  assert.equal(streamed.byteLength, heldView.byteLength);
  assert.deepEqual(streamed.body, heldView.body);
  assert.equal(streamed.body.toString('utf8'), content.body);
  const [gzHeld, gzStreamed] = await Promise.all([heldView.gzipped(), streamed.gzipped()]);
  assert.deepEqual(gunzipSync(gzStreamed), heldView.body);
  assert.deepEqual(gzStreamed, gzHeld, 'replicas agree on the gzip bytes behind one ETag');
});

test('a streamed full view is made once per state, its copies are not kept, and a change moves it', () => {
  const s = registry(100);
  const cache = new ViewCache(512);
  const v1 = cache.view(s.snapshot(), ALL);
  assert.equal(cache.view(s.snapshot(), ALL), v1);
  assert.equal(cache.cached(s.snapshot(), ALL), v1);
  assert.notEqual(v1.body, v1.body, 'each copy is made for its caller and dropped');
  s.apply({ type: 'delete', key: `${P}/g0/nodes/n0_node_exporter` });
  const v2 = cache.view(s.snapshot(), ALL);
  assert.notEqual(v2.etag, v1.etag);
  assert.equal((JSON.parse(v2.body.toString()) as unknown[]).length, 99);
  assert.equal((JSON.parse(v1.body.toString()) as unknown[]).length, 100, 'the old view still writes the old state');
});

test('an empty registry streams "[]"', () => {
  const view = new ViewCache(1).view(new RegistryState(P).snapshot(), ALL);
  assert.equal(view.streamed, true);
  assert.equal(view.body.toString(), '[]');
  assert.equal(view.byteLength, 2);
});
