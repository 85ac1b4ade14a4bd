// Label sanitising, reserved-label protection and address precedence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sanitizeLabelName, sanitizeLabels, checkLabels, resolveAddress, buildTargetGroup, formatGoTime, type NodeDocument } from '../../src/registry/index.js';

test('label names become valid Prometheus names', () => {
  assert.equal(sanitizeLabelName('no-cleanup'), 'no_cleanup');
  assert.equal(sanitizeLabelName('app.kubernetes.io/name'), 'app_kubernetes_io_name');
  assert.equal(sanitizeLabelName('9lives'), '_9lives');
  assert.equal(sanitizeLabelName('héllo'), 'h_llo');
  assert.equal(sanitizeLabelName('ok_Name1'), 'ok_Name1');
});

test('reserved and empty names are dropped, also when they only become reserved by sanitising', () => {
  for (const name of ['', '__address__', '__param_target', '__scheme__', '__', '_-x', '-_x', '..']) {
    assert.equal(sanitizeLabelName(name), undefined, name);
  }
});

test('sanitizeLabels drops empty and non-string values; an exact name beats its sanitised twin', () => {
  assert.deepEqual({ ...sanitizeLabels({ 'a-b': '1', a_b: '2', c: '', d: 5, e: null, f: 'x' }) }, { a_b: '2', f: 'x' });
  assert.deepEqual({ ...sanitizeLabels({ 'a.b': '1', 'a-b': '2' }) }, { a_b: '2' }, 'first in code-point order: "-" < "."');
  assert.deepEqual({ ...sanitizeLabels(null) }, {});
  assert.deepEqual({ ...sanitizeLabels(['x']) }, {});
  assert.deepEqual({ ...sanitizeLabels({ __proto__: 'x', constructor: 'y' }) }, { constructor: 'y' });
});

test('checkLabels names every label a writer must not write', () => {
  assert.deepEqual(checkLabels({ ok: 'v', __x: 'v', 'a-b': 'v', e: '' }).map((p) => p.name), ['__x', 'a-b', 'e']);
});

const base: NodeDocument = { id: 'n1', exporterType: 't', port: 9100, metricsPath: '', labels: {}, status: '' };

test('address precedence: address field, then label address, then ingress_host, then id', () => {
  const addr = (n: Partial<NodeDocument>): unknown => {
    const r = resolveAddress({ ...base, ...n });
    return r.ok ? r.value : r.reason;
  };
  assert.equal(addr({}), 'n1:9100');
  assert.equal(addr({ labels: { ingress_host: 'ing.example' } }), 'ing.example:9100');
  assert.equal(addr({ labels: { ingress_host: 'ing.example', address: 'lab.example:1' } }), 'lab.example:1');
  assert.equal(addr({ address: '[::1]:9', labels: { address: 'lab.example:1' } }), '[::1]:9');
});

test('exporter_type is always the node\'s; metrics path gets a leading slash', () => {
  const r = buildTargetGroup('g', { exporter_type: 'group' }, { ...base, labels: { exporter_type: 'spoofed' }, metricsPath: 'm' });
  assert.ok(r.ok);
  assert.equal(r.value.labels['exporter_type'], 't');
  assert.equal(r.value.labels['__metrics_path__'], '/m');
});

test('formatGoTime writes RFC 3339 with nanoseconds, trailing zeros trimmed as Go does', () => {
  assert.equal(formatGoTime(new Date('2025-03-01T10:00:05.987Z'), 654321), '2025-03-01T10:00:05.987654321Z');
  assert.equal(formatGoTime(new Date('2025-03-01T10:00:05Z')), '2025-03-01T10:00:05Z');
});
