// Every code block of the README that can run is run, as written, against a real etcd. Only
// the addresses change (etcd's endpoint, file paths under a temp dir, an owner we may chown
// to); a block nobody classified fails the test, so a new block cannot go untested unnoticed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/cli.js';
import { putConsoleFixtures } from '../helpers/console-fixtures.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { repoRoot } from '../helpers/fixtures.js';
import { runChecked, type CommandResult, type RunOptions } from '../helpers/process.js';

const run = (cmd: string, args: readonly string[], opts: RunOptions): Promise<CommandResult> => runChecked(cmd, args, { timeoutMs: 120_000, ...opts });

interface Block {
  readonly lang: string;
  readonly line: number;
  readonly text: string;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)$/.exec(lines[i]!);
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    while (++i < lines.length && lines[i] !== '```') body.push(lines[i]!);
    out.push({ lang: open[1] ?? '', line: start + 1, text: body.join('\n') });
  }
  return out;
}

/** How each block is treated, by how it starts: run it, or why not. */
const PLAN: readonly (readonly [string, 'sh' | 'ts' | { skip: string }])[] = [
  ['npm ci && npm start', { skip: 'runs the whole test suite and a server; CI runs exactly this' }],
  ['npm ci && npm run build && npm pack', { skip: 'install.test.ts packs and installs the tarball' }],
  ['npm start -- --etcd-endpoints', { skip: 'serve runs until a signal; cli-serve.test.ts and cli-lifecycle.test.ts run it' }],
  ['scrape_configs:', { skip: 'Prometheus configuration; the e2e tests run Prometheus with the same' }],
  ['http_sd_configs:', { skip: 'Prometheus configuration; prometheus-auth.test.ts runs Prometheus with it' }],
  ['import os from', 'ts'],
  ['etcd-http-sd register', { skip: 'register runs until SIGTERM; cli-register.test.ts runs it' }],
  ['etcd-http-sd group configure', 'sh'],
  ['etcd-http-sd explain', 'sh'],
  ['etcd-http-sd scrape-configs', 'sh'],
  ['listen: 0.0.0.0:9911', { skip: 'a config file for a TLS etcd cluster that does not exist here; config.test.ts loads files' }],
  ['npm run build ', { skip: 'the developers\' commands; CI runs them' }],
];

function planOf(b: Block): 'sh' | 'ts' | { skip: string } | undefined {
  return PLAN.find(([start]) => b.text.startsWith(start))?.[1];
}

/** The only changes made to a block: where etcd and files are, and an owner we can chown to. */
function localise(text: string, endpoint: string, dir: string): string {
  const me = userInfo();
  return text
    .replaceAll('http://etcd:2379', endpoint)
    .replaceAll('/etc/prometheus/', `${dir}/prometheus/`)
    .replaceAll('/etc/etcd-http-sd/', `${dir}/etcd-http-sd/`)
    .replaceAll('root:prometheus', `${me.username}:${me.gid}`);
}

test('the README\'s code blocks run as written', async (t) => {
  const readme = await readFile(join(repoRoot(), 'README.md'), 'utf8');
  const all = blocks(readme);
  const unplanned = all.filter((b) => planOf(b) === undefined).map((b) => `line ${b.line}: ${b.text.split('\n')[0]}`);
  assert.deepEqual(unplanned, [], 'every README code block is run or says why not (add it to PLAN)');

  const etcd = await useTestEtcd(t);
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-readme-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'etcd-http-sd'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  await chmod(join(bin, 'etcd-http-sd'), 0o755);
  await mkdir(join(dir, 'etcd-http-sd'));
  await writeFile(join(dir, 'etcd-http-sd', 'web.pw'), 'readme-pw\n', { mode: 0o600 });
  // `import 'etcd-http-sd'` from outside the checkout, as an installed package resolves.
  await mkdir(join(dir, 'node_modules'));
  await symlink(repoRoot(), join(dir, 'node_modules', 'etcd-http-sd'));
  const env = { PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, ETCD_HTTP_SD_ETCD_ENDPOINTS: etcd.endpoint };

  let ran = 0;
  for (const b of all) {
    const plan = planOf(b);
    if (plan === undefined || typeof plan === 'object') continue;
    await putConsoleFixtures(etcd.client());
    const text = localise(b.text, etcd.endpoint, dir);
    const what = `README line ${b.line}`;
    if (plan === 'sh') {
      const r = await run('sh', ['-e', '-c', text], { cwd: dir, env }).catch((err: unknown) => assert.fail(`${what}: ${failureText(err)}`));
      t.diagnostic(`${what}: ran ${text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).length} line(s), ${r.stdout.length} bytes out`);
    } else {
      const file = join(dir, `snippet-${b.line}.mjs`);
      // The snippet ends with its shutdown comment; close the client so the process can end.
      await writeFile(file, `${text}\nawait registry.close();\n`);
      await run(process.execPath, [file], { cwd: dir, env }).catch((err: unknown) => assert.fail(`${what}: ${failureText(err)}`));
    }
    ran++;
  }
  assert.equal(ran, 4, 'the ts snippet, the group, explain and scrape-configs blocks');
});

/** What a failed child process said: its stderr when it has one, else the error's message. */
function failureText(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'stderr' in err && typeof err.stderr === 'string' && err.stderr !== '') return err.stderr;
  return err instanceof Error ? err.message : String(err);
}
