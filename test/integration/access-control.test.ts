// Access control of the HTTP routes against a real etcd loaded with the fixtures.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { loadFixtureFile, putFixtures } from '../helpers/fixtures.js';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { httpGet, useTestServer, type TestResponse } from '../helpers/server.js';
import type { RunningServer } from '../../src/server.js';

const SD_TOKEN = 'sd-token-Q7rT2';
const ADMIN_TOKEN = 'admin-token-Z9kP4';
const BASIC_USER = 'prometheus';
const BASIC_PASSWORD = 'basic-pw-M3xV8';
/** A group password only the authorised scrape-configs may ever show. */
const GROUP_PASSWORD = 'Group-Secret-W5yN1';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-auth-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes the secret files and returns the `serve` flags that name them. */
async function authArgs(dir: string, opts: { protectMetrics?: boolean; admin?: boolean } = {}): Promise<string[]> {
  await writeFile(join(dir, 'sd.token'), `${SD_TOKEN}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'admin.token'), ADMIN_TOKEN, { mode: 0o600 });
  await writeFile(join(dir, 'basic.pw'), BASIC_PASSWORD, { mode: 0o600 });
  return [
    '--auth-bearer-token-file', join(dir, 'sd.token'),
    '--auth-basic-username', BASIC_USER,
    '--auth-basic-password-file', join(dir, 'basic.pw'),
    ...(opts.protectMetrics === true ? ['--auth-protect-metrics'] : []),
    ...(opts.admin === false ? [] : ['--admin-token-file', join(dir, 'admin.token')]),
  ];
}

async function loadedEtcd(t: TestContext): Promise<TestEtcd> {
  const etcd = await useTestEtcd(t);
  const put = await putFixtures(etcd.client(), loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  await etcd.client().put('/services/vault').value(JSON.stringify({ name: 'vault', spec: { username: 'vault-scraper', password: GROUP_PASSWORD } }));
  return etcd;
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const bearer = (token: string): string => `Bearer ${token}`;

/** Asserts a 401 with a JSON error and the expected challenges. */
function assertRefused(res: TestResponse, what: string, challenges: RegExp[]): void {
  assert.equal(res.status, 401, what);
  const header = String(res.headers['www-authenticate']);
  for (const c of challenges) assert.match(header, c, what);
  assert.equal(typeof (JSON.parse(res.text) as { error: unknown }).error, 'string', what);
}

const SD_ROUTES = ['/v1/targets', '/v1/targets/web', '/v1/targets?group=web&exporter_type=node_exporter', '/v1/groups', '/metrics'];
const BEARER_CHALLENGE = /Bearer realm="etcd-http-sd"/;
const BASIC_CHALLENGE = /Basic realm="etcd-http-sd"/;

test('every protected route refuses missing or wrong credentials with 401 and accepts the right ones', async (t) => {
  const etcd = await loadedEtcd(t);
  const server = await useTestServer(t, etcd.endpoint, { args: await authArgs(await tempDir(t), { protectMetrics: true }) });
  await server.mirror.whenReady();

  const wrong: [string, string | undefined][] = [
    ['no Authorization', undefined],
    ['wrong bearer token', bearer('sd-token-Q7rT3')],
    ['admin token on an SD route', bearer(ADMIN_TOKEN)],
    ['wrong basic password', basic(BASIC_USER, 'nope')],
    ['wrong basic user', basic('someone', BASIC_PASSWORD)],
    ['bearer token as basic password', basic(BASIC_USER, SD_TOKEN)],
    ['unknown scheme', `Digest username="${BASIC_USER}"`],
    ['malformed basic', 'Basic !!!'],
    ['bare wrong token', 'sd-token-Q7rT3'],
  ];
  for (const path of SD_ROUTES) {
    for (const [what, header] of wrong) {
      const res = await httpGet(`${server.url}${path}`, header === undefined ? {} : { authorization: header });
      assertRefused(res, `${path}: ${what}`, [BEARER_CHALLENGE, BASIC_CHALLENGE]);
    }
    // A bare token is what Prometheus 2.42's http_sd sends without `authorization.type` (https://github.com/prometheus/docs/issues/2377).
    for (const header of [bearer(SD_TOKEN), `bearer ${SD_TOKEN}`, SD_TOKEN, basic(BASIC_USER, BASIC_PASSWORD)]) {
      const res = await httpGet(`${server.url}${path}`, { authorization: header });
      assert.equal(res.status, 200, `${path} with ${header.split(' ')[0]}`);
    }
  }

  for (const [what, header] of [...wrong.filter(([, h]) => h !== bearer(ADMIN_TOKEN)), ['SD bearer token', bearer(SD_TOKEN)], ['SD basic credentials', basic(BASIC_USER, BASIC_PASSWORD)]] as const) {
    const res = await httpGet(`${server.url}/v1/scrape-configs`, header === undefined ? {} : { authorization: header });
    assertRefused(res, `/v1/scrape-configs: ${what}`, [BEARER_CHALLENGE]);
    assert.doesNotMatch(String(res.headers['www-authenticate']), /Basic/);
  }
  const admin = await httpGet(`${server.url}/v1/scrape-configs`, { authorization: bearer(ADMIN_TOKEN) });
  assert.equal(admin.status, 200);
  assert.equal(admin.headers['content-type'], 'application/yaml; charset=utf-8');
  assert.equal(admin.headers['cache-control'], 'no-store');

  for (const open of ['/healthz', '/readyz']) {
    assert.equal((await httpGet(`${server.url}${open}`)).status, 200, `${open} stays open`);
  }
  const metrics = await httpGet(`${server.url}/metrics`, { authorization: bearer(SD_TOKEN) });
  assert.match(metrics.text, /etcd_http_sd_http_requests_total\{[^}]*code="401"/, 'refusals are counted per route');
});

test('without auth settings everything is open and /v1/scrape-configs does not exist; /metrics is open unless protected', async (t) => {
  const etcd = await loadedEtcd(t);
  const open = await useTestServer(t, etcd.endpoint);
  await open.mirror.whenReady();
  for (const path of SD_ROUTES) assert.equal((await httpGet(`${open.url}${path}`)).status, 200, path);
  assert.equal((await httpGet(`${open.url}/v1/scrape-configs`, { authorization: bearer(ADMIN_TOKEN) })).status, 404);

  const sdOnly = await useTestServer(t, etcd.endpoint, { args: await authArgs(await tempDir(t), { admin: false }) });
  await sdOnly.mirror.whenReady();
  assert.equal((await httpGet(`${sdOnly.url}/metrics`)).status, 200, '/metrics is open by default');
  assertRefused(await httpGet(`${sdOnly.url}/v1/targets`), '/v1/targets', [BEARER_CHALLENGE]);
  assert.equal((await httpGet(`${sdOnly.url}/v1/scrape-configs`, { authorization: bearer(ADMIN_TOKEN) })).status, 404, 'off without an admin token');
});

test('no response or log line holds a group password or a configured secret, except the authorised scrape-configs', async (t) => {
  const etcd = await loadedEtcd(t);
  const logLines: string[] = [];
  const server = await useTestServer(t, etcd.endpoint, { args: await authArgs(await tempDir(t), { protectMetrics: true }), logLines });
  await server.mirror.whenReady();

  const headers = [{}, { authorization: bearer(SD_TOKEN) }, { authorization: basic(BASIC_USER, BASIC_PASSWORD) }, { authorization: bearer(ADMIN_TOKEN) }, { authorization: bearer('wrong') }];
  const paths = [...SD_ROUTES, '/v1/targets/vault', '/healthz', '/readyz', '/nope', '/v1/targets/bad.name', '/v1/scrape-configs?x=1'];
  const bodies: string[] = [];
  for (const path of [...paths, '/v1/scrape-configs']) {
    for (const h of headers) {
      const res = await httpGet(`${server.url}${path}`, h);
      const authorised = path === '/v1/scrape-configs' && h.authorization === bearer(ADMIN_TOKEN);
      if (authorised) {
        assert.ok(res.text.includes(GROUP_PASSWORD), 'the authorised scrape-configs holds the group password');
        assert.ok(res.text.includes('s3cret'));
      } else {
        bodies.push(`${path}\n${JSON.stringify(res.headers)}\n${res.text}`);
      }
    }
  }
  await server.close();
  const secrets = [GROUP_PASSWORD, 's3cret', SD_TOKEN, ADMIN_TOKEN, BASIC_PASSWORD];
  for (const secret of secrets) {
    for (const b of bodies) assert.ok(!b.includes(secret), `response leaks ${secret}: ${b.slice(0, 300)}`);
    for (const line of logLines) assert.ok(!line.includes(secret), `log line leaks ${secret}: ${line}`);
  }
  assert.ok(logLines.some((l) => l.includes('"msg":"request refused: no valid credentials"')), 'refusals are logged (debug)');
  assert.ok(logLines.some((l) => /"msg":"listening".*"access":\["bearer","basic","metrics protected"\]/.test(l)), 'start-up says which protections are on');
});

test('TLS: the listener speaks HTTPS with the given certificate; generated jobs point at https://', async (t) => {
  const etcd = await loadedEtcd(t);
  const dir = await tempDir(t);
  const { cert, key } = await makeSelfSignedCert(dir);
  const args = [...(await authArgs(dir)), '--tls-cert-file', cert, '--tls-key-file', key, '--scrape-sd-ca-file', cert];
  const server: RunningServer = await useTestServer(t, etcd.endpoint, { args });
  await server.mirror.whenReady();
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = await import('node:fs/promises').then((fs) => fs.readFile(cert));

  const refused = await httpGet(`${server.url}/v1/targets`, {}, 'GET', ca);
  assert.equal(refused.status, 401);
  const ok = await httpGet(`${server.url}/v1/targets/web`, { authorization: bearer(SD_TOKEN) }, 'GET', ca);
  assert.equal(ok.status, 200);
  assert.equal((JSON.parse(ok.text) as unknown[]).length, 3);
  await assert.rejects(httpGet(`${server.url}/healthz`, {}, 'GET', Buffer.from('')), 'an unknown CA is refused by the client');
  await assert.rejects(httpGet(`${server.url.replace('https:', 'http:')}/healthz`), 'no plain HTTP on the TLS port');

  const yaml = await httpGet(`${server.url}/v1/scrape-configs`, { authorization: bearer(ADMIN_TOKEN) }, 'GET', ca);
  assert.equal(yaml.status, 200);
  assert.ok(yaml.text.includes(`url: ${server.url}/v1/targets/web\n`), yaml.text);
  assert.ok(yaml.text.includes(`tls_config:\n          ca_file: ${cert}\n`), yaml.text);
});
