// Installing the CLI as the README says: `npm pack`, `npm install -g` of the tarball (into a
// temporary prefix), and `npx etcd-http-sd` in the checkout; the installed command then works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestEtcd } from '../helpers/etcd.js';
import { PREFIX, putConsoleFixtures } from '../helpers/console-fixtures.js';
import { repoRoot } from '../helpers/fixtures.js';
import { runChecked, type CommandResult, type RunOptions } from '../helpers/process.js';

const run = (cmd: string, args: readonly string[], opts: RunOptions): Promise<CommandResult> => runChecked(cmd, args, { timeoutMs: 300_000, ...opts });

test('npm pack + npm install -g gives a working etcd-http-sd; npx runs it in the checkout', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-install-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const packed = JSON.parse((await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: repoRoot() })).stdout) as { filename: string; files: { path: string }[] }[];
  const files = packed[0]!.files.map((f) => f.path);
  assert.ok(files.includes('dist/src/cli/main.js'), 'the CLI is in the package');
  assert.ok(!files.some((f) => f.startsWith('dist/test/') || f.startsWith('test/') || f.startsWith('src/')), 'no tests or sources in the package');
  const prefix = join(dir, 'prefix');
  await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed[0]!.filename)], { cwd: dir });
  const bin = join(prefix, 'bin', 'etcd-http-sd');
  assert.equal((await run(bin, ['--version'], { cwd: dir })).stdout, 'etcd-http-sd 0.1.0\n');
  assert.match((await run(bin, ['help', 'explain'], { cwd: dir })).stdout, /^Usage: etcd-http-sd explain GROUP \[NODE\]/);
  const etcd = await useTestEtcd(t);
  await putConsoleFixtures(etcd.client());
  const targets = JSON.parse((await run(bin, ['targets', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX, '--group', 'web'], { cwd: dir })).stdout) as unknown[];
  assert.equal(targets.length, 2, 'the installed command reads etcd');
  // The build leaves the CLI executable: npx keeps its link to the checkout in npm's cache, so a
  // rebuilt dist/ is run through an old link, which bin-links chmodded only once.
  assert.equal((await run(join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), ['--version'], { cwd: dir })).stdout, 'etcd-http-sd 0.1.0\n');
  // A cache of its own, so what this machine's npx ran before cannot decide the result.
  const env = { ...process.env, npm_config_cache: join(dir, 'npm-cache') };
  assert.equal((await run('npx', ['--no-install', 'etcd-http-sd', '--version'], { cwd: repoRoot(), env })).stdout, 'etcd-http-sd 0.1.0\n');
});
