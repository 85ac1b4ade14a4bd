// Small things users hit first: help and version spellings, honest help texts,
// and `group delete` of a group that is not there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
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

test('group delete of a missing group says so (exit 0)', async (t) => {
  const etcd = await useTestEtcd(t);
  const r = await runCli(t, ['group', 'delete', 'nosuch', '--etcd-endpoints', etcd.endpoint]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /group nosuch does not exist: nothing deleted/);
});
