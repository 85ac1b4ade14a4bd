/**
 * One lease per registry client, renewed by us, not by etcd3's `Lease`, which reports `lost` only
 * after ~2×TTL while etcd deleted the keys after 1×TTL (etcd3 1.1.2, measured against etcd 3.4).
 * Every TTL/3 one keep-alive goes on a short-lived stream. The lease is lost when etcd answers TTL 0
 * (revoked, expired), when a put says it is unknown, or when no renewal succeeded for a whole TTL;
 * then a new lease is granted and every node put again as soon as etcd answers.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from 'etcd3';
import { TimeoutError } from '../errors.js';
import { LeaseExpiredError, RegistryClosedError, etcdFailure, isLeaseInvalid } from './errors.js';
import type { LostEvent, RestoredEvent } from './events.js';

/** `idle` before the first grant; `alive` while renewed; `lost` until a new lease holds every node. */
export type LeaseState = 'idle' | 'alive' | 'lost' | 'closed';

/** Options of `LeaseKeeper`. */
export interface LeaseKeeperOptions {
  /** The etcd3 client to use now (it may be replaced between calls). */
  readonly client: () => Etcd3;
  /** Called before each attempt to recover a lost lease (and to retry a failed first grant), e.g. to get a fresh connection. */
  readonly beforeRecovery?: () => void;
  /** Lease TTL in whole seconds, at least 1. */
  readonly ttlSeconds: number;
  /** Bound of one keep-alive round trip. */
  readonly callTimeoutMs: number;
  /** Renewal period. Default TTL/3 (as the Go client). */
  readonly checkIntervalMs?: number;
  /** Period of recovery attempts while lost. Default min(1 s, `checkIntervalMs`). */
  readonly retryIntervalMs?: number;
  /** Puts every node under `leaseId`; resolves with how many. A rejection keeps the keeper `lost`. */
  readonly restore: (leaseId: string) => Promise<number>;
  /** Called after each successful renewal, e.g. to retry failed writes. */
  readonly afterRenewal?: (leaseId: string) => Promise<void>;
  /** How many nodes the lease holds, for events. */
  readonly countNodes: () => number;
}

/** Keeps one lease alive and replaces it when lost. Emits `lost`, `restored` and `error`. */
export class LeaseKeeper extends EventEmitter {
  private readonly opts: LeaseKeeperOptions;
  private readonly checkMs: number;
  private readonly retryMs: number;
  private current: LeaseState = 'idle';
  private id: string | undefined;
  private lastRenewal = 0;
  private lostAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private acquiring: Promise<string> | undefined;
  private inflight: KeepAliveStream | undefined;
  private ticking = false;
  private again = false;
  private firstFailed = false;
  private afterRunning = false;

  constructor(opts: LeaseKeeperOptions) {
    super();
    this.opts = opts;
    this.checkMs = opts.checkIntervalMs ?? Math.max(100, Math.floor((opts.ttlSeconds * 1000) / 3));
    this.retryMs = opts.retryIntervalMs ?? Math.min(1000, this.checkMs);
  }

  /** Current state. */
  get state(): LeaseState {
    return this.current;
  }

  /** The lease new puts must use; `undefined` before the first grant and after close. */
  get leaseId(): string | undefined {
    return this.id;
  }

