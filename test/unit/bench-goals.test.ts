// The benchmark's goals at 1,000,000 nodes: printed only when that size was measured, each met or not
// by its figure (RSS counts the worse of at ready and after serving).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { millionGoals, type SizeResult } from '../bench/results.js';

/** The figures the goals read; the rest of a size's results do not matter to them. */
function size(loadMs: number, rssAtReadyBytes: number, rssAfterServingBytes: number, cpuMicrosPerUpdate: number): SizeResult {
  return { load: { loadMs }, memory: { rssAtReadyBytes, rssAfterServingBytes, peakRssBytes: rssAfterServingBytes }, updateCost: { cpuMicrosPerUpdate } } as unknown as SizeResult;
}

test('1M goals: absent without a 1M size; met or not by load time, the worse RSS and CPU per update against 10k', () => {
  const s10 = size(400, 1.2e8, 1.3e8, 200);
  assert.deepEqual(millionGoals(undefined, s10), []);
  const met = millionGoals(size(19_000, 1.44e9, 1.48e9, 399), s10);
  assert.deepEqual(met.map((g) => g.met), [true, true, true]);
  assert.match(met[1]?.measured ?? '', /1\.44 GB at ready, 1\.48 GB after serving/);
  const notMet = millionGoals(size(23_000, 1.44e9, 1.93e9, 401), s10);
  assert.deepEqual(notMet.map((g) => g.met), [false, false, false], 'serving past the bound fails the RSS goal even when ready was under it');
  assert.equal(millionGoals(size(19_000, 1.44e9, 1.48e9, 399), undefined)[2]?.met, null, 'no 10k size: the ratio is not known');
});
