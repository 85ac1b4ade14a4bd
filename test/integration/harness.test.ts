import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { prefixEnd } from '../../src/etcd/client.js';
import { startTestEtcd, useTestEtcd } from '../helpers/etcd.js';
import { fixtureFilePath, loadFixtureFile, putFixtures } from '../helpers/fixtures.js';
import { freePorts, isPortFree } from '../helpers/ports.js';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('freePorts returns distinct loopback ports', async () => {
  const ports = await freePorts(5);
  assert.equal(new Set(ports).size, 5);
  for (const port of ports) assert.equal(await isPortFree(port), true);
});

test('the fixture file is found from the compiled location and typed', () => {
  assert.match(fixtureFilePath(), /test[\\/]fixtures[\\/]registry-go\.json$/);
  const fixtures = loadFixtureFile();
  assert.equal(fixtures.prefix, '/services');
  assert.ok(fixtures.entries.length > 0);
  assert.ok(fixtures.entries.some((e) => e.lease));
  assert.ok(fixtures.entries.some((e) => !e.lease));
});

test('fixtures go into etcd, leased ones under one lease', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  const { prefix, entries } = loadFixtureFile();
  const put = await putFixtures(client, entries);
  t.after(() => put.lease?.revoke().catch(() => {}));
  assert.ok(put.lease !== undefined && put.leaseId !== undefined);
  assert.equal(put.revision, await etcd.revision());

  const res = await client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(Buffer.from(prefix)) });
  const inPrefix = new Set(entries.filter((e) => e.key.startsWith(prefix)).map((e) => e.key));
  assert.equal(res.kvs.length, inPrefix.size);
  for (const kv of res.kvs) {
    const entry = entries.find((e) => e.key === kv.key.toString());
    assert.ok(entry, `unexpected key ${kv.key.toString()}`);
    assert.equal(kv.value.toString(), entry.value);
    assert.equal(kv.lease, entry.lease ? put.leaseId : '0', `lease of ${entry.key}`);
  }

  await put.lease.revoke();
  const leased = entries.filter((e) => e.lease);
  for (const e of leased) assert.equal(await client.get(e.key).string(), null, `${e.key} gone with its lease`);
});

test('kill + restart keeps the data, on the same ports', async (t) => {
  const etcd = await useTestEtcd(t);
  const { entries } = loadFixtureFile();
  const unleased = entries.filter((e) => !e.lease);
  const { revision } = await putFixtures(etcd.client(), unleased);

  const pid = etcd.pid;
  assert.ok(pid !== undefined);
  await etcd.kill();
  assert.equal(etcd.pid, undefined);
  assert.equal(processAlive(pid), false);
  await etcd.kill(); // no-op when already dead

  await etcd.restart();
  assert.notEqual(etcd.pid, undefined);
  assert.equal(await etcd.revision(), revision);
  for (const e of unleased) assert.equal(await etcd.client().get(e.key).string(), e.value);
});

test('compaction removes old revisions', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  const first = Number((await client.put('/compact/k').value('v1').exec()).header.revision);
  await client.put('/compact/k').value('v2');
  assert.equal(await client.get('/compact/k').revision(first).string(), 'v1');

  const compacted = await etcd.compact();
  assert.equal(compacted, await etcd.revision());
  await assert.rejects(client.get('/compact/k').revision(first).string(), /compacted/);
  assert.equal(await client.get('/compact/k').string(), 'v2');
  await assert.rejects(etcd.compact(first), /compacted/);
});

test('stop kills etcd, removes the data dir and is idempotent', async (t) => {
  const etcd = await startTestEtcd();
  t.after(() => etcd.stop());
  await etcd.client().put('/x').value('y');
  const pid = etcd.pid;
  assert.ok(pid !== undefined);
  assert.ok(existsSync(etcd.dataDir));

  await etcd.stop();
  assert.equal(processAlive(pid), false);
  assert.equal(existsSync(etcd.dataDir), false);
  assert.equal(await isPortFree(etcd.clientPort), true);
  await etcd.stop();
  await etcd.kill();
  assert.throws(() => etcd.client(), /stopped/);
});
