// Property-based tests of the document parser and the target renderer 
// (hostile input): whatever a registrant writes, parsing never throws and a
// rendered target group is one Prometheus accepts and cannot redirect a scrape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildTargetGroup,
  formatNodeDocument,
  isHeartbeatText,
  parseGroupDocument,
  parseNodeDocument,
  renderNodeTarget,
  renderTargetGroup,
  sanitizeLabelName,
  sanitizeLabels,
  type CommonLabels,
  type NodeDocument,
} from '../../src/registry/index.js';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** The only reserved labels the renderer may write. */
const OWN_RESERVED = new Set(['__metrics_path__', '__meta_etcd_group', '__meta_etcd_node_id', '__meta_etcd_exporter_type', '__meta_etcd_node_status']);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const SEED = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
/** `FC_RUNS_FACTOR=10` for a longer hunt than CI's few seconds. */
const FACTOR = Number(process.env['FC_RUNS_FACTOR'] ?? 1);

/** Runs a property with a fixed, reported seed so a failure can be replayed (FC_SEED=...). */
function check<T>(prop: fc.IProperty<T>, numRuns: number): void {
  fc.assert(prop, { numRuns: numRuns * FACTOR, seed: SEED, endOnFailure: true });
}

// ---------- arbitraries ----------

/** Label names a registrant might use to bend a scrape or confuse the renderer. */
const hostileName = fc.constantFrom(
  '__address__', '__scheme__', '__param_target', '__metrics_path__', '__meta_etcd_group', '__meta_etcd_node_id',
  '__meta_etcd_exporter_type', '__scrape_interval__', '__proto__', 'constructor', 'toString', 'hasOwnProperty',
  '0', '1', '4294967295', '-_x', '._x', '_\u00e9x', '\u00e9_x', '9lives', '', 'a-b', 'a.b', 'a_b', 'job', 'instance',
  'address', 'ingress_host', 'exporter_type', 'a\u0000b', 'a\nb', '\ud800', '\ud83d\ude00', ' ', '__', '_', '___x',
);
const anyName = fc.oneof(hostileName, fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }));
/** Any JSON value (what a label value or a field may be). */
const anyJson = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', 'x', 'production')) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);
const labelsArb = fc.oneof(
  { weight: 5, arbitrary: fc.dictionary(anyName, anyJson, { maxKeys: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, [], 'labels', 7, [['a', 'b']]) },
);
const hostileAddress = fc.constantFrom(
  'evil.example/x:80', 'evil.example:80/x', 'user@host:80', 'user:pw@host:80', 'host:80?x=1', 'host:80#f', 'host :80', 'host:80\n',
  '\nhost:80', 'host:80 ', 'host\t:80', '[::1]:80', '[::1]:0', 'a:0', 'a:65536', 'a:99999', 'a:-1', 'x:80/..', '169.254.169.254:80',
  'http://x:80', '//x:80', 'x:80:90', ':80', 'x:', '[::1]', '[fe80::1%eth0]:80', 'host:8\u0660', 'h\u00f6st:80', '..:80', 'a%2fb:80',
);
const portArb = fc.oneof(fc.integer({ min: -5, max: 70_000 }), fc.constantFrom(1, 80, 9100, 65535, 0, 65536, 1.5, '9100', null, true, 1e21, -0));
const stringish = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', 'node_exporter', 'web-1', 'db_1', '/metrics', 'metrics', 'healthy'));

/** A node document with every field optional and fuzzed. */
const nodeDocObject = fc.record(
  {
    id: fc.oneof({ weight: 3, arbitrary: stringish }, { weight: 1, arbitrary: hostileAddress }, { weight: 1, arbitrary: anyJson }),
    exporter_type: fc.oneof({ weight: 4, arbitrary: stringish }, { weight: 1, arbitrary: anyJson }),
    port: portArb,
    metrics_path: fc.oneof(stringish, anyJson),
    labels: labelsArb,
    status: fc.oneof(stringish, anyJson),
    last_seen: fc.oneof(fc.string(), anyJson),
    address: fc.oneof(hostileAddress, stringish, anyJson),
  },
  { requiredKeys: [] },
);
/** Mostly valid node documents, so the render path is well exercised. */
const likelyValidNode = fc.record({
  id: fc.oneof(fc.constantFrom('web-1', 'db_1', '10.0.0.1', 'host.example'), fc.string(), hostileAddress),
  exporter_type: fc.oneof(fc.constantFrom('node_exporter', 'app'), fc.string({ minLength: 1 }), fc.string({ unit: 'binary', minLength: 1 })),
  port: fc.integer({ min: 1, max: 65535 }),
  metrics_path: fc.oneof(fc.constantFrom('', '/metrics', 'metrics', '/a?b=c', '//x', '/../x'), fc.string()),
  labels: labelsArb,
  status: fc.oneof(fc.constantFrom('', 'healthy', 'maintenance'), fc.string()),
  last_seen: fc.constant('2025-03-01T10:00:05.987654321Z'),
}, { requiredKeys: ['id', 'exporter_type', 'port'] }).chain((doc) =>
  fc.option(fc.oneof(hostileAddress, fc.constantFrom('10.1.2.3:3000', 'a.b:1')), { nil: undefined }).map((address) =>
    address === undefined ? doc : { ...doc, address }));

const groupDocObject = fc.record(
  {
    name: fc.oneof(stringish, anyJson),
    spec: fc.oneof(
      { weight: 5, arbitrary: fc.record({ username: fc.oneof(stringish, anyJson), password: fc.oneof(stringish, anyJson), common_labels: labelsArb }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: anyJson },
    ),
    created: fc.oneof(fc.string(), anyJson),
  },
  { requiredKeys: [] },
);

function safeStringify(v: unknown): string {
  try {
    // JSON.stringify gives undefined (typed string) for undefined, functions and symbols.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
    return JSON.stringify(v) ?? 'undefined';
  } catch {
    return String(v);
  }
}

/** Any text a key's value may hold in etcd, decoded as the mirror decodes it. */
const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.json(),
  fc.anything().map(safeStringify),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('utf8')),
  nodeDocObject.map(safeStringify),
  groupDocObject.map(safeStringify),
  likelyValidNode.map(safeStringify),
  // Valid JSON with one byte flipped or cut short.
  fc.tuple(likelyValidNode.map(safeStringify), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([s, at, byte]) => {
    const b = Buffer.from(s);
    if (b.length > 0) b[at % b.length] = byte;
    return b.toString('utf8');
  }),
  fc.tuple(likelyValidNode.map(safeStringify), fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1))),
  // JSON.parse makes "__proto__" an own property: it must not become a prototype or a label.
  fc.constantFrom(
    '{"id":"x","exporter_type":"y","port":1,"__proto__":{"labels":{"__address__":"evil:1"},"address":"evil:1"}}',
    '{"id":"x","exporter_type":"y","port":1,"labels":{"__proto__":{"a":"b"},"constructor":"c","toString":"t"}}',
    '{"name":"g","spec":{"__proto__":{"password":"p"},"common_labels":{"__proto__":"x","hasOwnProperty":"h"}}}',
    '{"id":"x","exporter_type":"y","port":1,"labels":{"a":"1","a":"2","b":"\\ud800","c":"\\u0000"}}',
  ),
);

