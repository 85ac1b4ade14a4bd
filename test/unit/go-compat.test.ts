// The rules we share with the Go library and its readers: group names, base
// paths, decoding (case-insensitive names, strict types, strict RFC 3339),
// password-only groups, node ids with "/", stale over partial, and what our
// writes carry for Go readers. docs/registry-layout.md says why each is so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  cleanPrefix,
  formatGoTime,
  formatNodeDocument,
  isHeartbeatText,
  isRfc3339,
  isValidGroupName,
  parseGroupDocument,
  parseNodeDocument,
  RegistryState,
} from '../../src/registry/index.js';
import { documentLabels, nodeDocument, validateNode, withCopiedLabels } from '../../src/register/node.js';
import { buildScrapeJob } from '../../src/scrape-config/build.js';

const P = '/services';
const NODE = { id: 'web-1', exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: { team: 'a' }, status: 'healthy', last_seen: '2026-12-01T14:44:25.87494476-05:00' };
const node = (extra: Record<string, unknown> = {}): string => JSON.stringify({ ...NODE, ...extra });
const group = (spec: Record<string, unknown>): string => JSON.stringify({ name: 'g', spec, created: '2026-12-01T14:44:25.864722776-05:00' });

test('group names: exactly what CreateOrJoinServiceGroup accepts', () => {
  for (const name of ['web', 'web.prod', 'a:b', 'x@y', '\u00e9t\u00e9-1', '_', 'g'.repeat(63), 'a.', '+a', 'nodes']) {
    assert.equal(isValidGroupName(name), true, name);
  }
  const refused = ['', 'a/b', 'a\\b', 'a?b', 'a#b', 'a[b', 'a]b', 'a b', '...', ':@', '\u00e9\u00e9', 'g'.repeat(64)];
  for (const name of refused) assert.equal(isValidGroupName(name), false, name);
  assert.equal(isValidGroupName('\u00e9'.repeat(31)), false, 'no [A-Za-z0-9_-]');
  assert.equal(isValidGroupName(`a${'\u00e9'.repeat(31)}`), true, '63 bytes');
  assert.equal(isValidGroupName(`ab${'\u00e9'.repeat(31)}`), false, '64 bytes: Go counts bytes, not characters');
});

test('base paths are cleaned as path.Join cleans them', () => {
  const cases: [string, string][] = [
    ['/services', '/services'], ['services', 'services'], ['/services/', '/services'], ['//services', '/services'],
    ['/a/./b/../c', '/a/c'], ['/', ''], ['../up', '../up'], ['a/..', '.'],
  ];
  for (const [raw, want] of cases) {
    const got = cleanPrefix(raw);
    if (want === '.') assert.equal(got.ok, false, raw);
    else assert.deepEqual(got, { ok: true, prefix: want }, raw);
  }
  assert.equal(cleanPrefix('').ok, false);
  assert.equal(cleanPrefix('/a b').ok, false);
  // A relative prefix is served: keys have no leading "/".
  const s = new RegistryState('services');
  s.apply({ type: 'put', key: 'services/web/nodes/web-1_node_exporter', value: node() });
  s.apply({ type: 'put', key: '/services/web/nodes/other_node_exporter', value: node({ id: 'other' }) });
  assert.deepEqual(s.snapshot().groups.map((g) => g.nodes.length), [1]);
});

test('decoding follows Go: field names case-insensitively, the last match wins', () => {
  const upper = parseNodeDocument('{"ID":"a","Exporter_Type":"x","PORT":9100,"Labels":{"Team":"t"},"Last_Seen":"2026-12-01T14:44:25Z"}');
  assert.ok(upper.ok);
  assert.deepEqual([upper.value.id, upper.value.exporterType, upper.value.port, upper.value.labels], ['a', 'x', 9100, { Team: 't' }]);
  const both = parseNodeDocument('{"id":"a","exporter_type":"x","port":1,"Port":2}');
  assert.ok(both.ok);
  assert.equal(both.value.port, 2, 'Go assigns each matching key in order: the last wins');
  const g = parseGroupDocument('{"Spec":{"UserName":"u","PassWord":"p","Common_Labels":{"a":"b"}}}');
  assert.ok(g.ok);
  assert.deepEqual([g.value.username, g.value.password, g.value.commonLabels], ['u', 'p', { a: 'b' }]);
});

