/** The handle `RegistryClient.register()` returns for one node. */
import type { NodeRef } from './events.js';
import type { ValidNode } from './node.js';
import type { NodeHealth } from './store.js';

/** Changes `RegisteredNode.update` can make in place (the key stays the same). */
export interface NodeUpdate {
  /** Replaces the node's labels (same rules as at registration). */
  readonly labels?: Readonly<Record<string, string>>;
  /** New status, e.g. `maintenance` or `healthy`. */
  readonly status?: string;
}

/** What a handle needs from its client. */
export interface NodeOwner {
  nodeSpec(key: string): ValidNode | undefined;
  nodeHealth(key: string): NodeHealth | undefined;
  nodeYielded(key: string): boolean;
  updateNode(key: string, change: NodeUpdate): Promise<void>;
  deregister(key: string): Promise<void>;
}

/**
 * `registered` (key written), `withdrawn` (held back by the health gate),
 * `yielded` (another registrant took the key over: we no longer write it;
 * `close()` leaves its key alone), `closed`.
 */
export type RegistrationState = 'registered' | 'withdrawn' | 'yielded' | 'closed';

/** One registered node. Dropping the handle does not deregister: call `close()`. */
export class RegisteredNode {
  /** Which node this is; `ref.key` is its etcd key. */
  readonly ref: NodeRef;
  private readonly owner: NodeOwner;
  private readonly initial: ValidNode;

  /** @internal Created by `RegistryClient.register()`. */
  constructor(owner: NodeOwner, ref: NodeRef, initial: ValidNode) {
    this.owner = owner;
    this.ref = ref;
    this.initial = initial;
  }

  /** The etcd key of the node. */
  get key(): string {
    return this.ref.key;
  }

  /** What the registrant asked for, updates included (as first registered, once closed). */
  get spec(): ValidNode {
    return this.owner.nodeSpec(this.ref.key) ?? this.initial;
  }

  /** Whether the key is meant to exist in etcd now. */
  get state(): RegistrationState {
    const health = this.owner.nodeHealth(this.ref.key);
    if (health === undefined) return 'closed';
    if (this.owner.nodeYielded(this.ref.key)) return 'yielded';
    return health === 'removed' ? 'withdrawn' : 'registered';
  }

  /**
   * Changes labels and/or status in place (same key, same lease). Rejects
   * with `InvalidArgumentError` before writing anything if a value is bad;
   * if etcd fails, the change is kept and written after the next renewal.
   */
  update(change: NodeUpdate): Promise<void> {
    return this.owner.updateNode(this.ref.key, change);
  }

  /** Deregisters the node: deletes its key. The client and its lease stay. Idempotent. */
  close(): Promise<void> {
    return this.owner.deregister(this.ref.key);
  }
}