// ---------- invariants ----------

/** Asserts that one rendered target group is safe and valid; returns it parsed. */
function assertSafeTargetGroup(json: string, group: string, doc: NodeDocument): void {
  assert.doesNotMatch(json, LONE_SURROGATE, 'the bytes must be valid UTF-8 once encoded');
  const tg = JSON.parse(json) as { targets: unknown; labels: Record<string, unknown> };
  assert.deepEqual(Object.keys(tg), ['targets', 'labels']);
  assert.ok(Array.isArray(tg.targets) && tg.targets.length === 1);
  const target: unknown = tg.targets[0];
  assert.equal(typeof target, 'string');
  assert.doesNotMatch(target as string, /[/@?#\s\\%]/, `target ${JSON.stringify(target)}`);
  const m = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(target as string);
  assert.ok(m !== null, `target ${JSON.stringify(target)} is host:port`);
  const port = Number(m[1]);
  assert.ok(port >= 1 && port <= 65535);
  assert.equal(typeof tg.labels, 'object');
  const names = Object.keys(tg.labels);
  assert.deepEqual(names, [...names].sort(), 'label names sorted (same bytes in every replica)');
  for (const name of names) {
    assert.match(name, LABEL_NAME);
    if (name.startsWith('__')) assert.ok(OWN_RESERVED.has(name) || name.startsWith('__meta_etcd_'), `reserved label ${name}`);
    const value = tg.labels[name];
    assert.ok(typeof value === 'string' && value !== '', `label ${name} has a non-empty string value`);
  }
  assert.equal(tg.labels['__meta_etcd_group'], group);
  assert.equal(tg.labels['exporter_type'], doc.exporterType);
  assert.equal(tg.labels['__meta_etcd_exporter_type'], doc.exporterType);
  assert.equal(tg.labels['__meta_etcd_node_id'], doc.id);
  assert.equal(tg.labels['__metrics_path__'] === undefined, doc.metricsPath === '');
}

const GROUPS = fc.constantFrom('web', 'web-canary', 'db', 'a', '_', '-', 'x'.repeat(63));

// ---------- properties ----------

test('parseNodeDocument and parseGroupDocument never throw, whatever the text', () => {
  check(fc.property(anyText, (text) => {
    const n = parseNodeDocument(text);
    const g = parseGroupDocument(text);
    for (const r of [n, g]) {
      if (!r.ok) {
        assert.equal(typeof r.reason, 'string');
        assert.equal(typeof r.detail, 'string');
      }
    }
    if (n.ok) {
      assert.ok(n.value.id !== '' && n.value.exporterType !== '');
      assert.ok(Number.isInteger(n.value.port) && n.value.port >= 1 && n.value.port <= 65535);
    }
  }), 4000);
});

test('a skipped document\'s detail never quotes the document (it may hold a password and is logged)', () => {
  const secret = 'sekret-group-pw-7f3a';
  const broken = fc.constantFrom(
    `{"spec":{"password":${secret}}}`, `{"spec":{"password":"${secret}" x}}`, `{"spec":{"password":"${secret}",}}`,
    `{"spec":{"password":"${secret}`, `{"spec":{"password":"${secret}\u0001"}}`, secret, `{${secret}}`, `["${secret}" "x"]`,
  );
  check(fc.property(fc.oneof(broken, anyText.map((t) => t.replace(/x/g, secret))), (text) => {
    for (const r of [parseNodeDocument(text), parseGroupDocument(text)]) {
      if (r.ok) continue;
      for (let i = 0; i + 6 <= secret.length; i++) {
        assert.ok(!r.detail.includes(secret.slice(i, i + 6)), `detail ${JSON.stringify(r.detail)} quotes the document`);
      }
    }
  }), 500);
});

test('every node document that parses renders a safe target group, or is skipped as invalid_address', () => {
  check(fc.property(fc.oneof(likelyValidNode, nodeDocObject), GROUPS, labelsArb, (obj, group, rawCommon) => {
    const parsed = parseNodeDocument(safeStringify(obj));
    if (!parsed.ok) return;
    const common: CommonLabels = sanitizeLabels(rawCommon);
    const fast = renderNodeTarget(group, common, parsed.value);
    const slow = buildTargetGroup(group, common, parsed.value);
    assert.equal(fast.ok, slow.ok);
    if (!fast.ok || !slow.ok) {
      assert.equal(fast.ok ? '' : fast.reason, 'invalid_address');
      return;
    }
    assert.equal(fast.value, renderTargetGroup(slow.value), 'the fast path renders the same bytes');
    assertSafeTargetGroup(fast.value, group, parsed.value);
  }), 3000);
});

test('target labels are the layout\'s merge, keys in name order: group, node on top, the target\'s own labels last', () => {
  // Names that sanitise out of order ("a-b" after "a_c", "1a" to "_1a"), collide, or meet the group's.
  const name = fc.oneof(fc.constantFrom('b', 'a-b', 'a_b', 'a_c', 'a.b', '1a', '_1a', 'Z', 'exporter_type', 'job', 'rack', 'é', 'a-', 'constructor', '__proto__'), anyName);
  const labels = fc.dictionary(name, fc.oneof(fc.constantFrom('v', 'w', ''), fc.string()), { maxKeys: 12 });
  check(fc.property(labels, labels, GROUPS, fc.constantFrom('', 'healthy'), fc.constantFrom('', 'metrics', '/m'), (nodeLabels, rawCommon, group, status, path) => {
    const doc = parseNodeDocument(JSON.stringify({ id: 'n1', exporter_type: 'node_exporter', port: 9100, metrics_path: path, status, labels: nodeLabels, address: '10.0.0.1:9100' }));
    assert.ok(doc.ok);
    const common = sanitizeLabels(rawCommon);
    const built = buildTargetGroup(group, common, doc.value);
    assert.ok(built.ok);
    // The rule as written, spelled the plain way: spread, then sort the keys.
    const merged: Record<string, string> = { ...common, ...sanitizeLabels(doc.value.labels), exporter_type: 'node_exporter' };
    if (path !== '') merged['__metrics_path__'] = path.startsWith('/') ? path : `/${path}`;
    Object.assign(merged, { __meta_etcd_group: group, __meta_etcd_node_id: 'n1', __meta_etcd_exporter_type: 'node_exporter' });
    if (status !== '') merged['__meta_etcd_node_status'] = status;
    const expected = Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k]]));
    assert.equal(JSON.stringify(built.value.labels), JSON.stringify(expected));
  }), 3000);
});

