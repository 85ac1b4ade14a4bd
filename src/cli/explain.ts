/**
 * `etcd-http-sd explain GROUP [NODE]`: why each node of a group is served
 * the way it is, or not at all, read from etcd directly and told by the same
 * code as the server's `/v1/explain` (and so the same rendering rules).
 */
import { deepFreeze, row } from '../config/checks.js';
import { flagsOf, type SettingRow } from '../config/file.js';
import { formatHelp, isHelpRequested, UsageError } from '../config/flags.js';
import { labelPolicyFrom, PROTECTED_LABELS_SETTING } from '../config/labels.js';
import { loadEtcdConnection } from '../config/serve.js';
import { explainGroupDocument, explainNode, invalidUnder, type GroupExplanation, type LabelExplanation, type NodeExplanation } from '../explain/explain.js';
import { groupExplanationJson, nodeExplanationJson } from '../explain/json.js';
import { isValidGroupName, type RegistryState } from '../registry/index.js';
import { EXIT_FAILURE, EXIT_OK, type CliContext } from './io.js';
import { loadRegistryState } from './load-state.js';
import { clientConnectionFlags } from './register.js';

const SUMMARY = `Explain how etcd's documents of GROUP (or of one NODE of it, the last
segment of its key, e.g. web-1_node_exporter) become targets: the labels
kept, renamed and dropped with the rule that did it, the address rule, and
why a node is not served. Credentials are never printed.`;

const EXPLAIN_SETTINGS: readonly SettingRow[] = deepFreeze([
  row('json', 'bool', '', '', '', 'Print JSON, as GET /v1/explain/{group}/{node} answers.'),
  PROTECTED_LABELS_SETTING,
]);

function labelLine(l: LabelExplanation): string {
  const to = l.to !== undefined && l.to !== l.name ? ` -> ${l.to}` : '';
  return `  label ${l.source} ${JSON.stringify(l.name)}: ${l.action}${to} (${l.rule})`;
}

function groupText(g: GroupExplanation): string[] {
  const problem = g.problem === undefined ? '' : ` (${g.problem.reason}: ${g.problem.detail}; its nodes are served without common labels)`;
  return [`group ${g.group} (${g.key}): document ${g.document}${problem}; scrape credentials: ${g.credentials}`, ...g.labels.map(labelLine)];
}

function nodeText(n: NodeExplanation): string[] {
  const head = `node ${n.node} (${n.key}): ${n.served ? 'served' : `NOT served: ${n.problem?.reason ?? ''}: ${n.problem?.detail ?? ''}`}`;
  const address = n.address === undefined ? [] : [`  address rule ${n.address.rule}${n.address.value === undefined ? '' : `: ${n.address.value}`}`];
  const own = n.labels.filter((l) => l.source === 'node' || l.action === 'overridden');
  return [head, ...address, ...own.map(labelLine), ...(n.target === undefined ? [] : [`  target ${JSON.stringify(n.target)}`])];
}

function nodesOf(state: RegistryState, group: string): string[] {
  const served = state.snapshot().group(group)?.nodes.map((n) => n.key) ?? [];
  const base = `${state.prefix}/${group}/nodes/`;
  const skipped = invalidUnder(state, group).filter((d) => d.key.startsWith(base)).map((d) => d.key.slice(base.length));
  return [...new Set([...served, ...skipped])].sort();
}

function positionals(list: readonly string[]): { group: string; node: string | undefined } {
  const [group, node, extra] = list;
  if (group === undefined) throw new UsageError('GROUP', 'missing: etcd-http-sd explain GROUP [NODE]');
  if (!isValidGroupName(group)) throw new UsageError('GROUP', `${JSON.stringify(group)} is not a group name the server serves (1-63 letters, digits, "-" or "_")`);
  if (extra !== undefined) throw new UsageError(JSON.stringify(extra), 'unexpected argument; usage: etcd-http-sd explain GROUP [NODE]');
  return { group, node };
}

/** Runs `explain`. */
export async function explainCommand(ctx: CliContext): Promise<number> {
  if (isHelpRequested(ctx.argv)) {
    ctx.stdout(formatHelp('etcd-http-sd explain GROUP [NODE]', SUMMARY, [...clientConnectionFlags(), ...flagsOf(EXPLAIN_SETTINGS)]));
    return EXIT_OK;
  }
  const { etcd, settings } = loadEtcdConnection(ctx.argv, ctx.env, ctx.readFile, EXPLAIN_SETTINGS);
  const { group, node } = positionals(settings.positionals);
  const { state } = await loadRegistryState(etcd, labelPolicyFrom(settings));
  const json = settings.get('json')?.value === true;
  const nodes = node === undefined ? nodesOf(state, group) : [node];
  const explained = nodes.map((n) => explainNode(state, group, n));
  const groupDoc = explainGroupDocument(state, group);
  if (node !== undefined && explained[0] === undefined) {
    ctx.stderr(`etcd-http-sd: no node ${JSON.stringify(node)} in group ${group} under ${etcd.prefix}/ (give the last segment of its key; 'etcd-http-sd explain ${group}' lists them)`);
    return EXIT_FAILURE;
  }
  const found = explained.filter((e): e is NodeExplanation => e !== undefined);
  const one = found[0];
  if (json) {
    ctx.stdout(JSON.stringify(node === undefined || one === undefined ? { ...groupExplanationJson(groupDoc), nodes: found.map(nodeExplanationJson) } : nodeExplanationJson(one), null, 2));
  } else {
    ctx.stdout([...groupText(groupDoc), ...found.flatMap(nodeText)].join('\n'));
    if (node === undefined && found.length === 0) ctx.stdout(`no nodes under ${etcd.prefix}/${group}/nodes/`);
  }
  return EXIT_OK;
}
