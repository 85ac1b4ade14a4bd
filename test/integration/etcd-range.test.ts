// The listing decodes etcd's range responses itself (src/etcd/range.ts). Against a real etcd it must
// read what etcd3's own decoding reads, key for key, and it must be the path a listing takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEtcdClient } from '../../src/etcd/client.js';
import { EtcdSource } from '../../src/mirror/etcd-source.js';
import type { KeyValue } from '../../src/mirror/source.js';
import { decodeKey } from '../../src/registry/raw-key.js';
import { useTestEtcd } from '../helpers/etcd.js';

test('a listing reads every key, value and revision as etcd3 does, without etcd3 decoding a page', async (t) => {
  const etcd = await useTestEtcd(t);
  const writer = etcd.client();
  const keys: Buffer[] = [];
  for (let i = 0; i < 2500; i++) keys.push(Buffer.from(`/services/g${i % 7}/nodes/n${String(i).padStart(5, '0')}_node_exporter`));
  keys.push(Buffer.from([...Buffer.from('/services/bin/'), 0xff, 0x00, 0xfe]), Buffer.from('/services/empty'), Buffer.from('/services/big'), Buffer.from('/services/ünï'));
  for (const [i, key] of keys.entries()) {
    const value = key.toString().endsWith('empty') ? '' : key.toString().endsWith('big') ? 'x'.repeat(1024 * 1024) : `{"n":${i},"text":"żółw ✓"}`;
    await writer.put(key).value(value).exec();
  }
  // Written again: their create and mod revisions differ, and a version above 1.
  for (const key of keys.filter((_, i) => i % 10 === 0)) await writer.put(key).value('{"again":true}').exec();
  await writer.put('/servicesX/outside').value('no');

  const expected = (await writer.getAll().prefix('/services/').exec()).kvs
    .map((kv) => ({ key: decodeKey(kv.key), value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) }));
  assert.equal(expected.length, keys.length);

  const reader = createEtcdClient({ endpoints: [etcd.endpoint] });
  t.after(() => reader.close());
  let etcd3Ranges = 0;
  const range = reader.kv.range.bind(reader.kv);
  reader.kv.range = (req) => {
    etcd3Ranges++;
    return range(req);
  };
  const listed: KeyValue[] = [];
  let pages = 0;
  const revision = await new EtcdSource(reader, '/services', 300).list((kvs) => {
    pages++;
    listed.push(...kvs);
  }, () => assert.fail('no restart'));

  assert.ok(pages > 8, `${pages} pages`);
  assert.equal(etcd3Ranges, 0, 'pages were decoded by etcd3');
  assert.deepEqual(listed, expected);
  assert.equal(revision, Math.max(...expected.map((kv) => kv.modRevision)) + 1);
});
