// `register`'s flags → configuration, without etcd or a process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { networkInterfaces } from 'node:os';
import { ConfigError } from '../../src/errors.js';
import { UsageError } from '../../src/config/flags.js';
import { loadRegisterConfig, primaryAddress, type SystemInfo } from '../../src/cli/register.js';
import { maskedGroup } from '../../src/cli/group.js';

const IFACES = {
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
  eth0: [
    { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
    { address: '10.1.2.3', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '10.1.2.3/24' },
  ],
} as ReturnType<typeof networkInterfaces>;

const SYSTEM: SystemInfo = { hostname: () => 'box-7', interfaces: () => IFACES };
const noFile = (): Buffer => {
  throw new Error('no files in this test');
};
const REQUIRED = ['--group', 'web', '--exporter-type', 'node_exporter', '--port', '9100'];

test('defaults: id is the hostname, host the first non-internal IPv4, ttl 30 s, endpoint 127.0.0.1:2379', () => {
  const c = loadRegisterConfig(REQUIRED, {}, noFile, SYSTEM);
  assert.deepEqual(c.node, { group: 'web', id: 'box-7', exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: {}, status: 'healthy', host: '10.1.2.3' });
  assert.equal(c.ttlSeconds, 30);
  assert.deepEqual(c.etcd.endpoints, ['http://127.0.0.1:2379']);
  assert.equal(c.etcd.prefix, '/services');
  assert.equal(c.healthCheck, undefined);
  assert.equal(c.logLevel, 'info');
});

test('flags and environment variables set every field', () => {
  const c = loadRegisterConfig(
    [...REQUIRED, '--id', 'n1', '--address', '[::1]:9100', '--metrics-path', '/m', '--label', 'a=1', '--label', 'b=x=y', '--ttl', '1m',
      '--check-url', 'http://127.0.0.1:9100/metrics', '--check-interval', '5s', '--check-failures', '2', '--unhealthy-status', 'down'],
    { ETCD_HTTP_SD_ETCD_ENDPOINTS: 'http://etcd:2379', ETCD_HTTP_SD_STATUS: 'maintenance', ETCD_HTTP_SD_LOG_LEVEL: 'debug' },
    noFile,
    SYSTEM,
  );
  assert.deepEqual(c.node, { group: 'web', id: 'n1', exporterType: 'node_exporter', port: 9100, metricsPath: '/m', labels: { a: '1', b: 'x=y' }, status: 'maintenance', address: '[::1]:9100' });
  assert.equal(c.ttlSeconds, 60);
  assert.deepEqual(c.healthCheck, { url: 'http://127.0.0.1:9100/metrics', intervalMs: 5000, failures: 2, unhealthyStatus: 'down' });
  assert.deepEqual(c.etcd.endpoints, ['http://etcd:2379']);
  assert.equal(c.logLevel, 'debug');
});

test('errors name the flag or variable as the user wrote it', () => {
  const where = (argv: string[], env: Record<string, string> = {}): string => {
    try {
      loadRegisterConfig(argv, env, noFile, SYSTEM);
    } catch (err) {
      if (err instanceof ConfigError) return err.setting;
      if (err instanceof UsageError) return err.flag;
      throw err;
    }
    return 'no error';
  };
  assert.equal(where(['--port', '9100', '--group', 'web']), '--exporter-type');
  assert.equal(where([...REQUIRED, '--metrics-path', 'metrics']), '--metrics-path');
  assert.equal(where([...REQUIRED, '--status', 'two words']), '--status');
  assert.equal(where([...REQUIRED, '--check-url', 'http://x', '--check-failures', '0']), '--check-failures');
  assert.equal(where([...REQUIRED, '--log-level', 'loud']), '--log-level');
  assert.equal(where([...REQUIRED, 'extra']), '"extra"');
  assert.equal(where(REQUIRED, { ETCD_HTTP_SD_ID: 'a/b' }), 'ETCD_HTTP_SD_ID');
});

test('primaryAddress falls back to the hostname without a non-internal IPv4', () => {
  assert.equal(primaryAddress(IFACES, 'h'), '10.1.2.3');
  assert.equal(primaryAddress({ lo: IFACES['lo'] ?? [] }, 'h'), 'h');
});

test('printed groups never show the password', () => {
  const g = { name: 'web', username: 'u', password: 'pw', commonLabels: { a: 'b' }, created: 'c', modRevision: 1 };
  assert.deepEqual(maskedGroup(g), { name: 'web', username: 'u', password: '********', common_labels: { a: 'b' }, created: 'c' });
  assert.equal(maskedGroup({ ...g, password: '' })['password'], '');
});
