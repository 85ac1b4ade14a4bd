/** `etcd-http-sd group configure|list|show|delete`: manage group documents. */
import { deepFreeze, readSecretFile, row } from '../config/checks.js';
import { flagsOf, type SettingRow, type Settings } from '../config/file.js';
import { formatHelp, isHelpRequested, UsageError } from '../config/flags.js';
import { labelPolicyFrom, PROTECTED_LABELS_SETTING } from '../config/labels.js';
import { loadEtcdConnection, type EtcdConnectionConfig } from '../config/serve.js';
import { ConfigError, InvalidArgumentError } from '../errors.js';
import { explainGroupDocument, invalidUnder } from '../explain/explain.js';
import { GROUP_NAME_RULE, parseNodeDocument } from '../registry/index.js';
import { RegistryClient } from '../register/client.js';
import { GroupNotFoundError } from '../register/errors.js';
import { checkGroupName, listGroupNodes, type Group, type GroupPatch } from '../register/groups.js';
import { clientConnectionFlags, DEFAULT_CLIENT_ENDPOINT, parseLabels } from './register.js';
import { EXIT_OK, EXIT_USAGE, type CliContext } from './io.js';
import { loadRegistryState, type LoadedState } from './load-state.js';

const CONFIGURE_SETTINGS: readonly SettingRow[] = deepFreeze([
  row('label', 'repeat', 'NAME=VALUE', '', '', 'Common label to add or change.'),
  row('remove-label', 'repeat', 'NAME', '', '', 'Common label to remove.'),
  row('username', 'string', 'USER', '', '', 'Basic-auth user Prometheus scrapes the group with; needs --password-file.\nWithout it, --password-file alone makes a password-only group (empty user, as the Go sidecars write).'),
  row('password-file', 'string', 'FILE', '', '', 'File holding that password (one trailing newline ignored).'),
  row('clear-credentials', 'bool', '', '', '', 'Remove the group\'s scrape credentials.'),
  // --label refuses what the server would drop; the server's setting, so the same YAML file says it.
  PROTECTED_LABELS_SETTING,
]);

const ACTIONS = {
  configure: { args: '<group>', summary: 'Create the group if needed and change its common labels or scrape credentials\n(compare-and-swap: concurrent changes are never lost). Prints the group, password masked.', rows: CONFIGURE_SETTINGS },
  list: { args: '', summary: 'List every group: node count and whether it has a group document.', rows: [] },
  show: { args: '<group>', summary: 'Print a group document (password masked) and its nodes as JSON.', rows: [] },
  delete: { args: '<group>', summary: 'Delete a group document and every key under <prefix>/<group>/ (never <group>-canary).', rows: [] },
} as const satisfies Record<string, { args: string; summary: string; rows: readonly SettingRow[] }>;

type Action = keyof typeof ACTIONS;

const OVERVIEW = `Usage: etcd-http-sd group <action> [flags]

Actions:
  configure <group> [--label NAME=VALUE]... [--remove-label NAME]... [--username USER --password-file FILE]
  list
  show <group>
  delete <group>

Run 'etcd-http-sd group <action> --help' for an action's flags (the etcd connection flags included).
`;

/** What printed groups show instead of a password. */
export const MASK = '********';

/** A group as printed: Go field names, password masked. */
export function maskedGroup(g: Group): Record<string, unknown> {
  return {
    name: g.name,
    username: g.username,
    password: g.password === '' ? '' : MASK,
    common_labels: g.commonLabels,
    created: g.created,
  };
}

function isAction(name: string | undefined): name is Action {
  return name !== undefined && Object.hasOwn(ACTIONS, name);
}

/** Runs `group <action>`. */
export async function groupCommand(ctx: CliContext): Promise<number> {
  const [name, ...argv] = ctx.argv;
  if (!isAction(name)) {
    if (name === undefined) {
      ctx.stderr(OVERVIEW);
      return EXIT_USAGE;
    }
    if (name === '-h' || name === '--help' || name === 'help') {
      ctx.stdout(OVERVIEW);
      return EXIT_OK;
    }
    throw new UsageError(`group ${name}`, `unknown action: expected one of ${Object.keys(ACTIONS).join(', ')}`);
  }
  const action = ACTIONS[name];
  if (isHelpRequested(argv)) {
    ctx.stdout(formatHelp(`etcd-http-sd group ${name}`, action.summary, [...clientConnectionFlags(), ...flagsOf(action.rows)], action.args || undefined));
    return EXIT_OK;
  }
  const { etcd, settings } = loadEtcdConnection(argv, ctx.env, ctx.readFile, action.rows);
  const group = positional(name, settings, action.args !== '');
  const patch = name === 'configure' ? patchFrom(settings, ctx.readFile) : undefined;
  const client = new RegistryClient({ ...etcd, endpoints: endpointsOf(etcd) });
  try {
    if (name === 'list') return await list(client, etcd, ctx);
    return await run(name, client, group, patch, ctx);
  } finally {
    await client.close().catch(() => undefined);
  }
}

function endpointsOf(etcd: EtcdConnectionConfig): readonly string[] {
  return etcd.endpoints.length > 0 ? etcd.endpoints : [DEFAULT_CLIENT_ENDPOINT];
}

function positional(action: Action, settings: Settings, wanted: boolean): string {
  const [first, extra] = settings.positionals;
  if (!wanted) {
    if (first !== undefined) throw new UsageError(JSON.stringify(first), `unexpected argument: group ${action} takes no group name`);
    return '';
  }
  if (first === undefined) throw new UsageError('<group>', `missing: write etcd-http-sd group ${action} <group>`);
  if (extra !== undefined) throw new UsageError(JSON.stringify(extra), 'unexpected argument: give one group name');
  try {
    return checkGroupName(first);
  } catch (err) {
    throw err instanceof InvalidArgumentError ? new UsageError('<group>', err.message) : err;
  }
}

