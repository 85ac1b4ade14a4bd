// Secret scan (security): a server with etcd auth on (its password
// from a file), SD and admin tokens, and groups with distinctive passwords;
// every route is exercised and every response (status, headers, body, gzip
// unpacked), metric and log line is scanned: no secret, nor any piece of one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { useTestEtcd } from '../helpers/etcd.js';
import { loadFixtureFile, putFixtures } from '../helpers/fixtures.js';
import { findSecrets, OutputLog, setupEtcdAuth, TEST_SECRETS, assertNoSecrets } from '../helpers/secrets.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

const P = '/services';
const S = TEST_SECRETS;

test('findSecrets finds whole secrets, 8-character pieces, base64 and URL-encoded forms, and nothing innocent', () => {
  const secret = S.groupPassword;
  assert.equal(findSecrets('x', `a ${secret} b`, [secret])[0]?.how, 'whole');
  assert.equal(findSecrets('x', `Unexpected token 'G', "${secret.slice(0, 10)}"... is not valid JSON`, [secret])[0]?.how, 'fragment');
  assert.equal(findSecrets('x', `Basic ${Buffer.from(`u:${secret}`).toString('base64')}`, [secret])[0]?.how, 'base64');
  assert.equal(findSecrets('x', `Basic ${Buffer.from(`us:${secret}`).toString('base64')}`, [secret])[0]?.how, 'base64');
  assert.equal(findSecrets('x', `Basic ${Buffer.from(`use:${secret}`).toString('base64')}`, [secret])[0]?.how, 'base64');
  assert.deepEqual(findSecrets('x', 'registration failed, etcdserver: permission denied, production, scraper, node_exporter', Object.values(S)), []);
  assert.throws(() => assertNoSecrets([{ where: 'log line 3', text: `{"password":"${secret}"}` }], [secret]), (e: Error) => e.message.includes('log line 3') && !e.message.includes(secret));
});

