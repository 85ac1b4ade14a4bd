// Every entry of test/fixtures/registry-go.json → the target (or skip) docs/registry-layout.md prescribes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryState, type InvalidReason } from '../../src/registry/index.js';
import { loadFixtureFile } from '../helpers/fixtures.js';
import { EXPECTED_FIXTURE_TARGETS } from '../helpers/expected.js';

/** Keys the layout says to skip, with the reason counted. */
const EXPECTED_INVALID: Record<string, InvalidReason> = {
  '/services/hostile/nodes/broken_json': 'invalid_json',
  '/services/hostile/nodes/noport_node_exporter': 'invalid_port',
  '/services/hostile/nodes/noid_x': 'missing_id',
  // A node id with "/" gives more segments under nodes/: read (as Go's GetNodes does) and here counted.
  '/services/hostile/nodes/deep/er_key': 'invalid_json',
  '/services/badgroup': 'not_an_object',
};

function loadState(): { state: RegistryState; invalid: Map<string, InvalidReason> } {
  const fixtures = loadFixtureFile();
  const state = new RegistryState(fixtures.prefix);
  const invalid = new Map<string, InvalidReason>();
  for (const e of fixtures.entries) {
    const r = state.apply({ type: 'put', key: e.key, value: e.value });
    if (r.invalid) invalid.set(r.invalid.key, r.invalid.reason);
  }
  return { state, invalid };
}

test('fixtures render to exactly the targets docs/registry-layout.md prescribes', () => {
  const { state } = loadState();
  const body = state.snapshot().body;
  assert.deepEqual(JSON.parse(body), EXPECTED_FIXTURE_TARGETS);
});

test('fixtures: malformed documents are skipped with their reason, the rest is served', () => {
  const { state, invalid } = loadState();
  assert.deepEqual(Object.fromEntries(invalid), EXPECTED_INVALID);
  const counts = Object.fromEntries(state.invalidCounts());
  assert.deepEqual(counts, { invalid_json: 2, invalid_port: 1, missing_id: 1, not_an_object: 1 });
});

test('fixtures: every label name is valid, nothing reserved leaks, only targets and labels keys', () => {
  const { state } = loadState();
  const groups = JSON.parse(state.snapshot().body) as Record<string, unknown>[];
  const allowedReserved = new Set(['__metrics_path__', '__meta_etcd_group', '__meta_etcd_node_id', '__meta_etcd_exporter_type', '__meta_etcd_node_status']);
  for (const g of groups) {
    assert.deepEqual(Object.keys(g), ['targets', 'labels']);
    for (const name of Object.keys(g['labels'] as object)) {
      assert.match(name, /^[a-zA-Z_][a-zA-Z0-9_]*$/);
      if (name.startsWith('__')) assert.ok(allowedReserved.has(name), `reserved label ${name} leaked`);
    }
  }
});

test('fixtures: groups are listed with common labels and without credentials in the view used publicly', () => {
  const { state } = loadState();
  const content = state.snapshot();
  assert.deepEqual(content.groups.map((g) => g.name), ['akash', 'badgroup', 'db', 'empty', 'ext', 'hostile', 'orphans', 'web', 'web-canary']);
  const web = content.group('web')!;
  assert.deepEqual(web.commonLabels, { environment: 'production', region: 'us-east' });
  assert.deepEqual(web.credentials, { username: 'scraper', password: 's3cret' });
  assert.equal(content.group('empty')!.nodes.length, 0);
  assert.equal(content.group('db')!.credentials, undefined, 'empty username means no credentials');
  assert.equal(content.targetCount, EXPECTED_FIXTURE_TARGETS.length);
});
