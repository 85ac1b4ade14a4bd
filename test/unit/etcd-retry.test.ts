// The etcd client's retry policy: an attempt that ran out of time is not retried (the call's
// budget is spent), fast failures are; so --etcd-call-timeout bounds a call, retries included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRPCDeadlineExceededError, GRPCUnavailableError, GRPCInvalidArgumentError } from 'etcd3';
import { retryWithinBudget } from '../../src/etcd/client.js';

test('deadline-exceeded attempts are not retried; unavailable ones are; non-recoverable errors never are', () => {
  assert.equal(retryWithinBudget(new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED')), false);
  assert.equal(retryWithinBudget(new GRPCUnavailableError('14 UNAVAILABLE')), true);
  assert.equal(retryWithinBudget(new GRPCInvalidArgumentError('3 INVALID_ARGUMENT')), false);
  assert.equal(retryWithinBudget(new Error('plain')), false);
});
