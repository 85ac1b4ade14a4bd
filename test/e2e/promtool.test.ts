/**
 * promtool on the Prometheus artefacts: `check config` on
 * prometheus.example.yml (which pulls in the alert rules), `check rules` and
 * `test rules` on deploy/prometheus, and proof that the rule tests are not
 * vacuous: every alert has a case where it fires and one where it must not,
 * and the tests fail when the alerts never fire or always do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot } from '../helpers/fixtures.js';
import { promtool } from '../helpers/prometheus.js';

const ROOT = repoRoot();
const ALERTS = join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
const ALERT_TESTS = join(ROOT, 'deploy', 'prometheus', 'alerts.test.yml');

interface Rule { alert?: string; record?: string; expr: string }
interface RuleFile { groups: { name: string; rules: Rule[] }[] }
interface RuleTests { tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[]; promql_expr_test?: { expr: string }[] }[] }

const rules = (): Rule[] => (parse(readFileSync(ALERTS, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules);
const output = (r: { stdout: string; stderr: string }): string => `${r.stdout}${r.stderr}`;

test('promtool check config prometheus.example.yml, with the rule file it names', async () => {
  const r = await promtool(['check', 'config', join(ROOT, 'prometheus.example.yml')]);
  assert.equal(r.code, 0, output(r));
  assert.match(output(r), /SUCCESS: 1 rule files found/);
  assert.match(output(r), new RegExp(`SUCCESS: ${rules().length} rules found`));
});

test('promtool check rules deploy/prometheus/alerts.yml', async () => {
  const r = await promtool(['check', 'rules', ALERTS]);
  assert.equal(r.code, 0, output(r));
  assert.match(output(r), new RegExp(`SUCCESS: ${rules().length} rules found`));
});

test('promtool test rules deploy/prometheus/alerts.test.yml', async () => {
  const r = await promtool(['test', 'rules', ALERT_TESTS]);
  assert.equal(r.code, 0, output(r));
  assert.match(output(r), /SUCCESS/);
});

test('every alert has a firing case and a quiet case; every recording rule an expression test', () => {
  const cases = (parse(readFileSync(ALERT_TESTS, 'utf8')) as RuleTests).tests;
  const checks = cases.flatMap((c) => c.alert_rule_test ?? []);
  const exprs = cases.flatMap((c) => c.promql_expr_test ?? []).map((e) => e.expr);
  for (const rule of rules()) {
    if (rule.record !== undefined) {
      assert.ok(exprs.some((e) => e.includes(rule.record ?? '')), `recording rule ${rule.record} untested`);
      continue;
    }
    const mine = checks.filter((c) => c.alertname === rule.alert);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${String(rule.alert)}: no case where it fires`);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${String(rule.alert)}: no case where it stays quiet`);
  }
});

test('the rule tests fail for alerts that never fire, and for alerts that always fire', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-http-sd-promtool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(ALERT_TESTS, join(dir, 'alerts.test.yml'));
  for (const [what, expr] of [['never fire', 'vector(1) == 0'], ['always fire', 'vector(1)']] as const) {
    const file = parse(readFileSync(ALERTS, 'utf8')) as RuleFile;
    for (const g of file.groups) for (const r of g.rules) if (r.alert !== undefined) r.expr = expr;
    writeFileSync(join(dir, 'alerts.yml'), stringify(file));
    const r = await promtool(['test', 'rules', join(dir, 'alerts.test.yml')]);
    assert.notEqual(r.code, 0, `alerts that ${what} pass the tests`);
    for (const rule of rules()) {
      if (rule.alert !== undefined) assert.match(output(r), new RegExp(`alertname: ${rule.alert},`), `${rule.alert}: no test failed when it would ${what}`);
    }
  }
});
