/**
 * Where things live in etcd (shared/spec/registry-layout.md, "Keys").
 * Pure string functions: the one place that knows the key layout.
 */

/** Group names: 1 to 63 letters, digits, `-` or `_`. */
const GROUP_NAME = /^[A-Za-z0-9_-]{1,63}$/;

/** Whether `name` is a group name the layout allows. */
export function isValidGroupName(name: string): boolean {
  return GROUP_NAME.test(name);
}

/** What a key under the prefix is. */
export type KeyKind =
  | { readonly kind: 'group'; readonly group: string }
  | { readonly kind: 'node'; readonly group: string; readonly node: string }
  | { readonly kind: 'invalid'; readonly reason: 'invalid_group_name' }
  | { readonly kind: 'ignored' };

/**
 * Classifies a key. `prefix` has no trailing slash. Keys outside
 * `{prefix}/` (e.g. `{prefix}X/...`) and extra data under the prefix are
 * `ignored`: the layout says they are not part of the registry.
 */
export function classifyKey(prefix: string, key: string): KeyKind {
  const base = `${prefix}/`;
  if (!key.startsWith(base)) return { kind: 'ignored' };
  const parts = key.slice(base.length).split('/');
  const group = parts[0] ?? '';
  if (parts.length === 1) {
    if (group === '') return { kind: 'ignored' };
    return isValidGroupName(group) ? { kind: 'group', group } : { kind: 'ignored' };
  }
  if (parts.length !== 3 || parts[1] !== 'nodes' || parts[2] === '') return { kind: 'ignored' };
  if (!isValidGroupName(group)) return { kind: 'invalid', reason: 'invalid_group_name' };
  return { kind: 'node', group, node: parts[2]! };
}

/** `{prefix}/{group}`: the group document's key. */
export function groupKey(prefix: string, group: string): string {
  return `${prefix}/${group}`;
}

/** `{prefix}/{group}/`: every key of the group, and nothing of `{group}-canary`. */
export function groupPrefix(prefix: string, group: string): string {
  return `${prefix}/${group}/`;
}

/** `{prefix}/{group}/nodes/{id}_{exporter_type}`: a node document's key. */
export function nodeKey(prefix: string, group: string, id: string, exporterType: string): string {
  return `${prefix}/${group}/nodes/${id}_${exporterType}`;
}
