/**
 * The nodes one registry client holds, and every etcd write about them.
 * Writes run one at a time (`Serial`), so a lease restore never races an
 * update, a deregistration or a repair: a closed node is never put back,
 * and a node has exactly one key (its key is fixed by group, id and
 * exporter type). A write that fails is retried after the next lease renewal.
 *
 * Every write is a transaction that never takes a key from another live
 * lease: a put happens only if the key is absent, unleased or already under
 * our lease (else the holder is read back), a delete only if the key is
 * under our lease. So two registrants of one identity never overwrite nor
 * delete each other's key; a background write that finds the key held by
 * another lease yields it (`StoreHooks.yielded`) instead of fighting.
 */
import type { Etcd3, ICompare, IRequestOp, ITxnRequest, ITxnResponse } from 'etcd3';
import { errorMessage } from '../errors.js';
import { Serial } from './async.js';
import { LeaseExpiredError, etcdFailure, isLeaseInvalid } from './errors.js';
import type { NodeRef } from './events.js';
import { nodeDocument, type ValidNode } from './node.js';

/** How the health gate left a node: written, removed, or written with `markStatus`. */
export type NodeHealth = 'ok' | 'removed' | 'marked';

/** A write of ours that committed. */
export interface Written {
  readonly lease: string;
  readonly value: string;
  /** Revision of the write. */
  readonly revision: number;
}

/** One node of the client. `node` is what the registrant asked for; `health` may override it. */
export interface NodeRecord {
  readonly ref: NodeRef;
  node: ValidNode;
  health: NodeHealth;
  /** Status written while `health` is `marked`. */
  markStatus: string;
  /** Whether etcd holds what this record says (false: retry after the next renewal). */
  synced: boolean;
  /** Another registrant's lease took the key: we never write it again. */
  yielded?: boolean;
  /** Our last committed write of the key; `undefined` when we deleted it. */
  written?: Written | undefined;
  /** The write in flight, so that its watch event (which may come before the answer) is known as ours. */
  sending?: { readonly lease: string; readonly value: string } | undefined;
}

/** Whether the record's key should exist in etcd (under our lease). */
export function isWritten(rec: NodeRecord): boolean {
  return rec.health !== 'removed' && rec.yielded !== true;
}

/** What a watch event or a read showed of a key. A delete (or an absent key) has lease `0` and value `''`. */
export interface SeenKey {
  readonly type: 'put' | 'delete';
  readonly lease: string;
  readonly value: string;
  /** Revision of the change (or of the read, for an absent key). */
  readonly modRevision: number;
}

/** Outcome of a put: written, or the key is held by `holder`'s lease (`0`: it vanished, try again). */
export type PutResult = { readonly kind: 'written' } | { readonly kind: 'held'; readonly holder: string };

/** Outcome of `check`. */
export type CheckResult =
  | { readonly kind: 'fine' }
  | { readonly kind: 'repaired'; readonly cause: 'deleted' | 'overwritten' }
  | { readonly kind: 'yielded'; readonly holder: string };

/** Callbacks into the lease keeper and the client. */
export interface StoreHooks {
  /** The lease new puts must use. */
  readonly leaseId: () => string | undefined;
  /** A put said `leaseId` is unknown to etcd. */
  readonly leaseInvalid: (leaseId: string, err: Error) => void;
  /** Whether a repair may write now (lease alive, client open); otherwise the restore or nobody does. */
  readonly mayRepair: () => boolean;
  /** A background write found the key under another live lease: the record now yields it. */
  readonly yielded: (rec: NodeRecord, holder: string) => void;
}

/** The nodes of one client and their writes. */
export class NodeStore {
  private readonly records = new Map<string, NodeRecord>();
  /** Keys of closed nodes whose delete failed; deleted after the next renewal. */
  private readonly orphans = new Set<string>();
  private readonly serial = new Serial();

  constructor(
    private readonly client: () => Etcd3,
    private readonly hooks: StoreHooks,
  ) {}

  /** Number of nodes held. */
  get size(): number {
    return this.records.size;
  }

  /** The record of `key`, if held. */
  get(key: string): NodeRecord | undefined {
    return this.records.get(key);
  }

