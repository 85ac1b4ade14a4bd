// The embedded etcd's data dir check has a deadline: a mount that never answers must not hang start-up.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { PreflightError, prepareDataDir, type DataDirFs } from '../../src/etcd/preflight.js';

const never = (): Promise<never> => new Promise<never>(() => undefined);
const HUNG: DataDirFs = { mkdir: never, access: () => Promise.resolve() };

test('a data dir whose mkdir never settles fails start-up after the timeout, with a message naming the dir', async (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  let settled = false;
  const started = prepareDataDir('/mnt/hung/etcd-data', 10_000, undefined, HUNG).finally(() => (settled = true));
  started.catch(() => undefined);
  mock.timers.tick(9_999);
  await Promise.resolve();
  assert.equal(settled, false, 'still waiting 1 ms before the deadline');
  mock.timers.tick(1);
  await assert.rejects(started, (err: unknown) => {
    assert.ok(err instanceof PreflightError);
    assert.equal(err.problem, 'data_dir');
    assert.equal(err.message, 'etcd data dir /mnt/hung/etcd-data did not answer within 10000 ms (a hung mount?)');
    return true;
  });
});

test('a hung data dir check ends at once when start-up is aborted', async (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const abort = new AbortController();
  const started = prepareDataDir('/mnt/hung/etcd-data', 10_000, abort.signal, HUNG);
  abort.abort();
  await assert.rejects(started, /start-up aborted/);
});

test('a data dir that cannot be used fails with the reason, and one that can passes', async () => {
  const denied: DataDirFs = { mkdir: () => Promise.resolve(undefined), access: () => Promise.reject(new Error('EACCES: permission denied')) };
  await assert.rejects(prepareDataDir('/data', 10_000, undefined, denied), (err: unknown) => err instanceof PreflightError && err.problem === 'data_dir'
    && err.message === 'cannot use etcd data dir /data: EACCES: permission denied');
  await prepareDataDir('/data', 10_000, undefined, { mkdir: () => Promise.resolve(undefined), access: () => Promise.resolve() });
});
