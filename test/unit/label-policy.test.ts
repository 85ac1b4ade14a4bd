// Protected labels (--protected-labels): names no document may set, dropped by the one sanitising rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import { loadServeConfig } from '../../src/config/index.js';
import { refuseProtectedLabels } from '../../src/config/labels.js';
import { loadRegisterConfig } from '../../src/cli/register.js';
import { explainGroupDocument, explainNode } from '../../src/explain/explain.js';
import {
  buildTargetGroup, DEFAULT_LABEL_POLICY, protectedLabelsIn, RegistryState, renderNodeTarget, renderTargetGroup, sanitizeLabels,
  type LabelPolicy, type LabelStep, type NodeDocument,
} from '../../src/registry/index.js';

const P = '/services';
const NONE: LabelPolicy = { protectedLabels: [], setting: '--protected-labels' };
const nodeDoc = (id: string, labels: Record<string, unknown>): string =>
  JSON.stringify({ id, exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels, status: 'healthy', last_seen: '2025-03-01T10:00:05Z' });
const groupDoc = (common: Record<string, string>): string => JSON.stringify({ name: 'web', spec: { username: '', password: '', common_labels: common } });

function served(policy?: LabelPolicy): { state: RegistryState; labels: Record<string, string> } {
  const state = new RegistryState(P, 0, new Map(), undefined, policy);
  state.apply({ type: 'put', key: `${P}/web`, value: groupDoc({ job: 'y', team: 'a' }) });
  state.apply({ type: 'put', key: `${P}/web/nodes/w1_node_exporter`, value: nodeDoc('w1', { job: 'x', instance: 'i-1', zone: 'z' }) });
  const [target] = JSON.parse(state.snapshot().body) as { labels: Record<string, string> }[];
  assert.ok(target !== undefined);
  return { state, labels: target.labels };
}

test('by default job is dropped from group and node labels; instance and the rest are served', () => {
  const { labels } = served();
  assert.equal(labels['job'], undefined);
  assert.equal(labels['instance'], 'i-1');
  assert.equal(labels['team'], 'a');
  assert.equal(labels['zone'], 'z');
});

test('an empty policy protects nothing: the node\'s job wins over the group\'s, as any label', () => {
  assert.equal(served(NONE).labels['job'], 'x');
  const groupOnly = new RegistryState(P, 0, new Map(), undefined, NONE);
  groupOnly.apply({ type: 'put', key: `${P}/web`, value: groupDoc({ job: 'y' }) });
  groupOnly.apply({ type: 'put', key: `${P}/web/nodes/w1_node_exporter`, value: nodeDoc('w1', {}) });
  assert.match(groupOnly.snapshot().body, /"job":"y"/);
});

test('a protected name is matched after sanitising, and a policy may protect instance too', () => {
  const policy: LabelPolicy = { protectedLabels: ['a_b', 'instance'], setting: 'c.yml:2:3: labels.protected' };
  const steps: LabelStep[] = [];
  assert.deepEqual(sanitizeLabels({ 'a-b': '1', 'a.b': '2', instance: 'i', job: 'j', keep: 'k' }, (s) => steps.push(s), policy), { job: 'j', keep: 'k' });
  const dropped = steps.filter((s) => s.action === 'dropped').map((s) => s.name).sort();
  assert.deepEqual(dropped, ['a-b', 'a.b', 'instance']);
  for (const s of steps.filter((x) => x.action === 'dropped')) assert.match(s.rule, /^protected label: .* c\.yml:2:3: labels\.protected/);
  assert.deepEqual(protectedLabelsIn({ 'a-b': '1', 'a.b': '2', instance: 'i', empty: '', n: 5 }, policy), ['a_b', 'instance']);
  assert.deepEqual(protectedLabelsIn({ job: '' }, DEFAULT_LABEL_POLICY), [], 'an empty value is dropped anyway, not as protected');
});

test('protectedLabelsIn finds exactly the names sanitising would drop as protected, however they are spelled', () => {
  // Renamed to a protected name: "1x" becomes "_1x" (one longer), "a-b" becomes "a_b" (as long).
  const policy: LabelPolicy = { protectedLabels: ['_1x', 'a_b', 'job'], setting: 't' };
  const names = ['1x', '_1x', '1-x', 'a-b', 'a.b', 'a_b', 'job', 'jo', 'jobs', 'Job', 'x1', 'ab', '_a_b'];
  for (let mask = 0; mask < 1 << names.length; mask += 7) {
    const raw = Object.fromEntries(names.filter((_, i) => (mask >> i) & 1).map((n) => [n, 'v']));
    const dropped: string[] = [];
    sanitizeLabels(raw, (step) => {
      if (step.action === 'dropped' && step.rule.startsWith('protected label')) dropped.push(step.name);
    }, policy);
    const expected = [...new Set(dropped.map((n) => (n.startsWith('1') ? `_${n}` : n).replace(/[^a-zA-Z0-9_]/g, '_')))].sort();
    assert.deepEqual(protectedLabelsIn(raw, policy), expected, JSON.stringify(raw));
  }
});

