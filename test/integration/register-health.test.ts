// The health gate against a real etcd and a real (tiny) exporter on
// 127.0.0.1 that the test stops and starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient, type WithdrawnEvent } from '../../src/register/index.js';
import { useTestEtcd, type CleanupContext } from '../helpers/etcd.js';
import { eventually } from '../helpers/server.js';

const INTERVAL_MS = 200;
const FAILURES = 2;

/** A fake exporter: `/metrics` answers 200 while `status` says so. */
interface Exporter {
  readonly port: number;
  status: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

async function useExporter(t: CleanupContext): Promise<Exporter> {
  let server: Server | undefined;
  const make = (): Server => createServer((req, res) => {
    res.writeHead(req.url === '/metrics' ? exporter.status : 404, { 'content-type': 'text/plain' });
    res.end('up 1\n');
  });
  const exporter: Exporter = {
    port: 0,
    status: 200,
    async stop() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async start() {
      server = make();
      (exporter as { port: number }).port = await listen(server, exporter.port);
    },
  };
  await exporter.start();
  t.after(() => exporter.stop());
  return exporter;
}

async function keyExists(client: RegistryClient, key: string): Promise<string | undefined> {
  return (await client.etcd.get(key).string()) ?? undefined;
}

function useClient(t: CleanupContext, endpoint: string): RegistryClient {
  const client = new RegistryClient({ endpoints: [endpoint], ttlSeconds: 5 });
  t.after(() => client.close().catch(() => undefined));
  return client;
}

test('health gate: the node goes when the exporter stops and returns when it starts', async (t) => {
  const etcd = await useTestEtcd(t);
  const exporter = await useExporter(t);
  const client = useClient(t, etcd.endpoint);
  const withdrawn: WithdrawnEvent[] = [];
  let registered = 0;
  client.on('withdrawn', (e) => withdrawn.push(e));
  client.on('registered', () => (registered += 1));
  const url = `http://127.0.0.1:${exporter.port}/metrics`;
  const node = await client.register(
    { group: 'web', id: 'h1', exporterType: 'node_exporter', port: exporter.port, host: '127.0.0.1' },
    { healthCheck: { url, intervalMs: INTERVAL_MS, failures: FAILURES } },
  );
  assert.ok(await keyExists(client, node.key), 'registered while healthy');
  assert.equal(registered, 1);

  // The events are the contract: each fires once etcd already shows it. So
  // wait for the event, then read etcd (the other order races the client
  // that has yet to see its own delete answered).
  const stoppedAt = Date.now();
  const gone = once(client, 'withdrawn', { signal: AbortSignal.timeout(5000) });
  await exporter.stop();
  await gone;
  t.diagnostic(`withdrawn ${Date.now() - stoppedAt} ms after the exporter stopped (interval ${INTERVAL_MS} ms, ${FAILURES} failures)`);
  assert.equal(await keyExists(client, node.key), undefined, 'key deleted when withdrawn fires');
  assert.equal(node.state, 'withdrawn');
  assert.equal(withdrawn.length, 1);
  assert.equal(withdrawn[0]?.action, 'removed');
  assert.match(withdrawn[0].reason, /ECONNREFUSED/);

  const startedAt = Date.now();
  const back = once(client, 'registered', { signal: AbortSignal.timeout(5000) });
  await exporter.start();
  await back;
  t.diagnostic(`registered again ${Date.now() - startedAt} ms after the exporter started`);
  assert.ok(await keyExists(client, node.key), 'key written when registered fires');
  assert.equal(node.state, 'registered');
  assert.equal(registered, 2);
});

test('health gate: an exporter down at start-up is registered only once it answers; 5xx counts as down', async (t) => {
  const etcd = await useTestEtcd(t);
  const exporter = await useExporter(t);
  exporter.status = 503;
  const client = useClient(t, etcd.endpoint);
  const node = await client.register(
    { group: 'web', id: 'h2', exporterType: 'node_exporter', port: exporter.port, host: '127.0.0.1' },
    { healthCheck: { url: `http://127.0.0.1:${exporter.port}/metrics`, intervalMs: INTERVAL_MS, failures: FAILURES } },
  );
  assert.equal(node.state, 'withdrawn');
  assert.equal(await keyExists(client, node.key), undefined, 'not written while unhealthy');
  exporter.status = 200;
  await eventually('node written', async () => ((await keyExists(client, node.key)) !== undefined ? true : undefined), 5000);
});

test('health gate with unhealthyStatus: the node stays, its status is marked, then restored', async (t) => {
  const etcd = await useTestEtcd(t);
  const exporter = await useExporter(t);
  const client = useClient(t, etcd.endpoint);
  const node = await client.register(
    { group: 'web', id: 'h3', exporterType: 'node_exporter', port: exporter.port, host: '127.0.0.1', status: 'healthy' },
    { healthCheck: { url: `http://127.0.0.1:${exporter.port}/metrics`, intervalMs: INTERVAL_MS, failures: FAILURES, unhealthyStatus: 'unhealthy' } },
  );
  const status = async (): Promise<string | undefined> => {
    const v = await keyExists(client, node.key);
    return v === undefined ? undefined : String((JSON.parse(v) as { status: unknown }).status);
  };
  assert.equal(await status(), 'healthy');
  await exporter.stop();
  await eventually('marked', async () => ((await status()) === 'unhealthy' ? true : undefined), 5000);
  await exporter.start();
  await eventually('healthy again', async () => ((await status()) === 'healthy' ? true : undefined), 5000);
});
