// Explanations: the path from document to target, told by the rendering rules themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { explainGroupDocument, explainNode, invalidUnder } from '../../src/explain/explain.js';
import { nodeExplanationJson } from '../../src/explain/json.js';
import { listNodes } from '../../src/explain/nodes.js';
import { diffContent } from '../../src/events/diff.js';
import { EventHub, type EventClient } from '../../src/events/hub.js';
import { RegistryState, sanitizeLabels, type LabelStep } from '../../src/registry/index.js';

const P = '/services';
const doc = (id: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ id, exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: {}, status: 'healthy', last_seen: '2025-03-01T10:00:05Z', ...extra });

function stateWith(entries: Record<string, string>): RegistryState {
  const s = new RegistryState(P);
  for (const [key, value] of Object.entries(entries)) s.apply({ type: 'put', key, value });
  return s;
}

test('sanitizeLabels reports why each label was kept, renamed or dropped, and still returns the same labels', () => {
  const raw = { ok: 'v', 'a-b': '1', a_b: '2', '1x': 'y', __address__: 'evil', e: '', n: 5, 'x.y': 'z' };
  const steps: LabelStep[] = [];
  const traced = sanitizeLabels(raw, (s) => steps.push(s));
  assert.deepEqual(traced, sanitizeLabels(raw));
  const last = new Map(steps.map((s) => [s.name, s]));
  assert.equal(last.get('ok')?.action, 'kept');
  assert.equal(last.get('a_b')?.action, 'kept');
  assert.match(last.get('a-b')?.rule ?? '', /collision/);
  assert.equal(last.get('a-b')?.action, 'dropped');
  assert.deepEqual([last.get('1x')?.action, last.get('1x')?.to], ['renamed', '_1x']);
  assert.deepEqual([last.get('x.y')?.action, last.get('x.y')?.to], ['renamed', 'x_y']);
  assert.match(last.get('__address__')?.rule ?? '', /reserved/);
  assert.match(last.get('e')?.rule ?? '', /empty/);
  assert.match(last.get('n')?.rule ?? '', /strings/);
});

test('a served node: document, address rule, label fates and the target exactly as rendered', () => {
  const s = stateWith({
    [`${P}/web`]: JSON.stringify({ name: 'web', spec: { username: 'scraper', password: 's3cret-pw', common_labels: { env: 'prod', team: 'g', 'app.kubernetes.io/name': 'x' } } }),
    [`${P}/web/nodes/w1_node_exporter`]: doc('w1', { labels: { team: 'n', exporter_type: 'other', ingress_host: 'h.example', __scheme__: 'https' } }),
  });
  const x = explainNode(s, 'web', 'w1_node_exporter');
  assert.ok(x?.served);
  assert.deepEqual(x.address, { rule: 'ingress_host_label', value: 'h.example:9100' });
  assert.deepEqual(x.target?.targets, ['h.example:9100']);
  assert.equal(JSON.stringify(x.target), s.snapshot().group('web')!.nodes[0]!.json, 'the explained target is the served bytes');
  const fate = (source: string, name: string): string | undefined => x.labels.find((l) => l.source === source && l.name === name)?.action;
  assert.equal(fate('group', 'team'), 'overridden');
  assert.equal(fate('group', 'env'), 'kept');
  assert.equal(fate('group', 'app.kubernetes.io/name'), 'renamed');
  assert.equal(fate('node', '__scheme__'), 'dropped');
  assert.equal(fate('node', 'exporter_type'), 'overridden');
  assert.equal(x.groupDocument.credentials, 'username and password');
  const json = JSON.stringify(nodeExplanationJson(x));
  assert.ok(!json.includes('s3cret-pw') && !json.includes('scraper'), 'no credential in an explanation');
});

test('why a node is not served: invalid document, bad address, invalid group name', () => {
  const s = stateWith({
    [`${P}/g/nodes/bad`]: '{"id":"x"',
    [`${P}/g/nodes/addr`]: doc('addr', { address: 'http://x/y' }),
    [`${P}/g/nodes/noport`]: doc('np', { port: 0 }),
    [`${P}/bad group!/nodes/n`]: doc('n'),
    [`${P}/g`]: '{"spec":5}',
  });
  assert.equal(explainNode(s, 'g', 'bad')?.problem?.reason, 'invalid_json');
  assert.equal(explainNode(s, 'g', 'addr')?.problem?.reason, 'invalid_address');
  assert.equal(explainNode(s, 'g', 'noport')?.problem?.reason, 'invalid_port');
  assert.equal(explainNode(s, 'g', 'missing'), undefined);
  assert.equal(explainGroupDocument(s, 'g').document, 'invalid');
  const reasons = s.invalidDocuments().map((d) => d.reason).sort();
  assert.deepEqual(reasons, ['invalid_address', 'invalid_field', 'invalid_group_name', 'invalid_json', 'invalid_port']);
  assert.equal(invalidUnder(s, 'g').length, 4);
});

test('listNodes pages within bounds and searches every field', () => {
  const entries: Record<string, string> = {};
  for (let i = 0; i < 120; i++) entries[`${P}/g${i % 3}/nodes/n${i}_t`] = doc(`n${i}`, { exporter_type: i % 2 === 0 ? 'even' : 'odd', address: `10.0.0.${i}:9100` });
  const s = stateWith(entries);
  const c = s.snapshot();
  const first = listNodes(c, s, { page: 1, pageSize: 50 });
  assert.equal(first.total, 120);
  assert.equal(first.nodes.length, 50);
  const third = listNodes(c, s, { page: 3, pageSize: 50 });
  assert.equal(third.nodes.length, 20);
  const all = [first, listNodes(c, s, { page: 2, pageSize: 50 }), third].flatMap((p) => p.nodes.map((n) => n.node));
  assert.equal(new Set(all).size, 120, 'pages neither overlap nor skip');
  assert.equal(listNodes(c, s, { page: 1, pageSize: 10_000 }).page_size, 500, 'page size is bounded');
  assert.equal(listNodes(c, s, { page: 1, pageSize: 50, group: 'g1', exporterType: 'even' }).total, 20);
  assert.deepEqual(listNodes(c, s, { page: 1, pageSize: 50, address: '10.0.0.77:' }).nodes.map((n) => n.id), ['n77']);
  assert.equal(listNodes(c, s, { page: 1, pageSize: 50, text: 'N7' }).total, 11, 'n7, n70-n79: case-insensitive');
});

