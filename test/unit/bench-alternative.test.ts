// How the benchmark treats the etcd-per-request alternative, which at 1,000,000 nodes takes ~30 s
// per full body: measured under wrk only while a request is short enough, and waited for until it
// has finished the requests wrk gave up on. Busy, it may not answer even /healthz for a minute:
// that is "not drained yet", never an error that loses the rest of the benchmark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ALTERNATIVE_ONE_REQUEST_MS, drained, planAlternative } from '../bench/throughput.js';

async function serve(answer: (n: number, res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  let n = 0;
  const server = createServer((_req, res) => answer(n++, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

test('drained once /healthz says no request is in progress, asking again while it says some are', async () => {
  const { url, server } = await serve((n, res) => res.end(n < 2 ? '1' : '0'));
  try {
    assert.equal(await drained(url, 5000), true);
  } finally {
    await stop(server);
  }
});

test('a /healthz answered late is waited for, not given up on', async () => {
  const { url, server } = await serve((n, res) => {
    if (n === 0) setTimeout(() => res.end('1'), 300);
    else res.end('0');
  });
  try {
    assert.equal(await drained(url, 5000), true);
  } finally {
    await stop(server);
  }
});

test('a server that never answers, or is gone, is not drained: false at the deadline, not an error', async () => {
  const hung = await serve(() => undefined);
  try {
    assert.equal(await drained(hung.url, 300), false);
  } finally {
    await stop(hung.server);
  }
  assert.equal(await drained(hung.url, 300), false, 'refused connections');
});

test('the alternative is run under wrk as usual, once for slow requests, and not at all past the bound', () => {
  const opts = { runs: 3, durationMs: 10_000, connections: 8 };
  assert.deepEqual(planAlternative(2_000, opts), opts);
  assert.deepEqual(planAlternative(4_000, opts), { runs: 1, durationMs: 12_000, connections: 2 });
  assert.deepEqual(planAlternative(ALTERNATIVE_ONE_REQUEST_MS, opts), { runs: 1, durationMs: 45_000, connections: 2 });
  assert.equal(planAlternative(ALTERNATIVE_ONE_REQUEST_MS + 1, opts).runs, 0, 'a 1M-node full body is not run under wrk');
});
