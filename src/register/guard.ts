/**
 * Keeps a registry client's keys as it wrote them while other writers act
 * on the registry: a node key deleted or overwritten (`etcdctl del`, `group
 * delete`, the Go library's prefix delete of a sibling group) is put back
 * within one round trip of the watch event, and a group document deleted
 * under our nodes is created again with its last known spec. Every repair
 * goes through the store's serialized writes, so it never races an update,
 * a deregistration or a lease restore, and never happens once the client
 * closes or the node is gone.
 */
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../log.js';
import { groupKey } from '../registry/keys.js';
import { etcdFailure } from './errors.js';
import type { NodeRef, RepairedEvent } from './events.js';
import * as groups from './groups.js';
import { goNow } from './node.js';
import type { NodeStore, SeenKey } from './store.js';
import { KeyWatch } from './watch.js';

/** What the guard needs from its client. */
export interface GuardContext {
  readonly prefix: string;
  readonly store: NodeStore;
  readonly logger: Logger;
  /** The etcd3 client to use now. */
  client(): Etcd3;
  /** Whether repairs may write: client open and lease alive (else the restore puts every node). */
  mayRepair(): boolean;
  repaired(e: RepairedEvent): void;
  error(err: unknown): void;
}

const EMPTY_SPEC: groups.GroupSpec = { username: '', password: '', commonLabels: {} };

/** Watches and repairs the keys of one registry client. */
export class KeyGuard {
  private readonly watch: KeyWatch;
  /** Last valid document of each group we have nodes in (`undefined`: none known), put back if deleted. */
  private readonly groupDocs = new Map<string, groups.Group | undefined>();
  private closed = false;

  constructor(private readonly ctx: GuardContext) {
    this.watch = new KeyWatch(() => ctx.client(), {
      onChange: (key, seen) => this.onChange(key, seen),
      onAttached: (key) => this.verify(key),
      onError: (key, err) => ctx.error(etcdFailure(`watch ${key}`, err)),
    });
  }

  /** Remembers the group's document as read or created when a node joined. */
  rememberGroup(group: string, doc: groups.Group | undefined): void {
    if (doc !== undefined || !this.groupDocs.has(group)) this.groupDocs.set(group, doc);
  }

  /** Starts watching a node's key and its group's document. */
  watchNode(ref: NodeRef): void {
    if (!this.groupDocs.has(ref.group)) this.groupDocs.set(ref.group, undefined);
    this.watch.add(ref.key);
    this.watch.add(groupKey(this.ctx.prefix, ref.group));
  }

  /** Stops watching a node's key, and its group's document when no other node of ours is in the group. */
  async unwatchNode(ref: NodeRef): Promise<void> {
    const work = [this.watch.remove(ref.key)];
    if (!this.ctx.store.all().some((r) => r.ref.group === ref.group && r.ref.key !== ref.key)) {
      work.push(this.watch.remove(groupKey(this.ctx.prefix, ref.group)));
      this.groupDocs.delete(ref.group);
    }
    await Promise.all(work);
  }

  /** Stops watching a key another registrant took (its group stays watched). */
  forget(key: string): void {
    void this.watch.remove(key);
  }

  /** Cancels every watcher, before their etcd3 client is closed; `rewatch` re-creates them. */
  async detach(): Promise<void> {
    await this.watch.detach();
  }

  /** Watches every key of ours again, on the current etcd3 client (after `detach`). */
  rewatch(): void {
    if (this.closed) return;
    for (const rec of this.ctx.store.all()) if (rec.yielded !== true) this.watchNode(rec.ref);
  }

  /** Cancels every watcher for good; no repair starts after this. */
  close(): Promise<void> {
    this.closed = true;
    return this.watch.close();
  }

  /** A watch saw `key` change (or a read after attaching showed it). */
  private onChange(key: string, seen: SeenKey): void {
    if (this.closed) return;
    const seenAt = Date.now();
    const rec = this.ctx.store.get(key);
    if (rec !== undefined) {
      this.ctx.store.check(key, seen).then((result) => {
        if (result.kind !== 'repaired') return;
        const ms = Date.now() - seenAt;
        this.ctx.logger.warn('node key changed by another writer: put back', { key, cause: result.cause, ms });
        this.ctx.repaired({ node: rec.ref, cause: result.cause, ms });
      }, (err: unknown) => {
        if (this.ctx.mayRepair()) this.ctx.error(err); // else the lease is being replaced: the restore puts it
      });
      return;
    }
    const group = this.groupOfKey(key);
    if (group !== undefined) this.onGroupChange(group, key, seen, seenAt);
  }

  private groupOfKey(key: string): string | undefined {
    for (const group of this.groupDocs.keys()) if (groupKey(this.ctx.prefix, group) === key) return group;
    return undefined;
  }

  /** Keeps the group's last valid document; puts it back when deleted while we have nodes in the group. */
  private onGroupChange(group: string, key: string, seen: SeenKey, seenAt: number): void {
    if (seen.type === 'put') {
      try {
        this.groupDocs.set(group, groups.decodeGroup(group, key, seen.value, seen.modRevision));
      } catch {
        // not a valid document: the last valid one is what we would put back
      }
      return;
    }
    const nodes = this.ctx.store.all().filter((r) => r.ref.group === group && r.yielded !== true && r.health !== 'removed');
    if (nodes.length === 0) return;
    this.ctx.store.exclusive(async () => {
      if (this.closed || !this.ctx.mayRepair()) return false;
      const last = this.groupDocs.get(group);
      const { group: doc, created } = await groups.createGroupIfAbsent(this.ctx.client(), this.ctx.prefix, group, last ?? EMPTY_SPEC, last?.created || goNow());
      this.groupDocs.set(group, doc);
      return created;
    }).then((created) => {
      if (!created) return;
      const ms = Date.now() - seenAt;
      this.ctx.logger.warn('group document deleted by another writer: created again with its last known spec', { key, cause: 'group-deleted', ms });
      for (const rec of nodes) this.ctx.repaired({ node: rec.ref, cause: 'group-deleted', ms });
    }, (err: unknown) => this.ctx.error(err));
  }

  /** A watch (re)attached: read the key, since anything may have happened while it was not watched. */
  private verify(key: string): void {
    if (this.closed) return;
    this.ctx.client().kv.range({ key: Buffer.from(key) }).then((res) => {
      const kv = res.kvs[0];
      const seen: SeenKey = kv === undefined
        ? { type: 'delete', lease: '0', value: '', modRevision: Number(res.header.revision) }
        : { type: 'put', lease: kv.lease, value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) };
      this.onChange(key, seen);
    }, (err: unknown) => this.ctx.error(etcdFailure(`read ${key}`, err)));
  }
}
