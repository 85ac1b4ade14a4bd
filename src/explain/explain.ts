/**
 * Why a node is (or is not) served: the path from its document to its
 * target, told by the same rule implementations that render it (sanitising,
 * label merge, address choice), which report what they did through trace
 * callbacks. Pure: reads a registry state, never etcd. Never returns a secret.
 */
import {
  buildTargetGroup, groupKey, isValidGroupName, sanitizeLabels, traceAddress,
  type AddressRule, type CommonLabels, type GroupDocument, type InvalidDocument,
  type LabelPolicy, type LabelStep, type NodeDocument, type RegistryState, type TargetGroup,
} from '../registry/index.js';

/** What explanations read of a registry state. */
export type ExplainReader = Pick<RegistryState, 'invalidDocuments' | 'invalidDocument' | 'groupDocument' | 'nodeDocument' | 'prefix' | 'labelPolicy'>;

/** One label's fate. `source` says which document it came from. */
export interface LabelExplanation {
  readonly source: 'group' | 'node';
  readonly name: string;
  readonly action: 'kept' | 'renamed' | 'dropped' | 'overridden';
  readonly to?: string;
  readonly rule: string;
}

/** The group side of an explanation: credentials only as whether they are set. */
export interface GroupExplanation {
  readonly group: string;
  readonly key: string;
  /** `missing`: no group document (nodes are still served, without common labels). */
  readonly document: 'valid' | 'invalid' | 'missing';
  readonly problem?: InvalidDocument;
  /** `username and password`, `password only` or `none`: never the values. */
  readonly credentials: 'username and password' | 'password only' | 'none';
  readonly commonLabels: Readonly<Record<string, unknown>>;
  readonly labels: readonly LabelExplanation[];
}

/** The whole path of one node. */
export interface NodeExplanation {
  readonly group: string;
  /** The key's last segment, `{id}_{exporter_type}` by convention. */
  readonly node: string;
  readonly key: string;
  readonly served: boolean;
  /** Why the node is not served. */
  readonly problem?: InvalidDocument;
  /** The node document as parsed (no credentials live in node documents). */
  readonly document?: NodeDocument;
  readonly address?: { readonly rule: AddressRule; readonly value?: string };
  readonly labels: readonly LabelExplanation[];
  readonly target?: TargetGroup;
  readonly groupDocument: GroupExplanation;
}

function lastWins(steps: readonly LabelExplanation[]): LabelExplanation[] {
  const byName = new Map<string, LabelExplanation>();
  for (const s of steps) byName.set(`${s.source}\0${s.name}`, s);
  return [...byName.values()];
}

function credentialsOf(doc: GroupDocument | undefined): GroupExplanation['credentials'] {
  if (doc?.password === undefined) return 'none';
  return doc.username === undefined ? 'password only' : 'username and password';
}

/** Explains a group's document. */
export function explainGroupDocument(state: ExplainReader, group: string): GroupExplanation {
  const key = groupKey(state.prefix, group);
  const problem = state.invalidDocument(key);
  const doc = state.groupDocument(group)?.doc;
  const steps: LabelExplanation[] = [];
  if (doc !== undefined) sanitizeLabels(doc.commonLabels, (s: LabelStep) => steps.push({ source: 'group', ...s }), state.labelPolicy);
  return {
    group, key,
    document: problem !== undefined ? 'invalid' : doc === undefined ? 'missing' : 'valid',
    ...(problem === undefined ? {} : { problem }),
    credentials: credentialsOf(doc),
    commonLabels: doc?.commonLabels ?? {},
    labels: lastWins(steps),
  };
}

function explainServed(
  group: string,
  common: CommonLabels,
  doc: NodeDocument,
  policy: LabelPolicy,
  steps: LabelExplanation[],
): Pick<NodeExplanation, 'address' | 'target' | 'served' | 'problem'> {
  const address = traceAddress(doc);
  const target = buildTargetGroup(group, common, doc, {
    nodeLabel: (s) => steps.push({ source: 'node', ...s }),
    merge: (m) => {
      // exporter_type may be overridden after the node's own label replaced the group's.
      const fromNode = m.name === 'exporter_type' && steps.some((s) => s.source === 'node' && s.to === m.name);
      steps.push({ source: fromNode ? 'node' : 'group', name: m.name, action: 'overridden', rule: m.rule });
    },
  }, policy);
  return {
    address: { rule: address.rule, ...(address.result.ok ? { value: address.result.value } : {}) },
    served: target.ok,
    ...(target.ok ? { target: target.value } : { problem: { key: '', reason: target.reason, detail: target.detail } }),
  };
}

/**
 * Explains one node of `group` (`node`: the key's last segment), served or
 * skipped; undefined when etcd holds no such key.
 */
export function explainNode(state: ExplainReader, group: string, node: string): NodeExplanation | undefined {
  const key = `${groupKey(state.prefix, group)}/nodes/${node}`;
  const groupDocument = explainGroupDocument(state, group);
  const problem = state.invalidDocument(key);
  if (problem !== undefined) return { group, node, key, served: false, problem, labels: [], groupDocument };
  const doc = state.nodeDocument(group, node);
  if (doc === undefined) return undefined;
  // A group document never seen valid holds its nodes back (stale over partial): not served.
  if (groupDocument.problem !== undefined && state.groupDocument(group)?.doc === undefined) {
    return { group, node, key, document: doc, served: false, problem: groupDocument.problem, labels: [], groupDocument };
  }
  const steps: LabelExplanation[] = [...groupDocument.labels];
  const served = explainServed(group, state.groupDocument(group)?.common ?? {}, doc, state.labelPolicy, steps);
  const fixed = served.problem === undefined ? served : { ...served, problem: { ...served.problem, key } };
  return { group, node, key, document: doc, labels: lastWins(steps), groupDocument, ...fixed };
}

/** Skipped documents under `group` (every group when undefined), in key order. */
export function invalidUnder(state: ExplainReader, group?: string): InvalidDocument[] {
  const all = state.invalidDocuments();
  if (group === undefined) return all;
  const own = groupKey(state.prefix, group);
  return all.filter((d) => d.key === own || d.key.startsWith(`${own}/`));
}

/** The group a skipped key belongs to, when its name is one we serve. */
export function groupOfKey(prefix: string, key: string): string | undefined {
  if (!key.startsWith(`${prefix}/`)) return undefined;
  const name = key.slice(prefix.length + 1).split('/')[0] ?? '';
  return isValidGroupName(name) ? name : undefined;
}