test('decoding follows Go: a type error fails the whole document', () => {
  const bad: [string, string][] = [
    [node({ port: '3' }), 'invalid_port'],
    [node({ port: 9100.5 }), 'invalid_port'],
    [node({ labels: { a: 1 } }), 'invalid_field'],
    [node({ labels: ['a'] }), 'invalid_field'],
    [node({ status: 1 }), 'invalid_field'],
    [node({ metrics_path: {} }), 'invalid_field'],
    [node({ last_seen: '2026-12-01 14:44:25Z' }), 'invalid_field'],
    [node({ last_seen: '2026-12-01T14:44:25' }), 'invalid_field'],
    [node({ last_seen: 1733000000 }), 'invalid_field'],
  ];
  for (const [text, reason] of bad) {
    const r = parseNodeDocument(text);
    assert.equal(r.ok ? 'ok' : r.reason, reason, text);
  }
  // JSON.parse reads 9100.0 as 9100; Go's int refuses the literal, and so do we.
  for (const literal of ['9100.0', '9.1e3', '91E2']) {
    const text = `{"id":"a","exporter_type":"x","PORT":${literal},"labels":{"port":"1.5"}}`;
    const r = parseNodeDocument(text);
    assert.equal(r.ok ? 'ok' : r.reason, 'invalid_port', literal);
  }
  assert.ok(parseNodeDocument('{"id":"a","exporter_type":"x","port":9100,"weight":1.5,"labels":{"v":"9.5"}}').ok, 'a fraction elsewhere is fine');
  for (const spec of [{ username: 1 }, { password: true }, { common_labels: { a: 2 } }, { common_labels: [] }]) {
    assert.equal(parseGroupDocument(group(spec)).ok, false, JSON.stringify(spec));
  }
  assert.equal(parseGroupDocument('{"spec":{},"created":"yesterday"}').ok, false);
  // null is no value in Go: fields stay empty, a null label value is "".
  const nulls = parseNodeDocument('{"id":"a","exporter_type":"x","port":1,"labels":{"a":null,"b":"c"},"status":null,"last_seen":null}');
  assert.ok(nulls.ok);
  assert.deepEqual(nulls.value.labels, { a: '', b: 'c' });
});

test('RFC 3339 as Go reads it: any offset, any fraction, fields in range', () => {
  for (const t of ['2026-12-01T14:44:25.87494476-05:00', '2026-12-01T14:44:25Z', '2024-02-29T23:59:59.1+14:00', '2026-12-01T14:44:25.123456789123Z']) {
    assert.equal(isRfc3339(t), true, t);
  }
  for (const t of ['2026-12-01t14:44:25Z', '2026-12-01T14:44:25', '2026-13-01T00:00:00Z', '2025-02-29T00:00:00Z', '2026-12-01T24:00:00Z', '2026-12-01T14:44:25.Z', '2026-12-01T14:44:25+0500', '2026-12-01T14:44:60Z', '2026-12-01T14:44:25+24:00']) {
    assert.equal(isRfc3339(t), false, t);
  }
});

/** Valid RFC 3339 times with up to three characters inserted, deleted or replaced: mostly near-misses. */
const nearMissTime = fc.tuple(
  fc.constantFrom('2026-12-01T14:44:25Z', '2024-02-29T23:59:59.123456789+14:00', '0099-12-31T00:00:00.5-23:59', '2026-12-01T14:44:25.87494476-05:00'),
  fc.array(fc.tuple(fc.nat(40), fc.nat(3), fc.constantFrom('0', '9', '3', '-', '+', ':', '.', 'T', 't', 'Z', 'z', ' ', '\n', '٣', '', 'x', '00')), { maxLength: 3 }),
).map(([start, edits]) => {
  let s = start;
  for (const [at, del, ins] of edits) s = s.slice(0, at % (s.length + 1)) + ins + s.slice((at % (s.length + 1)) + (del % 2));
  return s;
});

test('RFC 3339: the hand-written reader agrees with the rule as one regular expression, on near-misses', () => {
  const RULE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/;
  const byRule = (s: string): boolean => {
    const m = RULE.exec(s);
    if (m === null) return false;
    const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
    const days = new Date(Date.UTC(year ?? 0, month ?? 0, 0)).getUTCDate();
    if (month! < 1 || month! > 12 || day! < 1 || day! > days || hour! > 23 || minute! > 59 || second! > 59) return false;
    return m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59);
  };
  fc.assert(fc.property(nearMissTime, (s) => {
    assert.equal(isRfc3339(s), byRule(s), JSON.stringify(s));
  }), { numRuns: 20_000, seed: 3339 });
});

