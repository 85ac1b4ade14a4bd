/**
 * Phase 3: initial load and resident memory. The server is started `runs`
 * times on the same etcd; each start reports the `ms` of its
 * `registry loaded` line, the wall time from spawn to `/readyz` 200 and
 * VmRSS right then. The last server is kept for the other phases.
 */
import type { Cleanup } from './cleanup.js';
import { startOurServer, type OurServer } from './children.js';
import { rssBytes } from './procstat.js';
import { median } from './stats.js';

/** One start. */
export interface LoadRun {
  readonly loadMs: number;
  readonly spawnToReadyMs: number;
  readonly rssAtReadyBytes: number;
}

/** Medians of the starts. */
export interface LoadFigures {
  readonly loadMs: number | undefined;
  readonly spawnToReadyMs: number | undefined;
  readonly rssAtReadyBytes: number | undefined;
  readonly runs: readonly LoadRun[];
}

/** Starts the server `runs` times; returns the figures and the last (running) server. */
export async function measureLoad(cleanup: Cleanup, endpoint: string, runs: number, profileDir: string | undefined, log: (msg: string) => void): Promise<{ figures: LoadFigures; server: OurServer }> {
  const all: LoadRun[] = [];
  let server: OurServer | undefined;
  for (let i = 0; i < runs; i++) {
    server = await startOurServer(cleanup, endpoint, { readyTimeoutMs: 120_000, ...(profileDir === undefined ? {} : { profileDir }) });
    const run = { loadMs: server.loadMs, spawnToReadyMs: server.spawnToReadyMs, rssAtReadyBytes: rssBytes(server.pid) };
    all.push(run);
    log(`  start ${i + 1}/${runs}: loaded in ${run.loadMs} ms, ready ${run.spawnToReadyMs.toFixed(0)} ms after spawn, RSS ${(run.rssAtReadyBytes / 2 ** 20).toFixed(1)} MiB`);
    if (i < runs - 1) await server.stop();
  }
  return {
    figures: {
      loadMs: median(all.map((r) => r.loadMs)),
      spawnToReadyMs: median(all.map((r) => r.spawnToReadyMs)),
      rssAtReadyBytes: median(all.map((r) => r.rssAtReadyBytes)),
      runs: all,
    },
    server: server!,
  };
}
