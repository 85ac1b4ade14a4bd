/**
 * Group documents in etcd: create-or-join, configure with compare-and-swap,
 * read, list, delete (docs/registry-layout.md, "Group document").
 * Functions over an etcd3 client they do not own.
 */
import type { Etcd3, IKeyValue, IRequestOp } from 'etcd3';
import { InvalidArgumentError } from '../errors.js';
import { prefixEnd } from '../etcd/client.js';
import { EtcdSource } from '../mirror/etcd-source.js';
import {
  checkLabels,
  classifyKey,
  formatGroupDocument,
  groupKey,
  groupPrefix,
  parseGroupDocument,
} from '../registry/index.js';
import { ConflictError, etcdFailure } from './errors.js';
import { checkGroupName } from './options.js';
import { goNow } from './node.js';

/** What a group says about its nodes. */
export interface GroupSpec {
  /** Basic-auth user Prometheus scrapes the group with; `''` for none. */
  readonly username: string;
  /** Basic-auth password. Secret: never log it; `''` for none. */
  readonly password: string;
  /** Labels every node of the group gets (the node's own win). */
  readonly commonLabels: Readonly<Record<string, string>>;
}

/** A group document as stored. */
export interface Group extends GroupSpec {
  readonly name: string;
  /** RFC 3339 with nanoseconds, as Go writes it; `''` when the document has none. */
  readonly created: string;
  /** etcd mod revision of the group key. */
  readonly modRevision: number;
}

/**
 * A change to a group. Label changes apply in the order `replaceLabels`,
 * `removeLabels`, `setLabels`; unset fields are left as they are.
 */
export interface GroupPatch {
  /** Labels to add or overwrite. */
  readonly setLabels?: Readonly<Record<string, string>>;
  /** Label names to remove. */
  readonly removeLabels?: readonly string[];
  /** Replaces all common labels. */
  readonly replaceLabels?: Readonly<Record<string, string>>;
  /** New basic-auth user (`''` clears it). */
  readonly username?: string;
  /** New basic-auth password (`''` clears it). */
  readonly password?: string;
}

/** A patch, or a function from the current spec to the new one (called once per attempt). */
export type GroupUpdate = GroupPatch | ((current: GroupSpec) => GroupSpec);

/** One entry of `listGroups`. */
export interface GroupSummary {
  readonly name: string;
  /** Whether `{prefix}/{name}` holds a group document (nodes may exist without one). */
  readonly hasDocument: boolean;
  /** Number of node keys under `{prefix}/{name}/nodes/`. */
  readonly nodes: number;
}

/** Default bound of compare-and-swap attempts of `configureGroup`. */
export const DEFAULT_CAS_ATTEMPTS = 50;

export { checkGroupName } from './options.js';

