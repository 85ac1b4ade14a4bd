// `register`'s own metrics: every series from the first scrape, the library's event values as labels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createRegisterMetrics } from '../../src/metrics/register.js';

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('every labelled series starts at 0; events count under their label, unknown values are dropped', async () => {
  const registry = new Registry();
  let nodes = 0;
  const m = createRegisterMetrics(registry, { nodes: () => nodes });
  const before = await registry.metrics();
  for (const s of ['etcd_http_sd_register_repairs_total{cause="deleted"}', 'etcd_http_sd_register_repairs_total{cause="overwritten"}',
    'etcd_http_sd_register_repairs_total{cause="group_deleted"}', 'etcd_http_sd_register_collisions_total{action="refused"}',
    'etcd_http_sd_register_collisions_total{action="taken_over"}', 'etcd_http_sd_register_collisions_total{action="yielded"}',
    'etcd_http_sd_register_withdrawals_total{action="removed"}', 'etcd_http_sd_register_lease_losses_total',
    'etcd_http_sd_register_lease_restores_total', 'etcd_http_sd_register_nodes']) {
    assert.equal(sample(before, s), 0, s);
  }
  assert.ok(sample(before, 'process_cpu_user_seconds_total') !== undefined, 'process metrics too');
  m.repaired('group-deleted');
  m.repaired('deleted');
  m.repaired('deleted');
  m.repaired('from-a-newer-library');
  m.collision('taken-over');
  m.withdrawn('marked');
  m.leaseLost();
  m.leaseRestored();
  nodes = 1;
  const after = await registry.metrics();
  assert.equal(sample(after, 'etcd_http_sd_register_repairs_total{cause="group_deleted"}'), 1);
  assert.equal(sample(after, 'etcd_http_sd_register_repairs_total{cause="deleted"}'), 2);
  assert.doesNotMatch(after, /newer/);
  assert.equal(sample(after, 'etcd_http_sd_register_collisions_total{action="taken_over"}'), 1);
  assert.equal(sample(after, 'etcd_http_sd_register_withdrawals_total{action="marked"}'), 1);
  assert.equal(sample(after, 'etcd_http_sd_register_lease_losses_total'), 1);
  assert.equal(sample(after, 'etcd_http_sd_register_lease_restores_total'), 1);
  assert.equal(sample(after, 'etcd_http_sd_register_nodes'), 1);
});
