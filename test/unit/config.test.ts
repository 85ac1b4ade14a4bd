import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import {
  ETCD_CONNECTION_FLAGS,
  SERVE_FLAGS,
  UsageError,
  formatHelp,
  loadEtcdConnection,
  loadServeConfig,
  parseConfigDocument,
  parseConfigFile,
  type Env,
} from '../../src/config/index.js';

/** An in-memory readFile: missing files fail like fs.readFileSync. */
function files(contents: Record<string, string> = {}): (path: string) => Buffer {
  return (path) => {
    const text = contents[path];
    if (text === undefined) {
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    }
    return Buffer.from(text);
  };
}

function load(argv: string[], env: Env = {}, fs: Record<string, string> = {}) {
  return loadServeConfig(argv, env, files(fs));
}

/** Asserts `fn` throws a ConfigError for `setting` whose message matches every pattern. */
function configError(fn: () => unknown, setting: string, ...patterns: RegExp[]): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.setting, setting, err.message);
    assert.equal(err.code, 'CONFIG_INVALID');
    for (const p of patterns) assert.match(err.message, p);
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('defaults', () => {
  const c = load([]);
  assert.deepEqual(c, {
    listen: { host: '127.0.0.1', port: 9911 },
    logLevel: 'info',
    etcd: { endpoints: [], prefix: '/services', callTimeoutMs: 5000 },
    embeddedEtcd: { binary: 'etcd', dataDir: './etcd-data', clientPort: 2379, peerPort: 2380 },
    cacheMaxBytes: 67108864,
    httpWriteTimeoutMs: 30000,
    maxConnections: 1024,
    maxPendingResponseBytes: 268435456,
    documentLimits: { maxDocumentBytes: 1572864, maxLabels: 128, maxLabelBytes: 4096 },
    labelPolicy: { protectedLabels: ['job'], setting: '--protected-labels (default job)' },
  });
  assert.ok(!('configFile' in c));
});

test('precedence: flag > environment > file > default', () => {
  const fs = { 'c.yml': 'etcd:\n  prefix: /file\nlog_level: warn\n' };
  const env = { ETCD_HTTP_SD_CONFIG: 'c.yml', ETCD_HTTP_SD_ETCD_PREFIX: '/env' };
  assert.equal(load(['--etcd-prefix', '/flag'], env, fs).etcd.prefix, '/flag');
  assert.equal(load([], env, fs).etcd.prefix, '/env');
  assert.equal(load(['--config', 'c.yml'], {}, fs).etcd.prefix, '/file');
  assert.equal(load([], env, fs).logLevel, 'warn');
  assert.equal(load([], env, fs).configFile, 'c.yml');
  assert.equal(load(['--log-level=debug'], env, fs).logLevel, 'debug');
  // An empty variable counts as unset.
  assert.equal(load([], { ...env, ETCD_HTTP_SD_ETCD_PREFIX: '' }, fs).etcd.prefix, '/file');
});

test('a complete YAML file', () => {
  const yml = [
    'listen: ":8080"',
    'log_level: debug',
    'etcd:',
    '  endpoints: [https://e1:2379, "https://e2:2379/"]',
    '  prefix: /reg/',
    '  username: sd',
    '  password_file: pw',
    '  call_timeout: 1m30s',
    '  tls: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}',
    'embedded_etcd: {binary: /opt/etcd, data_dir: /var/etcd, client_port: 3379, peer_port: 3380}',
    'cache:',
    '  max_bytes: 1024',
  ].join('\n');
  const fs = { 'c.yml': yml, pw: 'hunter2\n', 'ca.pem': 'CA', 'c.pem': 'CERT', 'k.pem': 'KEY' };
  const c = load(['--config=c.yml'], {}, fs);
  assert.deepEqual(c.listen, { host: '0.0.0.0', port: 8080 });
  assert.equal(c.logLevel, 'debug');
  assert.deepEqual(c.etcd.endpoints, ['https://e1:2379', 'https://e2:2379']);
  assert.equal(c.etcd.prefix, '/reg');
  assert.equal(c.etcd.username, 'sd');
  assert.equal(c.etcd.password, 'hunter2');
  assert.equal(c.etcd.callTimeoutMs, 90_000);
  assert.equal(c.etcd.tls?.ca?.toString(), 'CA');
  assert.equal(c.etcd.tls.cert?.toString(), 'CERT');
  assert.equal(c.etcd.tls.key?.toString(), 'KEY');
  assert.deepEqual(c.embeddedEtcd, { binary: '/opt/etcd', dataDir: '/var/etcd', clientPort: 3379, peerPort: 3380 });
  assert.equal(c.cacheMaxBytes, 1024);
});

