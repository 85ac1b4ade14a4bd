// The lifecycle a user meets first: Ctrl-C on `npm start` (SIGINT to the whole process group),
// a SIGKILLed serve leaving its etcd behind, a signal during start-up, and settings that
// cannot work (port in use, unusable data dir) reported with the setting and exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive as alive } from '../../src/etcd/preflight.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/fixtures.js';
import { freePorts } from '../helpers/ports.js';
import { spawnTracked } from '../helpers/process.js';
import { eventually, httpGet } from '../helpers/server.js';

async function tempDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-life-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The process group of `pid` (field 5 of /proc/<pid>/stat, after the command in parentheses). */
async function processGroup(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** The pid the log line "embedded etcd ready" names. */
function etcdPid(log: string): number {
  const m = /"msg":"embedded etcd ready".*?"pid":(\d+)/.exec(log);
  assert.ok(m, `no "embedded etcd ready" line in:\n${log}`);
  return Number(m[1]);
}

async function serveArgs(dir: string): Promise<{ args: string[]; url: string }> {
  const [http, client, peer] = (await freePorts(3)) as [number, number, number];
  return {
    url: `http://127.0.0.1:${http}`,
    args: ['--listen', `127.0.0.1:${http}`, '--embedded-etcd-client-port', String(client), '--embedded-etcd-peer-port', String(peer), '--etcd-data-dir', join(dir, 'data')],
  };
}

const ready = (url: string) => eventually(`${url}/readyz`, async () => ((await httpGet(`${url}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 30_000);

test('Ctrl-C on npm start (SIGINT to the process group): clean stop, no error line, etcd stopped by us', async (t) => {
  const dir = await tempDir(t);
  const { args, url } = await serveArgs(dir);
  // Its own process group, as a terminal makes one for a foreground job.
  const npm = spawnTracked(t, 'npm', ['start', '--ignore-scripts', '--', ...args], { cwd: repoRoot(), detached: true, tailChars: 1_000_000 });
  await ready(url);
  const etcd = etcdPid(npm.output());
  // The group signal must not reach etcd (it would "crash" under the supervisor mid-stop, a race).
  assert.equal(await processGroup(etcd), etcd, 'the embedded etcd leads its own process group');
  assert.notEqual(await processGroup(etcd), npm.pid);
  const sent = Date.now();
  await npm.kill('SIGINT');
  const log = npm.output();
  t.diagnostic(`Ctrl-C → npm exited in ${Date.now() - sent} ms; serve's own stop: ${/"msg":"stop complete","ms":(\d+)/.exec(log)?.[1] ?? '?'} ms`);
  assert.match(log, /"msg":"stop complete"/);
  assert.doesNotMatch(log, /"level":"(error|warn)"/, 'no error or warning line');
  assert.doesNotMatch(log, /restarting embedded etcd|exited unexpectedly/);
  assert.ok(!alive(etcd), 'the embedded etcd is gone');
});

test('a SIGKILLed serve leaves its etcd; the next start recognises it, says so and stops it', async (t) => {
  const dir = await tempDir(t);
  const { args, url } = await serveArgs(dir);
  const first = spawnCli(t, ['serve', ...args]);
  await ready(url);
  const leftover = etcdPid(first.stderr());
  t.after(() => {
    if (alive(leftover)) process.kill(leftover, 'SIGKILL');
  });
  first.child.kill('SIGKILL');
  await first.exited;
  assert.ok(alive(leftover), 'etcd runs in its own process group, so it outlived a SIGKILL of serve');
  const second = spawnCli(t, ['serve', ...args]);
  await ready(url);
  assert.match(second.stderr(), new RegExp(`"msg":"an embedded etcd of an earlier run is still running on this data dir[^"]*","component":"embedded-etcd","pid":${leftover}`));
  assert.ok(!alive(leftover), 'the leftover was stopped');
  const own = etcdPid(second.stderr());
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0, second.stderr());
  assert.ok(!alive(own));
});

test('the first SIGINT during start-up aborts it, stopping the etcd being started', async (t) => {
  const dir = await tempDir(t);
  // An "etcd" that never becomes healthy: start-up would wait for its health timeout.
  const fake = join(dir, 'etcd-never-ready');
  await writeFile(fake, `#!/bin/sh\necho $$ > ${join(dir, 'fake.pid')}\nexec sleep 600\n`);
  await chmod(fake, 0o755);
  const { args } = await serveArgs(dir);
  const p = spawnCli(t, ['serve', ...args, '--etcd-binary', fake]);
  const pid = await eventually('fake etcd started', async () => Number((await readFile(join(dir, 'fake.pid'), 'utf8').catch(() => '')).trim()) || undefined);
  t.after(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 0, p.stderr());
  assert.match(p.stderr(), /"msg":"start-up aborted by signal","signal":"SIGINT"/);
  assert.doesNotMatch(p.stderr(), /"level":"error"/);
  assert.ok(!alive(pid), 'the etcd being started was stopped');
});

test('a port in use or an unusable data dir: the setting, the fix, exit 2', async (t) => {
  const dir = await tempDir(t);
  const blocker = createServer((s) => s.destroy());
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.after(() => blocker.close());
  const taken = String((blocker.address() as { port: number }).port);
  const base = await serveArgs(dir);
  const withArg = (name: string, value: string): string[] => {
    const a = [...base.args];
    a[a.indexOf(name) + 1] = value;
    return a;
  };
  const cases: [string[], RegExp][] = [
    [withArg('--embedded-etcd-client-port', taken), new RegExp(`--embedded-etcd-client-port: embedded etcd client port 127\\.0\\.0\\.1:${taken} is unavailable: EADDRINUSE; choose a free port`)],
    [withArg('--listen', `127.0.0.1:${taken}`), new RegExp(`--listen: 127\\.0\\.0\\.1:${taken} is already in use; choose another port`)],
  ];
  await writeFile(join(dir, 'a-file'), '');
  cases.push([withArg('--etcd-data-dir', join(dir, 'a-file', 'data')), /--etcd-data-dir: cannot use etcd data dir .*a-file\/data: .*ENOTDIR.*; name a directory this user can create and write/]);
  for (const [args, message] of cases) {
    const r = await runCli(t, ['serve', ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});