test('RFC 3339 in a heartbeat: the time is read in place exactly as on its own', () => {
  const stored = formatNodeDocument({ id: 'web-1', exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: {}, status: 'healthy', lastSeen: '2025-03-01T10:00:05Z' });
  const from = stored.lastIndexOf('"last_seen":"') + '"last_seen":"'.length;
  fc.assert(fc.property(nearMissTime, (t) => {
    const beat = `${stored.slice(0, from)}${t}"}`;
    assert.equal(isHeartbeatText(beat, stored), isRfc3339(t), JSON.stringify(t));
  }), { numRuns: 5_000, seed: 3340 });
});

test('group names: the one-pass check agrees with the rule as regular expressions', () => {
  const byRule = (name: string): boolean => name !== '' && !/[/\\?#[\] ]/.test(name) && /[A-Za-z0-9_-]/.test(name) && Buffer.byteLength(name, 'utf8') <= 63;
  const char = fc.constantFrom('a', 'Z', '0', '9', '_', '-', '.', ':', '@', '/', '\\', '?', '#', '[', ']', ' ', '\u00e9', '\u{1F600}', '\ud800', '`', '{', '^');
  fc.assert(fc.property(fc.array(char, { maxLength: 70 }), fc.nat(70), (chars, repeat) => {
    for (const name of [chars.join(''), chars.join('').repeat(1 + (repeat % 3))]) assert.equal(isValidGroupName(name), byRule(name), JSON.stringify(name));
  }), { numRuns: 5_000, seed: 63 });
});

test('RFC 3339 dates: the days of every month as Date.UTC counts them, years 0-99 read as 1900-1999', () => {
  const pad = (n: number, w: number): string => String(n).padStart(w, '0');
  for (const year of [0, 4, 96, 99, 100, 400, 1900, 1996, 2000, 2023, 2024, 2100, 2400, 9999]) {
    for (let month = 0; month <= 13; month++) {
      const days = month >= 1 && month <= 12 ? new Date(Date.UTC(year, month, 0)).getUTCDate() : 0;
      for (let day = 0; day <= 32; day++) {
        const t = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T00:00:00Z`;
        assert.equal(isRfc3339(t), day >= 1 && day <= days, t);
      }
    }
  }
});

test('password-only groups keep their credentials: served view and scrape config', () => {
  const s = new RegistryState(P);
  s.apply({ type: 'put', key: `${P}/akash`, value: group({ username: '', password: 'pw' }) });
  assert.deepEqual(s.snapshot().group('akash')!.credentials, { username: '', password: 'pw' });
  const job = buildScrapeJob({ name: 'akash', credentials: { username: '', password: 'pw' } }, { externalUrl: 'http://sd:8080' });
  assert.deepEqual(job.basic_auth, { username: '', password: 'pw' });
  s.apply({ type: 'put', key: `${P}/none`, value: group({ username: '', password: '' }) });
  assert.equal(s.snapshot().group('none')!.credentials, undefined);
});

test('group names the Go library allows are served, with a job name and an encoded URL', () => {
  const s = new RegistryState(P);
  for (const name of ['web.prod', 'a:b', '\u00e9t\u00e9']) s.apply({ type: 'put', key: `${P}/${name}/nodes/n_x`, value: node({ id: 'n' }) });
  const body = JSON.parse(s.snapshot().body) as { labels: Record<string, string> }[];
  assert.deepEqual(body.map((g) => g.labels['__meta_etcd_group']).sort(), ['a:b', 'web.prod', '\u00e9t\u00e9']);
  const job = buildScrapeJob({ name: 'a:b' }, { externalUrl: 'http://sd:8080' });
  assert.equal(job.job_name, 'a:b');
  assert.equal(job.http_sd_configs[0]!.url, 'http://sd:8080/v1/targets/a%3Ab');
});

test('node ids with "/" are read, as Go\'s GetNodes reads them, and served or counted', () => {
  const s = new RegistryState(P);
  const served = s.apply({ type: 'put', key: `${P}/g/nodes/rack1/web-1_node_exporter`, value: node({ address: '10.0.0.1:9100' }) });
  assert.equal(served.changed, true);
  const counted = s.apply({ type: 'put', key: `${P}/g/nodes/rack1/web-2_node_exporter`, value: node({ id: 'rack1/web-2' }) });
  assert.equal(counted.invalid?.reason, 'invalid_address', 'id:port with "/" is no address: counted, not dropped silently');
  assert.equal(s.snapshot().targetCount, 1);
  assert.deepEqual(Object.fromEntries(s.invalidCounts()), { invalid_address: 1 });
});

test('a group document that stops decoding keeps its last good version; one never valid withholds its nodes', () => {
  const s = new RegistryState(P);
  s.apply({ type: 'put', key: `${P}/g/nodes/n_x`, value: node({ id: 'n' }) });
  s.apply({ type: 'put', key: `${P}/g`, value: group({ username: 'u', password: 'p', common_labels: { env: 'prod' } }) });
  const good = s.snapshot();
  const r = s.apply({ type: 'put', key: `${P}/g`, value: group({ username: 'u', password: 'p', common_labels: { env: 7 } }) });
  assert.equal(r.changed, false, 'stale over partial: nothing a client sees changes');
  assert.match(r.invalid?.detail ?? '', /last valid version stays in force/);
  assert.equal(s.snapshot().body, good.body);
  assert.deepEqual(s.snapshot().group('g')!.credentials, { username: 'u', password: 'p' });
  assert.deepEqual(Object.fromEntries(s.invalidCounts()), { invalid_field: 1 }, 'and it is reported');
  // A reload keeps it in force too.
  const reloaded = new RegistryState(P, 0, s.lastGoodGroups());
  reloaded.apply({ type: 'put', key: `${P}/g`, value: group({ common_labels: { env: 7 } }) });
  reloaded.apply({ type: 'put', key: `${P}/g/nodes/n_x`, value: node({ id: 'n' }) });
  assert.equal(reloaded.snapshot().body, good.body);
  // Never valid: withheld, reported, and served once it decodes.
  const fresh = new RegistryState(P);
  fresh.apply({ type: 'put', key: `${P}/h/nodes/n_x`, value: node({ id: 'n' }) });
  const w = fresh.apply({ type: 'put', key: `${P}/h`, value: '[1,2]' });
  assert.equal(w.changed, true);
  assert.match(w.invalid?.detail ?? '', /never seen valid/);
  assert.equal(fresh.snapshot().targetCount, 0);
  assert.deepEqual(fresh.snapshot().groups.map((g) => g.name), ['h'], 'the group is still listed');
  fresh.apply({ type: 'put', key: `${P}/h`, value: group({}) });
  assert.equal(fresh.snapshot().targetCount, 1);
  // Deleting the document ends both states: the nodes are served as nodes without a group.
  fresh.apply({ type: 'put', key: `${P}/h`, value: '[1,2]' });
  fresh.apply({ type: 'delete', key: `${P}/h` });
  assert.equal(fresh.snapshot().targetCount, 1);
});

test('our node documents carry what Go readers need: ingress_host for promster, copied common labels', () => {
  const hosted = validateNode({ group: 'web', id: 'web-1', exporterType: 'node_exporter', port: 9100, host: '10.0.0.5', labels: { env: 'own' } });
  const copied = withCopiedLabels(hosted, { env: 'common', region: 'us' });
  assert.deepEqual(documentLabels(copied), { env: 'own', ingress_host: '10.0.0.5', region: 'us' });
  const doc = JSON.parse(nodeDocument(copied, '2026-12-01T14:44:25Z')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc), ['id', 'exporter_type', 'port', 'metrics_path', 'labels', 'status', 'last_seen', 'address']);
  assert.equal(doc['address'], '10.0.0.5:9100');
  const v6 = validateNode({ group: 'web', id: 'w', exporterType: 'x', port: 9100, host: '::1' });
  assert.equal(documentLabels(v6)['ingress_host'], '[::1]', 'promster joins ingress_host and port as is');
  const own = validateNode({ group: 'web', id: 'w', exporterType: 'x', port: 9100, host: 'h', labels: { ingress_host: 'mine' } });
  assert.equal(documentLabels(own)['ingress_host'], 'mine', 'a label the node sets is never overwritten');
  const bare = validateNode({ group: 'web', id: 'w', exporterType: 'x', port: 9100 });
  assert.deepEqual(documentLabels(bare), {}, 'without an address promster uses id:port, as we do');
});

test('times are written as Go writes RFC3339Nano: trailing zeros of the fraction trimmed, no dot for whole seconds', () => {
  const at = new Date('2026-12-01T23:45:54.571Z');
  assert.equal(formatGoTime(at, 764160), '2026-12-01T23:45:54.57176416Z');
  assert.equal(formatGoTime(at, 764161), '2026-12-01T23:45:54.571764161Z');
  assert.equal(formatGoTime(new Date('2026-12-01T23:45:54.500Z')), '2026-12-01T23:45:54.5Z');
  assert.equal(formatGoTime(new Date('2026-12-01T23:45:54.000Z')), '2026-12-01T23:45:54Z');
});
