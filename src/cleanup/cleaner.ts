/**
 * Empty-group cleanup (the Go library's feature, opt-in): a group
 * document that has had no nodes for longer than a grace period is deleted,
 * by one replica only, elected through etcd.
 *
 * Safety comes from etcd, not from timing: the delete is one `txn` that
 * succeeds only if, at that revision,
 * - nothing exists under `{prefix}/{group}/` (a range compare: a node put a
 *   moment earlier fails the txn; one put a moment later finds no group
 *   document, which the layout allows, and its registrant re-creates it);
 * - the group document is the one just read (same mod revision);
 * - this replica's election key still exists (fencing: a replica that lost
 *   its lease, even one that has not noticed yet, deletes nothing).
 * Only the exact group key is deleted, never a prefix (`web` never touches
 * `web-canary`). What "empty since" means is local to each replica and
 * starts when it first sees the group empty, so a new leader waits a full
 * grace again: late rather than early.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import type { Registry } from 'prom-client';
import { errorMessage } from '../errors.js';
import { prefixEnd } from '../etcd/client.js';
import type { Logger } from '../log.js';
import type { MirrorStatus } from '../mirror/mirror.js';
import { groupKey, groupPrefix, type Content } from '../registry/index.js';
import { LeaderElection, type LeaderToken } from './election.js';
import { createCleanupMetrics, type CleanupMetrics } from './metrics.js';

/** The settings of cleanup (`--cleanup-*`). */
export interface CleanupSettings {
  /** How long a group must be seen without nodes before it is deleted. */
  readonly graceMs: number;
  /** How often the leader looks for groups past their grace. */
  readonly intervalMs: number;
  /** TTL of the election lease: how long a crashed leader delays its successor. */
  readonly electionTtlSeconds: number;
}

/** What the cleaner reads from the mirror. */
export interface CleanupMirror {
  content(): Content | undefined;
  status(): MirrorStatus;
  on(event: 'change', listener: () => void): unknown;
  off(event: 'change', listener: () => void): unknown;
}

/** Options of `EmptyGroupCleaner`. */
export interface EmptyGroupCleanerOptions extends CleanupSettings {
  /** A client allowed to delete group keys and to campaign (docs/security.md, "sd-cleaner"). */
  readonly client: Etcd3;
  readonly prefix: string;
  readonly mirror: CleanupMirror;
  readonly logger: Logger;
  /** Where the cleanup metrics go; none when absent. */
  readonly registry?: Registry;
  /** This replica's name in the election. Default: hostname and a random suffix. */
  readonly candidate?: string;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
  /**
   * The election, for tests: one whose token stays stale on purpose shows
   * that the fencing compare refuses a deposed leader's delete, every time.
   * Default: a {@link LeaderElection} among the replicas of `prefix`.
   */
  readonly election?: CleanupElection;
}

/** What the cleaner needs of its election. */
export type CleanupElection = Pick<LeaderElection, 'start' | 'token' | 'close'>;

/** At most this many deletions per sweep: a sweep's work stays bounded. */
const MAX_DELETIONS_PER_SWEEP = 100;

/** Name of the election for `prefix`: replicas of one registry share it. */
export function cleanupElectionName(prefix: string): string {
  return `etcd-http-sd-cleanup${prefix}`;
}

