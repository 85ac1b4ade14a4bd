import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DOCUMENT_LIMITS, RegistryState } from '../../src/registry/index.js';

const node = (labels: Record<string, string>): string =>
  JSON.stringify({ id: 'a', exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels, status: 'healthy', last_seen: '2026-01-01T00:00:00Z' });

test('documents over a limit are skipped with the limit in the reason; at the limit they are served', () => {
  const limits = { maxDocumentBytes: 2000, maxLabels: 3, maxLabelBytes: 10 };
  const s = new RegistryState('/services', 0, new Map(), limits);
  const put = (key: string, value: string) => s.apply({ type: 'put', key: `/services/g/nodes/${key}`, value });
  assert.equal(put('ok_node_exporter', node({ a: '1', b: '2', c: 'x'.repeat(10) })).invalid, undefined);
  const big = put('big_node_exporter', node({ pad: 'y' }).replace('}', `,"extra":"${'z'.repeat(2000)}"}`));
  assert.equal(big.invalid?.reason, 'document_too_large');
  assert.match(big.invalid.detail, /2000 bytes/);
  assert.equal(put('many_node_exporter', node({ a: '1', b: '2', c: '3', d: '4' })).invalid?.reason, 'too_many_labels');
  assert.equal(put('long_node_exporter', node({ a: 'é'.repeat(6) })).invalid?.reason, 'label_too_long'); // 12 bytes
  assert.equal(put('name_node_exporter', node({ ['n'.repeat(11)]: '1' })).invalid?.reason, 'label_too_long');
  const group = s.apply({ type: 'put', key: '/services/h', value: JSON.stringify({ name: 'h', spec: { common_labels: { big: 'v'.repeat(11) } } }) });
  assert.equal(group.invalid?.reason, 'label_too_long');
  assert.equal(s.snapshot().targetCount, 1);
  assert.deepEqual(Object.fromEntries(s.invalidCounts()), { document_too_large: 1, too_many_labels: 1, label_too_long: 3 });
});

test('the default limits: etcd-sized documents, 128 labels of 4 KiB', () => {
  assert.deepEqual({ ...DEFAULT_DOCUMENT_LIMITS }, { maxDocumentBytes: 1_572_864, maxLabels: 128, maxLabelBytes: 4096 });
});
