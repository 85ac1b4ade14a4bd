/**
 * The registry client: groups, and nodes kept registered under one shared
 * lease through etcd outages, lease loss and restarts.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { DEFAULT_CALL_TIMEOUT_MS } from '../etcd/client.js';
import { errorMessage } from '../errors.js';
import { nullLogger, type Logger } from '../log.js';
import { withTimeout } from './async.js';
import { DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_PREFIX, DEFAULT_TTL_SECONDS, EtcdHandle, checkPrefix, checkTtl, type RegistryClientOptions } from './options.js';
import { CollisionError, ConflictError, RegistryClosedError, etcdFailure } from './errors.js';
import type { CollisionEvent, LostEvent, NodeRef, RegisteredEvent, RepairedEvent, RestoredEvent, WithdrawnEvent } from './events.js';
import * as groups from './groups.js';
import { HealthGate, validateHealthCheck, type HealthActions, type HealthCheckOptions, type Probe } from './health.js';
import { LeaseKeeper, type LeaseState } from './keepalive.js';
import { checkStatus, keyOfNode, validateNode, withCopiedLabels, type NodeSpec, type ValidNode } from './node.js';
import { RegisteredNode, type NodeOwner, type NodeUpdate } from './registration.js';
import { NodeStore, type NodeHealth, type NodeRecord } from './store.js';
import { KeyGuard } from './guard.js';
import { observeHolder } from './holder.js';

const WARN_EVERY_MS = 30_000;

/** Options of `register()`. */
export interface RegisterOptions {
  /** Register only while this check passes (see `HealthCheckOptions`). */
  readonly healthCheck?: HealthCheckOptions;
  /** Take the node key over if another registrant's live lease holds it. Default: the client's `takeover` option. */
  readonly takeover?: boolean;
  /** @internal Replaces the HTTP check, for tests. */
  readonly probe?: Probe;
}

/** Attempts of `register()` to write a key that keeps changing hands. */
const MAX_PUT_ATTEMPTS = 5;

/**
 * Registers nodes and manages groups in the registry. All nodes of one
 * client share one lease; if it is lost, a new one is granted and every
 * node put again. Emits `registered`, `withdrawn`, `lost`, `restored`,
 * `repaired`, `collision` and `error`; background failures never become
 * unhandled rejections (without an `error` listener they are logged).
 *
 * Its keys are watched (`KeyGuard`): a node key or group document deleted
 * or overwritten by another writer is put back at once (`repaired`). When
 * the delete came from the loss of our lease, that very put finds it (etcd
 * answers "lease not found"), so the lease is replaced at once rather than
 * at the next renewal. A key held by another registrant's live lease is
 * never written (`collision`); `close()` deletes only keys under our lease.
 */
export class RegistryClient extends EventEmitter implements NodeOwner {
  /** The key prefix, without trailing `/`. */
  readonly prefix: string;
  /** The lease TTL in seconds. */
  readonly ttlSeconds: number;
  private readonly handle: EtcdHandle;
  private readonly logger: Logger;
  private readonly closeTimeoutMs: number;
  private readonly keeper: LeaseKeeper;
  private readonly store: NodeStore;
  private readonly gates = new Map<string, HealthGate>();
  private readonly pending = new Set<string>();
  private readonly guard: KeyGuard;
  private readonly takeover: boolean;
  private closing: Promise<void> | undefined;
  private lastWarnAt = 0;

  /** Checks the options (throws `InvalidArgumentError`) and creates the etcd client; connects lazily. */
  constructor(options: RegistryClientOptions) {
    super();
    this.prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
    this.ttlSeconds = checkTtl(options.ttlSeconds ?? DEFAULT_TTL_SECONDS);
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.logger = options.logger ?? nullLogger;
    this.takeover = options.takeover ?? false;
    const handle = EtcdHandle.from(options);
    this.handle = handle;
    const mayRepair = (): boolean => this.closing === undefined && this.keeper.state === 'alive';
    this.store = new NodeStore(() => handle.current, {
      leaseId: () => this.keeper.leaseId,
      leaseInvalid: (id, err) => this.keeper.reportInvalid(id, err),
      mayRepair,
      yielded: (rec, holder) => this.onYielded(rec, holder),
    });
    this.guard = new KeyGuard({
      prefix: this.prefix,
      store: this.store,
      logger: this.logger,
      client: () => handle.current,
      mayRepair,
      repaired: (e) => this.emit('repaired', e),
      error: (err) => this.reportError(err),
    });
    this.keeper = new LeaseKeeper({
      client: () => handle.current,
      beforeRecovery: () => this.refreshConnection(),
      ttlSeconds: this.ttlSeconds,
      callTimeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
      ...(options.checkIntervalMs === undefined ? {} : { checkIntervalMs: options.checkIntervalMs }),
      restore: () => this.store.putAll(),
      afterRenewal: () => this.store.reconcile(),
      countNodes: () => this.store.size,
    });
    this.keeper.on('lost', (e) => this.onLost(e));
    this.keeper.on('restored', (e) => this.onRestored(e));
    this.keeper.on('error', (err) => this.reportError(err));
  }

