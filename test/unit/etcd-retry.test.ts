// The etcd client's retry policy: an attempt that ran out of time is not retried (the call's
// budget is spent), fast failures are; so --etcd-call-timeout bounds a call, retries included.
// The host breaker lets etcd3's nested re-auth call through instead of deadlocking on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokenCircuitError, circuitBreaker, ConsecutiveBreaker, handleWhen, type IPolicy } from 'cockatiel';
import { GRPCDeadlineExceededError, GRPCUnavailableError, GRPCInvalidArgumentError, isRecoverableError } from 'etcd3';
import { BREAKER_HALF_OPEN_MS, hostPolicy, retryWithinBudget } from '../../src/etcd/client.js';

test('deadline-exceeded attempts are not retried; unavailable ones are; non-recoverable errors never are', () => {
  assert.equal(retryWithinBudget(new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED')), false);
  assert.equal(retryWithinBudget(new GRPCUnavailableError('14 UNAVAILABLE')), true);
  assert.equal(retryWithinBudget(new GRPCInvalidArgumentError('3 INVALID_ARGUMENT')), false);
  assert.equal(retryWithinBudget(new Error('plain')), false);
});

/** Opens `policy`'s breaker with three fast failures, then lets its open period pass. */
async function openThenHalfOpen(policy: IPolicy, tick: (ms: number) => void): Promise<void> {
  const unavailable = (): never => {
    throw new GRPCUnavailableError('14 UNAVAILABLE');
  };
  for (let i = 0; i < 3; i++) await assert.rejects(policy.execute(unavailable), GRPCUnavailableError);
  await assert.rejects(policy.execute(() => 'refused while open'), BrokenCircuitError);
  tick(BREAKER_HALF_OPEN_MS);
}

/** Like etcd3's call: the retry starts once the refused attempt's answer arrived, i.e. later, not synchronously. */
function afterAnswer<T>(retry: () => Promise<T>): () => Promise<T> {
  return async () => {
    await Promise.resolve();
    return retry();
  };
}

test('a call made inside the breaker\'s half-open trial (etcd3\'s retry after an expired token) runs through it', async (t) => {
  t.mock.timers.enable({ apis: ['Date'] });
  const policy = hostPolicy();
  await openThenHalfOpen(policy, (ms) => t.mock.timers.tick(ms));
  assert.equal(await policy.execute(afterAnswer(() => policy.execute(() => 'retried'))), 'retried');
  // The trial succeeded: the breaker is closed again and calls go through.
  assert.equal(await policy.execute(() => 'next'), 'next');
});

test('control: the bare breaker never settles that nested call, which is why the host policy guards it', async (t) => {
  t.mock.timers.enable({ apis: ['Date'] });
  const bare = circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: BREAKER_HALF_OPEN_MS, breaker: new ConsecutiveBreaker(3) });
  await openThenHalfOpen(bare, (ms) => t.mock.timers.tick(ms));
  const nested = bare.execute(afterAnswer(() => bare.execute(() => 'retried')));
  // Every promise job has run by the time an immediate fires: a call that could settle would have.
  const settled = await Promise.race([nested.then(() => true), new Promise<false>((resolve) => setImmediate(() => resolve(false)))]);
  assert.equal(settled, false);
});
