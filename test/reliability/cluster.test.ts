// A 3-member etcd cluster on loopback. Kill the member the server watches through, then the leader:
// the server carries on through the others, stays ready, and serves every write made during the failover.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { formatGoTime, formatNodeDocument } from '../../src/registry/index.js';
import { useTestCluster, type TestCluster } from '../helpers/cluster.js';
import { waitForConvergence } from '../helpers/converge.js';
import { directClient, renderAtRevision } from '../helpers/fault-run.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

const node = (id: string): string =>
  formatNodeDocument({ id, exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: {}, status: 'healthy', lastSeen: formatGoTime(new Date()) });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Watch {
  notReady: number;
  checkpoints: number;
  mismatches: number;
  regressions: number;
  stop: boolean;
}

/** Background checks while members die: /readyz must stay 200, served body at R must equal etcd at R. */
async function watchServer(url: string, client: Etcd3, w: Watch): Promise<void> {
  let last = 0;
  for (let i = 0; i < 10_000 && !w.stop; i++) {
    await sleep(100);
    const ready = await httpGet(`${url}/readyz`);
    const res = await httpGet(`${url}/v1/targets`);
    if (ready.status !== 200 || res.status !== 200) {
      w.notReady++;
      continue;
    }
    const revision = Number(res.headers['x-etcd-revision']);
    if (revision < last) w.regressions++;
    last = Math.max(last, revision);
    if (i % 5 !== 0) continue;
    const expected = await renderAtRevision(client, '/services', revision).catch(() => undefined);
    if (expected === undefined) continue;
    w.checkpoints++;
    if (expected !== res.text) w.mismatches++;
  }
}

/** Puts `/services/failover/nodes/w{i}` every 50 ms; remembers each acknowledged write's revision. */
async function writeSteadily(client: Etcd3, acked: Map<number, Ack>, until: () => boolean): Promise<number> {
  let failed = 0;
  for (let i = 0; i < 100_000 && !until(); i++) {
    try {
      const res = await client.put(`/services/failover/nodes/w${i}_node_exporter`).value(node(`w${i}`)).exec();
      acked.set(i, { revision: Number(res.header.revision), at: Date.now() });
    } catch {
      failed++;
    }
    await sleep(50);
  }
  return failed;
}

interface Ack {
  readonly revision: number;
  readonly at: number;
}

/**
 * Kills member `index` while the writer runs. Returns ms from the kill until the server served the first
 * write acknowledged after it, and ms from that write's acknowledgement until it was served.
 */
async function failover(cluster: TestCluster, index: number, server: { url: string }, acked: Map<number, Ack>): Promise<{ gapMs: number; lagMs: number }> {
  const killedAt = Date.now();
  await cluster.members[index]!.kill();
  const sizeAtKill = acked.size;
  // The second write acknowledged after the kill surely started after it.
  const first = await eventually('a write to succeed after the kill', () => {
    const late = [...acked.values()].slice(sizeAtKill + 1);
    return late[0];
  }, 30_000, 20);
  const servedAt = await eventually('the server to serve the first post-kill write', async () => {
    const res = await httpGet(`${server.url}/v1/targets`);
    return Number(res.headers['x-etcd-revision']) >= first.revision ? Date.now() : undefined;
  }, 30_000, 20);
  // Keep writing through the survivors for a while before the member comes back.
  const more = acked.size + 40;
  await eventually('40 more writes through the survivors', () => (acked.size >= more ? true : undefined), 60_000, 50);
  return { gapMs: servedAt - killedAt, lagMs: servedAt - first.at };
}

test('3-member cluster: killing the watched member and then the leader leaves no gap', { timeout: 240_000 }, async (t) => {
  const cluster = await useTestCluster(t);
  const client = directClient(cluster.endpoints);
  t.after(() => client.close());
  for (let i = 0; i < 30; i++) await client.put(`/services/g${i % 5}/nodes/n${i}_node_exporter`).value(node(`n${i}`));
  const server = await useTestServer(t, cluster.endpoints.join(','));
  await waitForConvergence(server, client, '/services', 30_000);

  const w: Watch = { notReady: 0, checkpoints: 0, mismatches: 0, regressions: 0, stop: false };
  const checker = watchServer(server.url, client, w);
  const acked = new Map<number, Ack>();
  let writing = true;
  const writer = writeSteadily(client, acked, () => !writing);
  try {
    await eventually('some writes', () => (acked.size > 10 ? true : undefined), 30_000);

    const counts = await eventually('exactly one member to hold the server watch', async () => {
      const c = await cluster.watchers();
      return c.filter((n) => n > 0).length === 1 ? c : undefined;
    }, 15_000, 200);
    const watched = counts.findIndex((n) => n > 0);
    const a = await failover(cluster, watched, server, acked);
    t.diagnostic(`killed ${cluster.members[watched]!.name} (held the watch; watchers per member ${counts.join('/')}): first post-kill write served ${a.gapMs} ms after the kill, ${a.lagMs} ms after etcd acknowledged it`);
    const moved = await eventually('the watch to move to a live member', async () => {
      const c = await cluster.watchers();
      return c.some((n, i) => i !== watched && n > 0) ? c : undefined;
    }, 30_000, 200);
    t.diagnostic(`watchers per member after the failover: ${moved.join('/')}`);
    await cluster.members[watched]!.restart();
    await waitForConvergence(server, client, '/services', 30_000);

    const leader = await eventually('a leader', async () => {
      const l = await cluster.leader();
      return l >= 0 ? l : undefined;
    }, 15_000, 200);
    const b = await failover(cluster, leader, server, acked);
    t.diagnostic(`killed the leader ${cluster.members[leader]!.name}: first post-kill write served ${b.gapMs} ms after the kill, ${b.lagMs} ms after etcd acknowledged it`);
    await cluster.members[leader]!.restart();
  } finally {
    writing = false;
    await writer;
  }
  const final = await waitForConvergence(server, client, '/services', 30_000);
  w.stop = true;
  await checker;

  const served = JSON.parse(final.body) as { targets: string[] }[];
  const servedIds = new Set(served.flatMap((g) => g.targets));
  const missing = [...acked.keys()].filter((i) => !servedIds.has(`w${i}:9100`));
  t.diagnostic(`writes acknowledged ${acked.size}, served ${acked.size - missing.length}; readiness failures ${w.notReady}; checkpoints ${w.checkpoints}, mismatches ${w.mismatches}, regressions ${w.regressions}`);
  assert.deepEqual(missing, [], 'every acknowledged write is served');
  assert.equal(w.notReady, 0, '/readyz and /v1/targets never failed');
  assert.equal(w.mismatches, 0, 'served body equals etcd at the served revision');
  assert.equal(w.regressions, 0);
  assert.ok(w.checkpoints > 5, `checkpoints compared (${w.checkpoints})`);
});
