/**
 * The mirror: one loop that owns the first load, the watch, reconnects,
 * backoff and reloads (the Prometheus `refresh` pattern: the loop is not the
 * mechanism). Readers get immutable `Content` snapshots; a reload builds a
 * whole new state and swaps it in, so partial data is never served.
 */
import { EventEmitter } from 'node:events';
import { EtcdHttpSdError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Content, InvalidReason } from '../registry/index.js';
import { RegistryState } from '../registry/index.js';
import { Backoff, Sleeper } from './backoff.js';
import { ContactReporter } from './contact.js';
import type { KeyValue, RegistrySource, WatchEvent } from './source.js';

/** Counters the mirror reports; implemented by the metrics module. */
export interface MirrorMetrics {
  eventsApplied(type: 'put' | 'delete', count: number): void;
  invalidDocument(reason: InvalidReason): void;
  reload(reason: ReloadReason): void;
}

/** Why the whole prefix was listed again. */
export type ReloadReason = 'initial' | 'compacted' | 'watch_error';

/** Tuning; defaults suit production. */
export interface MirrorOptions {
  readonly source: RegistrySource;
  readonly prefix: string;
  readonly logger: Logger;
  readonly metrics?: MirrorMetrics;
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
  /** Milliseconds since the last watch event was applied; undefined if none yet. */
  readonly lastEventAgeMs: number | undefined;
  /** Why etcd is unreachable, while it is (e.g. a TLS certificate error); absent once contact is back. */
  readonly lastError?: string;
  /** The last full listing: why, when (epoch ms) and at which revision; absent before the first. */
  readonly lastReload?: { readonly reason: ReloadReason; readonly at: number; readonly revision: number };
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
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly contact: ContactReporter;

  constructor(private readonly opts: MirrorOptions) {
    super();
    this.log = opts.logger;
    this.contact = new ContactReporter(opts.logger);
    this.backoff = new Backoff(opts.backoffInitialMs ?? 100, opts.backoffMaxMs ?? 5000);
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
  registryState(): Pick<RegistryState, 'invalidDocuments' | 'invalidDocument' | 'groupDocument' | 'nodeDocument' | 'prefix' | 'lastGoodGroups'> | undefined {
    return this.state;
  }

  /** Skipped documents currently stored, by reason. */
  invalidCounts(): Map<InvalidReason, number> {
    return this.state?.invalidCounts() ?? new Map<InvalidReason, number>();
  }

  /** Snapshot of health for probes and metrics. */
  status(): MirrorStatus {
    const now = Date.now();
    return {
      ready: this.state !== undefined,
      connected: this.connected,
      revision: this.lastApplied,
      lastContactAgeMs: this.lastContactAt === undefined ? undefined : now - this.lastContactAt,
      lastEventAgeMs: this.lastEventAt === undefined ? undefined : now - this.lastEventAt,
      ...(this.connected || this.contact.lastError === undefined ? {} : { lastError: this.contact.lastError }),
      ...(this.lastReload === undefined ? {} : { lastReload: this.lastReload }),
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
          if (reload === 'watch_error') await this.sleeper.sleep(this.backoff.next());
        } else if (outcome === 'disconnected') {
          await this.waitForEtcd();
        }
      } catch (err) {
        // A failed reload keeps its reason and is tried again; a failed watch resumes.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await
        if (this.closed) break;
        this.markContactLost(err);
        await this.sleeper.sleep(this.backoff.next());
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
    let fresh = new RegistryState(this.opts.prefix, nextVersion, lastGood);
    let invalid: { key: string; reason: InvalidReason }[] = [];
    const revision = await this.opts.source.list(
      (kvs: readonly KeyValue[]) => {
        for (const kv of kvs) {
          const r = fresh.apply({ type: 'put', key: kv.key, value: kv.value });
          if (r.invalid) invalid.push(r.invalid);
        }
      },
      () => {
        fresh = new RegistryState(this.opts.prefix, nextVersion, lastGood);
        invalid = [];
      },
    );
    const wasReady = this.state !== undefined;
    this.state = fresh;
    this.lastApplied = revision;
    this.lastReload = { reason, at: Date.now(), revision };
    this.touchContact();
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
      if (n < LOG_LIMIT) this.log.warn('invalid document skipped', { key: i.key, reason: i.reason });
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
        void handle.cancel().finally(() => resolve(outcome));
      };
      this.lastWatchMessageAt = Date.now();
      const handle = this.opts.source.watch(this.lastApplied + 1, {
        onData: (events, header) => this.applyEvents(events, header),
        onConnected: () => this.markConnected(),
        onDisconnected: (err) => {
          this.markContactLost(err);
          finish('disconnected');
        },
        onError: (err) => {
          this.log.warn('watch ended by etcd; reloading', { error: errorMessage(err), revision: this.lastApplied });
          finish('error');
        },
      });
      const timer = setInterval(() => void this.checkStall(() => finish('stalled')), this.opts.probeIntervalMs ?? 5000);
      this.stopWatch = () => finish('closed');
      if (this.closed) finish('closed');
    });
  }

  // etcd3 watchers can die silently; if etcd moved on and we heard nothing, re-create the watch.
  private async checkStall(restart: () => void): Promise<void> {
    try {
      const current = await this.opts.source.probe();
      this.touchContact();
      const quiet = Date.now() - this.lastWatchMessageAt;
      if (current > this.lastApplied && quiet > (this.opts.stallMs ?? 30_000)) {
        this.log.warn('watch silent while etcd moved on; re-creating it', { revision: this.lastApplied, etcdRevision: current, quietMs: quiet });
        restart();
      }
    } catch (err) {
      this.log.debug('etcd probe failed', { error: errorMessage(err) });
    }
  }

  private applyEvents(events: readonly WatchEvent[], headerRevision: number): void {
    const state = this.state;
    if (state === undefined) return;
    const now = Date.now();
    this.lastWatchMessageAt = now;
    this.touchContact();
    this.backoff.reset();
    // Events at or below what we applied are replays after a resume: skip them.
    const base = this.lastApplied;
    let changed = false;
    let top = base;
    let puts = 0;
    let deletes = 0;
    for (const ev of events) {
      if (ev.modRevision <= base) continue;
      const r = state.apply(ev.type === 'put' ? { type: 'put', key: ev.key, value: ev.value } : { type: 'delete', key: ev.key });
      if (ev.type === 'put') puts++;
      else deletes++;
      if (r.invalid) {
        this.opts.metrics?.invalidDocument(r.invalid.reason);
        this.log.warn('invalid document skipped', { key: r.invalid.key, reason: r.invalid.reason, detail: r.invalid.detail });
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
      await this.sleeper.sleep(this.backoff.next());
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

  private touchContact(): void {
    this.lastContactAt = Date.now();
  }
}

function closedBeforeReady(): EtcdHttpSdError {
  return new EtcdHttpSdError('CLOSED', 'the mirror was closed before its first load');
}
