// Small things users hit first: help and version spellings, honest help texts,
// `group delete` of a group that is not there, owner and mode of scrape-configs' files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { PREFIX, putConsoleFixtures } from '../helpers/console-fixtures.js';
import { useTestEtcd } from '../helpers/etcd.js';

test('help COMMAND, --version and -v anywhere, listed in the usage', async (t) => {
  const help = await runCli(t, ['help', 'serve']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: etcd-http-sd serve/);
  const usage = await runCli(t, ['--help']);
  assert.match(usage.stdout, /-v, --version/);
  assert.match(usage.stdout, /explain/);
  for (const args of [['--version'], ['-v'], ['serve', '--version'], ['group', 'list', '-v'], ['version']]) {
    const r = await runCli(t, args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^etcd-http-sd \d+\.\d+\.\d+\n$/, args.join(' '));
  }
});

test('scrape-configs --help does not promise an embedded etcd; without endpoints it refuses (exit 2)', async (t) => {
  const help = await runCli(t, ['scrape-configs', '--help']);
  assert.equal(help.code, 0);
  assert.doesNotMatch(help.stdout, /embedded/);
  assert.match(help.stdout, /--etcd-endpoints .*required/);
  const r = await runCli(t, ['scrape-configs']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--etcd-endpoints/);
});

test('group list shows what the server skips, and why', async (t) => {
  const etcd = await useTestEtcd(t);
  await putConsoleFixtures(etcd.client());
  await etcd.client().put(`${PREFIX}/bad group/nodes/n1_x`).value('{}').exec();
  const r = await runCli(t, ['group', 'list', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^NAME\s+NODES\s+DOCUMENT\s+SERVED$/);
  assert.match(r.stdout, /^akash\s+3\s+yes\s+yes, 2 nodes skipped \(invalid_json, invalid_port; see etcd-http-sd explain akash\)$/m);
  assert.match(r.stdout, /^web\s+2\s+yes\s+yes$/m);
  assert.match(r.stdout, /^"bad group"\s+1\s+-\s+no: not a group name the server serves \(must be 1 to 63 bytes/m);
});

test('group delete of a missing group says so (exit 0)', async (t) => {
  const etcd = await useTestEtcd(t);
  const r = await runCli(t, ['group', 'delete', 'nosuch', '--etcd-endpoints', etcd.endpoint]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /group nosuch does not exist: nothing deleted/);
});

test('scrape-configs --file-owner and --file-mode: Prometheus\'s group can read the files, nobody else', async (t) => {
  const etcd = await useTestEtcd(t);
  await putConsoleFixtures(etcd.client());
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-owner-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const me = userInfo();
  const base = ['scrape-configs', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX, '--external-url', 'http://127.0.0.1:9911'];
  const output = join(dir, 'scrape.yml');
  const passwords = join(dir, 'passwords');
  const r = await runCli(t, [...base, '--output', output, '--write-password-files', '--scrape-password-dir', passwords, '--file-owner', `${me.username}:${me.gid}`, '--file-mode', '0640']);
  assert.equal(r.code, 0, r.stderr);
  for (const path of [output, join(passwords, 'web.password')]) {
    const s = await stat(path);
    assert.equal(s.mode & 0o777, 0o640, path);
    assert.equal(s.gid, me.gid);
    assert.equal(s.uid, me.uid);
  }
  assert.equal((await stat(passwords)).mode & 0o777, 0o750, 'the directory lets the group in');
  const open = await runCli(t, [...base, '--output', output, '--file-mode', '0644']);
  assert.equal(open.code, 2);
  assert.match(open.stderr, /--file-mode: 0644 lets every user read the passwords/);
  const nobody = await runCli(t, [...base, '--output', output, '--file-owner', 'no-such-user-x7']);
  assert.equal(nobody.code, 2);
  assert.match(nobody.stderr, /--file-owner: no user "no-such-user-x7"/);
});
