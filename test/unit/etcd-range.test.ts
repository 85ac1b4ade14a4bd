// The listing reads etcd's RangeResponse straight off the wire (src/etcd/range.ts). Messages are
// built here field by field as protobuf encodes them, with the fields the listing skips, in orders
// protobuf allows, and cut short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientClosedError } from 'etcd3';
import { createEtcdClient } from '../../src/etcd/client.js';
import { decodeRangeResponse, RangeDecodeError } from '../../src/etcd/range.js';
import { EtcdSource } from '../../src/mirror/etcd-source.js';
import { bytes, fixed32, fixed64, num, tag } from '../helpers/protobuf.js';

// etcd's ResponseHeader: cluster_id 1, member_id 2, revision 3, raft_term 4.
const header = (revision: number | bigint): Buffer => bytes(1, Buffer.concat([num(1, 14841639068965178418n), num(2, 10276657743932975437n), num(3, revision), num(4, 2)]));
// mvccpb.KeyValue: key 1, create_revision 2, mod_revision 3, version 4, value 5, lease 6.
const kv = (key: Buffer | string, value: Buffer | string, mod: number | bigint): Buffer =>
  bytes(2, Buffer.concat([bytes(1, key), num(2, 5), num(3, mod), num(4, 3), bytes(5, value), num(6, 7587892345678901234n)]));

test('a response as etcd writes it: header, keys with all their fields, more and count', () => {
  const msg = Buffer.concat([header(4_294_967_396), kv('/services/a', '{"id":"a"}', 4_294_967_300), kv('/services/b', '', 9), num(3, 1), num(4, 1234)]);
  const page = decodeRangeResponse(msg);
  assert.equal(page.revision, 4_294_967_396);
  assert.equal(page.more, true);
  assert.equal(page.count, 1234);
  assert.deepEqual(page.kvs.map((k) => [k.key.toString(), k.value.toString(), k.modRevision]), [
    ['/services/a', '{"id":"a"}', 4_294_967_300],
    ['/services/b', '', 9],
  ]);
});

test('defaults when fields are absent, as protobuf omits zero values: empty response, key without value', () => {
  assert.deepEqual(decodeRangeResponse(Buffer.alloc(0)), { revision: 0, kvs: [], more: false, count: 0 });
  const page = decodeRangeResponse(Buffer.concat([header(3), bytes(2, bytes(1, '/services/x'))]));
  assert.equal(page.kvs.length, 1);
  const [only] = page.kvs;
  assert.ok(only);
  assert.equal(only.value.length, 0);
  assert.equal(only.modRevision, 0);
});

test('unknown fields of every wire type are skipped, wherever they come', () => {
  const oddKv = bytes(2, Buffer.concat([fixed32(9), bytes(5, 'v'), fixed64(8), num(3, 77), bytes(15, 'new'), bytes(1, Buffer.from([0xff, 0x00, 0x2f]))]));
  const msg = Buffer.concat([num(4, 1), fixed64(20), oddKv, bytes(21, 'x'), header(88), fixed32(22), num(23, 5)]);
  const page = decodeRangeResponse(msg);
  assert.equal(page.revision, 88);
  assert.equal(page.count, 1);
  assert.deepEqual(page.kvs.map((k) => [k.key, k.value.toString(), k.modRevision]), [[Buffer.from([0xff, 0x00, 0x2f]), 'v', 77]]);
});

test('keys and values are views of the message, not copies', () => {
  const msg = Buffer.concat([header(1), kv('/services/k', 'value', 1)]);
  const page = decodeRangeResponse(msg);
  assert.equal(page.kvs[0]?.value.buffer, msg.buffer);
});

test('a message cut short or malformed is an error that says where, never a page with keys missing', () => {
  const whole = Buffer.concat([header(5), kv('/services/a', 'x'.repeat(300), 5), num(4, 1)]);
  for (let cut = 1; cut < whole.length; cut++) {
    const part = whole.subarray(0, cut);
    let page;
    try {
      page = decodeRangeResponse(part);
    } catch (err) {
      assert.ok(err instanceof RangeDecodeError, String(err));
      assert.match(err.message, /does not decode at byte \d+/);
      continue;
    }
    // Cut exactly between two fields: a shorter valid message, never one with a truncated key.
    assert.ok(page.kvs.every((k) => k.value.length === 300), `cut at ${cut}`);
  }
  assert.throws(() => decodeRangeResponse(Buffer.concat([tag(7, 3)])), /unsupported wire type 3/);
  assert.throws(() => decodeRangeResponse(Buffer.from([0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), /varint longer than 10 bytes/);
});

test('a reader made from a closed client fails on use, with etcd3\'s own error, not when it is made', async () => {
  const client = createEtcdClient({ endpoints: ['http://127.0.0.1:1'] });
  client.close();
  const source = new EtcdSource(client, '/services');
  await assert.rejects(source.list(() => assert.fail('no page'), () => assert.fail('no restart')), ClientClosedError);
});
