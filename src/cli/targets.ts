/**
 * `etcd-http-sd targets`: what the server would serve at `/v1/targets` for
 * the current etcd content, rendered by the same code, for debugging.
 */
import { deepFreeze, row } from '../config/checks.js';
import { flagsOf, type SettingRow, type Settings } from '../config/file.js';
import { formatHelp, isHelpRequested, UsageError } from '../config/flags.js';
import { labelPolicyFrom, PROTECTED_LABELS_SETTING } from '../config/labels.js';
import { loadEtcdConnection } from '../config/serve.js';
import { renderFiltered, type TargetFilter } from '../http/rendered.js';
import { GROUP_NAME_RULE, isValidGroupName } from '../registry/index.js';
import { EXIT_OK, type CliContext } from './io.js';
import { loadRegistryState } from './load-state.js';
import { clientConnectionFlags } from './register.js';

const SUMMARY = `Print the targets the server would serve at /v1/targets for the current etcd
content (the same rendering code), and report skipped documents on stderr.
--group and --exporter-type filter as ?group= and ?exporter_type= do.`;

const TARGETS_SETTINGS: readonly SettingRow[] = deepFreeze([
  row('group', 'repeat', 'NAME', '', '', 'Only this group.'),
  row('exporter-type', 'repeat', 'TYPE', '', '', 'Only nodes of this exporter type.'),
  row('pretty', 'bool', '', '', '', 'Indent the JSON (the server sends it compact).'),
  PROTECTED_LABELS_SETTING,
]);

function listOf(settings: Settings, name: string): string[] {
  const v = settings.get(name)?.value;
  const items = Array.isArray(v) ? (v as string[]) : [];
  return [...new Set(items.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== ''))].sort();
}

function filterFrom(settings: Settings): TargetFilter {
  const groups = listOf(settings, 'group');
  const bad = groups.find((g) => !isValidGroupName(g));
  if (bad !== undefined) throw new UsageError('--group', `${JSON.stringify(bad)} is not a group name: it ${GROUP_NAME_RULE}`);
  return { groups, exporterTypes: listOf(settings, 'exporter-type') };
}

/** Runs `targets`. */
export async function targetsCommand(ctx: CliContext): Promise<number> {
  if (isHelpRequested(ctx.argv)) {
    ctx.stdout(formatHelp('etcd-http-sd targets', SUMMARY, [...clientConnectionFlags(), ...flagsOf(TARGETS_SETTINGS)]));
    return EXIT_OK;
  }
  const { etcd, settings } = loadEtcdConnection(ctx.argv, ctx.env, ctx.readFile, TARGETS_SETTINGS);
  const stray = settings.positionals[0];
  if (stray !== undefined) throw new UsageError(JSON.stringify(stray), 'unexpected argument: use --group NAME');
  const filter = filterFrom(settings);
  const { state, skipped } = await loadRegistryState(etcd, labelPolicyFrom(settings));
  const body = renderFiltered(state.snapshot(), filter);
  ctx.stdout(settings.get('pretty')?.value === true ? JSON.stringify(JSON.parse(body), null, 2) : body);
  for (const i of skipped) ctx.stderr(`skipped ${i.key}: ${i.reason}: ${i.detail}`);
  return EXIT_OK;
}
