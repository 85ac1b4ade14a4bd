/**
 * The mirror: one loop that owns the first load, the watch, reconnects,
 * backoff and reloads (the Prometheus `refresh` pattern: the loop is not the
 * mechanism). Readers get immutable `Content` snapshots; a reload builds a
 * whole new state and swaps it in, so partial data is never served.
 */
import { EventEmitter } from 'node:events';
import { EtcdHttpSdError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Content, DocumentLimits, InvalidReason, LabelPolicy, ProtectedLabelCount, RenderFailure, StateHooks } from '../registry/index.js';
import { DEFAULT_LABEL_POLICY, printableKey, RegistryState } from '../registry/index.js';
import { Backoff, Sleeper } from './backoff.js';
import { ContactReporter } from './contact.js';
import type { KeyValue, RegistrySource, WatchEvent } from './source.js';

/** Counters the mirror reports; implemented by the metrics module. */
export interface MirrorMetrics {
  eventsApplied(type: 'put' | 'delete', count: number): void;
  invalidDocument(reason: InvalidReason): void;
  reload(reason: ReloadReason): void;
  /** A failure of the mirror's contact with etcd, by reason. */
  mirrorError?(reason: MirrorErrorReason): void;
  /** A group's view that could not be built (the group serves its last good one), by reason. */
  renderFailure?(reason: RenderFailure['reason']): void;
}

/** Why the mirror could not follow etcd for a moment. */
export type MirrorErrorReason = 'probe_failed' | 'watch_disconnected' | 'watch_error' | 'watch_stalled' | 'reload_failed';
export const MIRROR_ERROR_REASONS: readonly MirrorErrorReason[] = ['probe_failed', 'watch_disconnected', 'watch_error', 'watch_stalled', 'reload_failed'];

/** Why the whole prefix was listed again. */
export type ReloadReason = 'initial' | 'compacted' | 'watch_error';

/** Tuning; defaults suit production. */
export interface MirrorOptions {
  readonly source: RegistrySource;
  readonly prefix: string;
  readonly logger: Logger;
  readonly metrics?: MirrorMetrics;
  /** Bounds on stored documents; default `DEFAULT_DOCUMENT_LIMITS`. */
  readonly limits?: DocumentLimits;
  /** Label names no document may set; default `DEFAULT_LABEL_POLICY` (`job`). */
  readonly labelPolicy?: LabelPolicy;
  /** How often etcd is probed while watching. Default 5000. */
  readonly probeIntervalMs?: number;
  /** A watch with no message this long while etcd's revision moved on is re-created. Default 30000. */
  readonly stallMs?: number;
  /** Reconnect backoff. Default 100 ms doubling to 5 s. */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
}

/** What `/readyz` and the metrics report. */
export interface MirrorStatus {
  readonly ready: boolean;
  readonly connected: boolean;
  /** etcd revision the served state reflects; 0 before the first load. */
  readonly revision: number;
  /** Milliseconds since etcd last answered (watch message or probe); undefined if never. */
  readonly lastContactAgeMs: number | undefined;
  /**
   * Milliseconds since the served state was last known to hold everything
   * etcd had under the prefix (a watch message, a listing, or a probe and
   * check that found nothing newer); undefined before the first load.
   */
  readonly stalenessMs?: number | undefined;
  /** Milliseconds since the last watch event was applied; undefined if none yet. */
  readonly lastEventAgeMs: number | undefined;
  /** Why etcd is unreachable, while it is (e.g. a TLS certificate error); absent once contact is back. */
  readonly lastError?: string;
  /** The last full listing: why, when (epoch ms) and at which revision; absent before the first. */
  readonly lastReload?: { readonly reason: ReloadReason; readonly at: number; readonly revision: number };
  /** Groups whose latest change could not be rendered, each serving its last good view; absent when none. */
  readonly renderFailures?: readonly string[];
}

type WatchOutcome = 'disconnected' | 'error' | 'stalled' | 'closed';

/** Typed events of a Mirror. */
export interface MirrorEvents {
  /** The first full load is in memory. */
  ready: [];
  /** Content visible to clients changed. */
  change: [];
}

