// Sharding: Prometheus's hashmod, the shard parameters, and shard views over rendered groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryState } from '../../src/registry/index.js';
import { ViewCache } from '../../src/http/rendered.js';
import { groupShards, hashmod, parseShardParams, ShardMemo, ShardParamError, sourceValue } from '../../src/shard/index.js';

test("Prometheus's own hashmod vectors (model/relabel tests)", () => {
  assert.equal(hashmod('baz', 1000), 976);
  assert.equal(hashmod('foo\nbar', 1000), 734);
});

// [value, modulus, result], computed with Go: binary.BigEndian.Uint64(md5.Sum([]byte(v))[8:]) % m,
// the expression Prometheus's relabel.go evaluates.
const GO_VECTORS: [string, number, number][] = [
  ["", 1, 0],
  ["", 2, 0],
  ["", 3, 1],
  ["", 7, 1],
  ["", 20, 18],
  ["", 1000, 958],
  ["", 1048576, 541310],
  ["baz", 1, 0],
  ["baz", 2, 0],
  ["baz", 3, 2],
  ["baz", 7, 5],
  ["baz", 20, 16],
  ["baz", 1000, 976],
  ["baz", 1048576, 1011336],
  ["foo\nbar", 1, 0],
  ["foo\nbar", 2, 0],
  ["foo\nbar", 3, 1],
  ["foo\nbar", 7, 6],
  ["foo\nbar", 20, 14],
  ["foo\nbar", 1000, 734],
  ["foo\nbar", 1048576, 1042406],
  ["127.0.0.1:9100", 1, 0],
  ["127.0.0.1:9100", 2, 0],
  ["127.0.0.1:9100", 3, 1],
  ["127.0.0.1:9100", 7, 5],
  ["127.0.0.1:9100", 20, 10],
  ["127.0.0.1:9100", 1000, 150],
  ["127.0.0.1:9100", 1048576, 367070],
  ["127.0.0.2:9100", 1, 0],
  ["127.0.0.2:9100", 2, 0],
  ["127.0.0.2:9100", 3, 2],
  ["127.0.0.2:9100", 7, 0],
  ["127.0.0.2:9100", 20, 12],
  ["127.0.0.2:9100", 1000, 192],
  ["127.0.0.2:9100", 1048576, 697584],
  ["10.0.0.1:8080", 1, 0],
  ["10.0.0.1:8080", 2, 0],
  ["10.0.0.1:8080", 3, 0],
  ["10.0.0.1:8080", 7, 3],
  ["10.0.0.1:8080", 20, 0],
  ["10.0.0.1:8080", 1000, 260],
  ["10.0.0.1:8080", 1048576, 563788],
  ["web-1:9100", 1, 0],
  ["web-1:9100", 2, 1],
  ["web-1:9100", 3, 0],
  ["web-1:9100", 7, 4],
  ["web-1:9100", 20, 3],
  ["web-1:9100", 1000, 203],
  ["web-1:9100", 1048576, 446043],
  ["[::1]:9100", 1, 0],
  ["[::1]:9100", 2, 0],
  ["[::1]:9100", 3, 0],
  ["[::1]:9100", 7, 2],
  ["[::1]:9100", 20, 10],
  ["[::1]:9100", 1000, 630],
  ["[::1]:9100", 1048576, 480950],
  ["db;primary", 1, 0],
  ["db;primary", 2, 1],
  ["db;primary", 3, 2],
  ["db;primary", 7, 4],
  ["db;primary", 20, 3],
  ["db;primary", 1000, 863],
  ["db;primary", 1048576, 778983],
  ["ünïcödé:1", 1, 0],
  ["ünïcödé:1", 2, 1],
  ["ünïcödé:1", 3, 1],
  ["ünïcödé:1", 7, 1],
  ["ünïcödé:1", 20, 13],
  ["ünïcödé:1", 1000, 593],
  ["ünïcödé:1", 1048576, 481537],
  ["a;b;", 1, 0],
  ["a;b;", 2, 0],
  ["a;b;", 3, 1],
  ["a;b;", 7, 3],
  ["a;b;", 20, 18],
  ["a;b;", 1000, 738],
  ["a;b;", 1048576, 240194],
  [";", 1, 0],
  [";", 2, 1],
  [";", 3, 0],
  [";", 7, 4],
  [";", 20, 13],
  [";", 1000, 393],
  [";", 1048576, 326641],
];

