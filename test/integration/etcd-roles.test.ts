// Minimal etcd roles (security; docs/security.md): the server
// needs only read on the prefix; a registrant only write on its group; only
// empty-group cleanup needs more. Each is tested with etcd auth on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { useTestEtcd } from '../helpers/etcd.js';
import { spawnCli } from '../helpers/cli.js';
import { EXPECTED_FIXTURE_TARGETS } from '../helpers/expected.js';
import { loadFixtureFile, putFixtures } from '../helpers/fixtures.js';
import { assertNoSecrets, OutputLog, setupEtcdAuth, TEST_SECRETS, USER_PASSWORDS } from '../helpers/secrets.js';
import { eventually, httpGet, targets, useTestServer } from '../helpers/server.js';

const P = '/services';

async function refused(what: string, op: () => unknown): Promise<void> {
  await assert.rejects(async () => {
    await op();
  }, (err: Error) => /permission denied/i.test(err.message), `${what} must be refused`);
}

async function passwordFiles(t: { after(fn: () => unknown): void }): Promise<(user: string) => string> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-roles-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [user, password] of Object.entries(USER_PASSWORDS)) await writeFile(join(dir, user), `${password}\n`);
  return (user) => join(dir, user);
}

/** Runs `fn`; on failure, adds the tail of the CLI's stderr to the error (the machine may be busy: say why). */
async function explained<T>(cli: { stderr(): string }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- CLI stderr (tail) ---\n${cli.stderr().slice(-3000)}`, { cause: err });
  }
}

async function exists(client: Etcd3, key: string): Promise<boolean> {
  return (await client.kv.range({ key: Buffer.from(key), count_only: true })).count !== '0';
}

test('read-only sd-reader: the server serves everything, and could not write if it tried', async (t) => {
  const etcd = await useTestEtcd(t);
  const users = await setupEtcdAuth(t, etcd.endpoint);
  const put = await putFixtures(users.root, loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const file = await passwordFiles(t);

  const reader = users.clientAs('sd-reader');
  assert.ok((await reader.getAll().prefix(`${P}/`).keys()).length > 10);
  await refused('a put by sd-reader', () => reader.put(`${P}/web/nodes/x_y`).value('{}'));
  await refused('a delete by sd-reader', () => reader.delete().key(`${P}/web`));
  await refused('a read outside the prefix', () => reader.get('/other').string());

  const lines: string[] = [];
  const server = await useTestServer(t, etcd.endpoint, { logLines: lines, args: ['--etcd-username', 'sd-reader', '--etcd-password-file', file('sd-reader')] });
  await server.mirror.whenReady();
  assert.equal((await targets(server)).groups.length, EXPECTED_FIXTURE_TARGETS.length);
  assert.equal((await httpGet(`${server.url}/readyz`)).status, 200);
  // Watching works too: a change by someone else arrives.
  await users.root.put(`${P}/later/nodes/l-1_node_exporter`).value(JSON.stringify({ id: 'l-1', exporter_type: 'node_exporter', port: 9100 }));
  await eventually('the watch delivers', async () => ((await targets(server)).groups.length === EXPECTED_FIXTURE_TARGETS.length + 1 ? true : undefined));
  const out = new OutputLog();
  lines.forEach((l, i) => out.add(`log line ${i}`, l));
  assertNoSecrets(out);
});

test('group-scoped registrant-web: the register CLI registers in web, and is refused, clearly, anywhere else', async (t) => {
  const etcd = await useTestEtcd(t);
  const users = await setupEtcdAuth(t, etcd.endpoint);
  const file = await passwordFiles(t);
  const root = users.root;
  await root.put(`${P}/db`).value(JSON.stringify({ name: 'db', spec: { username: '', password: '' } }));
  const server = await useTestServer(t, etcd.endpoint, { args: ['--etcd-username', 'sd-reader', '--etcd-password-file', file('sd-reader')] });
  await server.mirror.whenReady();
  const cred = ['--etcd-endpoints', etcd.endpoint, '--etcd-username', 'registrant-web', '--etcd-password-file', file('registrant-web')];
  const register = (group: string, id: string) => spawnCli(t, ['register', ...cred, '--group', group, '--id', id, '--exporter-type', 'node_exporter', '--port', '9100', '--host', '127.0.0.1', '--ttl', '5s']);
  const out = new OutputLog();

  const web = register('web', 'reg-1');
  const served = await explained(web, () => eventually('the registered node is served in web', async () => {
    const all = await targets(server);
    return all.groups.find((g) => g.labels['__meta_etcd_node_id'] === 'reg-1');
  }, 45_000, 100));
  assert.equal(served.labels['__meta_etcd_group'], 'web');
  assert.deepEqual(served.targets, ['127.0.0.1:9100']);
  // register puts the node first and then creates or joins the group: the node can be served before the group document exists.
  await eventually('it created its group document (readwrite on the key itself)', async () => ((await exists(root, `${P}/web`)) ? true : undefined), 45_000, 100);

  for (const group of ['db', 'web-canary']) {
    const other = register(group, `reg-${group}`);
    await explained(other, () => eventually(`register --group ${group} says why it cannot`, () => (/permission denied/i.test(other.stderr()) ? true : undefined), 45_000, 100));
    assert.equal(await exists(root, `${P}/${group}/nodes/reg-${group}_node_exporter`), false);
    // A refused permission is permanent: the sidecar exits 1 by itself so its supervisor shows it.
    await explained(other, async () => assert.equal(await other.exited, 1, 'register exits 1 when etcd refuses the permission'));
    out.add(`register ${group} stderr`, other.stderr());
    out.add(`register ${group} stdout`, other.stdout());
    t.diagnostic(`register --group ${group}: ${other.stderr().split('\n').find((l) => /permission denied/i.test(l))?.slice(0, 300)}`);
  }

  // The same limits, for any client holding those credentials.
  const registrant = users.clientAs('registrant-web');
  await registrant.put(`${P}/web/nodes/direct_node_exporter`).value('{}');
  await refused('a write to a sibling prefix', () => registrant.put(`${P}/web-canary/nodes/x`).value('{}'));
  await refused('a write to another group document', () => registrant.put(`${P}/db`).value('{}'));
  await refused('a read of another group', () => registrant.get(`${P}/db`).string());
  await refused('a delete of the whole prefix', () => registrant.delete().prefix(`${P}/`));

  web.child.kill('SIGTERM');
  await explained(web, async () => assert.equal(await web.exited, 0, 'register exits 0 after deregistering'));
  out.add('register web stderr', web.stderr());
  out.add('register web stdout', web.stdout());
  await eventually('deregistered on SIGTERM', async () => ((await targets(server)).groups.every((g) => g.labels['__meta_etcd_node_id'] !== 'reg-1') ? true : undefined), 30_000);
  assertNoSecrets(out);
  assert.ok(!web.stderr().includes(TEST_SECRETS.etcdRegistrantPassword));
});

test('empty-group cleanup needs sd-cleaner; with only sd-reader it deletes nothing, says why, and keeps serving', async (t) => {
  const etcd = await useTestEtcd(t);
  const users = await setupEtcdAuth(t, etcd.endpoint);
  const file = await passwordFiles(t);
  const root = users.root;
  for (const g of ['gone', 'stays']) await root.put(`${P}/${g}`).value(JSON.stringify({ name: g, spec: { username: '', password: '' } }));
  const cleanup = ['--cleanup-empty-groups', '--cleanup-grace', '1s', '--cleanup-interval', '200ms', '--cleanup-election-ttl', '2s'];

  const readerLines: string[] = [];
  const reader = await useTestServer(t, etcd.endpoint, { logLines: readerLines, args: ['--etcd-username', 'sd-reader', '--etcd-password-file', file('sd-reader'), ...cleanup] });
  await reader.mirror.whenReady();
  await eventually('the read-only replica reports it cannot campaign', () => (readerLines.some((l) => l.includes('leader election failed') && /permission denied/i.test(l)) ? true : undefined), 15_000, 100);
  assert.equal(reader.cleaner!.leading, false);
  assert.equal(await exists(root, `${P}/gone`), true);
  assert.equal((await httpGet(`${reader.url}/v1/groups`)).status, 200);

  const cleanerLines: string[] = [];
  const cleaner = await useTestServer(t, etcd.endpoint, { logLines: cleanerLines, args: ['--etcd-username', 'sd-cleaner', '--etcd-password-file', file('sd-cleaner'), ...cleanup] });
  await cleaner.mirror.whenReady();
  await root.put(`${P}/stays/nodes/s-1_node_exporter`).value(JSON.stringify({ id: 's-1', exporter_type: 'node_exporter', port: 9100 }));
  await eventually('sd-cleaner deletes the empty group', async () => (!(await exists(root, `${P}/gone`)) ? true : undefined), 20_000, 100);
  assert.equal(await exists(root, `${P}/stays`), true);
  const out = new OutputLog();
  [...readerLines, ...cleanerLines].forEach((l, i) => out.add(`log line ${i}`, l));
  assertNoSecrets(out);
});