test('sanitised labels: valid names, nothing reserved, non-empty string values, independent of key order', () => {
  check(fc.property(fc.dictionary(anyName, anyJson, { maxKeys: 20 }), (raw) => {
    const out = sanitizeLabels(raw);
    for (const [name, value] of Object.entries(out)) {
      assert.match(name, LABEL_NAME);
      assert.ok(!name.startsWith('__'), name);
      assert.ok(typeof value === 'string' && value !== '');
    }
    const reversed = Object.fromEntries(Object.entries(raw).reverse());
    assert.deepEqual(sanitizeLabels(reversed), out);
    for (const name of Object.keys(raw)) {
      const clean = sanitizeLabelName(name);
      if (clean !== undefined) assert.match(clean, LABEL_NAME);
    }
  }), 3000);
});

test('labels sanitising keeps as they are come back in the order and with the values the full rules give', () => {
  const names = fc.constantFrom('A', 'a', 'env', 'instance', 'job', 'region', 'z_1', 'a-b', '__x');
  const some = fc.dictionary(names, fc.constantFrom('x', 'prod', ''), { maxKeys: 8 });
  const sorted = some.map((d) => Object.fromEntries(Object.keys(d).sort().map((k) => [k, d[k]])));
  check(fc.property(fc.oneof(sorted, some, fc.dictionary(anyName, anyJson, { maxKeys: 20 })), (raw) => {
    const quick = sanitizeLabels(raw);
    // With a listener, every label goes through the rules one by one.
    const full = sanitizeLabels(raw, () => undefined);
    assert.deepEqual(Object.entries(quick), Object.entries(full));
    assert.equal(Object.getPrototypeOf(quick), Object.prototype);
  }), 3000);
});

