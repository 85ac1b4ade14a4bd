// Empty-group cleanup (high availability): opt-in, with a grace period, done by
// one replica elected through etcd, and atomic: a node registering at the same
// moment is never left without its group document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Etcd3 } from 'etcd3';
import { loadServeConfig } from '../../src/config/serve.js';
import { ConfigError } from '../../src/errors.js';
import { prefixEnd } from '../../src/etcd/client.js';
import { electionPrefix } from '../../src/cleanup/index.js';
import { EmptyGroupCleaner } from '../../src/cleanup/cleaner.js';
import { createLogger } from '../../src/log.js';
import type { MirrorStatus } from '../../src/mirror/mirror.js';
import { RegistryState } from '../../src/registry/index.js';
import type { RunningServer } from '../../src/server.js';
import { spawnCli } from '../helpers/cli.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { freePort } from '../helpers/ports.js';
import { waitForHttpOk } from '../helpers/process.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

const P = '/services';
const FAST = ['--cleanup-empty-groups', '--cleanup-grace', '1s', '--cleanup-interval', '200ms', '--cleanup-election-ttl', '2s'];
const groupDoc = (name: string): string => JSON.stringify({ name, spec: { username: '', password: '', common_labels: { team: name } }, created: '2025-03-01T10:00:00.123456789Z' });
const nodeDoc = (id: string): string => JSON.stringify({ id, exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: {}, status: 'healthy', last_seen: '2025-03-01T10:00:05.987654321Z' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function exists(client: Etcd3, key: string): Promise<boolean> {
  return (await client.kv.range({ key: Buffer.from(key), count_only: true })).count !== '0';
}

async function metric(server: RunningServer, line: RegExp): Promise<number | undefined> {
  const text = (await httpGet(`${server.url}/metrics`)).text;
  const m = line.exec(text);
  return m === null ? undefined : Number(m[1]);
}

const deletedMetric = /^etcd_http_sd_cleanup_attempts_total\{outcome="deleted"\} (\d+)$/m;

test('cleanup settings: off by default; its other settings need it on; bad values named', () => {
  const load = (args: string[]) => loadServeConfig(['--etcd-endpoints', 'http://127.0.0.1:2379', ...args], {}, (p) => readFileSync(p));
  assert.equal(load([]).cleanup, undefined);
  assert.deepEqual(load(['--cleanup-empty-groups']).cleanup, { graceMs: 600_000, intervalMs: 30_000, electionTtlSeconds: 15 });
  assert.deepEqual(load(FAST).cleanup, { graceMs: 1000, intervalMs: 200, electionTtlSeconds: 2 });
  assert.throws(() => load(['--cleanup-grace', '5m']), (e: unknown) => e instanceof ConfigError && e.message.includes('--cleanup-grace: has no effect without --cleanup-empty-groups'));
  assert.throws(() => load(['--cleanup-empty-groups', '--cleanup-grace', '10ms']), /--cleanup-grace: must be at least 1s/);
  assert.throws(() => load(['--cleanup-empty-groups', '--cleanup-election-ttl', '1500ms']), /--cleanup-election-ttl: must be whole seconds/);
  assert.throws(() => load(['--cleanup-empty-groups', '--cleanup-interval', '0']), /--cleanup-interval: must be at least 100ms/);
});

test('etcd (this version) evaluates a compare over a range as "every key matches": create_revision == 0 means "none exists"', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  const under = Buffer.from(`${P}/g/`);
  const noneUnder = async (): Promise<boolean> => (await client.kv.txn({
    compare: [{ key: under, range_end: prefixEnd(under), target: 'Create', result: 'Equal', create_revision: 0 }], success: [], failure: [],
  })).succeeded;
  assert.equal(await noneUnder(), true, 'empty range');
  await client.put(`${P}/g`).value('{}');
  await client.put(`${P}/g-canary/nodes/x`).value('{}');
  assert.equal(await noneUnder(), true, 'the group key itself and a sibling prefix are outside the range');
  await client.put(`${P}/g/nodes/a`).value('{}');
  assert.equal(await noneUnder(), false, 'one key inside');
  await client.delete().key(`${P}/g/nodes/a`);
  assert.equal(await noneUnder(), true, 'deleted again');
});

test('an empty group past its grace is deleted; a group with nodes or other keys never; only the exact key', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  const lines: string[] = [];
  for (const g of ['empty', 'web', 'web-canary', 'busy', 'extra']) await client.put(`${P}/${g}`).value(groupDoc(g));
  await client.put(`${P}/web-canary/nodes/c-1_node_exporter`).value(nodeDoc('c-1'));
  await client.put(`${P}/busy/nodes/b-1_node_exporter`).value(nodeDoc('b-1'));
  await client.put(`${P}/extra/config`).value('not a node');
  await client.put(`${P}/orphans/nodes/o-1_node_exporter`).value(nodeDoc('o-1'));
  const server = await useTestServer(t, etcd.endpoint, { args: FAST, logLines: lines });
  await server.mirror.whenReady();

  await eventually('empty and web deleted', async () => (!(await exists(client, `${P}/empty`)) && !(await exists(client, `${P}/web`)) ? true : undefined), 45_000, 100);
  await sleep(2000); // ten more sweeps
  for (const key of [`${P}/web-canary`, `${P}/busy`, `${P}/extra`, `${P}/web-canary/nodes/c-1_node_exporter`, `${P}/busy/nodes/b-1_node_exporter`, `${P}/extra/config`, `${P}/orphans/nodes/o-1_node_exporter`]) {
    assert.equal(await exists(client, key), true, `${key} kept`);
  }
  assert.equal(await metric(server, deletedMetric), 2);
  assert.equal(await metric(server, /^etcd_http_sd_cleanup_leader (\d+)$/m), 1);
  const deleted = lines.filter((l) => l.includes('"empty group deleted"')).map((l) => (JSON.parse(l) as { group: string; emptyForMs: number }));
  assert.deepEqual(deleted.map((d) => d.group).sort(), ['empty', 'web']);
  for (const d of deleted) assert.ok(d.emptyForMs >= 1000, `${d.group} waited its grace (${d.emptyForMs} ms)`);

  // A group whose last node goes becomes a candidate; its grace starts then.
  await client.delete().key(`${P}/busy/nodes/b-1_node_exporter`);
  await eventually('busy deleted after its node left', async () => (!(await exists(client, `${P}/busy`)) ? true : undefined), 45_000, 100);
  // A served group without nodes is no longer listed once its document is gone.
  const groups = JSON.parse((await httpGet(`${server.url}/v1/groups`)).text) as { name: string }[];
  assert.deepEqual(groups.map((g) => g.name).sort(), ['extra', 'orphans', 'web-canary']);
});