test('the fast renderer and the traced one agree under a policy', () => {
  const node: NodeDocument = { id: 'w1', exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: { job: 'x', instance: 'i' }, status: 'healthy' };
  for (const policy of [DEFAULT_LABEL_POLICY, NONE]) {
    const fast = renderNodeTarget('web', { team: 'a' }, node, policy);
    const slow = buildTargetGroup('web', { team: 'a' }, node, undefined, policy);
    assert.ok(fast.ok && slow.ok);
    assert.equal(fast.value, renderTargetGroup(slow.value));
  }
});

test('dropped protected labels are counted per document kind, and the counts follow puts and deletes', () => {
  const { state } = served();
  const counts = (): Record<string, number> => Object.fromEntries(state.protectedLabelCounts().map((c) => [`${c.source}:${c.label}`, c.documents]));
  assert.deepEqual(counts(), { 'group:job': 1, 'node:job': 1 });
  state.apply({ type: 'put', key: `${P}/web/nodes/w2_node_exporter`, value: nodeDoc('w2', { 'job': 'x2' }) });
  assert.deepEqual(counts(), { 'group:job': 1, 'node:job': 2 });
  // A change only to the dropped label renders the same target, yet the count follows the document.
  state.apply({ type: 'put', key: `${P}/web/nodes/w2_node_exporter`, value: nodeDoc('w2', {}) });
  assert.deepEqual(counts(), { 'group:job': 1, 'node:job': 1 });
  state.apply({ type: 'delete', key: `${P}/web/nodes/w1_node_exporter` });
  state.apply({ type: 'put', key: `${P}/web`, value: groupDoc({ team: 'a' }) });
  assert.deepEqual(counts(), {});
  assert.deepEqual(served(NONE).state.protectedLabelCounts(), []);
});

test('explanations name the protected-label rule and the setting that chose it', () => {
  const { state } = served();
  const node = explainNode(state, 'web', 'w1_node_exporter');
  const job = node?.labels.filter((l) => l.name === 'job') ?? [];
  assert.deepEqual(job.map((l) => [l.source, l.action]).sort(), [['group', 'dropped'], ['node', 'dropped']]);
  for (const l of job) assert.match(l.rule, /^protected label: "job" is listed in --protected-labels \(default job\)/);
  assert.equal(node?.labels.find((l) => l.name === 'instance')?.action, 'kept');
  assert.equal(explainGroupDocument(served(NONE).state, 'web').labels.find((l) => l.name === 'job')?.action, 'kept');
});

function configError(fn: () => unknown, setting: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof ConfigError && err.setting === setting && pattern.test(err.message));
}

test('--protected-labels: a list of label names, empty allowed, checked once at start-up and named where set', () => {
  const noFile = (): Buffer => Buffer.from('labels:\n  protected: [job, team]\n');
  assert.deepEqual(loadServeConfig(['--protected-labels', 'team, job,job'], {}, noFile).labelPolicy, { protectedLabels: ['job', 'team'], setting: '--protected-labels' });
  assert.deepEqual(loadServeConfig(['--protected-labels='], {}, noFile).labelPolicy.protectedLabels, []);
  assert.deepEqual(loadServeConfig(['--protected-labels', ''], {}, noFile).labelPolicy.protectedLabels, []);
  assert.deepEqual(loadServeConfig([], { ETCD_HTTP_SD_PROTECTED_LABELS: 'instance' }, noFile).labelPolicy, { protectedLabels: ['instance'], setting: 'ETCD_HTTP_SD_PROTECTED_LABELS' });
  const fromFile = loadServeConfig(['--config', 'c.yml'], {}, noFile).labelPolicy;
  assert.deepEqual(fromFile.protectedLabels, ['job', 'team']);
  assert.match(fromFile.setting, /^c\.yml:2:3: labels\.protected$/);
  const empty = loadServeConfig(['--config', 'c.yml'], {}, () => Buffer.from('labels:\n  protected: []\n')).labelPolicy;
  assert.deepEqual(empty.protectedLabels, []);
  configError(() => loadServeConfig(['--protected-labels', 'job,__address__'], {}, noFile), '--protected-labels', /"__address__": names starting with "__" are reserved/);
  configError(() => loadServeConfig(['--protected-labels', 'app.name'], {}, noFile), '--protected-labels', /"app\.name": must be a label name/);
});

test('writers refuse protected names with the flag and the name, never the value', () => {
  configError(() => refuseProtectedLabels({ ok: 'v', job: 'secret-value' }, '--label'), '--label', /^--label: label job: protected label/);
  refuseProtectedLabels({ job: 'x' }, '--label', NONE);
  const system = { hostname: () => 'h', interfaces: () => ({}) };
  const argv = ['--group', 'web', '--exporter-type', 'node_exporter', '--port', '9100', '--label', 'job=secret-value'];
  assert.throws(() => loadRegisterConfig(argv, {}, () => Buffer.alloc(0), system), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.setting, '--label');
    assert.match(err.message, /label job: protected label/);
    assert.doesNotMatch(err.message, /secret-value/);
    return true;
  });
});
