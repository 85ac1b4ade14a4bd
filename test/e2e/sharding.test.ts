/**
 * End to end against the real thing: 3 Prometheus servers sharding the full
 * `/v1/targets` themselves (the Prometheus Operator's `hashmod` of
 * `__address__` into `__tmp_hash`, then `keep`), and 3 more reading
 * `?shard=I&shards=3`. For every shard both report the same targets; the
 * shards are pairwise disjoint and together hold every node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoTime, formatGroupDocument, formatNodeDocument } from '../../src/registry/documents.js';
import { groupKey, nodeKey } from '../../src/registry/keys.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { usePrometheus, type ActiveTarget, type TestPrometheus } from '../helpers/prometheus.js';
import { eventually, targets, useTestServer } from '../helpers/server.js';

const PREFIX = '/services';
const SHARDS = 3;
const NODES = 60;
const GROUPS = ['alpha', 'beta', 'gamma'];
/** Prometheus hands discovery results to its scrape manager at most every 5 s. */
const DISCOVERY_TIMEOUT_MS = 60_000;

/** A config whose only job reads `url` every second, optionally with the Operator's sharding rules. */
function config(url: string, operatorShard?: number): object {
  const relabel = operatorShard === undefined ? {} : {
    relabel_configs: [
      { source_labels: ['__address__'], target_label: '__tmp_hashmod', modulus: SHARDS, action: 'hashmod' },
      { source_labels: ['__tmp_hashmod'], regex: String(operatorShard), action: 'keep' },
    ],
  };
  // Targets need not be up: only discovery is compared. A long interval keeps the scrapes few.
  return { global: { scrape_interval: '1m' }, scrape_configs: [{ job_name: 'registry', http_sd_configs: [{ url, refresh_interval: '1s' }], ...relabel }] };
}

/** A target as Prometheus reports it after relabelling: its whole label set, canonical. */
function labelSet(tg: ActiveTarget): string {
  return JSON.stringify(Object.entries(tg.labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

test('for each of 3 shards, Operator-style hashmod + keep and ?shard=I&shards=3 give Prometheus the same targets', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  for (const g of GROUPS) {
    await client.put(groupKey(PREFIX, g)).value(formatGroupDocument({ name: g, username: '', password: '', commonLabels: { tier: g }, created: formatGoTime(new Date()) }));
  }
  for (let i = 0; i < NODES; i++) {
    const id = `node-${i}`;
    await client.put(nodeKey(PREFIX, GROUPS[i % GROUPS.length]!, id, 'node_exporter')).value(formatNodeDocument({
      id, exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics',
      labels: { address: `127.0.${i >> 8}.${(i & 255) + 1}:9100` }, status: 'healthy', lastSeen: formatGoTime(new Date()),
    }));
  }
  const server = await useTestServer(t, etcd.endpoint, { prefix: PREFIX });
  // The registry is complete before any Prometheus starts, so its first discovery is the final one.
  await eventually('our server to serve every node', async () => ((await targets(server)).groups.length === NODES ? true : undefined));
  const served = await Promise.all([...Array(SHARDS).keys()].map(async (i) => (await targets(server, `/v1/targets?shard=${i}&shards=${SHARDS}`)).groups.length));
  assert.equal(served.reduce((a, b) => a + b, 0), NODES);

  const starts: Promise<TestPrometheus>[] = [];
  for (let i = 0; i < SHARDS; i++) {
    starts.push(usePrometheus(t, { config: config(`${server.url}/v1/targets`, i) }));
    starts.push(usePrometheus(t, { config: config(`${server.url}/v1/targets?shard=${i}&shards=${SHARDS}`) }));
  }
  const proms = await Promise.all(starts);

  const all = new Set<string>();
  for (let i = 0; i < SHARDS; i++) {
    const [operator, sharded] = [proms[2 * i]!, proms[2 * i + 1]!];
    const relabelled = await eventually(`Operator-style Prometheus ${i} to have discovered all ${NODES} targets`, async () => {
      const [active, dropped] = await Promise.all([operator.api.targets(), operator.api.droppedTargets()]);
      return active.length + dropped.length === NODES ? active : undefined;
    }, DISCOVERY_TIMEOUT_MS, 200);
    const fromServer = await eventually(`server-sharded Prometheus ${i} to have discovered its ${served[i]} targets`, async () => {
      const active = await sharded.api.targets();
      return active.length === served[i] ? active : undefined;
    }, DISCOVERY_TIMEOUT_MS, 200);
    assert.ok(relabelled.length > 0, `shard ${i} is not empty, so the comparison means something`);
    assert.deepEqual(fromServer.map(labelSet).sort(), relabelled.map(labelSet).sort(), `shard ${i}: same targets, same labels`);
    assert.deepEqual((await sharded.api.droppedTargets()).length, 0, 'the server-side shard makes Prometheus drop nothing');
    for (const s of relabelled.map(labelSet)) {
      assert.ok(!all.has(s), `shard ${i} shares ${s} with another shard`);
      all.add(s);
    }
  }
  assert.equal(all.size, NODES, 'together the shards hold every target');
});
