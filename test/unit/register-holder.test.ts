// Whether a node key's holder lease belongs to a live registrant, judged from
// leaseTimeToLive answers (whole seconds, rounded down, as etcd gives them)
// on a mocked clock: a lease nobody renews is waited out, a renewed one is
// told live by its next renewal, about a second at most after it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { observeHolder, type HolderVerdict } from '../../src/register/holder.js';

const EXPIRED_LINGER_MS = 900;

/** A lease of `ttlS` seconds, renewed every `renewMs` (never when undefined), on the mocked clock. */
function fakeLease(ttlS: number, renewMs: number | undefined): Etcd3 {
  const granted = Date.now();
  const leaseTimeToLive = async (): Promise<{ TTL: string; grantedTTL: string }> => {
    const now = Date.now();
    const lastRenewal = renewMs === undefined ? granted : granted + Math.floor((now - granted) / renewMs) * renewMs;
    const remainingMs = lastRenewal + ttlS * 1000 - now;
    // etcd revokes expired leases in rounds: one expired a moment ago still answers TTL 0.
    return { TTL: remainingMs <= -EXPIRED_LINGER_MS ? '-1' : String(Math.floor(Math.max(0, remainingMs) / 1000)), grantedTTL: String(ttlS) };
  };
  return { leaseClient: { leaseTimeToLive } } as unknown as Etcd3;
}

/**
 * Runs `observeHolder` on the mocked clock, `startAfterMs` after the lease
 * `make` makes was granted; resolves with the verdict and the mocked milliseconds it took.
 */
async function observe(t: TestContext, make: () => Etcd3, startAfterMs = 0, cancelled = (): boolean => false): Promise<{ verdict: HolderVerdict; ms: number }> {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const client = make();
  t.mock.timers.tick(startAfterMs);
  const started = Date.now();
  let verdict: HolderVerdict | undefined;
  void observeHolder(() => client, '7', cancelled).then((v) => {
    verdict = v;
  });
  for (let moved = 0; verdict === undefined && moved < 120_000; moved += 10) {
    t.mock.timers.tick(10);
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
  }
  assert.ok(verdict !== undefined, 'observeHolder settled');
  return { verdict, ms: Date.now() - started };
}

test('a lease nobody renews is waited out until it expires: gone, within its TTL', async (t) => {
  const { verdict, ms } = await observe(t, () => fakeLease(3, undefined), 400);
  assert.equal(verdict, 'gone');
  assert.ok(ms <= 3000 + EXPIRED_LINGER_MS, `took ${ms} ms`);
});

for (const [ttl, renew] of [[3, 1000], [1, 333], [30, 10_000], [30, 15_000], [10, 5000]] as const) {
  test(`a lease of ${ttl} s renewed every ${renew} ms is live, told by its next renewal (about a second later at most)`, async (t) => {
    for (const offset of [0, 130, renew / 2, renew - 50]) {
      const { verdict, ms } = await observe(t, () => fakeLease(ttl, renew), offset);
      assert.equal(verdict, 'live', `started ${offset} ms after a renewal`);
      // A 1 s lease shows TTL 0 between renewals: only outliving its TTL by far tells (2 s + revoke lag).
      const bound = Math.max(Math.max(0, renew - offset) + 1600, ttl === 1 ? 4500 : 0);
      assert.ok(ms <= bound, `started ${offset} ms after a renewal: took ${ms} ms, bound ${bound}`);
      t.mock.timers.reset();
    }
  });
}

test('cancelled: live, so that nothing is written', async (t) => {
  let cancel = false;
  const pending = observe(t, () => fakeLease(30, undefined), 0, () => cancel);
  cancel = true;
  assert.equal((await pending).verdict, 'live');
});