/** Deletes empty group documents while this replica leads; see the module comment. */
export class EmptyGroupCleaner {
  /** Group name → when this replica first saw it without nodes (ms). */
  private readonly emptySince = new Map<string, number>();
  private readonly election: CleanupElection;
  private readonly metrics: CleanupMetrics | undefined;
  private readonly now: () => number;
  private readonly onChange = (): void => this.observe();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: EmptyGroupCleanerOptions) {
    this.now = opts.now ?? Date.now;
    this.election = opts.election ?? new LeaderElection({
      client: opts.client,
      name: cleanupElectionName(opts.prefix),
      value: opts.candidate ?? `${hostname()}-${randomUUID().slice(0, 8)}`,
      ttlSeconds: opts.electionTtlSeconds,
      pollMs: Math.max(50, Math.min(opts.intervalMs, 2000)),
      logger: opts.logger,
    });
    const { election, emptySince } = this;
    const reader = {
      get leading(): boolean {
        return election.token() !== undefined;
      },
      get emptyGroups(): number {
        return emptySince.size;
      },
    };
    this.metrics = opts.registry === undefined ? undefined : createCleanupMetrics(opts.registry, reader);
  }

  /** Whether this replica currently leads (and so may delete). */
  get leading(): boolean {
    return this.election.token() !== undefined;
  }

  /** Starts campaigning and sweeping. */
  start(): void {
    if (this.timer !== undefined || this.closed) return;
    this.election.start();
    this.opts.mirror.on('change', this.onChange);
    this.observe();
    this.timer = setInterval(() => void this.sweep(), this.opts.intervalMs);
    this.opts.logger.info('empty-group cleanup enabled', { graceMs: this.opts.graceMs, intervalMs: this.opts.intervalMs, electionTtlSeconds: this.opts.electionTtlSeconds });
  }

  /** Stops sweeping, waits for a sweep in progress, and leaves the election. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.opts.mirror.off('change', this.onChange);
    await this.sweeping;
    await this.election.close();
  }

  /** Runs one sweep now (also run every `intervalMs`); never throws. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  /** Updates "empty since" from the mirror's current content. */
  private observe(): void {
    const content = this.opts.mirror.content();
    if (content === undefined) return;
    const now = this.now();
    const empty = new Set<string>();
    for (const g of content.groups) {
      if (g.size > 0) continue;
      empty.add(g.name);
      if (!this.emptySince.has(g.name)) this.emptySince.set(g.name, now);
    }
    for (const name of this.emptySince.keys()) if (!empty.has(name)) this.emptySince.delete(name);
  }

  private async sweepOnce(): Promise<void> {
    try {
      this.observe();
      const token = this.election.token();
      const status = this.opts.mirror.status();
      // A replica that cannot see etcd cannot tell empty from not yet heard of.
      if (token === undefined || !status.ready || !status.connected) return;
      const now = this.now();
      const due = [...this.emptySince].filter(([, since]) => now - since >= this.opts.graceMs).slice(0, MAX_DELETIONS_PER_SWEEP);
      for (const [name, since] of due) {
        if (this.closed || this.election.token() !== token) return;
        await this.tryDelete(name, since, token);
      }
    } catch (err) {
      this.metrics?.attempt('error');
      this.opts.logger.warn('empty-group cleanup failed; will retry', { error: errorMessage(err) });
    }
  }

  private async tryDelete(name: string, since: number, token: LeaderToken): Promise<void> {
    const { client, prefix } = this.opts;
    const key = Buffer.from(groupKey(prefix, name));
    const under = Buffer.from(groupPrefix(prefix, name));
    const current = (await client.kv.range({ key, keys_only: true })).kvs[0];
    if (current === undefined) {
      this.emptySince.delete(name);
      return;
    }
    const res = await client.kv.txn({
      compare: [
        { key, target: 'Mod', result: 'Equal', mod_revision: current.mod_revision },
        // Over a range: true only if every key in it has create revision 0, i.e. none exists.
        { key: under, range_end: prefixEnd(under), target: 'Create', result: 'Equal', create_revision: 0 },
        { key: token.key, target: 'Create', result: 'Equal', create_revision: token.createRevision },
      ],
      success: [{ request_delete_range: { key } }],
      failure: [
        { request_range: { key: under, range_end: prefixEnd(under), count_only: true } },
        { request_range: { key: token.key, count_only: true } },
      ],
    });
    if (res.succeeded) {
      this.emptySince.delete(name);
      this.metrics?.attempt('deleted');
      this.opts.logger.info('empty group deleted', { group: name, emptyForMs: this.now() - since, revision: Number(res.header.revision) });
      return;
    }
    this.metrics?.attempt('kept');
    const keys = Number(res.responses[0]?.response_range.count ?? 0);
    const leading = Number(res.responses[1]?.response_range.count ?? 0) > 0;
    const why = !leading ? 'leadership lost' : keys > 0 ? 'keys exist under the group' : 'group document changed';
    // Start its grace again: whatever won the race is recent.
    this.emptySince.set(name, this.now());
    this.opts.logger.info('empty group kept', { group: name, reason: why, keysUnderGroup: keys });
  }
}