test('a node registering at the same moment as the deletion is never left without its group (races, many times)', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  const lines: string[] = [];
  // Sweeps only when the test says so, so each round races one sweep against the puts.
  const server = await useTestServer(t, etcd.endpoint, { args: ['--cleanup-empty-groups', '--cleanup-grace', '1s', '--cleanup-interval', '1h', '--cleanup-election-ttl', '2s'], logLines: lines });
  await server.mirror.whenReady();
  const cleaner = server.cleaner!;
  await eventually('this replica leads', () => (cleaner.leading ? true : undefined), 15_000);
  const ROUNDS = 6;
  const GROUPS = 30;
  let deletedBeforeNode = 0;
  let kept = 0;
  let perGroupMs = 5;
  const started = Date.now();
  for (let round = 0; round < ROUNDS && Date.now() - started < 90_000; round++) {
    const names = Array.from({ length: GROUPS }, (_, i) => `race-${round}-${i}`);
    for (const n of names) await client.put(`${P}/${n}`).value(groupDoc(n));
    await eventually('the mirror sees the round\'s groups', () => (server.mirror.content()?.group(names[GROUPS - 1]!) ? true : undefined));
    await sleep(1200); // past the grace: every group of the round is due
    const t0 = Date.now();
    const sweep = cleaner.sweep();
    await Promise.all(names.map(async (n, i) => {
      // About when the sweep reaches group i (from the last sweep's pace), give or take: both sides win.
      await sleep(Math.max(0, Math.round((i * perGroupMs) + ((i * 13) % 21) - 10)));
      await client.put(`${P}/${n}/nodes/n-1_node_exporter`).value(nodeDoc(`n-${i}`));
    }));
    await sweep;
    const sweepMs = Date.now() - t0;
    perGroupMs = sweepMs / GROUPS;
    for (const n of names) {
      const nodeKey = `${P}/${n}/nodes/n-1_node_exporter`;
      const node = (await client.kv.range({ key: Buffer.from(nodeKey) })).kvs[0];
      assert.ok(node !== undefined, `${nodeKey} never deleted`);
      if (await exists(client, `${P}/${n}`)) {
        kept++;
        continue;
      }
      deletedBeforeNode++;
      // The delete must be older than the node: at the delete's revision nothing was under the group.
      const history = await client.kv.range({ key: Buffer.from(`${P}/${n}`), revision: Number(node.create_revision) - 1 });
      assert.equal(history.kvs.length, 0, `${n} was deleted before its node was created`);
    }
    t.diagnostic(`round ${round}: sweep ${sweepMs} ms; so far ${deletedBeforeNode} deleted before their node, ${kept} kept`);
  }
  const keptByTxn = lines.filter((l) => l.includes('"empty group kept"') && l.includes('keys exist under the group')).length;
  t.diagnostic(`${deletedBeforeNode + kept} races: ${deletedBeforeNode} deleted before the node came, ${kept} kept; ${keptByTxn} refused by the txn's range compare`);
  assert.ok(kept > 0, 'some nodes won the race');
  // Every group was due when the sweep began: what kept them was the txn, not the mirror.
  assert.equal(keptByTxn, kept, 'every kept group was refused by the txn compare');
});

