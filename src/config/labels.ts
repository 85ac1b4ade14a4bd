/**
 * `--protected-labels`: the label names no group or node document may set,
 * for every command that renders targets (`serve`, `file-sd`, `targets`,
 * `explain`), so all of them serve what the server serves.
 */
import { ConfigError, describe } from '../errors.js';
import { DEFAULT_LABEL_POLICY, DEFAULT_PROTECTED_LABELS, isProtectedLabel, protectedLabelProblem, type LabelPolicy } from '../registry/index.js';
import { deepFreeze, row } from './checks.js';
import type { SettingRow, Settings } from './file.js';

/** The row of `--protected-labels`. */
export const PROTECTED_LABELS_SETTING: SettingRow = deepFreeze(
  row('protected-labels', 'list', 'NAME,...', 'labels.protected', DEFAULT_PROTECTED_LABELS.join(','),
    'Label names no group or node document may set (dropped, counted, explained): Prometheus keeps a discovered job over job_name. Empty protects none; __* are always dropped.'),
);

/** The label policy from `--protected-labels`, each name checked once, at start-up. */
export function labelPolicyFrom(settings: Settings): LabelPolicy {
  const r = settings.get(PROTECTED_LABELS_SETTING.flag.name);
  if (r === undefined) throw new TypeError('--protected-labels has a default');
  const names = (r.value as readonly string[]).map((s) => s.trim()).filter((s) => s !== '');
  for (const name of names) {
    const problem = protectedLabelProblem(name);
    if (problem !== undefined) throw new ConfigError(r.where, `${describe(name)}: ${problem}`);
  }
  const setting = r.source === 'default' ? `${r.where} (default ${DEFAULT_PROTECTED_LABELS.join(',')})` : r.where;
  return deepFreeze({ protectedLabels: [...new Set(names)].sort(), setting });
}

/**
 * Refuses labels a writer (the `register` and `group configure` commands)
 * sets that `policy` protects: the server would drop them, so the command
 * says so at once, naming `where` (the flag) and the name, never the value.
 * Reserved `__*` names are refused by `checkLabels`.
 */
export function refuseProtectedLabels(labels: Readonly<Record<string, string>>, where: string, policy: LabelPolicy = DEFAULT_LABEL_POLICY): void {
  const name = Object.keys(labels).find((n) => isProtectedLabel(n, policy));
  if (name === undefined) return;
  throw new ConfigError(where, `label ${name}: protected label, the server does not serve it (${policy.setting})`);
}