  /** Emitted when the lease is (presumed) gone. */
  override on(event: 'lost', listener: (e: LostEvent) => void): this;
  /** Emitted when a new lease holds every node again. */
  override on(event: 'restored', listener: (e: RestoredEvent) => void): this;
  /** Emitted for background failures (a renewal or recovery attempt failed). */
  override on(event: 'error', listener: (err: Error) => void): this;
  override on(event: string, listener: (...args: never[]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  /** A lease id to put under: grants the first lease, or recovers a lost one. Rejects if etcd does not answer. */
  acquire(): Promise<string> {
    if (this.current === 'closed') return Promise.reject(new RegistryClosedError('acquire lease'));
    if (this.current === 'alive' && this.id !== undefined) return Promise.resolve(this.id);
    this.acquiring ??= (this.current === 'idle' ? this.grantFirst() : this.recover()).finally(() => {
      this.acquiring = undefined;
    });
    return this.acquiring;
  }

  /** A put under `leaseId` said the lease is unknown: treat it as lost now instead of at the next check. */
  reportInvalid(leaseId: string, err: Error): void {
    if (leaseId === this.id) this.markLost(err);
  }

  /** Stops renewing; with `revoke`, revokes the lease (its keys go at once). Idempotent. */
  async close(revoke: boolean): Promise<void> {
    const id = this.id;
    this.current = 'closed';
    this.id = undefined;
    clearTimeout(this.timer);
    closeStream(this.inflight, true);
    this.inflight = undefined;
    if (revoke && id !== undefined) await this.revoke(id);
  }

  // A method, so that TypeScript does not narrow `current` across awaits.
  private isClosed(): boolean {
    return this.current === 'closed';
  }

  private async grant(): Promise<string> {
    try {
      const res = await this.opts.client().leaseClient.leaseGrant({ TTL: this.opts.ttlSeconds });
      return res.ID;
    } catch (err) {
      throw etcdFailure('grant lease', err);
    }
  }

  private async revoke(id: string): Promise<void> {
    try {
      await this.opts.client().leaseClient.leaseRevoke({ ID: id });
    } catch (err) {
      if (!isLeaseInvalid(err)) throw etcdFailure(`revoke lease ${id}`, err);
    }
  }

  private revokeQuietly(id: string): void {
    this.revoke(id).catch(() => undefined); // it expires after one TTL anyway
  }

  private async grantFirst(): Promise<string> {
    if (this.firstFailed) this.opts.beforeRecovery?.();
    const sent = Date.now();
    let id: string;
    try {
      id = await this.grant();
    } catch (err) {
      this.firstFailed = true;
      throw err;
    }
    if (this.current === 'closed') {
      this.revokeQuietly(id);
      throw new RegistryClosedError('grant lease');
    }
    this.id = id;
    this.current = 'alive';
    this.lastRenewal = sent;
    this.schedule(this.checkMs);
    return id;
  }

  private async recover(): Promise<string> {
    const previous = this.id ?? '';
    this.opts.beforeRecovery?.();
    const sent = Date.now();
    const id = await this.grant();
    if (this.current === 'closed') {
      this.revokeQuietly(id);
      throw new RegistryClosedError('grant lease');
    }
    this.id = id; // puts made from now on use the new lease
    let nodes: number;
    try {
      nodes = await this.opts.restore(id);
    } catch (err) {
      if (this.id === id) this.id = previous;
      this.revokeQuietly(id);
      throw err;
    }
    if (this.isClosed()) throw new RegistryClosedError('restore nodes');
    this.current = 'alive';
    this.lastRenewal = sent;
    if (previous !== '') this.revokeQuietly(previous); // may have survived an etcd restart: its keys all moved
    this.emit('restored', { leaseId: id, previousLeaseId: previous, nodes, downMs: Date.now() - this.lostAt } satisfies RestoredEvent);
    return id;
  }

  private markLost(reason: Error): void {
    if (this.current !== 'alive' || this.id === undefined) return;
    this.current = 'lost';
    this.lostAt = Date.now();
    this.emit('lost', { leaseId: this.id, reason, nodes: this.opts.countNodes() } satisfies LostEvent);
    this.kick();
  }

  /** Runs a tick now, or right after the running one. */
  private kick(): void {
    if (this.ticking) this.again = true;
    else this.schedule(0);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.current === 'closed') return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    this.ticking = true;
    try {
      if (this.current === 'alive') await this.renew();
      if (this.current === 'lost') await this.acquire().catch((err: unknown) => this.report(err));
    } finally {
      this.ticking = false;
    }
    const next = this.again ? 0 : this.current === 'alive' ? this.checkMs : this.retryMs;
    this.again = false;
    this.schedule(next);
  }

  private async renew(): Promise<void> {
    const id = this.id;
    if (id === undefined) return;
    const sent = Date.now();
    let ttl: number;
    try {
      ttl = await this.keepAliveOnce(id);
    } catch (err) {
      if (this.id !== id) return;
      const failure = etcdFailure(`renew lease ${id}`, err);
      // etcd deleted the keys one TTL after the last renewal it saw.
      if (Date.now() - this.lastRenewal >= this.opts.ttlSeconds * 1000) this.markLost(failure);
      else this.report(failure);
      return;
    }
    if (this.id !== id || this.current !== 'alive') return;
    if (ttl <= 0) {
      this.markLost(new LeaseExpiredError(id));
      return;
    }
    this.lastRenewal = sent;
    this.runAfterRenewal(id);
  }

  /** Starts `afterRenewal` unless one still runs; never awaited, so slow writes cannot delay renewals. */
  private runAfterRenewal(id: string): void {
    const after = this.opts.afterRenewal;
    if (after === undefined || this.afterRunning) return;
    this.afterRunning = true;
    after(id)
      .catch((err: unknown) => this.report(err))
      .finally(() => {
        this.afterRunning = false;
      });
  }

  private report(err: unknown): void {
    if (this.current === 'closed' || err instanceof RegistryClosedError) return;
    this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }

  /** One keep-alive on its own stream; resolves with the TTL etcd reports (0: lease gone). */
  private keepAliveOnce(id: string): Promise<number> {
    const timeoutMs = Math.max(500, Math.min(this.opts.callTimeoutMs, this.checkMs));
    return new Promise((resolve, reject) => {
      let stream: KeepAliveStream | undefined;
      let done = false;
      const finish = (err: Error | undefined, ttl = 0): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (this.inflight === stream) this.inflight = undefined;
        closeStream(stream, err !== undefined);
        if (err === undefined) resolve(ttl);
        else reject(err);
      };
      const timer = setTimeout(() => finish(new TimeoutError('lease keep-alive', timeoutMs)), timeoutMs);
      this.opts.client().leaseClient.leaseKeepAlive().then((s) => {
        // Stays attached: a late error (e.g. after cancel) must never go unhandled.
        s.on('error', (err: Error) => finish(err));
        s.on('data', (res: ILeaseKeepAliveResponse) => finish(undefined, Number(res.TTL)));
        if (done || this.current === 'closed') {
          closeStream(s, true);
          finish(new RegistryClosedError('keep-alive'));
          return;
        }
        stream = s;
        this.inflight = s;
        s.write({ ID: id });
      }, (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
    });
  }
}

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

/** Ends (`cancel` false) or cancels a keep-alive stream, ignoring one already closed. */
function closeStream(stream: KeepAliveStream | undefined, cancel: boolean): void {
  try {
    if (cancel) stream?.cancel();
    else stream?.end();
  } catch {
    // already closed
  }
}
