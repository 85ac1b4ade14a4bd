// Etcd over TLS with client certificates (made here with openssl). The server and the register
// CLI both work; a wrong CA fails with a message that names the certificate problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createEtcdClient } from '../../src/etcd/client.js';
import { formatGoTime, formatNodeDocument } from '../../src/registry/index.js';
import { spawnCli } from '../helpers/cli.js';
import { useTestCerts, type TestCerts } from '../helpers/certs.js';
import { useTestCluster } from '../helpers/cluster.js';
import { waitForConvergence } from '../helpers/converge.js';
import { eventually, httpGet, targets, useTestServer } from '../helpers/server.js';

const node = (id: string): string =>
  formatNodeDocument({ id, exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: {}, status: 'healthy', lastSeen: formatGoTime(new Date()) });

const tlsArgs = (c: TestCerts, ca = c.caFile): string[] => ['--etcd-ca-file', ca, '--etcd-cert-file', c.clientCertFile, '--etcd-key-file', c.clientKeyFile];
const CERT_WORDS = /certificate|tls|ssl|handshake/i;

interface LogLine {
  level: string;
  msg: string;
  error?: string;
}
const parse = (lines: readonly string[]): LogLine[] => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);

test('TLS with client certificates: the server mirrors etcd, register registers and deregisters', { timeout: 120_000 }, async (t) => {
  const certs = await useTestCerts(t);
  const cluster = await useTestCluster(t, { size: 1, tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, trustedCaFile: certs.caFile } });
  const endpoint = cluster.endpoints[0]!;
  assert.match(endpoint, /^https:\/\//);
  const client = createEtcdClient({
    endpoints: [endpoint], callTimeoutMs: 5000,
    tls: { ca: readFileSync(certs.caFile), cert: readFileSync(certs.clientCertFile), key: readFileSync(certs.clientKeyFile) },
  });
  t.after(() => client.close());
  for (let i = 0; i < 5; i++) await client.put(`/services/tls/nodes/n${i}_node_exporter`).value(node(`n${i}`));

  const server = await useTestServer(t, endpoint, { args: tlsArgs(certs) });
  await waitForConvergence(server, client, '/services', 30_000);
  const put = await client.put('/services/tls/nodes/late_node_exporter').value(node('late')).exec();
  await eventually('a change over the TLS watch', async () => ((await targets(server)).revision >= Number(put.header.revision) ? true : undefined), 15_000);
  assert.equal((await targets(server)).groups.length, 6);

  const reg = spawnCli(t, ['register', '--etcd-endpoints', endpoint, ...tlsArgs(certs), '--group', 'reg', '--id', 'r1',
    '--exporter-type', 'node_exporter', '--port', '9100', '--host', '127.0.0.1', '--ttl', '5s']);
  await eventually('the registered node to be served', async () => ((await targets(server, '/v1/targets/reg')).groups.length === 1 ? true : undefined), 20_000, 100)
    .catch((err: unknown) => assert.fail(`${String(err)}\nregister stderr:\n${reg.stderr()}`));
  reg.child.kill('SIGTERM');
  assert.equal(await reg.exited, 0, reg.stderr());
  await eventually('the node to be gone after deregistration', async () => ((await targets(server, '/v1/targets/reg')).groups.length === 0 ? true : undefined), 10_000, 100);
});

test('TLS with the wrong CA: /readyz stays 503 and the logs name the certificate problem', { timeout: 120_000 }, async (t) => {
  const certs = await useTestCerts(t);
  const cluster = await useTestCluster(t, { size: 1, tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, trustedCaFile: certs.caFile } });
  const endpoint = cluster.endpoints[0]!;
  const logLines: string[] = [];
  const server = await useTestServer(t, endpoint, { args: tlsArgs(certs, certs.otherCaFile), logLines });
  const warned = await eventually('a warning that names the certificate problem', () =>
    parse(logLines).find((l) => (l.level === 'warn' || l.level === 'error') && CERT_WORDS.test(`${l.msg} ${l.error ?? ''}`)), 20_000, 100)
    .catch((err: unknown) => assert.fail(`${String(err)}\nlogs:\n${logLines.slice(-10).join('\n')}`));
  t.diagnostic(`server: ${JSON.stringify(warned)}`);
  const ready = await httpGet(`${server.url}/readyz`);
  assert.equal(ready.status, 503);
  assert.equal((await httpGet(`${server.url}/v1/targets`)).status, 503);

  const reg = spawnCli(t, ['register', '--etcd-endpoints', endpoint, ...tlsArgs(certs, certs.otherCaFile), '--group', 'reg', '--id', 'r1',
    '--exporter-type', 'node_exporter', '--port', '9100', '--host', '127.0.0.1', '--ttl', '5s']);
  const regLine = await eventually('register to log the certificate problem', () =>
    parse(reg.stderr().split('\n')).find((l) => (l.level === 'warn' || l.level === 'error') && CERT_WORDS.test(`${l.msg} ${l.error ?? ''}`)), 20_000, 100)
    .catch((err: unknown) => assert.fail(`${String(err)}\nregister stderr:\n${reg.stderr().slice(-3000)}`));
  t.diagnostic(`register: ${JSON.stringify(regLine)}`);
  reg.child.kill('SIGTERM');
  await reg.exited;
});