test('diffContent names every added, changed and removed target', () => {
  const s = stateWith({ [`${P}/a/nodes/x`]: doc('x'), [`${P}/a/nodes/y`]: doc('y'), [`${P}/b/nodes/z`]: doc('z') });
  const before = s.snapshot();
  s.apply({ type: 'put', key: `${P}/a/nodes/x`, value: doc('x', { port: 9200 }) });
  s.apply({ type: 'delete', key: `${P}/b/nodes/z` });
  s.apply({ type: 'put', key: `${P}/c/nodes/w`, value: doc('w') });
  const changes = diffContent(before, s.snapshot()).map((c) => `${c.type} ${c.group}/${c.node}`).sort();
  assert.deepEqual(changes, ['added c/w', 'changed a/x', 'removed b/z']);
});

class FakeMirror extends EventEmitter<{ change: [] }> {
  revision = 0;
  constructor(readonly state: RegistryState) {
    super();
  }
  content() {
    return this.revision === 0 ? undefined : this.state.snapshot();
  }
  put(revision: number, key: string, value: string): void {
    this.state.apply({ type: 'put', key, value });
    this.revision = revision;
    this.emit('change');
  }
}

function collector(maxBuffered = 0): EventClient & { frames: string[]; dropped: string[] } {
  const frames: string[] = [];
  const dropped: string[] = [];
  return { frames, dropped, write: (f) => { frames.push(f); return maxBuffered === 0 ? 0 : frames.join('').length; }, drop: (why) => dropped.push(why) };
}

test('EventHub: revision ids, resume from the ring, reset when gone, a slow client is dropped', () => {
  const m = new FakeMirror(new RegistryState(P));
  const hub = new EventHub(m, { ringSize: 3, clientMaxBufferedBytes: 400, coalesceMs: 0 });
  m.put(10, `${P}/g/nodes/a`, doc('a')); // first load: the baseline
  const c = collector();
  hub.add(c);
  m.put(11, `${P}/g/nodes/b`, doc('b'));
  m.put(12, `${P}/g/nodes/b`, doc('b', { port: 1234 }));
  assert.match(c.frames[0]!, /^id: 11\nevent: added\ndata: \{"revision":11,"group":"g","node":"b","target":\{"targets":\["b:9100"\]/);
  assert.match(c.frames[1]!, /^id: 12\nevent: changed\n/);
  const r = hub.resume(11);
  assert.equal(r.kind, 'replay');
  assert.equal(r.frames.length, 1);
  assert.equal(hub.resume(9).kind, 'reset', 'before the baseline');
  assert.equal(hub.resume(99).kind, 'reset', 'from the future');
  m.put(13, `${P}/g/nodes/c`, doc('c'));
  m.put(14, `${P}/g/nodes/d`, doc('d'));
  assert.equal(hub.resume(10).kind, 'reset', 'revision 11 fell out of the ring');
  assert.equal(hub.resume(11).kind, 'replay');
  const slow = collector(1);
  hub.add(slow);
  for (let i = 0; i < 5; i++) m.put(15 + i, `${P}/g/nodes/s${i}`, doc(`s${i}`));
  assert.deepEqual(slow.dropped, ['slow']);
  assert.equal(hub.clientCount, 1);
  hub.close();
  assert.deepEqual(c.dropped, ['closing']);
});

test('EventHub coalesces changes into one batch per window; the baseline is taken at once', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const m = new FakeMirror(new RegistryState(P));
  const hub = new EventHub(m, { coalesceMs: 100 });
  m.put(10, `${P}/g/nodes/a`, doc('a')); // the first load: a baseline, never coalesced with what follows
  const c = collector();
  hub.add(c);
  m.put(11, `${P}/g/nodes/b`, doc('b'));
  m.put(12, `${P}/g/nodes/c`, doc('c'));
  assert.deepEqual(c.frames, [], 'nothing before the window closes');
  t.mock.timers.tick(100);
  assert.equal(c.frames.length, 1, 'one write for the batch');
  assert.deepEqual([...(c.frames as string[])[0]!.matchAll(/^id: (\d+)\nevent: (\w+)\ndata: .*"node":"(\w)"/gm)].map((x) => `${x[1]} ${x[2]} ${x[3]}`), ['12 added b', '12 added c']);
  hub.close();
});

test('nodes of a group whose document was never valid are explained as withheld, not served', () => {
  const s = stateWith({
    '/services/held': '{"name":',
    '/services/held/nodes/n1_node_exporter': doc('n1', { address: '10.0.0.1:9100' }),
  });
  const e = explainNode(s, 'held', 'n1_node_exporter');
  assert.ok(e !== undefined);
  assert.equal(e.served, false);
  const problem = e.problem;
  assert.ok(problem !== undefined);
  assert.equal(problem.key, '/services/held');
  assert.match(problem.detail, /never seen valid/);
  assert.equal(s.snapshot().group('held')?.nodes.length ?? 0, 0, 'and the state indeed serves none of them');
});
