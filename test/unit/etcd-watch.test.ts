// The watch stream is decoded straight off the wire (src/etcd/watch.ts) into what etcd3 itself makes
// of each message, because etcd3's watch manager and watchers run on top of it. Every message here is
// decoded both ways, by ours and by etcd3's own deserializer (taken from an unconnected client), and
// the two must be equal, field for field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3, IWatchResponse } from 'etcd3';
import { createEtcdClient } from '../../src/etcd/client.js';
import { decodeWatchesRaw, decodeWatchResponse, WatchDecodeError } from '../../src/etcd/watch.js';
import { bytes, fixed32, fixed64, num, tag } from '../helpers/protobuf.js';

type Deserialize = (buf: Buffer) => IWatchResponse;

function etcd3Deserializer(client: Etcd3): Deserialize {
  const pool = (client as unknown as { pool: { hosts: { getServiceClient(name: string): { constructor: { service: { Watch: { responseDeserialize: Deserialize } } } } }[] } }).pool;
  const watch = pool.hosts[0]?.getServiceClient('Watch');
  assert.ok(watch);
  return watch.constructor.service.Watch.responseDeserialize;
}

function withEtcd3(run: (etcd3: Deserialize) => void): void {
  const client = createEtcdClient({ endpoints: ['http://127.0.0.1:1'] });
  try {
    run(etcd3Deserializer(client));
  } finally {
    client.close();
  }
}

// etcd's ResponseHeader: cluster_id 1, member_id 2, revision 3, raft_term 4. Cluster and member IDs use all 64 bits.
const header = (revision: number | bigint): Buffer => bytes(1, Buffer.concat([num(1, 14841639068965178418n), num(2, 10276657743932975437n), num(3, revision), num(4, 2)]));
// mvccpb.KeyValue: key 1, create_revision 2, mod_revision 3, version 4, value 5, lease 6.
const kv = (field: number, key: Buffer | string, value: Buffer | string, mod: number | bigint, lease: number | bigint = 0): Buffer =>
  bytes(field, Buffer.concat([bytes(1, key), num(2, 5), num(3, mod), num(4, 3), bytes(5, value), ...(lease === 0 ? [] : [num(6, lease)])]));
// mvccpb.Event: type 1 (Put 0, Delete 1), kv 2, prev_kv 3; in a WatchResponse, events are field 11.
const put = (key: string, value: string, mod: number | bigint, lease: number | bigint = 0): Buffer => bytes(11, kv(2, key, value, mod, lease));
const del = (key: string, mod: number, prev?: string): Buffer => bytes(11, Buffer.concat([num(1, 1), kv(2, key, '', mod), ...(prev === undefined ? [] : [kv(3, key, prev, mod - 1)])]));

const MESSAGES: Record<string, Buffer> = {
  'created (watch 0, so no watch_id on the wire)': Buffer.concat([header(7), num(3, 1)]),
  'created with a watch id': Buffer.concat([header(7), num(2, 3), num(3, 1)]),
  'a heartbeat: one put': Buffer.concat([header(9), put('/services/web/nodes/a', '{"id":"a","last_seen":"2025-03-01T10:00:05Z"}', 9)]),
  'puts, a delete with its previous value, leases of all 64 bits': Buffer.concat([
    header(4_294_967_396),
    put('/services/g/nodes/a', '{"id":"a"}', 4_294_967_300, 7587892345678901234n),
    put('/services/g/nodes/b', '', 4_294_967_301, 1),
    del('/services/g/nodes/c', 4_294_967_302, '{"id":"c"}'),
    del('/services/g/nodes/d', 4_294_967_303),
  ]),
  'a key and value that are not UTF-8': Buffer.concat([header(3), bytes(11, kv(2, Buffer.from([0x2f, 0xff, 0x00]), Buffer.from([0xfe, 0xfd]), 3))]),
  'canceled: compacted, with a reason': Buffer.concat([header(50), num(3, 1), num(4, 1), num(5, 40), bytes(6, 'mvcc: required revision has been compacted')]),
  'canceled: a reason that is not ASCII': Buffer.concat([header(50), num(2, 2), num(4, 1), bytes(6, 'permission denied: żółw')]),
  'progress notification: a header and nothing else': header(123_456),
  'a fragment': Buffer.concat([header(8), num(7, 1), put('/services/x', 'y', 8)]),
  'revisions and IDs beyond 2^53, and a negative int64': Buffer.concat([header(2n ** 53n + 3n), num(2, -1), put('/services/x', 'y', 2n ** 62n + 1n, -5)]),
  'empty: every field its default': Buffer.alloc(0),
  'unknown fields of every wire type, wherever they come': Buffer.concat([
    fixed64(20), bytes(21, 'x'), header(88), fixed32(22), num(23, 5),
    bytes(11, Buffer.concat([fixed32(9), num(1, 0), bytes(2, Buffer.concat([fixed64(8), bytes(1, '/services/k'), bytes(15, 'new'), num(3, 77)]))])),
  ]),
};

test('every message decodes to exactly what etcd3 makes of it', () => {
  withEtcd3((etcd3) => {
    for (const [name, msg] of Object.entries(MESSAGES)) assert.deepStrictEqual(decodeWatchResponse(msg), etcd3(msg), name);
  });
});

test('keys and values are views of the message, not copies', () => {
  const msg = MESSAGES['a heartbeat: one put'];
  assert.ok(msg);
  const [event] = decodeWatchResponse(msg).events;
  assert.ok(event);
  assert.equal(event.kv.value.buffer, msg.buffer);
  assert.equal(event.kv.key.buffer, msg.buffer);
});

test('a message cut short is an error that says where, or, cut between fields, what etcd3 reads of it too', () => {
  const whole = MESSAGES['puts, a delete with its previous value, leases of all 64 bits'];
  assert.ok(whole);
  withEtcd3((etcd3) => {
    let errors = 0;
    for (let cut = 1; cut < whole.length; cut++) {
      const part = whole.subarray(0, cut);
      let ours: IWatchResponse;
      try {
        ours = decodeWatchResponse(part);
      } catch (err) {
        assert.ok(err instanceof WatchDecodeError, String(err));
        assert.match(err.message, /^etcd's watch response does not decode at byte \d+: /);
        assert.throws(() => etcd3(part), `etcd3 decodes the cut at ${cut}`);
        errors++;
        continue;
      }
      assert.deepStrictEqual(ours, etcd3(part), `cut at ${cut}`);
    }
    assert.ok(errors > whole.length / 2, `${errors} cuts failed`);
  });
  assert.throws(() => decodeWatchResponse(tag(7, 3)), /unsupported wire type 3/);
  assert.throws(() => decodeWatchResponse(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), /varint longer than 10 bytes/);
});

test('an event type etcd does not have is an error, not a put', () => {
  assert.throws(() => decodeWatchResponse(Buffer.concat([header(3), bytes(11, Buffer.concat([num(1, 2), kv(2, '/k', 'v', 3)]))])), (err: unknown) =>
    err instanceof WatchDecodeError && err.message.includes('unknown event type 2'));
});

test('a namespace that is not shaped as etcd3 1.1.2 makes one is left as it was', () => {
  const odd = { watchClient: { watch: 'not a function' } };
  assert.equal(decodeWatchesRaw(odd as never), false);
  assert.deepEqual(odd, { watchClient: { watch: 'not a function' } });
  assert.equal(decodeWatchesRaw({} as never), false);
});
