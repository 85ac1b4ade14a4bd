// promtool's linter on the server's own /metrics, with a registry loaded and requests served,
// and on a registrant's; the documented labels of etcd_http_sd_targets are its real ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createRegisterMetrics } from '../../src/metrics/register.js';
import { putConsoleFixtures } from '../helpers/console-fixtures.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { repoRoot } from '../helpers/fixtures.js';
import { PROMTOOL_BIN } from '../helpers/prometheus.js';
import { runCommand } from '../helpers/process.js';
import { httpGet, useTestServer } from '../helpers/server.js';

async function checkMetrics(text: string): Promise<{ code: number | null; out: string }> {
  const r = await runCommand(PROMTOOL_BIN, ['check', 'metrics'], { input: text });
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

test('promtool check metrics finds nothing to say about /metrics', async (t) => {
  const etcd = await useTestEtcd(t);
  await putConsoleFixtures(etcd.client());
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  for (const path of ['/v1/targets', '/v1/targets/web', '/v1/nodes', '/nope']) await httpGet(`${server.url}${path}`);
  const metrics = (await httpGet(`${server.url}/metrics`)).text;
  const r = await checkMetrics(metrics);
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out.trim(), '', 'no lint warnings');
  assert.match(metrics, /^etcd_http_sd_targets\{group="web",exporter_type="node_exporter"\} 2$/m);
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  assert.match(readme, /`etcd_http_sd_targets\{group,exporter_type\}`/, 'the README names its real labels');
});

test('promtool check metrics finds nothing to say about register --metrics-listen', async () => {
  const registry = new Registry();
  const metrics = createRegisterMetrics(registry, { nodes: () => 1 });
  metrics.repaired('group-deleted');
  metrics.collision('taken-over');
  const r = await checkMetrics(await registry.metrics());
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out.trim(), '', 'no lint warnings');
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  for (const name of ['repairs_total{cause}', 'collisions_total{action}', 'withdrawals_total{action}', 'lease_losses_total', 'lease_restores_total', 'nodes']) {
    assert.ok(readme.includes(`\`etcd_http_sd_register_${name}\``), `the README names etcd_http_sd_register_${name}`);
  }
});
