// Node validation and the node document, without etcd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../src/errors.js';
import { joinHostPort, keyOfNode, nodeDocument, validateNode, type NodeSpec } from '../../src/register/index.js';
import { parseNodeDocument } from '../../src/registry/index.js';
import { loadFixtureFile } from '../helpers/fixtures.js';

const BASE: NodeSpec = { group: 'web', id: 'web-1', exporterType: 'node_exporter', port: 9100 };

function fieldOf(spec: Record<string, unknown>): string | undefined {
  try {
    validateNode({ ...BASE, ...spec });
    return undefined;
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError, String(err));
    return err.field;
  }
}

test('defaults: /metrics, healthy, no labels, no address', () => {
  assert.deepEqual(validateNode(BASE), { ...BASE, metricsPath: '/metrics', labels: {}, status: 'healthy' });
  assert.equal(keyOfNode('/services', validateNode(BASE)), '/services/web/nodes/web-1_node_exporter');
});

test('every rule names the field, and the message shows the value', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ id: '' }, 'id'],
    [{ id: 'a/b' }, 'id'],
    [{ id: 'a b' }, 'id'],
    [{ exporterType: '' }, 'exporterType'],
    [{ exporterType: 'x/y' }, 'exporterType'],
    [{ port: 0 }, 'port'],
    [{ port: 65536 }, 'port'],
    [{ port: 1.5 }, 'port'],
    [{ port: '9100' }, 'port'],
    [{ group: '' }, 'group'],
    [{ group: 'a/b' }, 'group'],
    [{ group: 'a b' }, 'group'],
    [{ group: '...' }, 'group'],
    [{ group: 'g'.repeat(64) }, 'group'],
    [{ group: '\u00e9'.repeat(32) }, 'group'],
    [{ metricsPath: 'metrics' }, 'metricsPath'],
    [{ labels: { __scheme__: 'https' } }, 'labels.__scheme__'],
    [{ labels: { '9lives': 'x' } }, 'labels.9lives'],
    [{ labels: { 'app.kubernetes.io/name': 'x' } }, 'labels.app.kubernetes.io/name'],
    [{ labels: { ok: '' } }, 'labels.ok'],
    [{ labels: [] }, 'labels'],
    [{ status: '' }, 'status'],
    [{ host: 'h:1' }, 'host'],
    [{ host: 'http://h' }, 'host'],
    [{ address: 'h' }, 'address'],
    [{ address: 'h:0' }, 'address'],
    [{ address: '::1:9100' }, 'address'],
    [{ host: 'h', address: 'h:1' }, 'address'],
  ];
  for (const [spec, field] of cases) assert.equal(fieldOf(spec), field, JSON.stringify(spec));
  assert.throws(() => validateNode({ ...BASE, port: 70000 }), /port: must be an integer from 1 to 65535 \(got 70000\)/);
  assert.equal(fieldOf({ group: 'g'.repeat(63), labels: { _ok: 'x', a1: 'y' } }), undefined);
  for (const group of ['web.prod', 'a:b', 'x@y', '\u00e9t\u00e9-1']) assert.equal(fieldOf({ group }), undefined, group);
});

test('address: host + port, IPv6 bracketed; address kept as given', () => {
  assert.equal(validateNode({ ...BASE, host: '10.0.0.5' }).address, '10.0.0.5:9100');
  assert.equal(validateNode({ ...BASE, host: 'node-1.example.net' }).address, 'node-1.example.net:9100');
  assert.equal(validateNode({ ...BASE, host: '::1' }).address, '[::1]:9100');
  assert.equal(validateNode({ ...BASE, host: '[fe80::1]' }).address, '[fe80::1]:9100');
  assert.equal(validateNode({ ...BASE, address: '[::1]:9200' }).address, '[::1]:9200');
  assert.equal(validateNode({ ...BASE, address: 'lb.example.net:31080' }).address, 'lb.example.net:31080');
  assert.equal(joinHostPort('127.0.0.1', 1), '127.0.0.1:1');
});

test('the document has the Go fields in Go order, last_seen with nanoseconds, and parses back', () => {
  const goDoc = JSON.parse(loadFixtureFile().entries.find((e) => e.key === '/services/ext/nodes/ext-1_app')?.value ?? '{}') as object;
  const text = nodeDocument(validateNode({ ...BASE, host: '127.0.0.1', labels: { team: 'api' } }));
  const doc = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc), Object.keys(goDoc));
  assert.match(String(doc['last_seen']), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{0,8}[1-9])?Z$/);
  const parsed = parseNodeDocument(text);
  assert.ok(parsed.ok);
  assert.equal(parsed.value.address, '127.0.0.1:9100');
  const plain = JSON.parse(nodeDocument(validateNode(BASE))) as object;
  assert.ok(!('address' in plain), 'address only when host or address was given');
  assert.equal(nodeDocument(validateNode(BASE), '2025-03-01T10:00:05.987654321Z'),
    '{"id":"web-1","exporter_type":"node_exporter","port":9100,"metrics_path":"/metrics","labels":{},"status":"healthy","last_seen":"2025-03-01T10:00:05.987654321Z"}');
});
