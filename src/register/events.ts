/** Payloads of the events a `RegistryClient` emits. */

/** Which node an event is about. */
export interface NodeRef {
  /** The etcd key, `{prefix}/{group}/nodes/{id}_{exporter_type}`. */
  readonly key: string;
  readonly group: string;
  readonly id: string;
  readonly exporterType: string;
}

/** A node was written: first registration, or re-added after its health check recovered. */
export interface RegisteredEvent {
  readonly node: NodeRef;
  /** Lease the key is attached to (decimal). */
  readonly leaseId: string;
}

/** The health gate took a node out (removed its key, or marked its status). */
export interface WithdrawnEvent {
  readonly node: NodeRef;
  /** `removed` (key deleted) or `marked` (status changed to `status`). */
  readonly action: 'removed' | 'marked';
  /** The status written when `action` is `marked`. */
  readonly status?: string;
  /** The last failed check, for logs. */
  readonly reason: string;
}

/**
 * The client's lease is gone or must be presumed gone: revoked, expired,
 * or not renewed for a whole TTL (etcd deleted the keys by then). Every
 * node is put again under a new lease as soon as etcd answers (`restored`).
 */
export interface LostEvent {
  readonly leaseId: string;
  readonly reason: Error;
  /** Nodes that were registered under it. */
  readonly nodes: number;
}

/** A new lease was granted after `lost`, and every node was put again under it. */
export interface RestoredEvent {
  readonly leaseId: string;
  readonly previousLeaseId: string;
  /** Nodes put again. */
  readonly nodes: number;
  /** Milliseconds from `lost` to this event. */
  readonly downMs: number;
}

/**
 * Another writer deleted or overwrote one of our keys (or the group
 * document) and we put it back. `ms`: from seeing the change to the
 * restoring write committing.
 */
export interface RepairedEvent {
  readonly node: NodeRef;
  /**
   * `deleted`: the node key was deleted; `overwritten`: put by a writer
   * without a live lease of its own (no lease, or ours); `group-deleted`:
   * the group document was deleted and re-created (one event per node of
   * ours in the group).
   */
  readonly cause: 'deleted' | 'overwritten' | 'group-deleted';
  readonly ms: number;
}

/**
 * A node key is (or was) held by another registrant's lease.
 * `refused`: `register()` wrote nothing and rejected with `CollisionError`;
 * `taken-over`: we took the key (takeover asked, or the holder's lease was
 * not being renewed); `yielded`: another registrant took our key, and we
 * stop writing it (the handle's state becomes `yielded`).
 */
export interface CollisionEvent {
  readonly node: NodeRef;
  /** The other registrant's lease (decimal). */
  readonly holderLeaseId: string;
  readonly action: 'refused' | 'taken-over' | 'yielded';
}
