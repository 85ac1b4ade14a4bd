/**
 * The configuration reference (docs/configuration.md), generated from the
 * settings table itself, so the documentation lists exactly the keys the
 * loader reads. A test compares the file with this output.
 */
import { envName, type SettingRow } from './file.js';
import { SERVE_SETTINGS } from './serve.js';

function cell(s: string): string {
  return s.replaceAll('|', '\\|');
}

function yamlExample(rows: readonly SettingRow[]): string {
  const lines: string[] = [];
  let section: string | undefined;
  for (const r of rows) {
    const path = r.yaml;
    if (path === undefined) continue;
    const value = r.default ?? `<${(r.flag.placeholder ?? r.flag.kind).toLowerCase()}>`;
    if (path.length === 1) {
      section = undefined;
      lines.push(`${path[0]}: ${value}`);
      continue;
    }
    const head = path.slice(0, -1).join('.');
    if (head !== section) {
      const before = section?.split('.') ?? [];
      let differs = false;
      path.slice(0, -1).forEach((p, i) => {
        // Once a level differs, every level below it is a new mapping too.
        differs ||= before[i] !== p;
        if (differs) lines.push(`${'  '.repeat(i)}${p}:`);
      });
      section = head;
    }
    lines.push(`${'  '.repeat(path.length - 1)}${path[path.length - 1]}: ${value}`);
  }
  return lines.join('\n');
}

/** The whole reference, Markdown. */
export function renderConfigReference(rows: readonly SettingRow[] = SERVE_SETTINGS): string {
  const sorted = [...rows].sort((a, b) => ((a.yaml?.join('.') ?? '~') < (b.yaml?.join('.') ?? '~') ? -1 : 1));
  const table = sorted.map((r) => `| ${r.yaml === undefined ? '(flag and environment only)' : `\`${r.yaml.join('.')}\``} | \`--${r.flag.name}\` | \`${envName(r.flag.name)}\` | ${r.default === undefined ? '' : `\`${cell(r.default)}\``} | ${cell(r.flag.help)} |`);
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from the settings table (src/config/serve.ts) by `node dist/test/tools/config-reference.js > docs/configuration.md`; a test checks it. -->',
    '',
    'Every setting of `etcd-http-sd serve` is a YAML key of the file named by `--config`, a flag and an',
    'environment variable; a flag wins over the environment, which wins over the file.',
    '',
    '| YAML key | flag | environment | default | meaning |',
    '|---|---|---|---|---|',
    ...table,
    '',
    'Every key of the file, with its default (or the kind of value it takes):',
    '',
    '```yaml',
    yamlExample(sorted.filter((r) => r.yaml !== undefined)),
    '```',
    '',
  ].join('\n');
}
