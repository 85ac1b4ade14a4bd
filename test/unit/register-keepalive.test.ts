// The lease keeper against a fake etcd lease API: when a lease counts as
// lost, how it is replaced, and that nothing runs after close().
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { LeaseKeeper } from '../../src/register/keepalive.js';
import { LeaseExpiredError } from '../../src/register/errors.js';
import type { LostEvent, RestoredEvent } from '../../src/register/events.js';

/** A fake of `client.leaseClient`: `mode` says whether etcd answers; leases in `gone` answer TTL 0. */
class FakeLeases {
  mode: 'ok' | 'down' = 'ok';
  readonly gone = new Set<string>();
  nextId = 1;
  grants = 0;
  keepAlives = 0;
  revoked: string[] = [];
  openStreams = 0;

  client(): Etcd3 {
    const leaseClient = {
      leaseGrant: async () => {
        if (this.mode === 'down') throw new Error('14 UNAVAILABLE: connect ECONNREFUSED');
        this.grants += 1;
        return { ID: String(this.nextId++), TTL: '1' };
      },
      leaseRevoke: async ({ ID }: { ID: string }) => {
        this.revoked.push(ID);
        return {};
      },
      leaseKeepAlive: async () => {
        if (this.mode === 'down') throw new Error('14 UNAVAILABLE: connect ECONNREFUSED');
        const stream = new EventEmitter() as EventEmitter & { write(r: { ID: string }): void; end(): void; cancel(): void };
        this.openStreams += 1;
        const close = (): void => void (this.openStreams -= 1);
        stream.write = ({ ID }) => {
          this.keepAlives += 1;
          setImmediate(() => stream.emit('data', { ID, TTL: this.gone.has(ID) ? '0' : '1' }));
        };
        stream.end = close;
        stream.cancel = close;
        return stream;
      },
    };
    return { leaseClient } as unknown as Etcd3;
  }
}

/** A keeper on mocked timers and clock: the test moves time with {@link advance}. */
function keeper(t: TestContext, fake: FakeLeases, restore: (id: string) => Promise<number> = async () => 2): { k: LeaseKeeper; lost: LostEvent[]; restored: RestoredEvent[]; errors: Error[] } {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const client = fake.client();
  const k = new LeaseKeeper({ client: () => client, ttlSeconds: 1, callTimeoutMs: 500, checkIntervalMs: 50, retryIntervalMs: 50, restore, countNodes: () => 2 });
  t.after(() => k.close(false));
  const lost: LostEvent[] = [];
  const restored: RestoredEvent[] = [];
  const errors: Error[] = [];
  k.on('lost', (e) => lost.push(e));
  k.on('restored', (e) => restored.push(e));
  k.on('error', (e) => errors.push(e));
  return { k, lost, restored, errors };
}

/**
 * Moves the mocked clock `ms` forward in 10 ms steps; at each, the promise
 * chains the timers started run to their end, and so do the fake's replies
 * (real setImmediate, not mocked).
 */
async function advance(t: TestContext, ms: number): Promise<void> {
  for (let moved = 0; moved < ms; moved += 10) {
    t.mock.timers.tick(10);
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
  }
}

test('renews every interval and stays alive', async (t) => {
  const fake = new FakeLeases();
  const { k, lost } = keeper(t, fake);
  assert.equal(await k.acquire(), '1');
  await advance(t, 300);
  assert.ok(fake.keepAlives >= 4, `keep-alives: ${fake.keepAlives}`);
  assert.equal(k.state, 'alive');
  assert.equal(lost.length, 0);
  await k.close(true);
  assert.deepEqual(fake.revoked, ['1']);
  assert.equal(fake.openStreams, 0, 'every keep-alive stream ended');
});

test('TTL 0 (revoked or expired) means lost at once; a new lease is granted and nodes restored', async (t) => {
  const fake = new FakeLeases();
  const restoredWith: string[] = [];
  const { k, lost, restored } = keeper(t, fake, async (id) => {
    restoredWith.push(id);
    return 2;
  });
  await k.acquire();
  fake.gone.add('1');
  await advance(t, 150);
  assert.equal(lost.length, 1);
  assert.equal(lost[0]?.leaseId, '1');
  assert.ok(lost[0].reason instanceof LeaseExpiredError);
  assert.equal(lost[0].reason.code, 'LEASE_EXPIRED', 'etcd answered: the lease is gone, etcd is not unavailable');
  assert.deepEqual(restoredWith, ['2']);
  assert.equal(restored[0]?.previousLeaseId, '1');
  assert.equal(restored[0].nodes, 2);
  assert.equal(k.leaseId, '2');
  assert.ok(fake.revoked.includes('1'), 'the old lease is revoked');
  await k.close(false);
});

test('failed renewals: lost only once a whole TTL passed without one, then recovered when etcd answers', async (t) => {
  const fake = new FakeLeases();
  const { k, lost, restored, errors } = keeper(t, fake);
  await k.acquire();
  fake.mode = 'down';
  await advance(t, 600);
  assert.equal(lost.length, 0, 'not lost within the TTL');
  assert.ok(errors.length > 0, 'failures reported as errors');
  await advance(t, 600);
  assert.equal(lost.length, 1, 'lost after one TTL');
  assert.equal(k.state, 'lost');
  await assert.rejects(k.acquire(), /UNAVAILABLE/);
  fake.mode = 'ok';
  await advance(t, 150);
  assert.equal(restored.length, 1);
  assert.equal(k.state, 'alive');
  await k.close(false);
});

test('a failed restore keeps the keeper lost and drops the half-used lease', async (t) => {
  const fake = new FakeLeases();
  let fail = true;
  const { k, restored } = keeper(t, fake, async () => {
    if (fail) throw new Error('put failed');
    return 1;
  });
  await k.acquire();
  k.reportInvalid('1', new Error('lease not found'));
  await advance(t, 30);
  assert.equal(k.state, 'lost');
  assert.ok(fake.revoked.includes('2'), 'the lease of the failed restore is revoked');
  fail = false;
  await advance(t, 120);
  assert.equal(k.state, 'alive');
  assert.equal(restored.length, 1);
  await k.close(false);
});

test('after close nothing runs: no timers, no grants, acquire rejects', async (t) => {
  const fake = new FakeLeases();
  const { k } = keeper(t, fake);
  await k.acquire();
  await k.close(false);
  const before = fake.keepAlives;
  await advance(t, 200);
  assert.equal(fake.keepAlives, before);
  await assert.rejects(k.acquire(), { code: 'CLOSED' });
  assert.equal(k.state, 'closed');
});
