/**
 * Whether the lease holding a node key we want belongs to a live
 * registrant. A registrant restarted after a crash (SIGKILL) finds its own
 * key still held by its predecessor's lease for up to one TTL; that must not
 * be a permanent collision, and a live registrant must not be overwritten.
 *
 * Chosen rule: watch the holder's lease with `leaseTimeToLive` until it is
 * gone (expired: the key went with it, we may write) or shows a renewal
 * (remaining TTL went up, or it still exists after the remaining TTL it
 * showed first has run out: someone renews it). A lease that is not renewed
 * always expires within the TTL it showed, so this never waits more than
 * one TTL, and it never mistakes a live registrant for a dead one (a guess
 * from a short observation could, for a registrant renewing every TTL/2).
 * A live holder is found within its renewal period (TTL/3 for ours).
 */
import type { Etcd3 } from 'etcd3';
import { etcdFailure } from './errors.js';

/** `gone`: the lease expired; `live`: it is renewed by its holder. */
export type HolderVerdict = 'gone' | 'live';

/** Time between two looks at the holder's lease. */
const POLL_MS = 200;
/** etcd reports whole seconds, rounded down; and expiry runs on its own clock. */
const EXPIRY_SLACK_MS = 1500;

/** Watches lease `holder` until it is gone or shown renewed; `cancelled` stops early (as `live`: write nothing). */
export async function observeHolder(client: () => Etcd3, holder: string, cancelled: () => boolean): Promise<HolderVerdict> {
  const started = Date.now();
  const first = await remainingTtl(client(), holder);
  if (first < 0) return 'gone';
  const deadline = started + first * 1000 + EXPIRY_SLACK_MS;
  let last = first;
  for (;;) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    if (cancelled()) return 'live';
    const ttl = await remainingTtl(client(), holder);
    if (ttl < 0) return 'gone';
    if (ttl > last || Date.now() > deadline) return 'live';
    last = ttl;
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