test('no response body, header, metric or log line ever holds a group password, an etcd password or a token', async (t) => {
  const etcd = await useTestEtcd(t);
  const users = await setupEtcdAuth(t, etcd.endpoint);
  const root = users.root;
  const put = await putFixtures(root, loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const groupDoc = (name: string, username: string, password: string): string =>
    JSON.stringify({ name, spec: { username, password, common_labels: { team: name } }, created: '2025-03-01T10:00:00.123456789Z' });
  const node = (id: string): string => JSON.stringify({ id, exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: { zone: 'a' }, status: 'healthy', last_seen: '2025-03-01T10:00:05.987654321Z' });
  await root.put(`${P}/vault`).value(groupDoc('vault', S.groupUsername, S.groupPassword));
  await root.put(`${P}/vault/nodes/v-1_node_exporter`).value(node('v-1'));
  await root.put(`${P}/second`).value(groupDoc('second', 'other-user', S.groupPassword2));
  await root.put(`${P}/second/nodes/s-1_node_exporter`).value(node('s-1'));
  // Broken group documents holding a password: skipped at load time and by the watch, and logged.
  await root.put(`${P}/brokenload`).value(`{"name":"brokenload","spec":{"password":${S.groupPassword2}}}`);

  const dir = await mkdtemp(join(tmpdir(), 'secret-scan-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'etcd-password'), `${S.etcdReaderPassword}\n`);
  await writeFile(join(dir, 'sd-token'), S.sdToken);
  await writeFile(join(dir, 'admin-token'), S.adminToken);
  const lines: string[] = [];
  const server = await useTestServer(t, etcd.endpoint, {
    logLines: lines,
    args: [
      '--etcd-username', 'sd-reader', '--etcd-password-file', join(dir, 'etcd-password'),
      '--auth-bearer-token-file', join(dir, 'sd-token'), '--admin-token-file', join(dir, 'admin-token'), '--log-level', 'debug',
    ],
  });
  await server.mirror.whenReady();
  const out = new OutputLog();
  const auth = { authorization: `Bearer ${S.sdToken}` };
  const get = async (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<void> => {
    const res = await httpGet(`${server.url}${path}`, headers, method);
    out.addResponse(`${method} ${path} ${JSON.stringify(Object.keys(headers))}`, res);
    if (res.headers['content-encoding'] === 'gzip' && res.body.length > 0) out.add(`${method} ${path} gunzipped`, gunzipSync(res.body));
  };
  const exercise = async (): Promise<void> => {
    for (const path of ['/v1/targets', '/v1/targets/vault', '/v1/targets/second', '/v1/targets/web', '/v1/targets?group=vault&group=web', '/v1/targets?exporter_type=node_exporter', '/v1/groups']) {
      await get(path, auth);
      await get(path, { ...auth, 'accept-encoding': 'gzip' });
      await get(path, auth, 'HEAD');
      await get(path); // 401
      await get(path, { authorization: `Bearer ${S.groupPassword}` }); // a wrong token that is another secret: never echoed nor logged
      await get(path, { authorization: `Basic ${Buffer.from(`sd-reader:${S.etcdReaderPassword}`).toString('base64')}` });
    }
    for (const path of ['/healthz', '/readyz', '/metrics', '/nope', '/v1/targets/vault/extra', '/v1/targets?group=bad.name', '/v1/targets?password=x', '/v1/groups?x=1']) {
      await get(path, auth);
      await get(path);
    }
    // The route that holds secrets, without its token: refused, and says nothing.
    for (const headers of [{}, auth, { authorization: `Bearer ${S.groupPassword}` }, { authorization: 'Bearer wrong' }]) await get('/v1/scrape-configs', headers);
    await get('/v1/targets', { ...auth, 'if-none-match': '"x"' }, 'POST');
  };
  await exercise();

  // Changes while watching: a password rotation, a broken document with a password, a deleted group.
  await root.put(`${P}/vault`).value(groupDoc('vault', S.groupUsername, `${S.groupPassword}-rotated`));
  await root.put(`${P}/brokenwatch`).value(`{"name":"brokenwatch","spec":{"password":${S.groupPassword}}}`);
  await root.put(`${P}/second/nodes/bad`).value(`{"id":${S.groupPassword2}}`);
  await root.delete().key(`${P}/second`);
  await eventually('the watch applied the changes', async () => {
    const res = await httpGet(`${server.url}/v1/groups`, auth);
    const second = (JSON.parse(res.text) as { name: string; common_labels: object }[]).find((g) => g.name === 'second');
    return second !== undefined && Object.keys(second.common_labels).length === 0 && lines.some((l) => l.includes('brokenwatch')) ? true : undefined;
  }, 30_000);
  assert.ok(lines.some((l) => l.includes('brokenwatch') && l.includes('invalid document skipped')), 'the broken document was logged');
  await exercise();

  // An etcd restart: the server's auth token dies with it; reconnect lines are scanned too.
  const restartAt = lines.length;
  await etcd.restart();
  await root.put(`${P}/afterrestart`).value(groupDoc('afterrestart', 'u', S.groupPassword2));
  await eventually('serving again after the etcd restart', async () => {
    const res = await httpGet(`${server.url}/v1/groups`, auth);
    return res.status === 200 && res.text.includes('"afterrestart"') ? true : undefined;
  }, 60_000, 200).catch((err: unknown) => {
    // What the server said since the restart is what tells why it did not recover.
    t.diagnostic(`server log since the restart:\n${lines.slice(restartAt).join('\n')}`);
    throw err;
  });
  await exercise();

  lines.forEach((line, i) => out.add(`log line ${i}`, line));
  t.diagnostic(`scanned ${out.outputs.length} outputs, ${out.size} characters, ${lines.length} log lines`);
  assert.ok(out.size > 10_000 && lines.length > 5);
  assertNoSecrets(out);

  // Positive control: the admin route does hold the group passwords, and the scanner sees them.
  const admin = await httpGet(`${server.url}/v1/scrape-configs`, { authorization: `Bearer ${S.adminToken}` });
  assert.equal(admin.status, 200);
  assert.ok(findSecrets('scrape-configs', admin.text).some((h) => h.how === 'whole'), 'the scanner finds a password where one is');
});
