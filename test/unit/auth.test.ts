// Access control: header parsing, constant-time checks, and the settings behind them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadServeConfig } from '../../src/config/serve.js';
import { ConfigError } from '../../src/errors.js';
import { CredentialCheck, SecretMatcher, parseAuthorization } from '../../src/http/auth.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

test('parseAuthorization: bearer and basic, schemes case-insensitive, anything else refused', () => {
  assert.deepEqual(parseAuthorization(undefined), { scheme: 'none' });
  assert.deepEqual(parseAuthorization(''), { scheme: 'none' });
  assert.deepEqual(parseAuthorization('Bearer abc.def'), { scheme: 'bearer', token: 'abc.def' });
  assert.deepEqual(parseAuthorization('bearer  abc'), { scheme: 'bearer', token: 'abc' });
  assert.deepEqual(parseAuthorization(`Basic ${b64('user:pa:ss')}`), { scheme: 'basic', username: 'user', password: 'pa:ss' });
  assert.deepEqual(parseAuthorization(`BASIC ${b64('ü:é')}`), { scheme: 'basic', username: 'ü', password: 'é' });
  assert.deepEqual(parseAuthorization(`Basic ${b64('nocolon')}`), { scheme: 'other' });
  assert.deepEqual(parseAuthorization('Digest x=y, z=w'), { scheme: 'other' });
  // Prometheus 2.42's http_sd sends the bare credentials when `authorization.type` is left out.
  assert.deepEqual(parseAuthorization('sd-token'), { scheme: 'bearer', token: 'sd-token' });
  assert.deepEqual(parseAuthorization('Bearer a b'), { scheme: 'other' });
});

test('SecretMatcher: equal only to the secret, whatever the length', () => {
  const m = new SecretMatcher('s3cret');
  assert.ok(m.matches('s3cret'));
  for (const other of ['', 's3cre', 's3crett', 'S3cret', 'x'.repeat(10_000)]) assert.ok(!m.matches(other), other);
});

test('CredentialCheck: any configured scheme passes; challenges name each scheme', () => {
  const both = new CredentialCheck({ bearerToken: 'tok', basic: { username: 'u', password: 'p' } });
  assert.deepEqual(both.challenges, ['Bearer realm="etcd-http-sd"', 'Basic realm="etcd-http-sd", charset="UTF-8"']);
  assert.ok(both.accepts({ scheme: 'bearer', token: 'tok' }));
  assert.ok(both.accepts({ scheme: 'basic', username: 'u', password: 'p' }));
  assert.ok(!both.accepts({ scheme: 'basic', username: 'u', password: 'tok' }));
  assert.ok(!both.accepts({ scheme: 'basic', username: 'x', password: 'p' }));
  assert.ok(!both.accepts({ scheme: 'bearer', token: 'p' }));
  assert.ok(!both.accepts({ scheme: 'none' }));
  assert.ok(!both.accepts({ scheme: 'other' }));
  const bearerOnly = new CredentialCheck({ bearerToken: 'tok' });
  assert.deepEqual(bearerOnly.challenges, ['Bearer realm="etcd-http-sd"']);
  assert.ok(!bearerOnly.accepts({ scheme: 'basic', username: 'tok', password: 'tok' }));
  const basicOnly = new CredentialCheck({ basic: { username: 'u', password: 'p' } });
  assert.ok(!basicOnly.accepts({ scheme: 'bearer', token: 'p' }));
  assert.throws(() => new CredentialCheck({}), TypeError);
});

const FILES: Record<string, string> = {
  token: 'sd-token-123\n',
  admin: 'admin-token-456',
  pw: 'hunter2\n',
  empty: '\n',
  spaced: 'has space',
  twolines: 'a\nb\n',
};

function read(p: string): Buffer {
  const v = FILES[p];
  if (v === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
  return Buffer.from(v);
}

/** Asserts a ConfigError for `setting` whose message matches `pattern` and holds no secret. */
function configError(argv: string[], setting: string, pattern: RegExp): void {
  assert.throws(
    () => loadServeConfig(argv, {}, read),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.setting, setting, err.message);
      assert.match(err.message, pattern);
      for (const secret of ['sd-token-123', 'admin-token-456', 'hunter2', 'has space']) assert.ok(!err.message.includes(secret), err.message);
      return true;
    },
  );
}

test('auth settings: secrets read from files once, trailing newline dropped', () => {
  const none = loadServeConfig([], {}, read);
  assert.equal(none.auth, undefined);
  assert.equal(none.tls, undefined);
  const c = loadServeConfig(['--auth-bearer-token-file', 'token', '--auth-basic-username', 'prom', '--auth-basic-password-file', 'pw', '--auth-protect-metrics'], {}, read);
  assert.deepEqual(c.auth, { bearerToken: 'sd-token-123', basic: { username: 'prom', password: 'hunter2' }, protectMetrics: true });
  assert.ok(Object.isFrozen(c.auth.basic));
  const yml = loadServeConfig(['--config', 'c.yml'], {}, (p) => (p === 'c.yml' ? Buffer.from('auth:\n  bearer_token_file: token\n  protect_metrics: false\n') : read(p)));
  assert.deepEqual(yml.auth, { bearerToken: 'sd-token-123', protectMetrics: false });
  const env = loadServeConfig([], { ETCD_HTTP_SD_AUTH_BASIC_USERNAME: 'u', ETCD_HTTP_SD_AUTH_BASIC_PASSWORD_FILE: 'pw' }, read);
  assert.deepEqual(env.auth, { basic: { username: 'u', password: 'hunter2' }, protectMetrics: false });
});

test('bad auth settings name the setting and never the secret', () => {
  configError(['--auth-bearer-token-file', 'missing'], '--auth-bearer-token-file', /cannot read "missing"/);
  configError(['--auth-bearer-token-file', 'empty'], '--auth-bearer-token-file', /is empty/);
  configError(['--auth-bearer-token-file', 'spaced'], '--auth-bearer-token-file', /letters, digits/);
  configError(['--auth-bearer-token-file', 'twolines'], '--auth-bearer-token-file', /one line/);
  configError(['--auth-basic-username', 'u'], '--auth-basic-username', /needs --auth-basic-password-file/);
  configError(['--auth-basic-password-file', 'pw'], '--auth-basic-password-file', /needs --auth-basic-username/);
  configError(['--auth-basic-username', 'a:b', '--auth-basic-password-file', 'pw'], '--auth-basic-username', /without ":"/);
  configError(['--auth-basic-username', 'u', '--auth-basic-password-file', 'twolines'], '--auth-basic-password-file', /one line/);
  configError(['--auth-protect-metrics'], '--auth-protect-metrics', /needs credentials/);
  configError(['--admin-token-file', 'token', '--auth-bearer-token-file', 'token'], '--admin-token-file', /must differ/);
  configError(['--admin-token-file', 'spaced'], '--admin-token-file', /letters, digits/);
});

test('TLS settings: both files, and they must make a usable key pair', () => {
  configError(['--tls-cert-file', 'token'], '--tls-cert-file', /needs --tls-key-file/);
  configError(['--tls-key-file', 'token'], '--tls-key-file', /needs --tls-cert-file/);
  configError(['--tls-cert-file', 'token', '--tls-key-file', 'pw'], '--tls-cert-file', /cannot use "token" with "pw"/);
});
