/**
 * End to end: a real etcd, our server, a real node_exporter and a real
 * Prometheus 2.42 whose http_sd points at `/v1/targets`. A node written in the
 * Go library's format must become an `up` target with the group's common
 * labels, and disappear from Prometheus when its key goes away.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { formatGoTime, formatGroupDocument, formatNodeDocument } from '../../src/registry/documents.js';
import { groupKey, nodeKey } from '../../src/registry/keys.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { useNodeExporter, type TestNodeExporter } from '../helpers/node-exporter.js';
import { usePrometheus, type ActiveTarget, type TestPrometheus } from '../helpers/prometheus.js';
import { eventually, targets, useTestServer } from '../helpers/server.js';
import type { RunningServer } from '../../src/server.js';

const PREFIX = '/services';
const GROUP = 'e2e';
const NODE_ID = 'ne-1';
const EXPORTER = 'node_exporter';
/** Prometheus needs up to ~5 s (discovery → scrape manager) plus refresh and scrape intervals. */
const PROPAGATION_TIMEOUT_MS = 30_000;

interface Stack {
  readonly client: Etcd3;
  readonly server: RunningServer;
  readonly exporter: TestNodeExporter;
  readonly prometheus: TestPrometheus;
  readonly scrapeUrl: string;
}

/** etcd, our server (loaded), node_exporter and Prometheus scraping job `registry` through http_sd. */
async function startStack(t: TestContext): Promise<Stack> {
  const etcd = await useTestEtcd(t);
  const server = await useTestServer(t, etcd.endpoint, { prefix: PREFIX });
  const exporter = await useNodeExporter(t);
  await eventually('our server to load the (empty) registry', () => targets(server).then(() => true), 10_000);
  const prometheus = await usePrometheus(t, {
    config: {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [
        {
          job_name: 'registry',
          scrape_interval: '1s',
          http_sd_configs: [{ url: `${server.url}/v1/targets`, refresh_interval: '1s' }],
        },
      ],
    },
  });
  return { client: etcd.client(), server, exporter, prometheus, scrapeUrl: `http://${exporter.address}/metrics` };
}

/** Writes the group document and the leased node document, as the Go library would. */
async function registerNode(t: TestContext, client: Etcd3, exporter: TestNodeExporter): Promise<void> {
  await client.put(groupKey(PREFIX, GROUP)).value(
    formatGroupDocument({ name: GROUP, username: '', password: '', commonLabels: { environment: 'e2e', team: 'sd' }, created: formatGoTime(new Date()) }),
  );
  const lease = client.lease(30);
  lease.on('lost', () => {}); // the test ends by killing etcd; a lost lease then means nothing
  t.after(() => lease.release());
  await lease.put(nodeKey(PREFIX, GROUP, NODE_ID, EXPORTER)).value(
    formatNodeDocument({
      id: NODE_ID,
      exporterType: EXPORTER,
      port: exporter.port,
      metricsPath: '/metrics',
      labels: { address: exporter.address, instance_name: NODE_ID },
      status: 'healthy',
      lastSeen: formatGoTime(new Date()),
    }),
  );
}

function findTarget(list: readonly ActiveTarget[], scrapeUrl: string): ActiveTarget | undefined {
  return list.find((x) => x.scrapeUrl === scrapeUrl);
}

async function waitUntilUp(prometheus: TestPrometheus, scrapeUrl: string): Promise<ActiveTarget> {
  return eventually(
    `Prometheus to scrape ${scrapeUrl} successfully`,
    async () => {
      const target = findTarget(await prometheus.api.targets(), scrapeUrl);
      return target?.health === 'up' ? target : undefined;
    },
    PROPAGATION_TIMEOUT_MS,
    100,
  );
}

/** Sum of `prometheus_sd_http_failures_total` in Prometheus's own metrics. */
async function httpSdFailures(prometheus: TestPrometheus): Promise<number> {
  const text = await prometheus.api.selfMetrics();
  const line = text.split('\n').find((l) => l.startsWith('prometheus_sd_http_failures_total'));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

test('a Go-format node in etcd becomes an up Prometheus target and goes away when deleted', async (t) => {
  const { client, server, exporter, prometheus, scrapeUrl } = await startStack(t);

  const putAt = Date.now();
  await registerNode(t, client, exporter);
  await eventually('our server to serve the node', async () => ((await targets(server)).groups.some((g) => g.targets.includes(exporter.address)) ? true : undefined));
  const servedAt = Date.now();
  const target = await waitUntilUp(prometheus, scrapeUrl);
  const upAt = Date.now();
  t.diagnostic(`put → served by /v1/targets: ${seconds(servedAt - putAt)}; put → up in Prometheus: ${seconds(upAt - putAt)}`);

  assert.equal(target.scrapePool, 'registry');
  assert.equal(target.lastError, '');
  assert.deepEqual(
    {
      environment: target.labels['environment'],
      team: target.labels['team'],
      exporter_type: target.labels['exporter_type'],
      instance_name: target.labels['instance_name'],
      job: target.labels['job'],
      instance: target.labels['instance'],
    },
    { environment: 'e2e', team: 'sd', exporter_type: EXPORTER, instance_name: NODE_ID, job: 'registry', instance: exporter.address },
  );
  assert.equal(target.discoveredLabels['__meta_etcd_group'], GROUP);
  assert.equal(target.discoveredLabels['__address__'], exporter.address);
  assert.equal(target.discoveredLabels['__meta_etcd_node_id'], NODE_ID);

  const up = await eventually('up{job="registry"} in the TSDB', async () => {
    const data = await prometheus.api.query('up{job="registry"}');
    return data.resultType === 'vector' && data.result.length > 0 ? data.result : undefined;
  });
  assert.equal(up.length, 1);
  assert.equal(up[0]?.metric['instance'], exporter.address);
  assert.equal(up[0].value[1], '1');

  const deleteAt = Date.now();
  await client.delete().key(nodeKey(PREFIX, GROUP, NODE_ID, EXPORTER));
  await eventually(
    `Prometheus to drop ${scrapeUrl}`,
    async () => (findTarget(await prometheus.api.targets(), scrapeUrl) === undefined ? true : undefined),
    PROPAGATION_TIMEOUT_MS,
    100,
  );
  t.diagnostic(`delete → dropped by Prometheus: ${seconds(Date.now() - deleteAt)}`);
});

test('Prometheus keeps its targets while our server is down', async (t) => {
  const { client, server, exporter, prometheus, scrapeUrl } = await startStack(t);
  await registerNode(t, client, exporter);
  await waitUntilUp(prometheus, scrapeUrl);

  await server.close();
  const before = await httpSdFailures(prometheus);
  // Six failed refreshes at 1 s span more than one 5 s discovery → scrape-manager update cycle.
  await eventually('six failed http_sd refreshes', async () => ((await httpSdFailures(prometheus)) >= before + 6 ? true : undefined), 15_000, 200);
  const target = findTarget(await prometheus.api.targets(), scrapeUrl);
  assert.ok(target, 'target still active after failed refreshes');
  assert.equal(target.health, 'up');
  assert.equal(target.labels['environment'], 'e2e');
});
