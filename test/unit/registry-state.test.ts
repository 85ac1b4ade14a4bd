// RegistryState: incremental changes, heartbeats, precedence, group relabelling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryState } from '../../src/registry/index.js';

const P = '/services';
const node = (id: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ id, exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: { team: 'a' }, status: 'healthy', last_seen: '2025-03-01T10:00:05.987654321Z', ...extra });
const group = (labels: Record<string, string>): string => JSON.stringify({ name: 'g', spec: { username: '', password: '', common_labels: labels } });

test('a heartbeat that only moves last_seen changes neither body, ETag nor version', () => {
  const s = new RegistryState(P);
  s.apply({ type: 'put', key: `${P}/g/nodes/a_node_exporter`, value: node('a') });
  const before = s.snapshot();
  const r = s.apply({ type: 'put', key: `${P}/g/nodes/a_node_exporter`, value: node('a', { last_seen: '2026-01-01T00:00:00.000000001Z' }) });
  assert.equal(r.changed, false);
  const after = s.snapshot();
  assert.equal(after, before, 'the same snapshot object is reused');
  assert.equal(after.etag, before.etag);
});

test('the stored document follows heartbeats, before and after its node is first rendered', () => {
  const key = `${P}/g/nodes/a_node_exporter`;
  const s = new RegistryState(P);
  s.apply({ type: 'put', key, value: node('a') });
  const beat = (lastSeen: string): void => {
    assert.equal(s.apply({ type: 'put', key, value: node('a', { last_seen: lastSeen }) }).changed, false);
    assert.equal(s.nodeDocument('g', 'a_node_exporter')?.lastSeen, lastSeen);
  };
  beat('2026-01-01T00:00:01Z');
  const body = s.snapshot().body;
  beat('2026-01-01T00:00:02Z');
  // Another spelling of the same target is parsed, and is a heartbeat too.
  const spaced = JSON.stringify(JSON.parse(node('a', { last_seen: '2026-01-01T00:00:03Z' })), null, 1);
  assert.equal(s.apply({ type: 'put', key, value: spaced }).changed, false);
  assert.equal(s.nodeDocument('g', 'a_node_exporter')?.lastSeen, '2026-01-01T00:00:03Z');
  beat('2026-01-01T00:00:04Z');
  assert.equal(s.snapshot().body, body);
});

test('a put that looks like a heartbeat but changes something visible is applied', () => {
  const key = `${P}/g/nodes/a_node_exporter`;
  const s = new RegistryState(P);
  s.apply({ type: 'put', key, value: node('a') });
  const served = (): unknown => JSON.parse(s.snapshot().body);
  const heartbeat = (extra: Record<string, unknown>): string => node('a', { last_seen: '2026-01-01T00:00:00Z', ...extra });
  assert.equal(s.apply({ type: 'put', key, value: heartbeat({}) }).changed, false);
  // The same document with a case-folded twin of "port": the last one wins, as in Go.
  const twin = heartbeat({}).replace(/}$/, ',"PORT":9200}');
  assert.equal(s.apply({ type: 'put', key, value: twin }).changed, true);
  assert.deepEqual((served() as { targets: string[] }[])[0]!.targets, ['a:9200']);
  assert.equal(s.apply({ type: 'put', key, value: heartbeat({ labels: { team: 'b' } }) }).changed, true);
  assert.equal((served() as { labels: Record<string, string> }[])[0]!.labels['team'], 'b');
  // A new last_seen that is not a time Go reads fails the node, as it fails Go's GetNodes.
  for (const lastSeen of ['2026-02-29T00:00:00Z', '0000-02-29T00:00:00Z', '2026-01-01T00:00:00']) {
    s.apply({ type: 'put', key, value: heartbeat({}) });
    const r = s.apply({ type: 'put', key, value: heartbeat({ last_seen: lastSeen }) });
    assert.equal(r.changed, true, lastSeen);
    assert.equal(r.invalid?.reason, 'invalid_field', lastSeen);
    assert.deepEqual(served(), [], lastSeen);
  }
});

