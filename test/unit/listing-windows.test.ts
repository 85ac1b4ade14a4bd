// The prefix listing pages through windows of the range (range-windows.ts), because etcd 3.4 spends
// time on every key of a limited range. Against an in-memory range with etcd's semantics (limit,
// more, count of the whole window): every key comes exactly once and in order, and the keys etcd
// has to visit stay a small multiple of the keys listed instead of growing with their square.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { EtcdSource } from '../../src/mirror/etcd-source.js';

interface Fake {
  readonly client: Etcd3;
  /** Keys in the windows asked for, summed over every request (what etcd 3.4 walks). */
  visited(): number;
  requests(): number;
}

/** A KV whose range answers like etcd's for sorted, distinct `keys`. */
function fakeEtcd(keys: readonly (string | Buffer)[]): Fake {
  const sorted = keys.map((k) => Buffer.from(k)).sort((a, b) => Buffer.compare(a, b));
  const lowerBound = (key: Buffer): number => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (Buffer.compare(sorted[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let visited = 0;
  let requests = 0;
  const range = (req: { key: Buffer; range_end: Buffer; limit: number }): Promise<unknown> => {
    requests++;
    const from = lowerBound(req.key);
    const to = lowerBound(req.range_end);
    const count = Math.max(0, to - from);
    visited += count;
    const page = sorted.slice(from, from + Math.min(count, req.limit));
    return Promise.resolve({
      header: { revision: '7' },
      kvs: page.map((key) => ({ key, value: Buffer.from('{}'), mod_revision: '7' })),
      more: count > page.length,
      count: String(count),
    });
  };
  return { client: { kv: { range } } as unknown as Etcd3, visited: () => visited, requests: () => requests };
}

/** Keys shaped like a registry's: group documents, their nodes, and keys just outside the prefix. */
function registryKeys(groups: number, perGroup: number): string[] {
  const keys = ['/servicer/x', '/services', '/services0', '/servicesX/y'];
  for (let g = 0; g < groups; g++) {
    const name = `svc${String(g).padStart(4, '0')}`;
    keys.push(`/services/${name}`);
    for (let n = 0; n < perGroup; n++) keys.push(`/services/${name}/nodes/n${n}_node_exporter`);
  }
  return keys;
}

async function listAll(fake: Fake): Promise<string[]> {
  const listed: string[] = [];
  await new EtcdSource(fake.client, '/services').list((kvs) => listed.push(...kvs.map((kv) => kv.key)), () => assert.fail('no restart'));
  return listed;
}

test('a listing in windows returns every key of the prefix once, in order, and nothing outside it', async () => {
  for (const [groups, perGroup] of [[0, 0], [1, 0], [1, 1], [3, 2500], [700, 3], [150, 100]] as const) {
    const keys = registryKeys(groups, perGroup);
    const expected = keys.filter((k) => k.startsWith('/services/')).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual(await listAll(fakeEtcd(keys)), expected, `${groups} groups of ${perGroup}`);
  }
});

test('odd keys: 0xff bytes, keys that are prefixes of others, one huge flat group', async () => {
  const odd = ['/services/\xff\xff', '/services/\xff', '/services/a', '/services/a/', '/services/a/\x00', '/services/ab'];
  const flat = Array.from({ length: 5000 }, (_, i) => `/services/big/nodes/${i}`);
  for (const keys of [odd, flat, [...odd, ...flat]]) {
    const expected = [...new Set(keys)].map((k) => Buffer.from(k)).sort((a, b) => Buffer.compare(a, b)).map((b) => b.toString());
    assert.deepEqual(await listAll(fakeEtcd(keys)), expected);
  }
});

test('the keys etcd walks grow with the registry, not with its square', async (t) => {
  const fake = fakeEtcd(registryKeys(1000, 100)); // 101,000 keys
  const listed = await listAll(fake);
  assert.equal(listed.length, 101_000);
  // Open-ended pages of 1,000 would make etcd walk n²/2,000 ≈ 5.1 million keys (50 per key listed);
  // windows that widened straight back after every gap between siblings walked 8.9 per key.
  const perKey = fake.visited() / listed.length;
  t.diagnostic(`etcd walked ${fake.visited()} keys (${perKey.toFixed(1)} per key listed) in ${fake.requests()} requests`);
  assert.ok(perKey < 4, `etcd walked ${fake.visited()} keys (${perKey.toFixed(1)} per key listed) in ${fake.requests()} requests`);
  // Not bought with tiny pages: about one request per 1,000 keys, as without windows.
  assert.ok(fake.requests() < 400, `${fake.requests()} requests`);
});

test('random binary keys: every key once, and etcd walks a bounded multiple of them', async (t) => {
  let seed = 12345;
  const byte = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 24;
  };
  const drawn = Array.from({ length: 30_000 }, () => Buffer.concat([Buffer.from('/services/'), Buffer.from(Array.from({ length: 1 + (byte() % 8) }, byte))]));
  const keys = [...new Set(drawn.map((k) => k.toString('hex')))].map((hex) => Buffer.from(hex, 'hex'));
  const distinct = keys.length;
  const fake = fakeEtcd(keys);
  const listed = await listAll(fake);
  assert.equal(listed.length, distinct);
  assert.equal(new Set(listed).size, distinct, 'each key once');
  t.diagnostic(`etcd walked ${(fake.visited() / listed.length).toFixed(1)} keys per key listed`);
  assert.ok(fake.visited() / listed.length < 11, `etcd walked ${(fake.visited() / listed.length).toFixed(1)} keys per key listed`);
});

test('the next page is asked for before this one is applied, and no page is asked for past the end', async () => {
  const fake = fakeEtcd(registryKeys(20, 300));
  const order: string[] = [];
  const range = fake.client.kv.range.bind(fake.client.kv);
  (fake.client.kv as unknown as { range: typeof range }).range = (req) => {
    order.push('request');
    return range(req);
  };
  let pages = 0;
  await new EtcdSource(fake.client, '/services').list(() => {
    pages++;
    order.push('apply');
  }, () => assert.fail('no restart'));
  assert.ok(pages > 5, `${pages} pages`);
  assert.equal(order.filter((o) => o === 'request').length, pages, 'one request per page applied');
  // request, request, apply, request, apply, ..., apply, apply: etcd reads page k+1 while page k is applied.
  assert.deepEqual(order.slice(0, 3), ['request', 'request', 'apply']);
  assert.deepEqual(order.slice(-2), ['apply', 'apply']);
  for (let i = 2; i < order.length - 2; i += 2) assert.deepEqual(order.slice(i, i + 2), ['apply', 'request'], `at ${i}`);
});

test('a page that fails to apply ends the listing with its error; the page asked for ahead is dropped quietly', async () => {
  const fake = fakeEtcd(registryKeys(20, 300));
  const range = fake.client.kv.range.bind(fake.client.kv);
  let requests = 0;
  (fake.client.kv as unknown as { range: typeof range }).range = (req) => (++requests === 2 ? Promise.reject(new Error('etcd gone')) : range(req));
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await assert.rejects(new EtcdSource(fake.client, '/services').list(() => {
      throw new Error('apply failed');
    }, () => assert.fail('no restart')), /apply failed/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
    assert.equal(requests, 2);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