function patchFrom(settings: Settings, readFile: Parameters<typeof readSecretFile>[1]): GroupPatch {
  const user = settings.get('username');
  const file = settings.get('password-file');
  const clear = settings.get('clear-credentials')?.value === true;
  if (user !== undefined && file === undefined) {
    throw new ConfigError(user.where, 'needs --password-file (the password Prometheus sends with this user)');
  }
  if (clear && file !== undefined) throw new ConfigError('--clear-credentials', 'conflicts with --username/--password-file: give one');
  const removed = settings.get('remove-label')?.value as readonly string[] | undefined;
  // --password-file alone: a password-only group, as the Go sidecars configure them.
  const credentials = file !== undefined
    ? { username: user === undefined ? '' : String(user.value), password: readSecretFile(file, readFile, 'password') }
    : clear ? { username: '', password: '' } : {};
  return {
    setLabels: parseLabels(settings.get('label'), labelPolicyFrom(settings)),
    ...(removed === undefined ? {} : { removeLabels: removed }),
    ...credentials,
  };
}

async function run(action: Action, client: RegistryClient, group: string, patch: GroupPatch | undefined, ctx: CliContext): Promise<number> {
  switch (action) {
    case 'configure': {
      const g = await client.configureGroup(group, patch ?? {});
      ctx.stdout(JSON.stringify(maskedGroup(g), null, 2));
      return EXIT_OK;
    }
    case 'list':
      throw new TypeError('list is run by list()');
    case 'show':
      return show(client, group, ctx);
    case 'delete': {
      const deleted = await client.deleteGroup(group);
      // Deleting what is not there succeeds (exit 0), but says so: a typo must not look like a delete.
      ctx.stdout(deleted === 0 ? `group ${group} does not exist: nothing deleted` : `deleted group ${group}: ${deleted} key${deleted === 1 ? '' : 's'}`);
      return EXIT_OK;
    }
  }
}

/**
 * `group list`: every group, with whether the server serves it and why not,
 * from the same listing code the server loads with (so a group it skips,
 * e.g. for its name, is listed too, with the reason).
 */
async function list(client: RegistryClient, etcd: EtcdConnectionConfig, ctx: CliContext): Promise<number> {
  const [groups, { state }] = await Promise.all([client.listGroups(), loadRegistryState({ ...etcd, endpoints: endpointsOf(etcd) })]);
  const rows = groups.map((g) => ({ name: g.name, nodes: String(g.nodes), document: g.hasDocument ? 'yes' : 'no', served: servedNote(state, g.name) }));
  const skipped = new Map<string, number>();
  for (const d of state.invalidDocuments()) {
    if (d.reason !== 'invalid_group_name') continue;
    const name = d.key.slice(state.prefix.length + 1).split('/')[0] ?? '';
    skipped.set(name, (skipped.get(name) ?? 0) + 1);
  }
  for (const [name, n] of skipped) rows.push({ name: JSON.stringify(name), nodes: String(n), document: '-', served: `no: not a group name the server serves (${GROUP_NAME_RULE})` });
  const width = Math.max(4, ...rows.map((r) => r.name.length)) + 2;
  const lines = rows.map((r) => `${r.name.padEnd(width)}${r.nodes.padEnd(7)}${r.document.padEnd(10)}${r.served}`);
  ctx.stdout([`${'NAME'.padEnd(width)}NODES  DOCUMENT  SERVED`, ...lines].join('\n'));
  return EXIT_OK;
}

/** `yes`, or `yes` with what the server leaves out of the group and why. */
function servedNote(state: LoadedState['state'], group: string): string {
  const notes: string[] = [];
  const docProblem = explainGroupDocument(state, group).problem;
  if (docProblem !== undefined) notes.push(`group document skipped (${docProblem.reason}), so no common labels`);
  const nodeProblems = invalidUnder(state, group).filter((d) => d.key !== docProblem?.key);
  if (nodeProblems.length > 0) {
    const reasons = [...new Set(nodeProblems.map((d) => d.reason))].join(', ');
    notes.push(`${nodeProblems.length} node${nodeProblems.length === 1 ? '' : 's'} skipped (${reasons}; see etcd-http-sd explain ${group})`);
  }
  return notes.length === 0 ? 'yes' : `yes, ${notes.join('; ')}`;
}

async function show(client: RegistryClient, group: string, ctx: CliContext): Promise<number> {
  const [doc, kvs] = await Promise.all([client.getGroup(group), listGroupNodes(client.etcd, client.prefix, group)]);
  if (doc === undefined && kvs.length === 0) throw new GroupNotFoundError(group);
  const nodes = kvs.map(({ key, value }) => {
    const parsed = parseNodeDocument(value);
    if (!parsed.ok) return { key, invalid: parsed.reason, detail: parsed.detail };
    const n = parsed.value;
    return {
      key, id: n.id, exporter_type: n.exporterType, port: n.port, metrics_path: n.metricsPath,
      labels: n.labels, status: n.status, last_seen: n.lastSeen, ...(n.address === undefined ? {} : { address: n.address }),
    };
  });
  const out = doc === undefined ? { name: group, document: null } : maskedGroup(doc);
  ctx.stdout(JSON.stringify({ ...out, nodes }, null, 2));
  return EXIT_OK;
}
