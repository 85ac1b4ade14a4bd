// The health gate's verdicts with a scripted probe, and its option checks.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../src/errors.js';
import { HealthGate, validateHealthCheck, type ProbeResult } from '../../src/register/health.js';

/**
 * Runs `n` periodic checks on mocked timers: each tick fires one check, and
 * its probe, action and next schedule (promise chains) run before the next.
 */
async function checks(t: TestContext, intervalMs: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    t.mock.timers.tick(intervalMs);
    await new Promise((r) => setImmediate(r));
  }
}

function scripted(results: boolean[]): () => Promise<ProbeResult> {
  let i = 0;
  return async () => {
    const ok = results[Math.min(i++, results.length - 1)] ?? true;
    return { ok, detail: ok ? 'HTTP 200' : 'HTTP 503' };
  };
}

test('withdrawn after N failures in a row, put back on the first success', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const actions: string[] = [];
  // first check ok, then: fail, ok (streak reset), fail, fail (withdraw), fail, ok (back), ok...
  const gate = new HealthGate(
    validateHealthCheck({ url: 'http://127.0.0.1:1/metrics', intervalMs: 10, failures: 2 }),
    { healthy: async () => void actions.push('healthy'), unhealthy: async (why) => void actions.push(`unhealthy ${why}`), error: (e) => actions.push(`error ${String(e)}`) },
    scripted([true, false, true, false, false, false, true, true]),
  );
  t.after(() => gate.stop());
  assert.equal((await gate.first()).ok, true);
  gate.start();
  await checks(t, 10, 3); // fail, ok, fail: no streak of 2 yet
  assert.deepEqual(actions, []);
  await checks(t, 10, 1); // the second failure in a row
  assert.deepEqual(actions, ['unhealthy HTTP 503']);
  assert.equal(gate.isHealthy, false);
  await checks(t, 10, 2); // fail again (already withdrawn: no action), then ok
  assert.deepEqual(actions, ['unhealthy HTTP 503', 'healthy']);
  await checks(t, 10, 5); // healthy stays healthy: no action
  gate.stop();
  assert.deepEqual(actions, ['unhealthy HTTP 503', 'healthy']);
  assert.equal(gate.isHealthy, true);
});

test('unhealthy at the first check: the first success is what registers it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const actions: string[] = [];
  const gate = new HealthGate(
    validateHealthCheck({ url: 'http://127.0.0.1:1/metrics', intervalMs: 10, failures: 3 }),
    { healthy: async () => void actions.push('healthy'), unhealthy: async () => void actions.push('unhealthy'), error: () => undefined },
    scripted([false, false, true]),
  );
  t.after(() => gate.stop());
  assert.equal((await gate.first()).ok, false);
  assert.equal(gate.isHealthy, false);
  gate.start();
  await checks(t, 10, 1); // still failing: nothing to withdraw, nothing to put
  assert.deepEqual(actions, []);
  await checks(t, 10, 1);
  assert.deepEqual(actions, ['healthy']);
  await checks(t, 10, 5);
  gate.stop();
  assert.deepEqual(actions, ['healthy']);
});

test('a failing action is reported and the gate goes on', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const errors: unknown[] = [];
  let calls = 0;
  let healthyCalls = 0;
  const gate = new HealthGate(
    validateHealthCheck({ url: 'http://127.0.0.1:1/', intervalMs: 10, failures: 1 }),
    { healthy: async () => void (healthyCalls += 1), unhealthy: async () => { calls += 1; throw new Error('etcd down'); }, error: (e) => errors.push(e) },
    scripted([true, false, false, true]),
  );
  t.after(() => gate.stop());
  await gate.first();
  gate.start();
  await checks(t, 10, 2);
  assert.equal(calls, 1);
  assert.equal(errors.length, 1);
  await checks(t, 10, 1); // the gate went on after the failed action: the recovery is acted on
  gate.stop();
  assert.equal(healthyCalls, 1);
  assert.equal(calls, 1);
  assert.equal(errors.length, 1);
});

test('options are checked and defaulted', () => {
  const v = validateHealthCheck({ url: 'https://user:pw@127.0.0.1:9100/metrics' });
  assert.equal(v.intervalMs, 10_000);
  assert.equal(v.timeoutMs, 5000);
  assert.equal(v.failures, 3);
  assert.equal(validateHealthCheck({ url: 'http://127.0.0.1/', intervalMs: 1000 }).timeoutMs, 1000);
  const bad: [Record<string, unknown>, string][] = [
    [{ url: 'ftp://x' }, 'healthCheck.url'],
    [{ url: 'not a url' }, 'healthCheck.url'],
    [{ url: 'http://x', intervalMs: 0 }, 'healthCheck.intervalMs'],
    [{ url: 'http://x', failures: 1.5 }, 'healthCheck.failures'],
    [{ url: 'http://x', timeoutMs: -1 }, 'healthCheck.timeoutMs'],
    [{ url: 'http://x', unhealthyStatus: '' }, 'healthCheck.unhealthyStatus'],
  ];
  for (const [opts, field] of bad) {
    assert.throws(() => validateHealthCheck(opts as never), (err: unknown) => err instanceof InvalidArgumentError && err.field === field, field);
  }
});