/** Keeps an in-memory copy of the registry under one prefix. */
export class Mirror extends EventEmitter<MirrorEvents> {
  private state: RegistryState | undefined;
  private lastApplied = 0;
  private connected = false;
  /** The last probe succeeded (false after a failed one, until one succeeds). */
  private probeOk = true;
  private probing = false;
  /** The current watch is attached on the server. */
  private watchAttached = false;
  /** When the served state was last known to hold everything etcd had under the prefix. */
  private confirmedAt: number | undefined;
  private everConnected = false;
  private lastContactAt: number | undefined;
  private lastEventAt: number | undefined;
  private lastWatchMessageAt = 0;
  private lastReload: MirrorStatus['lastReload'];
  private closed = false;
  /** Rejecters of whenReady() calls still waiting: close() settles them. */
  private readonly readyWaiters = new Set<() => void>();
  private loop: Promise<void> | undefined;
  private stopWatch: (() => void) | undefined;
  private readonly sleeper = new Sleeper();
  /** Between retries after contact with etcd was lost (a failed load, a dropped watch); reset once contact is back. */
  private readonly reconnectBackoff: Backoff;
  /**
   * Between watches etcd itself ends with an error (permissions, auth): such a
   * watch may attach first, so only a watch that delivers resets this one.
   */
  private readonly refusalBackoff: Backoff;
  private readonly log: Logger;
  private readonly contact: ContactReporter;
  /** A group that cannot be rendered is counted each time, and logged when it starts failing. */
  private readonly stateHooks: StateHooks = {
    onRenderFailure: (f, first) => {
      this.opts.metrics?.renderFailure?.(f.reason);
      if (first) this.log.warn('group could not be rendered; serving its last good view', { group: f.group, reason: f.reason, detail: f.detail, servingLastGood: f.servingLastGood });
    },
  };

  constructor(private readonly opts: MirrorOptions) {
    super();
    this.log = opts.logger;
    this.contact = new ContactReporter(opts.logger);
    this.reconnectBackoff = new Backoff(opts.backoffInitialMs ?? 100, opts.backoffMaxMs ?? 5000);
    this.refusalBackoff = new Backoff(opts.backoffInitialMs ?? 100, opts.backoffMaxMs ?? 5000);
  }

  /** Starts the loop in the background. Errors are logged and retried, never thrown. */
  start(): void {
    this.loop ??= this.run();
  }

  /** The current snapshot, or undefined before the first load. */
  content(): Content | undefined {
    return this.state?.snapshot();
  }

  /** The etcd revision the served state reflects. */
  get revision(): number {
    return this.lastApplied;
  }

  /** The state behind `content()`, for read-only questions (explanations); replaced on reload. */
  registryState(): Pick<RegistryState, 'invalidDocuments' | 'invalidDocument' | 'groupDocument' | 'nodeDocument' | 'prefix' | 'lastGoodGroups' | 'labelPolicy'> | undefined {
    return this.state;
  }

  /** The label policy every state of this mirror renders with. */
  get labelPolicy(): LabelPolicy {
    return this.opts.labelPolicy ?? DEFAULT_LABEL_POLICY;
  }

  /** Documents in force whose protected labels are dropped. */
  protectedLabelCounts(): ProtectedLabelCount[] {
    return this.state?.protectedLabelCounts() ?? [];
  }

  /** Skipped documents currently stored, by reason. */
  invalidCounts(): Map<InvalidReason, number> {
    return this.state?.invalidCounts() ?? new Map<InvalidReason, number>();
  }

  /** Snapshot of health for probes and metrics. */
  status(): MirrorStatus {
    const now = Date.now();
    const failed = [...(this.state?.renderFailures().keys() ?? [])];
    return {
      ready: this.state !== undefined,
      connected: this.connected,
      revision: this.lastApplied,
      lastContactAgeMs: this.lastContactAt === undefined ? undefined : now - this.lastContactAt,
      stalenessMs: this.confirmedAt === undefined ? undefined : now - this.confirmedAt,
      lastEventAgeMs: this.lastEventAt === undefined ? undefined : now - this.lastEventAt,
      ...(this.connected || this.contact.lastError === undefined ? {} : { lastError: this.contact.lastError }),
      ...(this.lastReload === undefined ? {} : { lastReload: this.lastReload }),
      ...(failed.length === 0 ? {} : { renderFailures: failed }),
    };
  }

  /** Resolves once the first load is in memory. */
  whenReady(): Promise<void> {
    if (this.state !== undefined) return Promise.resolve();
    // Closed before the first load: it never comes, so say so instead of waiting forever.
    if (this.closed) return Promise.reject(closedBeforeReady());
    return new Promise((resolve, reject) => {
      const onClosed = (): void => {
        this.off('ready', onReady);
        reject(closedBeforeReady());
      };
      const onReady = (): void => {
        this.readyWaiters.delete(onClosed);
        resolve();
      };
      this.once('ready', onReady);
      this.readyWaiters.add(onClosed);
    });
  }

  /** Stops the watch and the loop; resolves when both are done. */
  async close(): Promise<void> {
    this.closed = true;
    for (const reject of this.readyWaiters) reject();
    this.readyWaiters.clear();
    this.stopWatch?.();
    this.sleeper.wakeAll();
    await this.loop;
  }

