// The benchmark waits for the etcd-per-request alternative to finish the requests wrk gave up on.
// At 1,000,000 nodes it may not answer even /healthz for a minute: that is "not drained yet",
// never an error that loses the rest of the benchmark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { drained } from '../bench/throughput.js';

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
