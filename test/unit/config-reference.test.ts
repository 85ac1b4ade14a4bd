// docs/configuration.md is generated from the settings table and lists every key the loader reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { renderConfigReference } from '../../src/config/reference.js';
import { SERVE_SETTINGS } from '../../src/config/serve.js';
import { repoRoot } from '../helpers/fixtures.js';

test('docs/configuration.md is what the settings table generates (regenerate: node dist/test/tools/config-reference.js > docs/configuration.md)', () => {
  assert.equal(readFileSync(join(repoRoot(), 'docs', 'configuration.md'), 'utf8'), renderConfigReference());
});

test('the reference names every setting, and its YAML example has every key', () => {
  const doc = renderConfigReference();
  for (const r of SERVE_SETTINGS) assert.ok(doc.includes(`\`--${r.flag.name}\``), r.flag.name);
  const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  const parsed = parse(yaml) as Record<string, unknown>;
  for (const r of SERVE_SETTINGS) {
    if (r.yaml === undefined) continue;
    let at: unknown = parsed;
    for (const k of r.yaml) at = (at as Record<string, unknown> | undefined)?.[k];
    assert.notEqual(at, undefined, `YAML example lacks ${r.yaml.join('.')}`);
  }
});
