// Property-based tests of RegistryState (hostile input): any
// sequence of puts and deletes of any keys and values gives a body Prometheus
// accepts, in which a node's group is the one in its key; and the state built
// change by change equals the state built from a fresh listing, in any order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyKey, RegistryState, type Change, type Content, type GroupDocument } from '../../src/registry/index.js';
import { renderFiltered } from '../../src/http/rendered.js';
import { diffContent } from '../../src/events/diff.js';

const P = '/services';
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const SEED = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
/** `FC_RUNS_FACTOR=10` for a longer hunt than CI's few seconds. */
const FACTOR = Number(process.env['FC_RUNS_FACTOR'] ?? 1);

function check<T>(prop: fc.IProperty<T>, numRuns: number): void {
  fc.assert(prop, { numRuns: numRuns * FACTOR, seed: SEED, endOnFailure: true });
}

// ---------- arbitraries: a small key space, so that keys collide ----------

const groupName = fc.constantFrom('web', 'web-canary', 'db', 'a', '_', 'x'.repeat(63), 'x'.repeat(64), 'web.prod', 'bad?name', '\u00fc', '');
const nodeName = fc.constantFrom('web-1_node_exporter', 'db_1_postgres_exporter', 'n', 'a_b_c', '\u00e9', ' ', 'a/b_node_exporter');
const weirdKey = fc.oneof(
  fc.constantFrom(P, `${P}/`, `${P}X/web/nodes/x_y`, `${P}/web/nodes/`, `${P}/web/nodes/a/b`, `${P}//nodes/a`, `${P}/web/x/a`,
    `${P}/web/config`, `/other/web/nodes/a`, '', '/', `${P}/web/nodes`, `${P}/web/nodes/deep/er`),
  fc.string().map((s) => `${P}/${s}`),
  fc.string({ unit: 'binary' }),
);
const keyArb = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(groupName, nodeName).map(([g, n]) => `${P}/${g}/nodes/${n}`) },
  { weight: 3, arbitrary: groupName.map((g) => `${P}/${g}`) },
  { weight: 1, arbitrary: weirdKey },
);

const labelName = fc.constantFrom('env', 'team', 'a-b', 'a.b', 'a_b', '__address__', '__scheme__', '__meta_etcd_group', 'exporter_type', 'address', 'ingress_host', '9x', '', '__proto__', 'constructor', 'job', 'instance');
const labelValue = fc.oneof({ weight: 5, arbitrary: fc.constantFrom('x', 'prod', '', 'evil:1', '169.254.169.254:80', 'h.example') }, { weight: 1, arbitrary: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 2 })) });
const labels = fc.oneof({ weight: 6, arbitrary: fc.dictionary(labelName, labelValue, { maxKeys: 5 }) }, { weight: 1, arbitrary: fc.constantFrom(null, [], 'x') });
const nodeValue = fc.record({
  id: fc.constantFrom('web-1', 'db_1', 'n', '', 'a/b', 'u@h', '10.0.0.1'),
  exporter_type: fc.constantFrom('node_exporter', 'postgres_exporter', 'app', ''),
  port: fc.constantFrom(9100, 1, 65535, 0, 70000, '80'),
  metrics_path: fc.constantFrom('/metrics', '', 'x', '/a?b'),
  labels,
  status: fc.constantFrom('healthy', 'maintenance', ''),
  last_seen: fc.constantFrom('2025-03-01T10:00:05.987654321Z', '2025-03-01T10:00:20.000000000Z'),
  address: fc.constantFrom('10.1.2.3:3000', 'evil/x:1', '', 'h:0'),
}, { requiredKeys: ['id', 'exporter_type', 'port', 'last_seen'] }).map((o) => JSON.stringify(o));
const groupValue = fc.record({
  name: fc.constantFrom('web', 'other'),
  spec: fc.oneof(fc.record({ username: fc.constantFrom('', 'u'), password: fc.constantFrom('', 'p'), common_labels: labels }, { requiredKeys: [] }), fc.constantFrom(null, 1, [])),
  created: fc.constant('2025-03-01T10:00:00.123456789Z'),
}, { requiredKeys: [] }).map((o) => JSON.stringify(o));
const garbage = fc.oneof(fc.string(), fc.json(), fc.constantFrom('{', 'null', '[1,2,3]', '"x"', '{"id":"broken","exporter_type":'));
const valueArb = fc.oneof({ weight: 6, arbitrary: nodeValue }, { weight: 3, arbitrary: groupValue }, { weight: 1, arbitrary: garbage });

const changeArb: fc.Arbitrary<Change> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('delete' as const), key: keyArb }) },
);

// ---------- invariants ----------

interface Item { targets: unknown; labels: Record<string, unknown> }