test('the result is deeply frozen', () => {
  const c = load(['--etcd-endpoints', 'http://a:1']);
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.listen));
  assert.ok(Object.isFrozen(c.etcd));
  assert.ok(Object.isFrozen(c.etcd.endpoints));
  assert.ok(Object.isFrozen(c.embeddedEtcd));
  assert.throws(() => {
    (c.listen as { port: number }).port = 1;
  }, TypeError);
  assert.throws(() => (c.etcd.endpoints as string[]).push('x'), TypeError);
});

test('listen accepts host:port, :port and [v6]:port', () => {
  assert.deepEqual(load(['--listen', 'localhost:80']).listen, { host: 'localhost', port: 80 });
  assert.deepEqual(load(['--listen', ':9000']).listen, { host: '0.0.0.0', port: 9000 });
  assert.deepEqual(load(['--listen', '[::1]:0']).listen, { host: '::1', port: 0 });
  for (const bad of ['9911', 'host:65536', 'host:', '::1:80', 'a b:1']) {
    configError(() => load(['--listen', bad]), '--listen', /expected host:port/, new RegExp(JSON.stringify(bad).replace(/[[\]]/g, '\\$&')));
  }
});

test('durations from flag, environment and file', () => {
  assert.equal(load(['--etcd-call-timeout', '500ms']).etcd.callTimeoutMs, 500);
  assert.equal(load([], { ETCD_HTTP_SD_ETCD_CALL_TIMEOUT: '2m' }).etcd.callTimeoutMs, 120_000);
  assert.throws(() => load(['--etcd-call-timeout', '5']), UsageError);
  configError(() => load([], { ETCD_HTTP_SD_ETCD_CALL_TIMEOUT: 'soon' }), 'ETCD_HTTP_SD_ETCD_CALL_TIMEOUT', /expected a duration/, /"soon"/);
  configError(
    () => load(['--config', 'c.yml'], {}, { 'c.yml': 'etcd:\n  call_timeout: 5\n' }),
    'c.yml:2:3: etcd.call_timeout',
    /got 5 \(quote it with its unit/,
  );
  configError(() => load(['--etcd-call-timeout', '0']), '--etcd-call-timeout', /more than 0/);
});

test('endpoints: list flag, env, YAML list or comma string; validated', () => {
  assert.deepEqual(load(['--etcd-endpoints', 'http://a:1,http://b:2']).etcd.endpoints, ['http://a:1', 'http://b:2']);
  assert.deepEqual(load([], { ETCD_HTTP_SD_ETCD_ENDPOINTS: 'http://a:1' }).etcd.endpoints, ['http://a:1']);
  const fs = { 'c.yml': 'etcd:\n  endpoints: "http://a:1, http://[::1]:2"\n' };
  assert.deepEqual(load(['--config', 'c.yml'], {}, fs).etcd.endpoints, ['http://a:1', 'http://[::1]:2']);
  configError(() => load(['--etcd-endpoints', 'a:2379']), '--etcd-endpoints', /"a:2379" is not an etcd endpoint/, /http:\/\/host:port/);
  configError(() => load(['--etcd-endpoints', 'http://a']), '--etcd-endpoints', /"http:\/\/a"/);
  configError(() => load(['--etcd-endpoints', 'http://a:1/x']), '--etcd-endpoints', /not an etcd endpoint/);
  configError(() => load(['--etcd-endpoints', 'http://a:1,https://b:2']), '--etcd-endpoints', /mixes http:\/\/ and https:\/\//);
  configError(
    () => load(['--config', 'c.yml'], {}, { 'c.yml': 'etcd:\n  endpoints: [1, 2]\n' }),
    'c.yml:2:3: etcd.endpoints',
    /expected a comma-separated list, got \[1,2\]/,
  );
});

test('prefix: normalised and validated, with the file position in errors', () => {
  assert.equal(load(['--etcd-prefix', '/a/b/']).etcd.prefix, '/a/b');
  // Every base path the Go library can use, cleaned as its path.Join cleans it.
  const cleaned: [string, string][] = [
    ['services', 'services'], ['/services/', '/services'], ['//services', '/services'], ['/a//b/./c/../d/', '/a/b/d'],
    ['services/', 'services'], ['/', ''], ['/..', ''], ['../x', '../x'],
  ];
  for (const [raw, prefix] of cleaned) assert.equal(load(['--etcd-prefix', raw]).etcd.prefix, prefix, raw);
  configError(() => load(['--etcd-prefix', '.']), '--etcd-prefix', /cleans to "\."/);
  configError(() => load(['--etcd-prefix', '/a b']), '--etcd-prefix', /whitespace/);
  const fs = { 'config.yml': 'listen: 127.0.0.1:1\netcd:\n  prefix: "./"\n' };
  const err = configError(() => load(['--config', 'config.yml'], {}, fs), 'config.yml:3:3: etcd.prefix');
  assert.match(err.message, /^config\.yml:3:3: etcd\.prefix: must name a key prefix/);
});

test('every bad value names its setting as written', () => {
  const cases: [string[], Env, string, RegExp][] = [
    [['--log-level', 'loud'], {}, '--log-level', /one of debug, info, warn, error, got "loud"/],
    [[], { ETCD_HTTP_SD_LOG_LEVEL: 'loud' }, 'ETCD_HTTP_SD_LOG_LEVEL', /"loud"/],
    [[], { ETCD_HTTP_SD_LISTEN: 'x' }, 'ETCD_HTTP_SD_LISTEN', /"x"/],
    [[], { ETCD_HTTP_SD_CACHE_MAX_BYTES: 'lots' }, 'ETCD_HTTP_SD_CACHE_MAX_BYTES', /expected an integer, got "lots"/],
    [['--cache-max-bytes', '0'], {}, '--cache-max-bytes', /more than 0 bytes, got 0/],
    [['--embedded-etcd-client-port', '70000'], {}, '--embedded-etcd-client-port', /from 1 to 65535, got 70000/],
    [['--embedded-etcd-peer-port', '2379'], {}, '--embedded-etcd-peer-port', /differ from the client port/],
    [['--etcd-binary', ''], {}, '--etcd-binary', /executable/],
    [['--etcd-data-dir='], {}, '--etcd-data-dir', /directory/],
    [['--etcd-username', ''], { ETCD_HTTP_SD_ETCD_PASSWORD: 'pw' }, '--etcd-username', /empty/],
    [[], { ETCD_HTTP_SD_CONFIG: 'missing.yml' }, 'ETCD_HTTP_SD_CONFIG', /cannot read "missing\.yml"/],
  ];
  for (const [argv, env, setting, pattern] of cases) configError(() => load(argv, env), setting, pattern);
});

test('there is no --etcd-password flag', () => {
  for (const argv of [['--etcd-password', 'hunter2'], ['--etcd-password=hunter2']]) {
    assert.throws(
      () => load(argv),
      (err: unknown) =>
        err instanceof UsageError &&
        err.flag === '--etcd-password' &&
        err.message.includes('--etcd-password-file') &&
        err.message.includes('ETCD_HTTP_SD_ETCD_PASSWORD') &&
        !err.message.includes('hunter2'),
    );
  }
  assert.ok(!SERVE_FLAGS.some((f) => f.name === 'etcd-password' && f.refused === undefined));
  assert.doesNotMatch(formatHelp('serve', 'S.', SERVE_FLAGS), /--etcd-password /);
});

test('password from a file (newline trimmed) or the environment', () => {
  const fs = { pw: 'hunter2\n' };
  const fromFile = load(['--etcd-username', 'u', '--etcd-password-file', 'pw'], {}, fs);
  assert.equal(fromFile.etcd.password, 'hunter2');
  const fromEnv = load(['--etcd-username', 'u'], { ETCD_HTTP_SD_ETCD_PASSWORD: 'hunter3' });
  assert.equal(fromEnv.etcd.password, 'hunter3');
  // A flag beats the environment.
  const both = load(['--etcd-username=u', '--etcd-password-file=pw'], { ETCD_HTTP_SD_ETCD_PASSWORD: 'other' }, fs);
  assert.equal(both.etcd.password, 'hunter2');
  configError(
    () => load(['--etcd-username=u'], { ETCD_HTTP_SD_ETCD_PASSWORD: 'other', ETCD_HTTP_SD_ETCD_PASSWORD_FILE: 'pw' }, fs),
    'ETCD_HTTP_SD_ETCD_PASSWORD',
    /conflicts with ETCD_HTTP_SD_ETCD_PASSWORD_FILE/,
  );
});

test('username and password come together; messages never hold the password', () => {
  configError(() => load(['--etcd-username', 'u']), '--etcd-username', /no password/, /--etcd-password-file/, /ETCD_HTTP_SD_ETCD_PASSWORD/);
  const err = configError(() => load([], { ETCD_HTTP_SD_ETCD_PASSWORD: 'hunter2' }), 'ETCD_HTTP_SD_ETCD_PASSWORD', /--etcd-username/);
  assert.ok(!err.message.includes('hunter2'));
  const fileErr = configError(
    () => load(['--etcd-password-file', 'pw'], {}, { pw: 'hunter2' }),
    '--etcd-password-file',
    /--etcd-username/,
  );
  assert.ok(!fileErr.message.includes('hunter2'));
  configError(() => load(['--etcd-username=u', '--etcd-password-file', 'nope']), '--etcd-password-file', /cannot read "nope"/);
  configError(() => load(['--etcd-username=u', '--etcd-password-file', 'pw'], {}, { pw: '\n' }), '--etcd-password-file', /is empty/);
});

test('TLS files: read at load time, checked against the endpoints', () => {
  const fs = { ca: 'CA', cert: 'CERT', key: 'KEY' };
  const https = ['--etcd-endpoints', 'https://e:2379'];
  const c = load([...https, '--etcd-ca-file', 'ca'], {}, fs);
  assert.deepEqual(c.etcd.tls, { ca: Buffer.from('CA') });
  configError(() => load(https, {}, fs), '--etcd-endpoints', /need --etcd-ca-file/);
  configError(() => load([...https, '--etcd-ca-file', 'ca', '--etcd-cert-file', 'cert'], {}, fs), '--etcd-cert-file', /needs --etcd-key-file/);
  configError(() => load([...https, '--etcd-ca-file', 'ca', '--etcd-key-file', 'key'], {}, fs), '--etcd-key-file', /needs --etcd-cert-file/);
  configError(() => load(['--etcd-endpoints', 'http://e:2379', '--etcd-ca-file', 'ca'], {}, fs), '--etcd-ca-file', /https:\/\//, /are http:\/\//);
  configError(() => load(['--etcd-ca-file', 'ca'], {}, fs), '--etcd-ca-file', /embedded/);
  configError(() => load([...https, '--etcd-ca-file', 'gone.pem'], {}, fs), '--etcd-ca-file', /cannot read "gone\.pem"/);
});

test('YAML syntax errors give line and column', () => {
  configError(() => parseConfigFile('listen: a\netcd:\n  prefix: [\n', 'c.yml'), 'c.yml:4:1', /invalid YAML/);
  const err = configError(() => parseConfigFile('a: 1\nb: c: d\n', 'c.yml'), 'c.yml:2:4', /invalid YAML: Nested mappings/);
  configError(() => parseConfigFile('a: 1\n\tb: 2\n', 'c.yml'), 'c.yml:2:1', /Tabs/);
  assert.doesNotMatch(err.message, /\n/);
});

test('duplicate keys are rejected with their position', () => {
  configError(() => parseConfigFile('listen: a\nlisten: b\n', 'c.yml'), 'c.yml:2:1', /unique/);
});

test('the top level must be a mapping', () => {
  configError(() => parseConfigFile('- a\n- b\n', 'c.yml'), 'c.yml:1:1', /mapping/);
  assert.deepEqual(parseConfigFile('', 'c.yml'), {});
  assert.deepEqual(parseConfigFile('# only a comment\n', 'c.yml'), {});
});

test('unknown keys are rejected with position and the allowed keys', () => {
  const fs = { 'c.yml': 'listen: ":1"\netcd:\n  prefx: /x\n' };
  configError(() => load(['--config', 'c.yml'], {}, fs), 'c.yml:3:3: etcd.prefx', /unknown key/, /allowed in etcd are endpoints, prefix/);
  configError(() => load(['--config', 'c.yml'], {}, { 'c.yml': 'lissen: x\n' }), 'c.yml:1:1: lissen', /at the top level are .*listen/);
  configError(() => load(['--config', 'c.yml'], {}, { 'c.yml': 'etcd: 5\n' }), 'c.yml:1:1: etcd', /must be a mapping with the keys endpoints/);
  configError(() => load(['--config', 'c.yml'], {}, { 'c.yml': 'config: x.yml\n' }), 'c.yml:1:1: config', /unknown key/);
});

test('parseConfigDocument locates keys', () => {
  const doc = parseConfigDocument('a: 1\nb:\n  c: 2\n', 'f.yml');
  assert.equal(doc.locate(['b', 'c']), 'f.yml:3:3');
  assert.equal(doc.label(['b', 'c']), 'f.yml:3:3: b.c');
  assert.equal(doc.locate(['b', 'missing']), 'f.yml:2:1');
  assert.equal(doc.get(['b', 'c']), 2);
  assert.equal(doc.get(['nope']), undefined);
});

test('stray positional arguments are a UsageError', () => {
  assert.throws(() => load(['oops']), UsageError);
});

test('loadEtcdConnection: the shared group, one file for every command', () => {
  const fs = { 'c.yml': 'listen: ":1"\ncache: {max_bytes: 5}\netcd:\n  endpoints: http://a:1\n  prefix: /p\n' };
  const extra = [{ flag: { name: 'ttl', kind: 'duration' as const, help: 'TTL.' }, default: '10s' }];
  const { etcd, settings } = loadEtcdConnection(['--config', 'c.yml', '--ttl', '1m', 'svc'], {}, files(fs), extra);
  assert.deepEqual(etcd, { endpoints: ['http://a:1'], prefix: '/p', callTimeoutMs: 5000 });
  assert.ok(Object.isFrozen(etcd));
  assert.equal(settings.get('ttl')?.value, 60_000);
  assert.deepEqual(settings.positionals, ['svc']);
  assert.throws(() => loadEtcdConnection(['--listen', ':1'], {}, files()), UsageError);
  assert.ok(ETCD_CONNECTION_FLAGS.some((f) => f.name === 'etcd-endpoints'));
});

test('serve --help lists every flag with its environment variable and default', () => {
  const help = formatHelp('etcd-http-sd serve', 'Serves targets.', SERVE_FLAGS);
  assert.match(help, /--listen HOST:PORT +HTTP listen address.*\(env ETCD_HTTP_SD_LISTEN, default 127\.0\.0\.1:9911\)/);
  assert.match(help, /--etcd-call-timeout DURATION +Deadline of each etcd request\. \(env ETCD_HTTP_SD_ETCD_CALL_TIMEOUT, default 5s\)/);
  for (const name of ['config', 'etcd-endpoints', 'etcd-password-file', 'etcd-ca-file', 'cache-max-bytes', 'embedded-etcd-peer-port']) {
    assert.ok(help.includes(`--${name} `), name);
  }
});