function stringLabels(raw: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Parses a stored group; an unreadable document is a `ConflictError` (we never overwrite it blindly). */
function toGroup(name: string, kv: IKeyValue): Group {
  return decodeGroup(name, kv.key.toString(), kv.value.toString('utf8'), Number(kv.mod_revision));
}

/** Parses the group document `value` stored at `key`; throws `ConflictError` when it does not decode. */
export function decodeGroup(name: string, key: string, value: string, modRevision: number): Group {
  const parsed = parseGroupDocument(value);
  if (!parsed.ok) {
    throw new ConflictError(`${key} is not a valid group document (${parsed.detail}): fix or delete it`);
  }
  const d = parsed.value;
  return {
    name,
    username: d.username ?? '',
    password: d.password ?? '',
    commonLabels: stringLabels(d.commonLabels),
    created: d.created ?? '',
    modRevision,
  };
}

function render(name: string, spec: GroupSpec, created: string): string {
  return formatGroupDocument({ name, ...spec, created });
}

const EMPTY_SPEC: GroupSpec = { username: '', password: '', commonLabels: {} };

/**
 * Creates the group document unless it exists, in one transaction on the
 * key's create revision (as the Go library's `CreateOrJoinServiceGroup`).
 */
export function createOrJoinGroup(client: Etcd3, prefix: string, name: string): Promise<{ group: Group; created: boolean }> {
  return createGroupIfAbsent(client, prefix, name, EMPTY_SPEC, goNow());
}

/**
 * Creates the group document with `spec` and `created` unless one exists
 * (then it is read back, never overwritten): joining a group, and putting
 * back a group document deleted under a registrant with its last known spec.
 */
export async function createGroupIfAbsent(
  client: Etcd3,
  prefix: string,
  name: string,
  spec: GroupSpec,
  created: string,
): Promise<{ group: Group; created: boolean }> {
  checkGroupName(name);
  const key = Buffer.from(groupKey(prefix, name));
  try {
    const res = await client.kv.txn({
      compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key, value: Buffer.from(render(name, spec, created)) } }],
      failure: [{ request_range: { key } }],
    });
    if (res.succeeded) return { group: { name, ...spec, created, modRevision: Number(res.header.revision) }, created: true };
    const kv = res.responses[0]?.response_range.kvs[0];
    if (kv === undefined) throw new ConflictError(`group ${name} vanished while joining it: retry`);
    return { group: toGroup(name, kv), created: false };
  } catch (err) {
    throw etcdFailure(`create or join group ${name}`, err);
  }
}

function checkPatch(patch: GroupPatch): void {
  for (const [field, labels] of [['setLabels', patch.setLabels], ['replaceLabels', patch.replaceLabels]] as const) {
    const problem = labels === undefined ? undefined : checkLabels(labels)[0];
    if (problem !== undefined) throw new InvalidArgumentError(`${field}.${problem.name}`, labels?.[problem.name], problem.problem);
  }
  for (const field of ['username', 'password'] as const) {
    const v = patch[field];
    if (v !== undefined && typeof v !== 'string') throw new InvalidArgumentError(field, field === 'password' ? '…' : v, 'must be a string');
  }
}

function applyPatch(current: GroupSpec, patch: GroupPatch): GroupSpec {
  const removed = new Set(patch.removeLabels ?? []);
  const kept = Object.entries(patch.replaceLabels ?? current.commonLabels).filter(([name]) => !removed.has(name));
  const labels: Record<string, string> = { ...Object.fromEntries(kept), ...patch.setLabels };
  return {
    username: patch.username ?? current.username,
    password: patch.password ?? current.password,
    commonLabels: labels,
  };
}

function nextSpec(current: GroupSpec, update: GroupUpdate): GroupSpec {
  const spec = typeof update === 'function' ? update(current) : applyPatch(current, update);
  const problem = checkLabels(spec.commonLabels)[0];
  if (problem !== undefined) throw new InvalidArgumentError(`commonLabels.${problem.name}`, spec.commonLabels[problem.name], problem.problem);
  return spec;
}

/**
 * Applies `update` to the group with compare-and-swap on the key's mod
 * revision, re-reading and retrying on conflict (up to `maxAttempts`, then
 * `ConflictError`): concurrent configures never lose an update. Creates the
 * group when it does not exist.
 */
export async function configureGroup(
  client: Etcd3,
  prefix: string,
  name: string,
  update: GroupUpdate,
  maxAttempts = DEFAULT_CAS_ATTEMPTS,
): Promise<Group> {
  checkGroupName(name);
  if (typeof update !== 'function') checkPatch(update);
  const key = Buffer.from(groupKey(prefix, name));
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const group = await casOnce(client, name, key, update);
    if (group !== undefined) return group;
    // Jitter so two writers in lockstep stop colliding.
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * attempt)));
  }
  throw new ConflictError(`group ${name}: ${maxAttempts} concurrent updates in a row won; giving up`);
}

