// ?shard=&shards=[&shard_by=] over HTTP against a real etcd: both paths agree, errors are 400s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashmod } from '../../src/shard/index.js';
import { useTestEtcd } from '../helpers/etcd.js';
import type { Etcd3 } from 'etcd3';
import { httpGet, targets, useTestServer } from '../helpers/server.js';

/** 40 nodes in two groups, two exporter types, a region label on some. */
async function putNodes(client: Etcd3): Promise<void> {
  await client.put('/services/web').value(JSON.stringify({ name: 'web', spec: { username: '', password: '', common_labels: { env: 'prod' } } }));
  for (let i = 0; i < 40; i++) {
    const group = i % 2 === 0 ? 'web' : 'db';
    const type = i % 3 === 0 ? 'nginx_exporter' : 'node_exporter';
    const doc = { id: `n${i}`, exporter_type: type, port: 9100 + (i % 3), address: `127.0.0.${i + 1}:${9100 + (i % 3)}`, labels: i % 4 === 0 ? {} : { region: `r${i % 5}` } };
    await client.put(`/services/${group}/nodes/n${i}_${type}`).value(JSON.stringify(doc));
  }
}

test('shards of every route partition it exactly as hashmod of __address__; fast path and Express agree', async (t) => {
  const etcd = await useTestEtcd(t);
  await putNodes(etcd.client());
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  for (const base of ['/v1/targets', '/v1/targets/web', '/v1/targets?exporter_type=node_exporter', '/v1/targets?group=web&group=db']) {
    const all = await targets(server, base);
    const sep = base.includes('?') ? '&' : '?';
    const union: string[] = [];
    for (let i = 0; i < 3; i++) {
      const shard = await targets(server, `${base}${sep}shard=${i}&shards=3`);
      for (const tg of shard.groups) assert.equal(hashmod(tg.targets[0]!, 3), i, `${base} shard ${i}: ${tg.targets[0]}`);
      union.push(...shard.groups.map((g) => JSON.stringify(g)));
      // '%5F' is '_' escaped, so this one goes through Express: same bytes, same ETag.
      const fast = await httpGet(`${server.url}${base}${sep}shard=${i}&shards=3&shard_by=__address__`);
      const viaExpress = await httpGet(`${server.url}${base}${sep}shard=${i}&shards=3&shard_by=%5F%5Faddress%5F%5F`);
      assert.equal(fast.status, 200);
      assert.deepEqual([viaExpress.status, viaExpress.text, viaExpress.headers['etag']], [200, fast.text, fast.headers['etag']]);
      assert.equal(fast.headers['etag'], shard.etag, 'shard_by=__address__ is the default');
      assert.equal((await httpGet(`${server.url}${base}${sep}shard=${i}&shards=3`, { 'if-none-match': shard.etag })).status, 304);
    }
    assert.deepEqual(union.sort(), all.groups.map((g) => JSON.stringify(g)).sort(), `${base}: union of the shards is the view, no target twice`);
  }
  const byRegion = await targets(server, '/v1/targets?shard=0&shards=2&shard_by=region,__meta_etcd_node_id');
  for (const tg of byRegion.groups) assert.equal(hashmod(`${tg.labels['region'] ?? ''};${tg.labels['__meta_etcd_node_id']}`, 2), 0);
});

test('bad shard parameters get a 400 with a message naming the parameter', async (t) => {
  const etcd = await useTestEtcd(t);
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  for (const [query, message] of [
    ['shard=1', /^shards: required/], ['shards=3', /^shard: required/], ['shard=3&shards=3', /^shard: must be below shards \(3\)/],
    ['shard=a&shards=3', /^shard: expected a decimal integer/], ['shard=0&shards=3&shard_by=__tmp_hash', /^shard_by: "__tmp_hash" exists only inside relabelling/],
    ['shard=0&shard=1&shards=3', /^shard: give it once/], ['shard=0&shards=3&shard_by=job', /comes from the scrape config/],
  ] as const) {
    for (const path of ['/v1/targets', '/v1/targets/web']) {
      const res = await httpGet(`${server.url}${path}?${query}`);
      assert.equal(res.status, 400, `${path}?${query}`);
      assert.match((JSON.parse(res.text) as { error: string }).error, message, `${path}?${query}`);
    }
  }
});
