/**
 * Where things live in etcd (docs/registry-layout.md, "Keys").
 * Pure string functions: the one place that knows the key layout.
 */

const MAX_GROUP_BYTES = 63;

/** How a group name must look, for error messages everywhere a name is checked. */
export const GROUP_NAME_RULE =
  'must be 1 to 63 bytes, without "/", "\\", "?", "#", "[", "]" or space, with at least one letter, digit, "-" or "_"';

/**
 * Whether `name` is a group name, exactly as the Go library's
 * `CreateOrJoinServiceGroup` accepts it: 1 to 63 bytes (UTF-8), none of
 * `/ \ ? # [ ]` or space, at least one of `[A-Za-z0-9_-]` somewhere. So
 * `web.prod`, `a:b`, `x@y` and non-ASCII names are groups, and served.
 */
export function isValidGroupName(name: string): boolean {
  // One pass, no regular expression: every watch event's key is checked.
  if (name === '' || name.length > MAX_GROUP_BYTES) return false;
  let needed = false;
  let ascii = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2f || c === 0x5c || c === 0x3f || c === 0x23 || c === 0x5b || c === 0x5d || c === 0x20) return false;
    needed ||= (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2d;
    ascii &&= c < 0x80;
  }
  return needed && (ascii || Buffer.byteLength(name, 'utf8') <= MAX_GROUP_BYTES);
}

/** Problem with a registry prefix as given, or the prefix as keys use it. */
export type CleanedPrefix = { readonly ok: true; readonly prefix: string } | { readonly ok: false; readonly problem: string };

/**
 * A registry base path cleaned the way the Go library's `path.Join` cleans
 * it (`services`, `/services/`, `//services` and `/a/./b/../services` are
 * all legal there), as this project holds it: without a trailing `/`, keys
 * are `prefix + "/" + group`. The root `/` becomes `''` (keys `/web`).
 * Refused: empty or whitespace (Go refuses an empty base path), and a path
 * that cleans to `.` (Go's keys would then be bare group names, which no
 * prefix read can tell from other data).
 */
export function cleanPrefix(raw: string): CleanedPrefix {
  if (raw.trim() === '') return { ok: false, problem: 'must not be empty' };
  if (/\s/.test(raw)) return { ok: false, problem: 'must not contain whitespace' };
  const rooted = raw.startsWith('/');
  const out: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  if (!rooted && out.length === 0) return { ok: false, problem: 'must name a key prefix such as /services (this one cleans to ".")' };
  return { ok: true, prefix: `${rooted ? '/' : ''}${out.join('/')}`.replace(/^\/$/, '') };
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
 * `ignored`: the layout says they are not part of the registry. A node id
 * may contain `/` (the Go library does not check ids): everything after
 * `nodes/` is the node's key, as Go's prefix read of `nodes` returns it.
 */
export function classifyKey(prefix: string, key: string): KeyKind {
  if (!key.startsWith(prefix) || key.charCodeAt(prefix.length) !== 0x2f) return { kind: 'ignored' };
  const rest = key.slice(prefix.length + 1);
  const slash = rest.indexOf('/');
  const group = slash < 0 ? rest : rest.slice(0, slash);
  if (slash < 0) {
    if (group === '') return { kind: 'ignored' };
    return isValidGroupName(group) ? { kind: 'group', group } : { kind: 'ignored' };
  }
  const NODES = 'nodes/';
  if (!rest.startsWith(NODES, slash + 1) || rest.length === slash + 1 + NODES.length) return { kind: 'ignored' };
  if (!isValidGroupName(group)) return { kind: 'invalid', reason: 'invalid_group_name' };
  return { kind: 'node', group, node: rest.slice(slash + 1 + NODES.length) };
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
