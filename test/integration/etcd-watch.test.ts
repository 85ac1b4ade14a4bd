// The mirror's watches are decoded straight off the wire (src/etcd/watch.ts). Against a real etcd,
// a watcher on such a namespace must see what a stock etcd3 watcher sees, message for message, and
// its stream must really be opened with our decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IKeyValue, IWatchResponse, Namespace } from 'etcd3';
import { createEtcdClient } from '../../src/etcd/client.js';
import { decodeWatchResponse, rawWatchNamespace } from '../../src/etcd/watch.js';
import { useTestEtcd } from '../helpers/etcd.js';

interface BidiClient {
  makeBidiStreamRequest(path: string, serialize: unknown, deserialize: unknown, ...rest: unknown[]): unknown;
}

/** Records the deserializer of every watch stream the client opens. */
function recordDeserializers(client: ReturnType<typeof createEtcdClient>): unknown[] {
  const pool = (client as unknown as { pool: { hosts: { getServiceClient(name: string): BidiClient }[] } }).pool;
  const watch = pool.hosts[0]?.getServiceClient('Watch');
  assert.ok(watch);
  const seen: unknown[] = [];
  const open = watch.makeBidiStreamRequest.bind(watch);
  watch.makeBidiStreamRequest = (path, serialize, deserialize, ...rest) => {
    seen.push(deserialize);
    return open(path, serialize, deserialize, ...rest);
  };
  return seen;
}

/** The events of all messages: etcd may batch them into messages differently for two watchers. */
const eventsOf = (all: readonly IWatchResponse[]): unknown[] => all.flatMap((r) => r.events);
/** The header as each message has it, but for the revision, which depends on the batching. */
const headersOf = (all: readonly IWatchResponse[]): unknown[] => [...new Set(all.map((r) => JSON.stringify({ ...r.header, revision: typeof r.header.revision })))];

test('a raw-decoded watch sees every message as a stock etcd3 watcher does', async (t) => {
  const etcd = await useTestEtcd(t);
  const writer = etcd.client();
  const raw = createEtcdClient({ endpoints: [etcd.endpoint] });
  const stock = createEtcdClient({ endpoints: [etcd.endpoint] });
  t.after(() => {
    raw.close();
    stock.close();
  });
  const deserializers = recordDeserializers(raw);
  const start = (await writer.put('/services/start').value('x')).header.revision;
  const watch = async (ns: Namespace, into: IWatchResponse[]): Promise<void> => {
    const w = await ns.watch().prefix('/services/').startRevision(start).withPreviousKV().create();
    w.on('data', (res: IWatchResponse) => into.push(res));
    t.after(() => w.cancel());
  };
  const ours: IWatchResponse[] = [];
  const theirs: IWatchResponse[] = [];
  await watch(rawWatchNamespace(raw), ours);
  await watch(stock, theirs);

  const lease = writer.lease(30, { autoKeepAlive: false });
  await lease.grant();
  await lease.put('/services/g/nodes/leased').value('{"id":"leased"}');
  await writer.put(Buffer.from([...Buffer.from('/services/bin/'), 0xff, 0x00])).value(Buffer.from([0xfe]));
  await writer.put('/services/g/nodes/big').value('x'.repeat(512 * 1024));
  await writer.put('/services/g/nodes/big').value('{"again":"żółw ✓"}');
  await writer.delete().key('/services/g/nodes/big');
  await writer.if('/services/start', 'Value', '==', 'x').then(writer.put('/services/t/1').value('a'), writer.put('/services/t/2').value('b'), writer.delete().key('/services/start')).commit();
  await lease.revoke();
  const last = (await writer.put('/services/last').value('z')).header.revision;

  const seenLast = (all: IWatchResponse[]): boolean => all.some((r) => r.header.revision === last && r.events.length > 0);
  for (let i = 0; i < 500 && !(seenLast(ours) && seenLast(theirs)); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(seenLast(ours) && seenLast(theirs), 'both saw the last put');

  assert.equal(eventsOf(ours).length, 11);
  assert.deepStrictEqual(eventsOf(ours), eventsOf(theirs));
  assert.deepStrictEqual(headersOf(ours), headersOf(theirs));
  assert.ok(ours.every((r) => !r.canceled && r.compact_revision === '0'));
  assert.ok(ours.some((r) => r.events.some((e) => e.type === 'Delete' && (e.prev_kv as IKeyValue | null) !== null)), 'a delete with its previous value');
  assert.ok(ours.some((r) => r.events.some((e) => e.kv.lease !== '0')), 'a leased key');
  assert.ok(deserializers.length > 0 && deserializers.every((d) => d === decodeWatchResponse), 'the stream was opened with our decoder');
});