test('reserved labels from a registrant never reach the target; exporter_type and the address cannot be spoofed', () => {
  const reserved = fc.dictionary(
    fc.constantFrom('__address__', '__scheme__', '__param_target', '__metrics_path__', '__meta_etcd_group', '__meta_etcd_node_id', '__scrape_timeout__', '_-address__', '-_address__', '__meta_etcd_exporter_type'),
    fc.constantFrom('169.254.169.254:80', 'https', 'evil', '/steal'),
    { minKeys: 1 },
  );
  check(fc.property(reserved, reserved, GROUPS, (nodeLabels, commonLabels, group) => {
    const doc = parseNodeDocument(JSON.stringify({ id: 'n1', exporter_type: 'node_exporter', port: 9100, metrics_path: '', labels: { ...nodeLabels, exporter_type: 'spoofed' } }));
    assert.ok(doc.ok);
    const r = renderNodeTarget(group, sanitizeLabels(commonLabels), doc.value);
    assert.ok(r.ok);
    const tg = JSON.parse(r.value) as { targets: string[]; labels: Record<string, string> };
    assert.deepEqual(tg.targets, ['n1:9100']);
    assert.deepEqual(tg.labels, {
      __meta_etcd_exporter_type: 'node_exporter', __meta_etcd_group: group, __meta_etcd_node_id: 'n1', exporter_type: 'node_exporter',
    });
  }), 500);
});