  /** Every record held. */
  all(): NodeRecord[] {
    return [...this.records.values()];
  }

  /** Runs `task` between the store's writes (e.g. a group document repair), never during one. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.serial.run(task);
  }

  /**
   * Holds `rec`, writing it first if it is to be written; on failure, or
   * when the key is held by another lease (`held`), it is not added.
   * `takeoverFrom`: put only if the key is under that lease, replacing it.
   */
  add(rec: NodeRecord, takeoverFrom?: string): Promise<PutResult> {
    return this.serial.run(async () => {
      const result: PutResult = isWritten(rec) ? await this.put(rec, takeoverFrom) : { kind: 'written' };
      if (result.kind === 'held') return result;
      rec.synced = true;
      this.orphans.delete(rec.ref.key);
      this.records.set(rec.ref.key, rec);
      return result;
    });
  }

  /**
   * Changes a held record with `mutate` and writes the result. On failure
   * the change is kept and written after the next renewal; the error is
   * still thrown so the caller knows etcd does not show it yet.
   */
  change(key: string, mutate: (rec: NodeRecord) => void): Promise<void> {
    return this.serial.run(async () => {
      const rec = this.records.get(key);
      if (rec === undefined) return;
      mutate(rec);
      rec.synced = false;
      await this.sync(rec);
    });
  }

  /** Forgets `key` and deletes it if still ours; a failed delete is retried after the next renewal. */
  remove(key: string): Promise<void> {
    return this.serial.run(async () => {
      const rec = this.records.get(key);
      if (rec === undefined) return;
      this.records.delete(key);
      if (rec.yielded === true) return; // another registrant's key now
      this.orphans.add(key);
      await this.deleteOrphan(key, this.hooks.leaseId());
    });
  }

  /** Puts every written node under `leaseId` (after a lost lease); resolves with how many. */
  putAll(): Promise<number> {
    return this.serial.run(async () => {
      const recs = [...this.records.values()].filter(isWritten);
      await Promise.all(recs.map((rec) => this.sync(rec)));
      return recs.filter(isWritten).length;
    });
  }

  /** Retries failed writes and deletes; rejects with the first failure after trying all. */
  reconcile(): Promise<void> {
    return this.serial.run(async () => {
      const work = [...this.records.values()].filter((r) => !r.synced).map((r) => this.sync(r));
      const lease = this.hooks.leaseId();
      for (const key of this.orphans) work.push(this.deleteOrphan(key, lease));
      const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    });
  }

  /**
   * Forgets every node and deletes their keys (and orphans') that are still
   * under `leaseId`, the lease they were written with; rejects if a delete failed.
   */
  removeAll(leaseId: string | undefined): Promise<void> {
    return this.serial.run(async () => {
      for (const rec of this.records.values()) if (rec.yielded !== true) this.orphans.add(rec.ref.key);
      this.records.clear();
      const results = await Promise.allSettled([...this.orphans].map((key) => this.deleteOrphan(key, leaseId)));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    });
  }

  /**
   * Looks at what another writer (seen by the watch, or read after the
   * watch reconnected) did to a key of ours, and puts it back unless it is
   * our own write, stale, held by another live lease (then we yield), or
   * not ours to write any more (closed, withdrawn, lease being replaced).
   */
  check(key: string, seen: SeenKey): Promise<CheckResult> {
    return this.serial.run(async (): Promise<CheckResult> => {
      const rec = this.records.get(key);
      if (rec === undefined || !isWritten(rec) || !this.hooks.mayRepair()) return { kind: 'fine' };
      if (rec.written !== undefined && seen.modRevision <= rec.written.revision) return { kind: 'fine' };
      if (seen.type === 'put' && isOwnWrite(rec, seen)) return { kind: 'fine' };
      const ours = [this.hooks.leaseId(), rec.written?.lease, '0'];
      if (seen.type === 'put' && !ours.includes(seen.lease)) {
        this.yieldTo(rec, seen.lease);
        return { kind: 'yielded', holder: seen.lease };
      }
      rec.synced = false;
      const result = await this.put(rec);
      if (result.kind === 'held') {
        this.yieldTo(rec, result.holder);
        return { kind: 'yielded', holder: result.holder };
      }
      rec.synced = true;
      return { kind: 'repaired', cause: seen.type === 'delete' ? 'deleted' : 'overwritten' };
    });
  }