test('hashmod agrees with Go on addresses, separators, unicode and large moduli', () => {
  for (const [value, modulus, expected] of GO_VECTORS) assert.equal(hashmod(value, modulus), expected, `${JSON.stringify(value)} mod ${modulus}`);
});

test('shard parameters: defaults, validation with messages that say how to fix it', () => {
  const p = (shard: string[], shards: string[], shardBy: string[] = []) => parseShardParams({ shard, shards, shardBy });
  assert.equal(p([], []), undefined);
  assert.deepEqual(p(['2'], ['3']), { index: 2, count: 3, by: ['__address__'] });
  assert.deepEqual(p(['0'], ['1'], ['__meta_etcd_node_id,region', 'zone']), { index: 0, count: 1, by: ['__meta_etcd_node_id', 'region', 'zone'] });
  const bad: [string[], string[], string[], RegExp][] = [
    [['0'], [], [], /^shards: required/],
    [[], ['3'], [], /^shard: required/],
    [[], [], ['region'], /^shards: required/],
    [['3'], ['3'], [], /^shard: must be below shards \(3\), got 3/],
    [['0'], ['0'], [], /^shards: must be at least 1/],
    [['-1'], ['3'], [], /^shard: expected a decimal integer/],
    [['1.5'], ['3'], [], /^shard: expected a decimal integer/],
    [['0'], ['2000000'], [], /^shards: must be at most 1048576/],
    [['0', '1'], ['3'], [], /^shard: give it once/],
    [['0'], ['3'], ['9bad'], /^shard_by: "9bad" is not a label name/],
    [['0'], ['3'], ['__tmp_hash'], /^shard_by: "__tmp_hash" exists only inside relabelling/],
    [['0'], ['3'], ['job'], /comes from the scrape config/],
    [['0'], ['3'], ['__param_target'], /comes from the scrape config/],
  ];
  for (const [shard, shards, by, re] of bad) {
    assert.throws(() => p(shard, shards, by), (err: unknown) => err instanceof ShardParamError && re.test(err.message), JSON.stringify([shard, shards, by]));
  }
});

const P = '/services';
function registry(n: number): RegistryState {
  const s = new RegistryState(P);
  for (let i = 0; i < n; i++) {
    const group = `g${i % 3}`;
    const doc = { id: `n${i}`, exporter_type: i % 4 === 0 ? 'nginx_exporter' : 'node_exporter', port: 9100, address: `127.0.${i >> 8}.${i & 255}:9100`, labels: { region: `r${i % 5}` } };
    s.apply({ type: 'put', key: `${P}/${group}/nodes/n${i}_${doc.exporter_type}`, value: JSON.stringify(doc) });
  }
  return s;
}

interface Tg { targets: string[]; labels: Record<string, string> }

test('shards partition every filtered view: disjoint, union equal to the view, each as hashmod says', () => {
  const content = registry(200).snapshot();
  const cache = new ViewCache(1 << 24);
  for (const filter of [{ groups: [], exporterTypes: [] }, { groups: ['g1', 'g2'], exporterTypes: [] }, { groups: [], exporterTypes: ['node_exporter'] }]) {
    const all = JSON.parse(cache.view(content, filter).body.toString()) as Tg[];
    for (const [count, by] of [[3, ['__address__']], [7, ['region', '__meta_etcd_node_id']]] as const) {
      const seen: Tg[] = [];
      for (let index = 0; index < count; index++) {
        const shard = JSON.parse(cache.view(content, { ...filter, shard: { index, count, by } }).body.toString()) as Tg[];
        for (const tg of shard) {
          const source = by.map((l) => (l === '__address__' ? tg.targets[0] : tg.labels[l] ?? '')).join(';');
          assert.equal(hashmod(source, count), index);
        }
        seen.push(...shard);
      }
      const key = (tg: Tg) => `${tg.labels['__meta_etcd_group']}/${tg.targets[0]}`;
      assert.equal(new Set(seen.map(key)).size, seen.length, 'pairwise disjoint');
      assert.deepEqual(seen.map(key).sort(), all.map(key).sort(), 'union is the whole view');
    }
  }
});