/** Checks a whole `/v1/targets` body; returns the number of targets per group label. */
function assertValidBody(body: string): Map<string, number> {
  assert.doesNotMatch(body, LONE_SURROGATE);
  const items = JSON.parse(body) as Item[];
  assert.ok(Array.isArray(items));
  const perGroup = new Map<string, number>();
  for (const item of items) {
    assert.deepEqual(Object.keys(item), ['targets', 'labels']);
    assert.ok(Array.isArray(item.targets) && item.targets.length === 1 && typeof item.targets[0] === 'string');
    assert.doesNotMatch(item.targets[0], /[/@?#\s]/);
    for (const [name, value] of Object.entries(item.labels)) {
      assert.match(name, LABEL_NAME);
      if (name.startsWith('__')) assert.ok(name === '__metrics_path__' || name.startsWith('__meta_etcd_'), name);
      assert.notEqual(name, 'job', 'job is protected by default');
      assert.ok(typeof value === 'string' && value !== '', name);
    }
    const g = item.labels['__meta_etcd_group'];
    assert.equal(typeof g, 'string');
    perGroup.set(g as string, (perGroup.get(g as string) ?? 0) + 1);
  }
  return perGroup;
}

/** Everything a client can see of a snapshot: targets body and ETag, and the /v1/groups content. */
function visible(c: Content): unknown {
  return {
    body: c.body,
    etag: c.etag,
    groups: c.groups.map((g) => ({ name: g.name, common: g.commonLabels, nodes: g.nodes.length, types: g.exporterTypes, hash: g.hash, creds: g.credentials })),
  };
}

/** A state listed from `entries`; `lastGood` as a reload passes it on (stale over partial). */
function stateFrom(entries: Iterable<[string, string]>, lastGood?: ReadonlyMap<string, GroupDocument>): RegistryState {
  const s = new RegistryState(P, 0, lastGood);
  for (const [key, value] of entries) s.apply({ type: 'put', key, value });
  return s;
}

/**
 * Node keys of the model per group, counting only those the renderer serves (checked against a
 * state of the node and its group's document, seeded with the group documents in force).
 */
function expectedPerGroup(model: ReadonlyMap<string, string>, lastGood: ReadonlyMap<string, GroupDocument>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of model) {
    const kind = classifyKey(P, key);
    if (kind.kind !== 'node') continue;
    const doc = model.get(`${P}/${kind.group}`);
    const alone = stateFrom([...(doc === undefined ? [] : [[`${P}/${kind.group}`, doc] as [string, string]]), [key, value]], lastGood).snapshot();
    if (alone.targetCount === 1) out.set(kind.group, (out.get(kind.group) ?? 0) + 1);
  }
  return out;
}

// ---------- properties ----------

test('any sequence of changes: a valid body after each, "unchanged" really unchanged, a node counted under its key\'s group', () => {
  check(fc.property(fc.array(changeArb, { maxLength: 40 }), (changes) => {
    const s = new RegistryState(P);
    const model = new Map<string, string>();
    for (const change of changes) {
      const before = visible(s.snapshot());
      const r = s.apply(change);
      if (change.type === 'put') model.set(change.key, change.value);
      else model.delete(change.key);
      const after = s.snapshot();
      if (!r.changed) assert.deepEqual(visible(after), before, `apply(${JSON.stringify(change)}) said unchanged`);
      const perGroup = assertValidBody(after.body);
      assert.deepEqual(perGroup, expectedPerGroup(model, s.lastGoodGroups()), 'targets per group = served node keys per group');
      assert.equal(after.targetCount, [...perGroup.values()].reduce((a, b) => a + b, 0));
    }
  }), 300);
});

test('the state built change by change equals a fresh listing, and listing order does not matter', () => {
  check(fc.property(fc.array(changeArb, { maxLength: 60 }), fc.nat(), (changes, shuffleSeed) => {
    const s = new RegistryState(P);
    const model = new Map<string, string>();
    for (const change of changes) {
      s.apply(change);
      if (change.type === 'put') model.set(change.key, change.value);
      else model.delete(change.key);
    }
    // A reload passes on the group documents in force (stale over partial), as the mirror does.
    const lastGood = s.lastGoodGroups();
    const listed = stateFrom([...model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), lastGood);
    assert.deepEqual(visible(s.snapshot()), visible(listed.snapshot()));
    assert.deepEqual(s.invalidCounts(), listed.invalidCounts(), 'invalid-document gauges agree');
    const byKey = (st: RegistryState): unknown => st.protectedLabelCounts().sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
    assert.deepEqual(byKey(s), byKey(listed), 'protected-label gauges agree');
    // Another order (a reload sees keys in key order, a watch in any order).
    const shuffled = [...model];
    let x = shuffleSeed;
    for (let i = shuffled.length - 1; i > 0; i--) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const j = x % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    assert.deepEqual(visible(stateFrom(shuffled, lastGood).snapshot()), visible(listed.snapshot()));
  }), 400);
});

/** Every served target by group and node key, as the event stream describes them. */
function targetsOf(c: Content): Map<string, string> {
  const out = new Map<string, string>();
  for (const g of c.groups) for (const n of g.nodes) out.set(`${g.name}\0${n.key}`, n.json);
  return out;
}

test('snapshots between batches equal a fresh listing, groups are found by name, and the diff between two is exactly what changed', () => {
  // Snapshots after a batch reuse the last one's views for the groups that did not change.
  check(fc.property(fc.array(fc.tuple(changeArb, fc.boolean()), { maxLength: 60 }), (steps) => {
    const s = new RegistryState(P);
    const model = new Map<string, string>();
    let prev = s.snapshot();
    for (const [change, snapAfter] of steps) {
      s.apply(change);
      if (change.type === 'put') model.set(change.key, change.value);
      else model.delete(change.key);
      if (!snapAfter) continue;
      const now = s.snapshot();
      const listed = stateFrom([...model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), s.lastGoodGroups());
      assert.deepEqual(visible(now), visible(listed.snapshot()));
      for (const g of now.groups) assert.equal(now.group(g.name), g);
      for (const name of ['', '0', 'zz', 'web-', 'wea', '\uffff']) assert.equal(now.group(name), now.groups.find((g) => g.name === name));
      const replayed = targetsOf(prev);
      for (const c of diffContent(prev, now)) {
        const k = `${c.group}\0${c.node}`;
        assert.equal(c.type === 'added', !replayed.has(k), `${c.type} ${k}`);
        if (c.type === 'removed') replayed.delete(k);
        else replayed.set(k, c.target ?? '');
      }
      assert.deepEqual(replayed, targetsOf(now));
      prev = now;
    }
  }), 400);
});

test('filtered views are valid bodies and subsets of the full body', () => {
  const types = fc.uniqueArray(fc.constantFrom('node_exporter', 'postgres_exporter', 'app', 'nope'), { maxLength: 3 });
  const groups = fc.uniqueArray(fc.constantFrom('web', 'web-canary', 'db', 'a', 'nope'), { maxLength: 3 });
  check(fc.property(fc.array(changeArb, { maxLength: 30 }), groups, types, (changes, g, t) => {
    const s = new RegistryState(P);
    for (const c of changes) s.apply(c);
    const content = s.snapshot();
    const full = (JSON.parse(content.body) as Item[]).map((i) => JSON.stringify(i));
    const body = renderFiltered(content, { groups: [...g].sort(), exporterTypes: [...t].sort() });
    assertValidBody(body);
    const items = JSON.parse(body) as Item[];
    for (const item of items) {
      assert.ok(full.includes(JSON.stringify(item)));
      if (g.length > 0) assert.ok((g as readonly string[]).includes(item.labels['__meta_etcd_group'] as string));
      if (t.length > 0) assert.ok((t as readonly string[]).includes(item.labels['exporter_type'] as string));
    }
  }), 300);
});

test('a registrant writing only under its own group cannot change another group\'s targets', () => {
  const ownKey = fc.oneof(
    nodeName.map((n) => `${P}/web/nodes/${n}`),
    fc.constant(`${P}/web`),
    fc.constantFrom(`${P}/web/nodes/db_1_postgres_exporter`, `${P}/web/config`, `${P}/web/nodes/../../db/nodes/x`),
  );
  const hostileValue = fc.oneof(valueArb, fc.constantFrom(
    JSON.stringify({ id: 'db_1', exporter_type: 'postgres_exporter', port: 9187, labels: { __meta_etcd_group: 'db', group: 'db' }, name: 'db' }),
    JSON.stringify({ name: 'db', spec: { common_labels: { __meta_etcd_group: 'db' } } }),
  ));
  const attack = fc.array(fc.oneof(
    fc.record({ type: fc.constant('put' as const), key: ownKey, value: hostileValue }),
    fc.record({ type: fc.constant('delete' as const), key: ownKey }),
  ), { maxLength: 30 });
  check(fc.property(attack, (changes) => {
    const s = new RegistryState(P);
    s.apply({ type: 'put', key: `${P}/db`, value: JSON.stringify({ name: 'db', spec: { common_labels: { env: 'prod' } } }) });
    s.apply({ type: 'put', key: `${P}/db/nodes/db_1_postgres_exporter`, value: JSON.stringify({ id: 'db_1', exporter_type: 'postgres_exporter', port: 9187, labels: {} }) });
    const db = (): string => s.snapshot().group('db')?.fragment ?? '';
    const before = db();
    for (const c of changes) {
      s.apply(c);
      assert.equal(db(), before);
      for (const item of JSON.parse(s.snapshot().body) as Item[]) {
        if (item.labels['__meta_etcd_group'] === 'db') assert.ok(before.includes(JSON.stringify(item.labels)));
      }
    }
  }), 300);
});