  private yieldTo(rec: NodeRecord, holder: string): void {
    rec.yielded = true;
    rec.synced = true;
    rec.written = undefined;
    this.hooks.yielded(rec, holder);
  }

  private async sync(rec: NodeRecord): Promise<void> {
    if (isWritten(rec)) {
      const result = await this.put(rec);
      if (result.kind === 'held') this.yieldTo(rec, result.holder);
    } else if (rec.yielded !== true) {
      await this.delete(rec.ref.key, rec.written?.lease ?? this.hooks.leaseId());
      rec.written = undefined;
    }
    rec.synced = true;
  }

  /**
   * Puts the node under our lease if the key is absent, unleased or ours
   * (with `takeoverFrom`: only if it is under that lease), in one
   * transaction; otherwise reads back who holds it.
   */
  private async put(rec: NodeRecord, takeoverFrom?: string): Promise<PutResult> {
    const lease = this.hooks.leaseId();
    if (lease === undefined) throw etcdFailure(`put ${rec.ref.key}`, new Error('no lease yet'));
    const node = rec.health === 'marked' ? { ...rec.node, status: rec.markStatus } : rec.node;
    const value = nodeDocument(node);
    const key = Buffer.from(rec.ref.key);
    const put: IRequestOp = { request_put: { key, value: Buffer.from(value), lease } };
    const read: IRequestOp = { request_range: { key } };
    // Ours: the current lease, the one we last wrote the key with (it may have outlived an etcd restart), or none.
    const mine = takeoverFrom !== undefined ? [takeoverFrom] : [...new Set([lease, rec.written?.lease ?? lease, '0'])];
    let txn: ITxnRequest | undefined;
    for (const id of mine.reverse()) txn = { compare: [leaseIs(key, id)], success: [put], failure: [txn === undefined ? read : { request_txn: txn }] };
    if (txn === undefined) throw new Error('unreachable: no lease to compare');
    rec.sending = { lease, value };
    try {
      let res: ITxnResponse = await this.client().kv.txn(txn);
      const revision = Number(res.header.revision);
      for (;;) {
        if (res.succeeded) {
          rec.written = { lease, value, revision };
          return { kind: 'written' };
        }
        const inner = res.responses[0]?.response_txn;
        if (inner === undefined) break;
        res = inner;
      }
      return { kind: 'held', holder: res.responses[0]?.response_range.kvs[0]?.lease ?? '0' };
    } catch (err) {
      if (isLeaseInvalid(err)) this.hooks.leaseInvalid(lease, new LeaseExpiredError(lease, { cause: new Error(`put ${rec.ref.key}: ${errorMessage(err)}`) }));
      throw etcdFailure(`put ${rec.ref.key}`, err);
    } finally {
      rec.sending = undefined;
    }
  }

  /** Deletes `key` if it is under `leaseId`: another registrant's key (or one of no lease) is never deleted. */
  private async delete(key: string, leaseId: string | undefined): Promise<void> {
    if (leaseId === undefined) return; // never written under a lease of ours
    const k = Buffer.from(key);
    try {
      await this.client().kv.txn({ compare: [leaseIs(k, leaseId)], success: [{ request_delete_range: { key: k } }] });
    } catch (err) {
      throw etcdFailure(`delete ${key}`, err);
    }
  }

  private async deleteOrphan(key: string, leaseId: string | undefined): Promise<void> {
    await this.delete(key, leaseId);
    this.orphans.delete(key);
  }
}

/** Compares the lease of `key` (`0`: none, or absent). */
function leaseIs(key: Buffer, lease: string): ICompare {
  return { key, target: 'Lease', result: 'Equal', lease };
}

/** Whether `seen` is a put of ours: the committed write or the one in flight. */
function isOwnWrite(rec: NodeRecord, seen: SeenKey): boolean {
  const same = (w: { lease: string; value: string } | undefined): boolean => w?.lease === seen.lease && w.value === seen.value;
  return same(rec.written) || same(rec.sending);
}