async function leaderOf(client: Etcd3): Promise<{ key: Buffer; lease: string; value: string } | undefined> {
  const pfx = Buffer.from(electionPrefix(`etcd-http-sd-cleanup${P}`));
  const res = await client.kv.range({ key: pfx, range_end: prefixEnd(pfx), sort_target: 'Create', sort_order: 'Ascend', limit: 1 });
  const kv = res.kvs[0];
  return kv === undefined ? undefined : { key: kv.key, lease: kv.lease, value: kv.value.toString() };
}

function deletionLogged(logs: readonly string[][], group: string): Promise<true> {
  const logged = (l: string): boolean => l.includes('"empty group deleted"') && l.includes(`"${group}"`);
  return eventually(`${group} deleted`, () => (logs.some((lines) => lines.some(logged)) ? true : undefined), 45_000, 50);
}

test('two replicas: only the elected one deletes; a leader that lost its lease deletes nothing; the other takes over', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  const logs: [string[], string[]] = [[], []];
  // Interval 5s: election polls every 2s, so a deposed leader keeps believing for a moment.
  const args = ['--cleanup-empty-groups', '--cleanup-grace', '1s', '--cleanup-interval', '5s', '--cleanup-election-ttl', '3s'];
  const a = await useTestServer(t, etcd.endpoint, { args, logLines: logs[0] });
  const b = await useTestServer(t, etcd.endpoint, { args, logLines: logs[1] });
  const servers = [a, b] as const;
  await eventually('exactly one replica leads', () => (servers.filter((s) => s.cleaner!.leading).length === 1 ? true : undefined), 45_000, 50);
  await sleep(2500); // both pollers have run: still exactly one
  assert.equal(servers.filter((s) => s.cleaner!.leading).length, 1);
  const li = a.cleaner!.leading ? 0 : 1;
  const leader = servers[li];
  const follower = servers[1 - li]!;

  await client.put(`${P}/g1`).value(groupDoc('g1'));
  // The key can vanish before the deleting replica has its txn reply and logs it: wait for
  // the log line, which says who deleted, then check the key.
  await deletionLogged(logs, 'g1');
  assert.equal(await exists(client, `${P}/g1`), false);
  assert.equal(logs[li].filter((l) => l.includes('"empty group deleted"')).length, 1);
  assert.equal(logs[1 - li]!.filter((l) => l.includes('"empty group deleted"')).length, 0, 'the follower never deletes');
  assert.equal(await metric(follower, deletedMetric), 0);

  // Depose the leader behind its back: revoke its election lease in etcd.
  await client.put(`${P}/g2`).value(groupDoc('g2'));
  await eventually('both replicas saw g2 empty for its grace', () => (follower.mirror.content()?.group('g2') ? true : undefined));
  await sleep(1500);
  const elected = await leaderOf(client);
  assert.ok(elected !== undefined);
  await client.leaseClient.leaseRevoke({ ID: elected.lease });
  // A sweep now may find the leader still believing or already deposed, depending on its
  // poll: either way it deletes nothing. The refusal itself is checked, every time, by the
  // next test, whose leader cannot notice.
  await leader.cleaner!.sweep();
  assert.equal(logs[li].filter((l) => l.includes('"empty group deleted"')).length, 1, 'the deposed leader deleted nothing more');
  await eventually('the deposed replica knows it', () => (!leader.cleaner!.leading ? true : undefined), 30_000, 50);
  await eventually('the other replica leads', () => (follower.cleaner!.leading ? true : undefined), 30_000, 50);
  await deletionLogged(logs, 'g2');
  assert.equal(await exists(client, `${P}/g2`), false);
  assert.equal(logs[1 - li]!.filter((l) => l.includes('"empty group deleted"') && l.includes('"g2"')).length, 1);
  assert.equal(logs[li].filter((l) => l.includes('"g2"') && l.includes('"empty group deleted"')).length, 0);
  // The deposed replica campaigns again, behind the new leader.
  await eventually('the deposed replica is a candidate again', async () => {
    const pfx = Buffer.from(electionPrefix(`etcd-http-sd-cleanup${P}`));
    return (await client.kv.range({ key: pfx, range_end: prefixEnd(pfx), count_only: true })).count === '2' ? true : undefined;
  }, 30_000, 100);
  assert.equal(leader.cleaner!.leading, false);

  // Closing the leader resigns (revokes its lease): the other takes over without waiting for the TTL.
  await follower.close();
  await eventually('handover after a clean shutdown', () => (leader.cleaner!.leading ? true : undefined), 10_000, 50);
});