test('a text taken for a heartbeat of a stored one parses to the same document with only last_seen new', () => {
  const time = fc.oneof(
    fc.constantFrom('2026-01-01T00:00:00Z', '2025-03-01T10:00:20.5+01:00', '2025-02-29T00:00:00Z', '2026-01-01T00:00:00', '', 'x"y', 'a\\"b', 'a\\', '1","port":1,"x":"'),
    fc.string(),
  );
  // Stored texts in the Go library's bytes and in other shapes: keys reordered, a label named
  // last_seen, a second top-level field after last_seen, a time with an escape in it.
  const reshape = fc.constantFrom('go', 'stringify', 'reversed', 'label', 'twin', 'escaped', 'other');
  // The stored text with a new time in its last last_seen, then maybe one character inserted or replaced anywhere.
  const edit = fc.option(fc.record({ at: fc.nat(), replace: fc.boolean(), char: fc.constantFrom('"', '\\', ' ', 'A', '0', ',', '}', 'Z', '\u00e9') }), { nil: undefined });
  let taken = 0;
  check(fc.property(likelyValidNode, reshape, time, edit, nodeDocObject, (obj, shape, lastSeen, e, other) => {
    const doc = parseNodeDocument(JSON.stringify(obj));
    fc.pre(doc.ok);
    const stored = shape === 'go' ? formatNodeDocument({ ...doc.value, lastSeen: doc.value.lastSeen ?? '2025-03-01T10:00:05Z' })
      : shape === 'stringify' ? JSON.stringify(obj)
        : shape === 'reversed' ? JSON.stringify(Object.fromEntries(Object.entries(obj).reverse()))
          : shape === 'label' ? JSON.stringify({ ...obj, labels: { ...(obj.labels as object), last_seen: '2025-03-01T10:00:05Z' } })
            : shape === 'twin' ? JSON.stringify(obj).replace(/}$/, ',"PORT":1234}')
              : shape === 'escaped' ? JSON.stringify(obj).replace(/"last_seen":"2/, '"last_seen":"\\u0032')
                : JSON.stringify(other);
    const before = parseNodeDocument(stored);
    fc.pre(before.ok);
    const at = stored.lastIndexOf('"last_seen":"');
    let text = stored;
    if (at >= 0) {
      const from = at + '"last_seen":"'.length;
      const to = stored.indexOf('"', from);
      text = `${stored.slice(0, from)}${lastSeen}${to < 0 ? '' : stored.slice(to)}`;
    }
    if (e !== undefined) {
      const i = e.at % (text.length + 1);
      text = `${text.slice(0, i)}${e.char}${text.slice(e.replace ? i + 1 : i)}`;
    }
    if (!isHeartbeatText(text, stored)) return;
    taken++;
    const parsed = parseNodeDocument(text);
    assert.ok(parsed.ok, text);
    assert.deepEqual(parsed.value, { ...before.value, ...(parsed.value.lastSeen === undefined ? {} : { lastSeen: parsed.value.lastSeen }) }, text);
  }), 3000);
  assert.ok(taken > 0, 'the heartbeat test was exercised');
});

