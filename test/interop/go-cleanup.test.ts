// The Go library's empty-group cleanup next door: when the last node of `web` is deleted with
// Go's DeleteNode, it deletes the group by prefix without a trailing slash, which also takes
// `web-canary`, a group our registrant serves. The registrant puts its group document and node
// back, and etcd-http-sd serves the node again. Times are printed, not asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient } from '../../src/register/index.js';
import { formatGoTime, formatNodeDocument } from '../../src/registry/index.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { eventually, targets, useTestServer } from '../helpers/server.js';
import { goRun } from './go-program.js';

const REPETITIONS = 5;

test('Go DeleteNode of the last node of web also deletes web-canary: our registrant restores it and it is served again', async (t) => {
  const etcd = await useTestEtcd(t);
  const server = await useTestServer(t, etcd.endpoint);
  const client = new RegistryClient({ endpoints: [etcd.endpoint], ttlSeconds: 10, callTimeoutMs: 2000 });
  t.after(() => client.close().catch(() => undefined));
  await client.register({ group: 'web-canary', id: 'canary-1', exporterType: 'node_exporter', port: 9100, host: '127.0.0.1' });
  const canaryServed = async (): Promise<true | undefined> =>
    (await targets(server)).groups.some((g) => g.targets.includes('127.0.0.1:9100') && g.labels['__meta_etcd_group'] === 'web-canary') ? true : undefined;
  await eventually('the canary served', canaryServed);

  const conn = ['-endpoints', etcd.endpoint, '-prefix', '/services'];
  const times: number[] = [];
  for (let i = 0; i < REPETITIONS; i++) {
    // A Go-registered `web` with one node, as Go's CreateOrJoinServiceGroup and RegisterNode write it.
    await etcd.client().put('/services/web').value(JSON.stringify({ name: 'web', spec: { common_labels: {} }, created: formatGoTime(new Date()) }));
    await etcd.client().put('/services/web/nodes/w1_node_exporter').value(formatNodeDocument({ id: 'w1', exporterType: 'node_exporter', port: 9200, metricsPath: '/metrics', labels: {}, status: 'healthy', lastSeen: formatGoTime(new Date()) }));
    const started = Date.now();
    await goRun(['delete-node', ...conn, '-group', 'web', '-id', 'w1', '-exporter-type', 'node_exporter']);
    assert.equal((await etcd.client().getAll().prefix('/services/web/').keys()).length, 0, 'Go deleted web by prefix');
    await eventually('the canary served again', canaryServed, 10_000, 5);
    times.push(Date.now() - started);
  }
  const keys = await etcd.client().getAll().prefix('/services/web-canary').keys();
  assert.deepEqual(keys.sort(), ['/services/web-canary', '/services/web-canary/nodes/canary-1_node_exporter'], 'group document and node back, once each');
  t.diagnostic(`served again after Go's prefix delete (each includes the Go program's own start and run; the first also its build): ${times.join(', ')} ms`);
});
