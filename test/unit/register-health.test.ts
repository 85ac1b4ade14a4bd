// The health gate's verdicts with a scripted probe, and its option checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../src/errors.js';
import { HealthGate, validateHealthCheck, type ProbeResult } from '../../src/register/health.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function scripted(results: boolean[]): () => Promise<ProbeResult> {
  let i = 0;
  return async () => {
    const ok = results[Math.min(i++, results.length - 1)] ?? true;
    return { ok, detail: ok ? 'HTTP 200' : 'HTTP 503' };
  };
}

test('withdrawn after N failures in a row, put back on the first success', async (t) => {
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
  await sleep(200);
  gate.stop();
  assert.deepEqual(actions, ['unhealthy HTTP 503', 'healthy']);
  assert.equal(gate.isHealthy, true);
});

test('unhealthy at the first check: the first success is what registers it', async (t) => {
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
  await sleep(100);
  gate.stop();
  assert.deepEqual(actions, ['healthy']);
});

test('a failing action is reported and the gate goes on', async (t) => {
  const errors: unknown[] = [];
  let calls = 0;
  const gate = new HealthGate(
    validateHealthCheck({ url: 'http://127.0.0.1:1/', intervalMs: 10, failures: 1 }),
    { healthy: async () => undefined, unhealthy: async () => { calls += 1; throw new Error('etcd down'); }, error: (e) => errors.push(e) },
    scripted([true, false, false]),
  );
  t.after(() => gate.stop());
  await gate.first();
  gate.start();
  await sleep(80);
  gate.stop();
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