test('a shard view is cached per state, its ETag content-derived, and follows changes', () => {
  const s = registry(30);
  const cache = new ViewCache(1 << 24);
  const spec = { groups: [], exporterTypes: [], shard: { index: 1, count: 2, by: ['__address__'] } };
  const v1 = cache.view(s.snapshot(), spec);
  assert.equal(cache.view(s.snapshot(), spec), v1, 'the same rendered view until the state changes');
  assert.equal(new ViewCache(1 << 24).view(registry(30).snapshot(), spec).etag, v1.etag, 'another replica agrees');
  assert.notEqual(cache.view(s.snapshot(), { ...spec, shard: { ...spec.shard, index: 0 } }).etag, v1.etag);
  // Add nodes until one lands on shard 1: the view and its ETag move.
  for (let i = 100; ; i++) {
    const address = `127.1.0.${i}:9100`;
    s.apply({ type: 'put', key: `${P}/g0/nodes/x${i}_node_exporter`, value: JSON.stringify({ id: `x${i}`, exporter_type: 'node_exporter', port: 9100, address }) });
    if (hashmod(address, 2) === 1) break;
  }
  const v2 = cache.view(s.snapshot(), spec);
  assert.notEqual(v2.etag, v1.etag);
  assert.equal((JSON.parse(v2.body.toString()) as Tg[]).length, (JSON.parse(v1.body.toString()) as Tg[]).length + 1);
});

test('source values: __address__ read from the rendered bytes equals the parsed one; missing labels are ""', () => {
  const g = registry(10).snapshot().group('g0')!;
  for (const n of g.nodes) {
    const tg = JSON.parse(n.json) as Tg;
    assert.equal(sourceValue(n, ['__address__']), tg.targets[0]);
    assert.equal(sourceValue(n, ['__address__', 'nope', 'region']), `${tg.targets[0]};;${tg.labels['region']}`);
  }
  assert.deepEqual(groupShards(g, ['__address__'], 1), g.nodes.map(() => 0));
});

test('hashes kept from one rendering to the next follow a node whose address changed under the same key', () => {
  const s = registry(60);
  const cache = new ViewCache(1 << 24);
  const view = (index: number) => JSON.parse(cache.view(s.snapshot(), { groups: ['g0'], exporterTypes: [], shard: { index, count: 4, by: ['__address__'] } }).body.toString()) as Tg[];
  const before = [0, 1, 2, 3].flatMap(view);
  for (let i = 0; i < 60; i += 3) {
    const doc = { id: `n${i}`, exporter_type: i % 4 === 0 ? 'nginx_exporter' : 'node_exporter', port: 9100, address: `127.9.${i}.1:9100` };
    s.apply({ type: 'put', key: `${P}/g0/nodes/n${i}_${doc.exporter_type}`, value: JSON.stringify(doc) });
  }
  const after: Tg[] = [];
  for (let index = 0; index < 4; index++) {
    for (const tg of view(index)) {
      assert.equal(hashmod(tg.targets[0]!, 4), index, tg.targets[0]);
      after.push(tg);
    }
  }
  assert.equal(after.length, before.length);
  assert.ok(after.every((tg) => tg.targets[0]!.startsWith('127.9.')), 'every g0 node moved to its new address');
});

test('distinct shard_by values keep answering correctly while the memo stays bounded', () => {
  const content = registry(30).snapshot();
  const memo = new ShardMemo();
  const g = content.group('g1')!;
  for (let k = 0; k < 20; k++) {
    const by = k % 2 === 0 ? ['region'] : ['__meta_etcd_node_id', 'region', `x${k}`];
    const shards = groupShards(g, by, 3, memo);
    g.nodes.forEach((n, i) => assert.equal(shards[i], hashmod(sourceValue(n, by), 3)));
  }
  assert.ok((memo as unknown as { groups: Map<string, { byLabels: Map<string, unknown> }> }).groups.get('g1')!.byLabels.size <= 4);
});
