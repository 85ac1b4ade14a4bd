// `register`'s flags → configuration, without etcd or a process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { networkInterfaces } from 'node:os';
import { ConfigError } from '../../src/errors.js';
import { UsageError } from '../../src/config/flags.js';
import { isLoopback, loadRegisterConfig, normalHost, primaryAddress, type SystemInfo } from '../../src/cli/register.js';
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
  assert.equal(c.takeover, false);
  assert.equal(c.metricsListen, undefined);
});

test('flags and environment variables set every field', () => {
  const c = loadRegisterConfig(
    [...REQUIRED, '--id', 'n1', '--address', '[::1]:9100', '--metrics-path', '/m', '--label', 'a=1', '--label', 'b=x=y', '--ttl', '1m',
      '--check-url', 'http://[::1]:9100/metrics', '--takeover', '--metrics-listen', '127.0.0.1:9101', '--check-interval', '5s', '--check-failures', '2', '--unhealthy-status', 'down'],
    { ETCD_HTTP_SD_ETCD_ENDPOINTS: 'http://etcd:2379', ETCD_HTTP_SD_STATUS: 'maintenance', ETCD_HTTP_SD_LOG_LEVEL: 'debug' },
    noFile,
    SYSTEM,
  );
  assert.deepEqual(c.node, { group: 'web', id: 'n1', exporterType: 'node_exporter', port: 9100, metricsPath: '/m', labels: { a: '1', b: 'x=y' }, status: 'maintenance', address: '[::1]:9100' });
  assert.equal(c.ttlSeconds, 60);
  assert.deepEqual(c.healthCheck, { url: 'http://[::1]:9100/metrics', intervalMs: 5000, failures: 2, unhealthyStatus: 'down' });
  assert.equal(c.takeover, true);
  assert.deepEqual(c.metricsListen, { host: '127.0.0.1', port: 9101 });
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

test('with --check-url, the host registered defaults to the host checked', () => {
  const host = (url: string): string | undefined => loadRegisterConfig([...REQUIRED, '--check-url', url], {}, noFile, SYSTEM).node.host;
  assert.equal(host('http://127.0.0.1:9100/metrics'), '127.0.0.1');
  assert.equal(host('https://user:pw@exporter.example:9100/metrics'), 'exporter.example');
  assert.equal(host('http://[::1]:9100/metrics'), '[::1]');
});

test('a --host or --address other than the host --check-url checks is refused, naming both', () => {
  const problem = (argv: string[], env: Record<string, string> = {}): ConfigError => {
    try {
      loadRegisterConfig([...REQUIRED, ...argv], env, noFile, SYSTEM);
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    assert.fail(`accepted ${argv.join(' ')}`);
  };
  const host = problem(['--host', '10.1.2.3', '--check-url', 'http://u:secret@127.0.0.1:9100/metrics']);
  assert.equal(host.setting, '--host');
  assert.match(host.message, /^--host: "10\.1\.2\.3" is not the host --check-url checks \("127\.0\.0\.1"\)/);
  assert.match(host.message, /http:\/\/10\.1\.2\.3:9100\/metrics/, 'says which check URL would fit');
  assert.doesNotMatch(host.message, /secret/, 'never the URL\'s password');
  assert.equal(problem(['--address', '10.1.2.3:9100', '--check-url', 'http://127.0.0.1:9100/']).setting, '--address');
  assert.equal(problem(['--check-url', 'http://127.0.0.1:9100/'], { ETCD_HTTP_SD_HOST: '10.1.2.3' }).setting, 'ETCD_HTTP_SD_HOST');
  // Names are not resolved: where they point may differ here and at Prometheus.
  assert.match(problem(['--host', 'localhost', '--check-url', 'http://127.0.0.1:9100/']).message, /"localhost" is not the host --check-url checks/);
  // The same host written another way is the same host; the port may differ (a separate health endpoint).
  for (const [flag, given, url] of [['--host', '::1', 'http://[0:0::1]:9100/'], ['--host', '127.0.0.1', 'http://127.1:8080/health'], ['--host', 'Exporter', 'http://exporter:9100/'], ['--address', '[::1]:9100', 'http://[::1]/']] as const) {
    assert.doesNotThrow(() => loadRegisterConfig([...REQUIRED, flag, given, '--check-url', url], {}, noFile, SYSTEM), `${given} vs ${url}`);
  }
});

test('--metrics-listen is checked like every listen address, naming the flag', () => {
  assert.throws(() => loadRegisterConfig([...REQUIRED, '--metrics-listen', '9101'], {}, noFile, SYSTEM), /^ConfigError: --metrics-listen: expected host:port, :port or \[ipv6\]:port/);
  assert.deepEqual(loadRegisterConfig([...REQUIRED, '--metrics-listen', ':9101'], {}, noFile, SYSTEM).metricsListen, { host: '0.0.0.0', port: 9101 });
});

test('hosts compare by value; loopback is told apart', () => {
  assert.equal(normalHost('[0:0:0::1]'), normalHost('::1'));
  assert.equal(normalHost('EXAMPLE.org'), 'example.org');
  for (const h of ['127.0.0.1', '127.8.0.2', '::1', '[::1]', 'localhost']) assert.ok(isLoopback(h), h);
  for (const h of ['10.1.2.3', 'example.org', '::2']) assert.ok(!isLoopback(h), h);
});