  /** Emitted when a node's key is written: at registration, or when its health check recovers. */
  override on(event: 'registered', listener: (e: RegisteredEvent) => void): this;
  /** Emitted when the health gate removes a node or marks its status. */
  override on(event: 'withdrawn', listener: (e: WithdrawnEvent) => void): this;
  /** Emitted when the lease is (presumed) gone; `restored` follows once etcd answers. */
  override on(event: 'lost', listener: (e: LostEvent) => void): this;
  /** Emitted when every node is put again under a new lease. */
  override on(event: 'restored', listener: (e: RestoredEvent) => void): this;
  /** Emitted when a key of ours (or a group document) deleted or overwritten by another writer was put back. */
  override on(event: 'repaired', listener: (e: RepairedEvent) => void): this;
  /** Emitted when a node key is held by another registrant's lease: refused, taken over, or yielded to it. */
  override on(event: 'collision', listener: (e: CollisionEvent) => void): this;
  /** Emitted for background failures (renewals, retried writes, health actions, watches). */
  override on(event: 'error', listener: (err: Error) => void): this;
  override on(event: string, listener: (...args: never[]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  /** The etcd3 client in use. One created from `endpoints` is replaced after a lost lease: read this each time. */
  get etcd(): Etcd3 {
    return this.handle.current;
  }

  /** The lease's state: `idle` before the first registration, then `alive` or `lost`, then `closed`. */
  get leaseState(): LeaseState {
    return this.keeper.state;
  }

  /** The current lease id (decimal), if one is held. */
  get leaseId(): string | undefined {
    return this.keeper.leaseId;
  }

  /**
   * Registers a node: validates it (rejects with `InvalidArgumentError`
   * naming the field before writing anything), then puts its document under
   * the client's lease. With a health check, the node is written only once
   * the check passes. Rejects if etcd does not answer (nothing is kept).
   *
   * Joins the group first as the Go library's `CreateOrJoinServiceGroup`
   * does: its document is created if absent, never overwritten. Rejects with
   * `CollisionError` when another registrant's live lease holds the key,
   * unless `takeover`; a key under a lease nobody renews (a crashed
   * predecessor) is waited out, up to one TTL (see `observeHolder`).
   */
  async register(spec: NodeSpec, options: RegisterOptions = {}): Promise<RegisteredNode> {
    this.assertOpen('register');
    const valid = validateNode(spec);
    const node = withCopiedLabels(valid, await this.joinGroup(valid.group));
    const check = options.healthCheck === undefined ? undefined : validateHealthCheck(options.healthCheck);
    const ref: NodeRef = { key: keyOfNode(this.prefix, node), group: node.group, id: node.id, exporterType: node.exporterType };
    if (this.store.get(ref.key) !== undefined || this.pending.has(ref.key)) {
      throw new ConflictError(`${ref.key} is already registered by this client: update or close its handle`);
    }
    this.pending.add(ref.key);
    try {
      const gate = check === undefined ? undefined : new HealthGate(check, this.gateActions(ref.key), options.probe);
      const first = await gate?.first();
      const health: NodeHealth = first === undefined || first.ok ? 'ok' : check?.unhealthyStatus !== undefined ? 'marked' : 'removed';
      const rec: NodeRecord = { ref, node, health, markStatus: check?.unhealthyStatus ?? '', synced: false };
      await this.addFirst(rec, options.takeover ?? this.takeover);
      this.assertOpen('register'); // closed meanwhile: close() removed the key; start no gate
      this.guard.watchNode(ref);
      this.logger.info('node registered', { key: ref.key, leaseId: this.keeper.leaseId, health, ...(first ? { check: first.detail } : {}) });
      if (health !== 'removed') this.emit('registered', { node: ref, leaseId: this.keeper.leaseId ?? '' } satisfies RegisteredEvent);
      if (gate !== undefined) {
        this.gates.set(ref.key, gate);
        gate.start();
      }
      return new RegisteredNode(this, ref, node);
    } finally {
      this.pending.delete(ref.key);
    }
  }

  /**
   * Creates the group's document if absent and returns its common labels,
   * copied into the node's document as the Go library does; none when the
   * document does not decode (registration goes on: the reader reports it).
   */
  private async joinGroup(group: string): Promise<Readonly<Record<string, string>> | undefined> {
    try {
      const { group: doc } = await this.createOrJoinGroup(group);
      this.guard.rememberGroup(group, doc);
      return doc.commonLabels;
    } catch (err) {
      if (err instanceof ConflictError) return undefined;
      throw err;
    }
  }

  private async addFirst(rec: NodeRecord, takeover: boolean): Promise<void> {
    let from: string | undefined;
    for (let attempt = 1, failed = 0; ; attempt++) {
      await this.keeper.acquire();
      this.assertOpen('register');
      let result;
      try {
        result = await this.store.add(rec, from);
      } catch (err) {
        // The lease vanished under us: the keeper now knows; one more try gets a new lease.
        if (++failed >= 2 || this.keeper.state !== 'lost') throw etcdFailure(`register ${rec.ref.key}`, err);
        continue;
      }
      if (result.kind === 'written') {
        if (from !== undefined) this.reportCollision(rec.ref, from, 'taken-over');
        return;
      }
      from = undefined;
      if (attempt >= MAX_PUT_ATTEMPTS) throw new ConflictError(`${rec.ref.key} changed hands ${attempt} times while registering: try again`);
      if (result.holder !== '0') from = await this.decideOnHolder(rec.ref, result.holder, takeover); // '0': it vanished, try again
    }
  }

  /** What to do about a key under `holder`'s lease: take it over (resolves with the lease), write it once gone (`undefined`), or refuse (throws). */
  private async decideOnHolder(ref: NodeRef, holder: string, takeover: boolean): Promise<string | undefined> {
    if (takeover) return holder;
    this.logger.info('node key held by another lease: waiting to see whether it is renewed (a live registrant) or expires (a crashed one)', { key: ref.key, holderLeaseId: holder });
    const verdict = await observeHolder(() => this.handle.current, holder, () => this.closing !== undefined);
    this.assertOpen('register');
    if (verdict === 'gone') {
      this.logger.info('node key was held by a lease nobody renewed; it expired: registering', { key: ref.key, holderLeaseId: holder });
      return undefined;
    }
    this.reportCollision(ref, holder, 'refused');
    throw new CollisionError(ref.key, holder);
  }

  /** @internal For `RegisteredNode`. */
  nodeSpec(key: string): ValidNode | undefined {
    return this.store.get(key)?.node;
  }

  /** @internal For `RegisteredNode`. */
  nodeHealth(key: string): NodeHealth | undefined {
    return this.store.get(key)?.health;
  }

  /** @internal For `RegisteredNode`. */
  nodeYielded(key: string): boolean {
    return this.store.get(key)?.yielded === true;
  }

  /** @internal For `RegisteredNode.update`. */
  async updateNode(key: string, change: NodeUpdate): Promise<void> {
    this.assertOpen('update');
    const rec = this.store.get(key);
    if (rec === undefined) throw new RegistryClosedError(`update ${key}`);
    const node = withCopiedLabels(
      validateNode({ ...rec.node, labels: change.labels ?? rec.node.labels, status: checkStatus(change.status ?? rec.node.status) }),
      rec.node.copiedLabels,
    );
    await this.store.change(key, (r) => {
      r.node = node;
    });
  }

  /** @internal For `RegisteredNode.close`. */
  async deregister(key: string): Promise<void> {
    this.gates.get(key)?.stop();
    this.gates.delete(key);
    const rec = this.store.get(key);
    if (rec === undefined) return;
    await this.guard.unwatchNode(rec.ref);
    await this.store.remove(key);
    this.logger.info('node deregistered', { key });
  }

  /**
   * A fresh etcd3 client for a lease recovery. The watches leave the old one
   * first and come back once the nodes are restored (`onRestored`): while
   * the lease is lost there is nothing to repair, and a watch made on a
   * client while etcd is down leaves etcd3 re-dialling on a backoff timer
   * that outlives close() (measured: the process stayed up 25 s).
   */
  private refreshConnection(): void {
    const detached = this.guard.detach();
    this.handle.refresh(() => detached);
  }

  /** Another registrant's lease took one of our keys: stop writing it (it keeps its key). */
  private onYielded(rec: NodeRecord, holder: string): void {
    this.gates.get(rec.ref.key)?.stop();
    this.gates.delete(rec.ref.key);
    this.guard.forget(rec.ref.key);
    this.reportCollision(rec.ref, holder, 'yielded');
  }

  private reportCollision(ref: NodeRef, holderLeaseId: string, action: CollisionEvent['action']): void {
    const message = {
      refused: 'node key held by another registrant: not written',
      'taken-over': 'node key held by another lease: taken over',
      yielded: 'node key taken over by another registrant: no longer writing it',
    }[action];
    this.logger.warn(message, { key: ref.key, holderLeaseId, action });
    this.emit('collision', { node: ref, holderLeaseId, action } satisfies CollisionEvent);
  }

  private gateActions(key: string): HealthActions {
    return {
      healthy: async () => {
        await this.store.change(key, (r) => {
          r.health = 'ok';
        });
        const ref = this.store.get(key)?.ref;
        this.logger.info('node healthy again: registered', { key });
        if (ref !== undefined) this.emit('registered', { node: ref, leaseId: this.keeper.leaseId ?? '' } satisfies RegisteredEvent);
      },
      unhealthy: async (reason) => {
        const rec = this.store.get(key);
        if (rec === undefined) return;
        const action = rec.markStatus === '' ? 'removed' : 'marked';
        await this.store.change(key, (r) => {
          r.health = action;
        });
        this.logger.warn('node unhealthy: withdrawn', { key, action, reason });
        const event: WithdrawnEvent = { node: rec.ref, action, reason, ...(action === 'marked' ? { status: rec.markStatus } : {}) };
        this.emit('withdrawn', event);
      },
      error: (err) => this.reportError(err),
    };
  }

  private onLost(e: LostEvent): void {
    this.logger.warn('lease lost: will put every node again under a new lease', { leaseId: e.leaseId, nodes: e.nodes, reason: errorMessage(e.reason) });
    this.emit('lost', e);
  }

  private onRestored(e: RestoredEvent): void {
    this.guard.rewatch();
    this.logger.info('lease restored: every node put again', { ...e });
    this.emit('restored', e);
  }

  private reportError(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    // During an outage this fires about once a second: warn at most every 30 s.
    const now = Date.now();
    const warn = now - this.lastWarnAt >= WARN_EVERY_MS;
    if (warn) this.lastWarnAt = now;
    this.logger[warn ? 'warn' : 'debug']('registry background failure', { error: error.message });
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private assertOpen(what: string): void {
    if (this.closing !== undefined) throw new RegistryClosedError(what);
  }

  /** Group operations, bound to this client's etcd and prefix. */
  createOrJoinGroup(name: string): Promise<{ group: groups.Group; created: boolean }> {
    return groups.createOrJoinGroup(this.etcd, this.prefix, name);
  }

  /** Configures a group with compare-and-swap, retrying on conflict; creates it if absent. */
  configureGroup(name: string, update: groups.GroupUpdate): Promise<groups.Group> {
    return groups.configureGroup(this.etcd, this.prefix, name, update);
  }

  /** Reads a group document (`undefined` when absent). */
  getGroup(name: string): Promise<groups.Group | undefined> {
    return groups.getGroup(this.etcd, this.prefix, name);
  }

  /** Lists every group (with or without a document). */
  listGroups(): Promise<groups.GroupSummary[]> {
    return groups.listGroups(this.etcd, this.prefix);
  }

  /** Deletes a group's document and every key under `{prefix}/{name}/`; resolves with the count. */
  deleteGroup(name: string): Promise<number> {
    return groups.deleteGroup(this.etcd, this.prefix, name);
  }

  /**
   * Deregisters every node (deletes its key if still under our lease), revokes the lease, stops all
   * timers and closes the etcd client if this client created it. Resolves
   * when done; rejects with `TimeoutError` after `timeoutMs` (default
   * `closeTimeoutMs`) or with the first failure, having released
   * everything local anyway (keys left behind expire with the lease).
   */
  close(timeoutMs = this.closeTimeoutMs): Promise<void> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    for (const gate of this.gates.values()) gate.stop();
    this.gates.clear();
    const nodes = this.store.size;
    const lease = this.keeper.leaseId;
    // Watchers first: none may take our own deletes for something to repair, nor outlive the etcd3 client.
    const work = this.guard.close().then(() => Promise.allSettled([this.store.removeAll(lease), this.keeper.close(true)])).then((results) => {
      const failed = results.find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    });
    try {
      await withTimeout(work, timeoutMs, 'deregistration');
      this.logger.info('registry client closed', { nodes });
    } finally {
      work.catch(() => undefined);
      this.handle.close();
    }
  }
}
