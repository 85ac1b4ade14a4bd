// Readiness and connection figures that tell the truth: a quiet prefix in a busy, shared etcd is not a
// silent watch, and a frozen etcd is noticed within seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoTime, formatNodeDocument } from '../../src/registry/index.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { waitForConvergence } from '../helpers/converge.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

const nodeDoc = (id: string): string =>
  formatNodeDocument({ id, exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: {}, status: 'healthy', lastSeen: formatGoTime(new Date(0)) });

const metric = (text: string, series: string): number => {
  const m = new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m === null ? NaN : Number(m[1]);
};

test('another application writing outside the prefix: no watch re-creation, no reload, and changes still served', { timeout: 60_000 }, async (t) => {
  // etcd's default progress-notify interval (10 min), as in production: no progress message keeps a quiet watch "busy".
  const etcd = await useTestEtcd(t, { extraArgs: ['--experimental-watch-progress-notify-interval=10m'] });
  const c = etcd.client();
  await c.put('/services/g/nodes/a_node_exporter').value(nodeDoc('a'));
  const logLines: string[] = [];
  const server = await useTestServer(t, etcd.endpoint, { logLines, stallMs: 1000 });
  await server.mirror.whenReady();
  // 6 s of writes elsewhere: six stall periods of the server, each with etcd's revision ahead of ours.
  const until = Date.now() + 6000;
  let writes = 0;
  while (Date.now() < until) {
    await c.put(`/other-app/k${writes % 50}`).value(String(writes));
    writes++;
  }
  await etcd.compact();
  await c.put('/services/g/nodes/b_node_exporter').value(nodeDoc('b'));
  await waitForConvergence(server, c);
  const metrics = (await httpGet(`${server.url}/metrics`)).text;
  t.diagnostic(`${writes} writes outside the prefix; re-creations ${logLines.filter((l) => l.includes('re-creating')).length}; compacted reloads ${metric(metrics, 'etcd_http_sd_reloads_total{reason="compacted"}')}`);
  assert.equal(metric(metrics, 'etcd_http_sd_mirror_errors_total{reason="watch_stalled"}'), 0);
  assert.equal(metric(metrics, 'etcd_http_sd_reloads_total{reason="compacted"}'), 0);
  assert.equal(metric(metrics, 'etcd_http_sd_reloads_total{reason="watch_error"}'), 0);
  assert.equal(logLines.filter((l) => l.includes('re-creating')).length, 0);
  const ready = JSON.parse((await httpGet(`${server.url}/readyz`)).text) as { staleness_seconds: number; degraded: boolean };
  assert.equal(ready.degraded, false);
  assert.ok(ready.staleness_seconds < 5, `staleness ${ready.staleness_seconds} s while the watch is current`);
});

test('etcd frozen (SIGSTOP): etcd_connected 0, a warning naming the cause, degraded /readyz; back after SIGCONT', { timeout: 60_000 }, async (t) => {
  const etcd = await useTestEtcd(t);
  const c = etcd.client();
  await c.put('/services/g/nodes/a_node_exporter').value(nodeDoc('a'));
  const logLines: string[] = [];
  const server = await useTestServer(t, etcd.endpoint, { logLines });
  await waitForConvergence(server, c);
  // Served before the watch is attached is possible: etcd_connected 0 must come from the freeze.
  await eventually('the watch attached before the freeze', () => (server.mirror.status().connected ? true : undefined));
  const pid = etcd.pid!;
  process.kill(pid, 'SIGSTOP');
  let frozen = true;
  t.after(() => {
    if (frozen) process.kill(pid, 'SIGCONT');
  });
  await eventually('etcd_connected 0', async () =>
    metric((await httpGet(`${server.url}/metrics`)).text, 'etcd_http_sd_etcd_connected') === 0 ? true : undefined, 15_000);
  const warning = logLines.find((l) => l.includes('"level":"warn"') && l.includes('etcd connection lost'));
  assert.ok(warning !== undefined, 'a warning when contact is lost');
  assert.match(warning, /deadline|DEADLINE|timeout|Timeout/i, `the warning names the cause: ${warning}`);
  const metrics = (await httpGet(`${server.url}/metrics`)).text;
  assert.ok(metric(metrics, 'etcd_http_sd_mirror_errors_total{reason="probe_failed"}') > 0);
  const ready = JSON.parse((await httpGet(`${server.url}/readyz`)).text) as { ready: boolean; degraded: boolean; etcd_connected: boolean };
  assert.deepEqual([ready.ready, ready.degraded, ready.etcd_connected], [true, true, false]);
  process.kill(pid, 'SIGCONT');
  frozen = false;
  await c.put('/services/g/nodes/b_node_exporter').value(nodeDoc('b'));
  await waitForConvergence(server, c, '/services', 30_000);
  await eventually('etcd_connected 1 again', () => (server.mirror.status().connected ? true : undefined), 30_000);
});