test('heartbeats in the Go library\'s bytes are told apart from visible changes', () => {
  const stored = formatNodeDocument({ id: 'web-1', exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: { env: 'prod' }, status: 'healthy', lastSeen: '2025-03-01T10:00:05Z', address: '10.0.0.1:9100' });
  const beat = stored.replace('10:00:05Z', '10:00:20.123456789Z');
  assert.equal(isHeartbeatText(beat, stored), true);
  assert.equal(isHeartbeatText(stored, beat), true);
  assert.equal(isHeartbeatText(beat.replace('10.0.0.1', '10.0.0.2'), stored), false, 'address moved');
  assert.equal(isHeartbeatText(beat.replace('prod', 'test'), stored), false, 'label moved');
  assert.equal(isHeartbeatText(beat.replace('10:00:20', '25:00:20'), stored), false, 'not a time Go reads');
  assert.equal(isHeartbeatText(beat.replace(/}$/, ' }'), stored), false, 'not the Go library\'s bytes');
  const bare = formatNodeDocument({ id: 'a', exporterType: 'x', port: 1, metricsPath: '', labels: {}, status: '', lastSeen: '2025-03-01T10:00:05Z' });
  assert.equal(isHeartbeatText(bare.replace('05Z', '06Z'), bare), true);
  assert.equal(isHeartbeatText(bare.replace('05Z', '06+01:00'), bare), true);
  // Fields the stored text had between last_seen and the tail are not a time that moved.
  const hidden = '{"id":"a","exporter_type":"x","port":1,"last_seen":"2025-03-01T10:00:05Z","port":2,"q":"z","address":"h:1"}';
  assert.equal(isHeartbeatText('{"id":"a","exporter_type":"x","port":1,"last_seen":"2025-03-01T10:00:06Z","address":"h:1"}', hidden), false);
});

test('huge and deeply nested documents: no throw, bounded time', () => {
  const mb = 'a'.repeat(1 << 20);
  const big: string[] = [
    '['.repeat(1 << 20), '{"a":'.repeat(200_000), `"${mb}"`, mb,
    JSON.stringify({ id: mb, exporter_type: 'x', port: 1 }),
    JSON.stringify({ id: 'x', exporter_type: mb, port: 1 }),
    JSON.stringify({ id: 'x', exporter_type: 'y', port: 1, labels: { big: mb, [mb]: 'v' }, metrics_path: mb, status: mb }),
    JSON.stringify({ id: 'x', exporter_type: 'y', port: 1, labels: Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`l${i}-\u00e9`, `v${i}`])) }),
    `{"id":"x","exporter_type":"y","port":1,"labels":{"deep":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`,
    `{"id":"x","exporter_type":"y","port":1,"labels":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
    JSON.stringify({ name: 'g', spec: { common_labels: Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`c${i}`, mb.slice(0, 20)])) } }),
  ];
  for (const text of big) {
    const started = Date.now();
    const n = parseNodeDocument(text);
    parseGroupDocument(text);
    if (n.ok) {
      const r = renderNodeTarget('g', {}, n.value);
      if (r.ok) assertSafeTargetGroup(r.value, 'g', n.value);
    }
    // Not a timing assertion on CI speed: only a guard against pathological (super-linear) cases.
    assert.ok(Date.now() - started < 30_000, `input of ${text.length} chars took ${Date.now() - started} ms`);
  }
});

test('exporter types are read intact past the number of distinct types that share one string', () => {
  for (let i = 0; i < 1500; i++) {
    const type = `exporter_${i}`;
    for (let copy = 0; copy < 2; copy++) {
      const parsed = parseNodeDocument(JSON.stringify({ id: 'n', exporter_type: type, port: 9100 }));
      assert.ok(parsed.ok && parsed.value.exporterType === type, type);
    }
  }
});
