/**
 * Whether the lease holding a node key we want belongs to a live
 * registrant. A registrant restarted after a crash (SIGKILL) finds its own
 * key still held by its predecessor's lease for up to one TTL; that must not
 * be a permanent collision, and a live registrant must not be overwritten.
 *
 * Chosen rule: look at the holder's lease with `leaseTimeToLive` until it
 * is gone (expired: the key went with it, we may write) or shows a renewal.
 * etcd reports whole seconds, rounded down, so a lease nobody renews shows,
 * `t` seconds after a first look that said `first`, less than `first + 1 - t`;
 * showing more means someone renewed it. A live holder is so told at its
 * first renewal after we start looking, about a second later at most
 * (within TTL/3 for ours); a lease that is not renewed expires within the
 * TTL it showed, so this never waits more than one TTL (and the time etcd
 * takes to revoke an expired lease). It never mistakes a
 * live registrant for a dead one, which a guess from a look shorter than
 * the holder's renewal period could.
 */
import type { Etcd3 } from 'etcd3';
import { etcdFailure } from './errors.js';

/** `gone`: the lease expired; `live`: it is renewed by its holder. */
export type HolderVerdict = 'gone' | 'live';

/** Time between two looks at the holder's lease. */
const POLL_MS = 200;
/** Allowance for the time between etcd's clock and ours (round trips, scheduling). */
const SLACK_MS = 300;
/** How long etcd may keep an expired lease before revoking it (it revokes in rounds of 500 ms, more under load). */
const REVOKE_LAG_MS = 2000;

/** Watches lease `holder` until it is gone or shown renewed; `cancelled` stops early (as `live`: write nothing). */
export async function observeHolder(client: () => Etcd3, holder: string, cancelled: () => boolean): Promise<HolderVerdict> {
  const started = Date.now();
  const first = await remainingTtl(client(), holder);
  if (first < 0) return 'gone';
  for (;;) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    if (cancelled()) return 'live';
    const ttl = await remainingTtl(client(), holder);
    if (ttl < 0) return 'gone';
    const elapsedMs = Date.now() - started;
    // TTL 0: less than a second left, or expired and not yet revoked (etcd revokes in rounds): it tells nothing.
    if (ttl > 0 && ttl + Math.max(0, elapsedMs - SLACK_MS) / 1000 >= first + 1) return 'live';
    if (elapsedMs > (first + 1) * 1000 + REVOKE_LAG_MS) return 'live'; // outlived its TTL by far: renewed (a 1 s lease shows 0 throughout)
  }
}

/** Remaining TTL in seconds; -1 when the lease no longer exists. */
async function remainingTtl(client: Etcd3, id: string): Promise<number> {
  try {
    return Number((await client.leaseClient.leaseTimeToLive({ ID: id })).TTL);
  } catch (err) {
    throw etcdFailure(`read lease ${id}`, err);
  }
}