async function casOnce(client: Etcd3, name: string, key: Buffer, update: GroupUpdate): Promise<Group | undefined> {
  let kv: IKeyValue | undefined;
  try {
    kv = (await client.kv.range({ key })).kvs[0];
  } catch (err) {
    throw etcdFailure(`read group ${name}`, err);
  }
  const current = kv === undefined ? undefined : toGroup(name, kv);
  const spec = nextSpec(current ?? EMPTY_SPEC, update); // the caller's errors pass through as they are
  const created = current?.created || goNow();
  const put: IRequestOp = { request_put: { key, value: Buffer.from(render(name, spec, created)) } };
  const compare = kv === undefined
    ? { key, target: 'Create' as const, result: 'Equal' as const, create_revision: 0 }
    : { key, target: 'Mod' as const, result: 'Equal' as const, mod_revision: kv.mod_revision };
  try {
    const res = await client.kv.txn({ compare: [compare], success: [put] });
    return res.succeeded ? { name, ...spec, created, modRevision: Number(res.header.revision) } : undefined;
  } catch (err) {
    throw etcdFailure(`configure group ${name}`, err);
  }
}

/** The group document, or `undefined` when the group has none. */
export async function getGroup(client: Etcd3, prefix: string, name: string): Promise<Group | undefined> {
  checkGroupName(name);
  let kv: IKeyValue | undefined;
  try {
    kv = (await client.kv.range({ key: Buffer.from(groupKey(prefix, name)) })).kvs[0];
  } catch (err) {
    throw etcdFailure(`read group ${name}`, err);
  }
  return kv === undefined ? undefined : toGroup(name, kv);
}

/** Every group named by a group document or a node key under `{prefix}/`, sorted by name. */
export async function listGroups(client: Etcd3, prefix: string): Promise<GroupSummary[]> {
  const found = new Map<string, { hasDocument: boolean; nodes: number }>();
  const onPage = (kvs: readonly { key: string }[]): void => {
    for (const { key } of kvs) {
      const kind = classifyKey(prefix, key);
      if (kind.kind !== 'group' && kind.kind !== 'node') continue;
      const entry = found.get(kind.group) ?? { hasDocument: false, nodes: 0 };
      if (kind.kind === 'group') entry.hasDocument = true;
      else entry.nodes += 1;
      found.set(kind.group, entry);
    }
  };
  try {
    await new EtcdSource(client, prefix).list(onPage, () => found.clear());
  } catch (err) {
    throw etcdFailure('list groups', err);
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, e]) => ({ name, ...e }));
}

/** Raw node keys and values of a group, in key order. */
export async function listGroupNodes(client: Etcd3, prefix: string, name: string): Promise<{ key: string; value: string }[]> {
  checkGroupName(name);
  const start = Buffer.from(`${groupPrefix(prefix, name)}nodes/`);
  try {
    const res = await client.kv.range({ key: start, range_end: prefixEnd(start) });
    return res.kvs.map((kv) => ({ key: kv.key.toString('utf8'), value: kv.value.toString('utf8') }));
  } catch (err) {
    throw etcdFailure(`list nodes of group ${name}`, err);
  }
}

/**
 * Deletes the group document and every key under `{prefix}/{name}/`, in one
 * transaction; `web-canary` is never touched when deleting `web` (the Go
 * library's prefix delete has that bug). Resolves with the keys deleted.
 */
export async function deleteGroup(client: Etcd3, prefix: string, name: string): Promise<number> {
  checkGroupName(name);
  const under = Buffer.from(groupPrefix(prefix, name));
  try {
    const res = await client.kv.txn({
      compare: [],
      success: [
        { request_delete_range: { key: Buffer.from(groupKey(prefix, name)) } },
        { request_delete_range: { key: under, range_end: prefixEnd(under) } },
      ],
    });
    return res.responses.reduce((n, r) => n + Number(r.response_delete_range.deleted), 0);
  } catch (err) {
    throw etcdFailure(`delete group ${name}`, err);
  }
}