  private async run(): Promise<void> {
    let reload: ReloadReason | undefined = 'initial';
    while (!this.closed) {
      try {
        if (reload !== undefined) {
          await this.reload(reload);
          reload = undefined;
        }
        const outcome = await this.watchOnce();
        if (outcome === 'error') {
          reload = (await this.compacted()) ? 'compacted' : 'watch_error';
          // A watch that etcd keeps refusing (permissions, auth) must not spin.
          if (reload === 'watch_error') await this.sleeper.sleep(this.refusalBackoff.next());
        } else if (outcome === 'disconnected') {
          await this.waitForEtcd();
        }
      } catch (err) {
        // A failed reload keeps its reason and is tried again; a failed watch resumes.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await
        if (this.closed) break;
        if (reload !== undefined) this.opts.metrics?.mirrorError?.('reload_failed');
        this.markContactLost(err);
        await this.sleeper.sleep(this.reconnectBackoff.next());
      }
    }
  }

  private async compacted(): Promise<boolean> {
    const current = await this.opts.source.probe();
    return this.lastApplied + 1 <= current && (await this.opts.source.isCompacted(this.lastApplied + 1));
  }

  private async reload(reason: ReloadReason): Promise<void> {
    const started = Date.now();
    const nextVersion = (this.state?.currentVersion ?? 0) + 1;
    // Group documents that stop decoding keep their last good version across the reload.
    const lastGood = this.state?.lastGoodGroups();
    let fresh = new RegistryState(this.opts.prefix, nextVersion, lastGood, this.opts.limits, this.labelPolicy, this.stateHooks);
    let invalid: { key: string; reason: InvalidReason }[] = [];
    const revision = await this.opts.source.list(
      (kvs: readonly KeyValue[]) => {
        for (const kv of kvs) {
          const r = fresh.apply({ type: 'put', key: kv.key, value: kv.value });
          if (r.invalid) invalid.push(r.invalid);
        }
        fresh.renderPending();
      },
      () => {
        fresh = new RegistryState(this.opts.prefix, nextVersion, lastGood, this.opts.limits, this.labelPolicy, this.stateHooks);
        invalid = [];
      },
    );
    const wasReady = this.state !== undefined;
    this.state = fresh;
    this.lastApplied = revision;
    this.lastReload = { reason, at: Date.now(), revision };
    this.touchContact();
    // A complete listing is contact regained: the next loss starts from the initial delay again.
    this.reconnectBackoff.reset();
    this.opts.metrics?.reload(reason);
    this.reportInvalid(invalid);
    const content = fresh.snapshot();
    this.log.info('registry loaded', {
      reason, revision, groups: content.groups.length, targets: content.targetCount,
      invalid: invalid.length, ms: Date.now() - started,
    });
    if (!wasReady) this.emit('ready');
    this.emit('change');
  }

  private reportInvalid(invalid: readonly { key: string; reason: InvalidReason }[]): void {
    const LOG_LIMIT = 20;
    invalid.forEach((i, n) => {
      this.opts.metrics?.invalidDocument(i.reason);
      if (n < LOG_LIMIT) this.log.warn('invalid document skipped', { key: printableKey(i.key), reason: i.reason });
    });
    if (invalid.length > LOG_LIMIT) this.log.warn('more invalid documents skipped', { count: invalid.length - LOG_LIMIT });
  }

