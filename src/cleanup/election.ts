/**
 * Leader election over etcd, in the key layout of etcd's election API
 * (etcd3's `client.election(name)`, Go's `concurrency.Election`): every
 * candidate puts `election/{name}/{leaseId}` under its own lease, and the
 * candidate whose key has the lowest create revision leads. So etcd3's
 * `client.election(name).leader()` and observers see our candidates.
 *
 * Not etcd3's `Campaign`: in etcd3 1.1.2 a follower waits for its
 * predecessor with a watch that `resign()` cannot cancel, so a follower's
 * process cannot exit until the leader (another process) goes away, and it
 * still fires `elected` after `resign()` (both reproduced). Here a
 * candidate polls instead, and every wait can be cut short by `close()`.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, Lease } from 'etcd3';
import { errorMessage } from '../errors.js';
import { prefixEnd } from '../etcd/client.js';
import type { Logger } from '../log.js';
import { Backoff, Sleeper } from '../mirror/backoff.js';

/** Proof of leadership: the leader's key and its create revision, for `txn` compares (fencing). */
export interface LeaderToken {
  readonly key: Buffer;
  readonly createRevision: string;
}

/** Options of `LeaderElection`. */
export interface LeaderElectionOptions {
  readonly client: Etcd3;
  /** Election name; keys live under `election/{name}/`. */
  readonly name: string;
  /** What this candidate announces (its key's value), e.g. host and a random id. */
  readonly value: string;
  /** TTL of the candidate's lease in whole seconds (at least 1): how long a dead leader blocks the others. */
  readonly ttlSeconds: number;
  /** How often a candidate checks its own key and its predecessor. */
  readonly pollMs: number;
  readonly logger: Logger;
}

/** Typed events of a `LeaderElection`. */
export interface LeaderElectionEvents {
  /** This candidate leads from now on (until `deposed`). */
  elected: [];
  /** This candidate no longer leads: its key or lease is gone, etcd failed, or `close()`. */
  deposed: [reason: string];
}

/** Election keys' prefix for `name`, as etcd3's `Election` builds it. */
export function electionPrefix(name: string): string {
  return `election/${name}/`;
}

/** One candidate, campaigning again after every loss until `close()`. */
export class LeaderElection extends EventEmitter<LeaderElectionEvents> {
  private readonly prefix: Buffer;
  private readonly sleeper = new Sleeper();
  private readonly backoff: Backoff;
  private current: LeaderToken | undefined;
  /** Whether `elected` was emitted without its `deposed` yet. */
  private wasLeader = false;
  private closed = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: LeaderElectionOptions) {
    super();
    if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds < 1) throw new RangeError(`ttlSeconds must be a whole number of seconds >= 1, got ${opts.ttlSeconds}`);
    this.prefix = Buffer.from(electionPrefix(opts.name));
    this.backoff = new Backoff(Math.min(1000, opts.pollMs), Math.max(5000, opts.ttlSeconds * 1000));
  }

  /** The leadership token while this candidate leads; else undefined. */
  token(): LeaderToken | undefined {
    return this.current;
  }

  /** Starts campaigning in the background. Failures are logged and retried, never thrown. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning and gives up leadership (revokes the lease); resolves when done. */
  async close(): Promise<void> {
    this.closed = true;
    this.sleeper.wakeAll();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      let reason: string;
      try {
        reason = await this.campaign();
        this.backoff.reset();
      } catch (err) {
        reason = `etcd error: ${errorMessage(err)}`;
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await
        if (!this.closed) this.opts.logger.warn('leader election failed; campaigning again', { election: this.opts.name, error: errorMessage(err) });
      }
      this.demote(reason);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await
      if (!this.closed) await this.sleeper.sleep(this.backoff.next());
    }
  }

  /** One campaign under one lease; resolves with why it ended. */
  private async campaign(): Promise<string> {
    const { client } = this.opts;
    const lease: Lease = client.lease(this.opts.ttlSeconds);
    let lost: string | undefined;
    lease.on('lost', (err) => {
      lost = `lease lost: ${errorMessage(err)}`;
      this.sleeper.wakeAll();
    });
    try {
      const leaseId = await lease.grant();
      const key = Buffer.concat([this.prefix, Buffer.from(leaseId)]);
      const created = await client.kv.txn({
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key, value: Buffer.from(this.opts.value), lease: leaseId } }],
        failure: [{ request_range: { key } }],
      });
      const createRevision = created.succeeded ? created.header.revision : created.responses[0]?.response_range.kvs[0]?.create_revision;
      if (createRevision === undefined) return 'own key vanished';
      const token: LeaderToken = { key, createRevision };
      while (!this.closed && lost === undefined) {
        const state = await this.look(token);
        if (state === 'gone') return 'own key deleted (lease revoked or expired)';
        if (state === 'leader' && this.current === undefined) this.promote(token);
        await this.sleeper.sleep(this.opts.pollMs);
      }
      return lost ?? 'closed';
    } finally {
      this.current = undefined;
      // Revoking deletes our key at once, so the next candidate need not wait for the TTL.
      await lease.revoke().catch(() => lease.release());
    }
  }

  /** Reads, at one revision, whether our key exists and whether an older candidate does. */
  private async look(token: LeaderToken): Promise<'gone' | 'leader' | 'follower'> {
    const res = await this.opts.client.kv.txn({
      compare: [],
      success: [
        { request_range: { key: token.key, count_only: true } },
        {
          request_range: {
            key: this.prefix, range_end: prefixEnd(this.prefix), keys_only: true, limit: 1,
            max_create_revision: String(BigInt(token.createRevision) - 1n), sort_target: 'Create', sort_order: 'Descend',
          },
        },
      ],
      failure: [],
    });
    if (Number(res.responses[0]?.response_range.count ?? 0) === 0) return 'gone';
    return (res.responses[1]?.response_range.kvs.length ?? 0) === 0 ? 'leader' : 'follower';
  }

  private promote(token: LeaderToken): void {
    this.current = token;
    this.wasLeader = true;
    this.opts.logger.info('elected leader', { election: this.opts.name, candidate: this.opts.value });
    this.emit('elected');
  }

  private demote(reason: string): void {
    this.current = undefined;
    if (!this.wasLeader) return;
    this.wasLeader = false;
    this.opts.logger.info('no longer leader', { election: this.opts.name, candidate: this.opts.value, reason });
    this.emit('deposed', reason);
  }
}
