/**
 * The nodes one registry client holds, and every etcd write about them.
 * Writes run one at a time (`Serial`), so a lease restore never races an
 * update or a deregistration: a closed node is never put back, and a node
 * has exactly one key (its key is fixed by group, id and exporter type).
 * A write that fails is retried after the next lease renewal.
 */
import type { Etcd3 } from 'etcd3';
import { errorMessage } from '../errors.js';
import { Serial } from './async.js';
import { etcdFailure, isLeaseInvalid } from './errors.js';
import type { NodeRef } from './events.js';
import { nodeDocument, type ValidNode } from './node.js';

/** How the health gate left a node: written, removed, or written with `markStatus`. */
export type NodeHealth = 'ok' | 'removed' | 'marked';

/** One node of the client. `node` is what the registrant asked for; `health` may override it. */
export interface NodeRecord {
  readonly ref: NodeRef;
  node: ValidNode;
  health: NodeHealth;
  /** Status written while `health` is `marked`. */
  markStatus: string;
  /** Whether etcd holds what this record says (false: retry after the next renewal). */
  synced: boolean;
}

/** Whether the record's key should exist in etcd. */
export function isWritten(rec: NodeRecord): boolean {
  return rec.health !== 'removed';
}

/** Callbacks into the lease keeper. */
export interface StoreHooks {
  /** The lease new puts must use. */
  readonly leaseId: () => string | undefined;
  /** A put said `leaseId` is unknown to etcd. */
  readonly leaseInvalid: (leaseId: string, err: Error) => void;
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

  /** Adds `rec`, writing it first if it is to be written; on failure it is not added. */
  add(rec: NodeRecord): Promise<void> {
    return this.serial.run(async () => {
      if (isWritten(rec)) await this.put(rec);
      rec.synced = true;
      this.orphans.delete(rec.ref.key);
      this.records.set(rec.ref.key, rec);
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

  /** Forgets `key` and deletes it; a failed delete is retried after the next renewal. */
  remove(key: string): Promise<void> {
    return this.serial.run(async () => {
      if (!this.records.delete(key)) return;
      this.orphans.add(key);
      await this.deleteOrphan(key);
    });
  }

  /** Puts every written node under `leaseId` (after a lost lease); resolves with how many. */
  putAll(): Promise<number> {
    return this.serial.run(async () => {
      const recs = [...this.records.values()].filter(isWritten);
      await Promise.all(recs.map((rec) => this.put(rec).then(() => void (rec.synced = true))));
      return recs.length;
    });
  }

  /** Retries failed writes and deletes; rejects with the first failure after trying all. */
  reconcile(): Promise<void> {
    return this.serial.run(async () => {
      const work = [...this.records.values()].filter((r) => !r.synced).map((r) => this.sync(r));
      for (const key of this.orphans) work.push(this.deleteOrphan(key));
      const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    });
  }

  /** Forgets every node and deletes their keys (and orphans'); rejects if a delete failed. */
  removeAll(): Promise<void> {
    return this.serial.run(async () => {
      for (const key of this.records.keys()) this.orphans.add(key);
      this.records.clear();
      const results = await Promise.allSettled([...this.orphans].map((key) => this.deleteOrphan(key)));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    });
  }

  private async sync(rec: NodeRecord): Promise<void> {
    if (isWritten(rec)) await this.put(rec);
    else await this.delete(rec.ref.key);
    rec.synced = true;
  }

  private async put(rec: NodeRecord): Promise<void> {
    const lease = this.hooks.leaseId();
    if (lease === undefined) throw etcdFailure(`put ${rec.ref.key}`, new Error('no lease yet'));
    const node = rec.health === 'marked' ? { ...rec.node, status: rec.markStatus } : rec.node;
    try {
      await this.client().kv.put({ key: Buffer.from(rec.ref.key), value: Buffer.from(nodeDocument(node)), lease });
    } catch (err) {
      if (isLeaseInvalid(err)) this.hooks.leaseInvalid(lease, new Error(`put ${rec.ref.key}: ${errorMessage(err)}`));
      throw etcdFailure(`put ${rec.ref.key}`, err);
    }
  }

  private async delete(key: string): Promise<void> {
    try {
      await this.client().kv.deleteRange({ key: Buffer.from(key) });
    } catch (err) {
      throw etcdFailure(`delete ${key}`, err);
    }
  }

  private async deleteOrphan(key: string): Promise<void> {
    await this.delete(key);
    this.orphans.delete(key);
  }
}
