// Server metrics: counters kept in plain numbers are folded in whenever they are read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createServerMetrics } from '../../src/metrics/metrics.js';

test('watch events counted per message show in every read and are never lost or counted twice', async () => {
  const registry = new Registry();
  const { mirror } = createServerMetrics(registry);
  const read = async (): Promise<string> => (await registry.metrics()).split('\n').filter((l) => l.startsWith('etcd_http_sd_watch_events_total{')).join('\n');
  assert.equal(await read(), 'etcd_http_sd_watch_events_total{type="put"} 0\netcd_http_sd_watch_events_total{type="delete"} 0');
  mirror.eventsApplied('put', 3);
  mirror.eventsApplied('put', 1);
  mirror.eventsApplied('delete', 2);
  assert.equal(await read(), 'etcd_http_sd_watch_events_total{type="put"} 4\netcd_http_sd_watch_events_total{type="delete"} 2');
  assert.equal(await read(), 'etcd_http_sd_watch_events_total{type="put"} 4\netcd_http_sd_watch_events_total{type="delete"} 2');
  mirror.eventsApplied('delete', 1);
  const single = await registry.getSingleMetricAsString('etcd_http_sd_watch_events_total');
  assert.match(single, /\{type="delete"\} 3$/m);
  assert.match(single, /\{type="put"\} 4$/m);
});
