// The benchmark harness (`npm run bench`, test/bench/) at its smallest size: it runs, measures
// every phase and reports. A smoke test only: no figure is compared with a threshold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/fixtures.js';
import { spawnTracked } from '../helpers/process.js';
import { withoutTestContext } from '../bench/entry.js';
import type { BenchResults } from '../bench/results.js';

const RUN = join(repoRoot(), 'dist', 'test', 'bench', 'run.js');

function wrkInstalled(): boolean {
  return spawnSync(process.env['WRK_BIN'] ?? 'wrk', ['-v'], { stdio: 'ignore' }).error === undefined;
}

test('the benchmark runs at 1,000 nodes and reports every phase as Markdown and JSON', { timeout: 120_000 }, async (t) => {
  // CI installs wrk (.ci/run): there a missing wrk is a failure, not a skip.
  if (!wrkInstalled() && process.env['CI'] !== 'true') {
    t.skip('wrk is not installed (apt-get install wrk)');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-bench-smoke-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'latest.json');
  const bench = spawnTracked(t, process.execPath, [RUN, '--sizes', '1000', '--runs', '1', '--duration', '1s', '--quick', '--extras', 'shard', '--out', out], {
    cwd: repoRoot(),
    // Without node --test's marker, or run.js would take itself for a test file and do nothing.
    env: withoutTestContext(process.env),
  });
  // SIGINT lets the harness stop its etcd and servers itself; SIGKILL (when the test ends) if it does not.
  const guard = setTimeout(() => void bench.kill('SIGINT'), 100_000);
  t.after(() => clearTimeout(guard));
  const exit = await bench.exited;
  clearTimeout(guard);
  const code = exit.code ?? exit.signal ?? -1;
  const stdout = bench.stdout();
  const stderr = bench.stderr();
  assert.equal(code, 0, `bench exited with ${code}:\n${stderr.slice(-3000)}`);

  for (const heading of ['### Goals', '### `/v1/targets` throughput', '### Propagation', '### Initial load and memory', '### Background writes', '### Cost growth']) {
    assert.ok(stdout.includes(heading), `the report has "${heading}"`);
  }
  assert.match(stdout, /^\| 1,000 \| full \|/m, 'a throughput row for 1,000 nodes');
  // A focused benchmark runs after the sizes, in its own process, and its rows join the report.
  assert.ok(stdout.includes('### Shard views in process'), 'the shard benchmark has its section');
  assert.match(stdout, /^\| 10000 nodes, groups of 100 \|/m, 'with its rows');

  const results = JSON.parse(await readFile(out, 'utf8')) as BenchResults;
  assert.ok(results.meta.cores >= 1);
  assert.equal(results.sizes.length, 1);
  assert.deepEqual(results.extras?.map((e) => [e.name, e.ok]), [['shard', true]]);
  const size = results.sizes[0]!;
  assert.equal(size.nodes, 1000);
  assert.deepEqual(size.throughput.map((v) => v.view), ['full', 'gzip', 'group']);
  for (const v of size.throughput) {
    for (const c of [v.limit, v.ours, v.alternative]) {
      assert.equal(c.runs.length, 1, `${v.view}: one wrk run per contender`);
      assert.ok(c.runs[0]!.requests > 0, `${v.view}: requests completed`);
    }
    assert.equal(typeof v.oursVsLimit, 'number');
    assert.ok(v.bodyBytes > 0);
  }
  assert.equal(typeof size.load.loadMs, 'number');
  assert.ok((size.memory.rssAtReadyBytes ?? 0) > 0);
  for (const p of [size.propagation.idle, size.propagation.loaded]) {
    assert.ok(p.put.samples > 0 && p.delete.samples > 0, 'put and delete propagation sampled');
  }
  assert.ok(size.churn.heartbeats > 0, 'heartbeats were written');
  // Not a timing: a heartbeat changes only last_seen, which is never served.
  assert.equal(size.churn.etagUnchanged, true, 'heartbeats leave the ETag alone');
  assert.ok(size.churn.revisionAfter > size.churn.revisionBefore, 'the heartbeats were applied');
  assert.ok(size.updateCost.updates > 0);
  assert.equal(results.goals.length, 11);
  assert.ok(results.goals.every((g) => g.met === null), 'at 1,000 nodes no goal applies');
});