test('fencing: a leader whose election key is gone has its delete refused by etcd, every time', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  await client.put(`${P}/g3`).value(groupDoc('g3'));
  // A token for an election key that existed and is gone: what a deposed leader still holds
  // until its poll notices. This election never polls, so it never notices.
  const lease = client.lease(30);
  lease.on('lost', () => undefined);
  const leaseId = await lease.grant();
  const key = Buffer.from(`${electionPrefix(`etcd-http-sd-cleanup${P}`)}${leaseId}`);
  const put = await client.kv.put({ key, value: Buffer.from('stale'), lease: leaseId });
  const createRevision = put.header.revision;
  await lease.revoke();
  const token = { key, createRevision };
  const stale = { start: () => undefined, close: () => Promise.resolve(), token: () => token };
  const state = new RegistryState(P);
  state.apply({ type: 'put', key: `${P}/g3`, value: groupDoc('g3') });
  const content = state.snapshot();
  const status = { ready: true, connected: true } as MirrorStatus;
  const mirror = { content: () => content, status: () => status, on: () => undefined, off: () => undefined };
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', write: (line: string) => void lines.push(line) });
  let clock = 0;
  const cleaner = new EmptyGroupCleaner({ client, prefix: P, mirror, logger, graceMs: 1000, intervalMs: 60_000, electionTtlSeconds: 3, election: stale, now: () => (clock += 1000) });
  t.after(() => cleaner.close());
  await cleaner.sweep();
  assert.ok(await exists(client, `${P}/g3`), 'the group document stays');
  assert.ok(lines.some((l) => l.includes('"empty group kept"') && l.includes('leadership lost')), `refused for lost leadership: ${lines.join(' | ')}`);
  assert.ok(!lines.some((l) => l.includes('"empty group deleted"')));
});

test('serve processes with cleanup exit promptly on SIGTERM, follower and leader alike (no watch left behind)', async (t) => {
  const etcd = await useTestEtcd(t);
  const start = async (): Promise<{ cli: ReturnType<typeof spawnCli>; url: string }> => {
    const port = await freePort();
    const cli = spawnCli(t, ['serve', '--etcd-endpoints', etcd.endpoint, '--listen', `127.0.0.1:${port}`, ...FAST]);
    const url = `http://127.0.0.1:${port}`;
    await waitForHttpOk(`${url}/readyz`, 30_000);
    return { cli, url };
  };
  const replicas = [await start(), await start()];
  const leads = async (url: string): Promise<boolean> => /^etcd_http_sd_cleanup_leader 1$/m.test((await httpGet(`${url}/metrics`)).text);
  const leaderIndex = await eventually('one serve process leads, the other follows', async () => {
    const l = await Promise.all(replicas.map((r) => leads(r.url)));
    return l.filter(Boolean).length === 1 && (await leaderOf(etcd.client())) !== undefined ? l.indexOf(true) : undefined;
  }, 45_000, 100);
  await eventually('both are candidates', async () => {
    const pfx = Buffer.from(electionPrefix(`etcd-http-sd-cleanup${P}`));
    return (await etcd.client().kv.range({ key: pfx, range_end: prefixEnd(pfx), count_only: true })).count === '2' ? true : undefined;
  }, 30_000, 100);
  for (const r of [replicas[1 - leaderIndex]!, replicas[leaderIndex]!]) {
    const t0 = Date.now();
    r.cli.child.kill('SIGTERM');
    const code = await Promise.race([r.cli.exited, sleep(20_000).then(() => 'still running after 20 s')]);
    assert.equal(code, 0, r.cli.stderr().slice(-2000));
    t.diagnostic(`exited in ${Date.now() - t0} ms`);
  }
});