  private watchOnce(): Promise<WatchOutcome> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (outcome: WatchOutcome): void => {
        if (done) return;
        done = true;
        clearInterval(timer);
        this.stopWatch = undefined;
        this.watchAttached = false;
        void handle.cancel().finally(() => resolve(outcome));
      };
      this.lastWatchMessageAt = Date.now();
      const handle = this.opts.source.watch(this.lastApplied + 1, {
        onData: (events, header) => this.applyEvents(events, header),
        onConnected: () => {
          this.watchAttached = true;
          this.reconnectBackoff.reset();
          this.markConnected();
        },
        onDisconnected: (err) => {
          this.opts.metrics?.mirrorError?.('watch_disconnected');
          this.markContactLost(err);
          finish('disconnected');
        },
        onError: (err) => {
          this.opts.metrics?.mirrorError?.('watch_error');
          this.log.warn('watch ended by etcd; reloading', { error: errorMessage(err), revision: this.lastApplied });
          finish('error');
        },
      });
      const timer = setInterval(() => void this.checkStall(() => finish('stalled')), this.opts.probeIntervalMs ?? 5000);
      this.stopWatch = () => finish('closed');
      if (this.closed) finish('closed');
    });
  }

  /**
   * etcd3 watchers can die silently, so a quiet watch is checked; but a quiet
   * prefix in a busy etcd (another application writing elsewhere) is normal:
   * the watch is re-created only when etcd holds a change of our prefix newer
   * than what we applied, and the check runs at most once per `stallMs`. A
   * probe that fails (etcd frozen, unreachable) means contact is lost, even
   * while the watch stream still looks open.
   */
  private async checkStall(restart: () => void): Promise<void> {
    // One probe at a time: overlapping probes against a frozen etcd open the client's breaker, whose
    // "circuit breaker is open" would then hide the real cause (a deadline) from the log.
    if (this.probing) return;
    this.probing = true;
    try {
      await this.probeAndCheck(restart);
    } finally {
      this.probing = false;
    }
  }

  private async probeAndCheck(restart: () => void): Promise<void> {
    let current: number;
    try {
      current = await this.opts.source.probe();
    } catch (err) {
      this.opts.metrics?.mirrorError?.('probe_failed');
      if (this.connected || this.probeOk) this.markContactLost(err);
      this.probeOk = false;
      return;
    }
    this.touchContact();
    if (!this.probeOk) {
      this.probeOk = true;
      if (this.watchAttached) this.markConnected();
    }
    if (current <= this.lastApplied) {
      this.confirmedAt = Date.now();
      return;
    }
    const quiet = Date.now() - this.lastWatchMessageAt;
    if (quiet <= (this.opts.stallMs ?? 30_000)) return;
    const missed = await this.missedChange();
    if (missed === false) {
      this.lastWatchMessageAt = Date.now();
      this.confirmedAt = Date.now();
    } else if (missed === true) {
      this.opts.metrics?.mirrorError?.('watch_stalled');
      this.log.warn('watch silent while etcd holds newer changes of the prefix; re-creating it', { revision: this.lastApplied, etcdRevision: current, quietMs: quiet });
      restart();
    }
  }

  /** Whether etcd holds a put under the prefix newer than `lastApplied`; undefined if it could not say. */
  private async missedChange(): Promise<boolean | undefined> {
    const source = this.opts.source;
    if (source.changedSince === undefined) return true;
    try {
      return await source.changedSince(this.lastApplied);
    } catch (err) {
      this.log.debug('etcd check of the prefix failed', { error: errorMessage(err) });
      return undefined;
    }
  }

  private applyEvents(events: readonly WatchEvent[], headerRevision: number): void {
    const state = this.state;
    if (state === undefined) return;
    const now = Date.now();
    this.lastWatchMessageAt = now;
    this.confirmedAt = now;
    this.touchContact(now);
    this.reconnectBackoff.reset();
    this.refusalBackoff.reset();
    // Events at or below what we applied are replays after a resume: skip them.
    const base = this.lastApplied;
    let changed = false;
    let top = base;
    let puts = 0;
    let deletes = 0;
    for (const ev of events) {
      if (ev.modRevision <= base) continue;
      const r = state.apply(ev); // an event is a Change as it stands: no copy per heartbeat
      if (ev.type === 'put') puts++;
      else deletes++;
      if (r.invalid) {
        this.opts.metrics?.invalidDocument(r.invalid.reason);
        this.log.warn('invalid document skipped', { key: printableKey(r.invalid.key), reason: r.invalid.reason, detail: r.invalid.detail });
      }
      changed ||= r.changed;
      top = Math.max(top, ev.modRevision);
    }
    // A response without events is a progress notification: everything up to its revision was sent.
    this.lastApplied = events.length === 0 ? Math.max(base, headerRevision) : top;
    if (puts + deletes > 0) {
      this.lastEventAt = now;
      if (puts > 0) this.opts.metrics?.eventsApplied('put', puts);
      if (deletes > 0) this.opts.metrics?.eventsApplied('delete', deletes);
    }
    if (changed) this.emit('change');
  }

  private async waitForEtcd(): Promise<void> {
    while (!this.closed) {
      await this.sleeper.sleep(this.reconnectBackoff.next());
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the sleep
      if (this.closed) return;
      try {
        await this.opts.source.probe();
        this.touchContact();
        return;
      } catch (err) {
        this.markContactLost(err);
      }
    }
  }

  private markConnected(): void {
    this.touchContact();
    this.contact.restored();
    if (this.connected) return;
    this.connected = true;
    if (this.everConnected) this.log.info('etcd connection restored', { revision: this.lastApplied });
    this.everConnected = true;
  }

  private markContactLost(err: unknown): void {
    this.contact.lost(err, { wasConnected: this.connected, serving: this.state !== undefined, revision: this.lastApplied });
    this.connected = false;
  }

  private touchContact(now = Date.now()): void {
    this.lastContactAt = now;
  }
}

function closedBeforeReady(): EtcdHttpSdError {
  return new EtcdHttpSdError('CLOSED', 'the mirror was closed before its first load');
}