test('a group document change relabels all its nodes; node labels win on a clash', () => {
  const s = new RegistryState(P);
  s.apply({ type: 'put', key: `${P}/g/nodes/a_node_exporter`, value: node('a') });
  s.apply({ type: 'put', key: `${P}/g/nodes/b_node_exporter`, value: node('b') });
  const etag0 = s.snapshot().etag;
  s.apply({ type: 'put', key: `${P}/g`, value: group({ env: 'prod', team: 'group-team' }) });
  const groups = JSON.parse(s.snapshot().body) as { labels: Record<string, string> }[];
  assert.equal(groups.length, 2);
  for (const g of groups) {
    assert.equal(g.labels['env'], 'prod');
    assert.equal(g.labels['team'], 'a', 'node label wins');
  }
  assert.notEqual(s.snapshot().etag, etag0);
  s.apply({ type: 'delete', key: `${P}/g` });
  assert.equal((JSON.parse(s.snapshot().body) as { labels: Record<string, string> }[])[0]!.labels['env'], undefined);
});

test('a node may exist before its group; deleting the last node keeps a group with a document', () => {
  const s = new RegistryState(P);
  s.apply({ type: 'put', key: `${P}/g/nodes/a_node_exporter`, value: node('a') });
  assert.equal(s.snapshot().groups.length, 1);
  s.apply({ type: 'put', key: `${P}/g`, value: group({}) });
  s.apply({ type: 'delete', key: `${P}/g/nodes/a_node_exporter` });
  assert.equal(s.snapshot().body, '[]');
  assert.deepEqual(s.snapshot().groups.map((g) => g.name), ['g']);
  s.apply({ type: 'delete', key: `${P}/g` });
  assert.equal(s.snapshot().groups.length, 0);
});

test('an update that makes a valid node invalid removes it and reports why', () => {
  const s = new RegistryState(P);
  s.apply({ type: 'put', key: `${P}/g/nodes/a_node_exporter`, value: node('a') });
  const r = s.apply({ type: 'put', key: `${P}/g/nodes/a_node_exporter`, value: node('a', { port: 70000 }) });
  assert.equal(r.changed, true);
  assert.equal(r.invalid?.reason, 'invalid_port');
  assert.equal(s.snapshot().body, '[]');
  s.apply({ type: 'delete', key: `${P}/g/nodes/a_node_exporter` });
  assert.equal(s.invalidCounts().size, 0, 'deleting an invalid key forgets it');
});

test('nodes of an invalid group name are skipped and counted; other keys are ignored', () => {
  const s = new RegistryState(P);
  const r = s.apply({ type: 'put', key: `${P}/bad?name/nodes/a_node_exporter`, value: node('a') });
  assert.equal(r.invalid?.reason, 'invalid_group_name');
  assert.equal(s.apply({ type: 'put', key: `${P}/...:/nodes/a_b`, value: node('a') }).invalid?.reason, 'invalid_group_name', 'no [A-Za-z0-9_-]');
  for (const key of [P, `${P}/`, `${P}X/g/nodes/a_b`, `${P}/g/config`, `${P}/g/nodes/`]) {
    assert.deepEqual(s.apply({ type: 'put', key, value: node('x') }), { changed: false }, key);
  }
  assert.equal(s.snapshot().body, '[]');
});

test('an address that could bend the scrape URL is refused', () => {
  const s = new RegistryState(P);
  for (const address of ['evil.com/x:80', 'user@h:1', 'h:99999', 'h :1', 'h:1?x=1', '']) {
    const r = s.apply({ type: 'put', key: `${P}/g/nodes/a_b`, value: node('a', { address }) });
    if (address === '') assert.equal(r.invalid, undefined, 'empty address means unset');
    else assert.equal(r.invalid?.reason, 'invalid_address', address);
  }
});

test('versions increase across a reload so cached views never collide', () => {
  const s = new RegistryState(P);
  s.apply({ type: 'put', key: `${P}/g/nodes/a_b`, value: node('a') });
  const v = s.snapshot().version;
  const reloaded = new RegistryState(P, s.currentVersion + 1);
  reloaded.apply({ type: 'put', key: `${P}/g/nodes/a_b`, value: node('a') });
  assert.ok(reloaded.snapshot().version > v);
  assert.equal(reloaded.snapshot().etag, s.snapshot().etag, 'same content, same ETag');
});
