/**
 * A throwaway real etcd for integration tests: loopback-only, free ports,
 * fresh temp data dir, fast raft and progress-notify settings, quiet logs.
 * Independent of `src/etcd/embedded.ts` (no supervision: a killed etcd stays
 * dead until `restart()`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../src/etcd/client.js';
import { waitForHealthy } from '../../src/etcd/embedded.js';
import { freePorts, loopbackUrl } from './ports.js';
import { spawnProcess, type Spawned } from './process.js';

/** etcd binary used by tests; override with env `ETCD_BIN`. */
export const ETCD_BIN = process.env['ETCD_BIN'] ?? '/usr/bin/etcd';

/**
 * Flags that make a single test member fast and quiet (etcd 3.4):
 * 10 ms heartbeats / 100 ms election timeout (leader within ~0.2 s),
 * progress notifications every 500 ms instead of 10 min, errors-only logging.
 */
export const FAST_ETCD_FLAGS: readonly string[] = [
  '--heartbeat-interval=10',
  '--election-timeout=100',
  '--experimental-watch-progress-notify-interval=500ms',
  '--logger=zap',
  '--log-level=error',
  '--log-outputs=stderr',
];

/** Options of {@link startTestEtcd}. */
export interface TestEtcdOptions {
  /** Extra etcd flags, appended after the defaults (later flags win). */
  readonly extraArgs?: readonly string[];
  /** Health wait per (re)start. Default 15000 ms. */
  readonly readyTimeoutMs?: number;
}

/** A running test etcd; see {@link startTestEtcd}. */
export interface TestEtcd {
  /** `http://127.0.0.1:<clientPort>`. */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** Pid of the current etcd process, undefined while killed. */
  readonly pid: number | undefined;
  /** Shared etcd3 client (call timeout 2 s), created on first use, closed by `stop()`. */
  client(): Etcd3;
  /** Sends `signal` (default SIGKILL) and resolves once etcd has exited. No-op when not running. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts etcd again on the same data dir and ports and waits for /health. Kills it first if running. */
  restart(): Promise<void>;
  /** Compacts (physically) at `revision`, default the current one; returns that revision. */
  compact(revision?: number): Promise<number>;
  /** Current store revision. */
  revision(): Promise<number>;
  /** Closes the client, kills etcd, removes the data dir. Idempotent; never throws. */
  stop(): Promise<void>;
}


/** Starts a fresh etcd and waits until it is healthy. Always pair with `stop()` (see {@link useTestEtcd}). */
export async function startTestEtcd(opts: TestEtcdOptions = {}): Promise<TestEtcd> {
  const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
  const dataDir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-test-'));
  const endpoint = loopbackUrl(clientPort);
  const peerUrl = loopbackUrl(peerPort);
  const args = [
    '--name=test',
    `--data-dir=${join(dataDir, 'member-data')}`,
    `--listen-client-urls=${endpoint}`,
    `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=test=${peerUrl}`,
    ...FAST_ETCD_FLAGS,
    ...(opts.extraArgs ?? []),
  ];
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  let proc: Spawned | undefined;
  let client: Etcd3 | undefined;
  let stopped: Promise<void> | undefined;

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const p = proc;
    if (p === undefined) return;
    await p.kill(signal);
    if (proc === p) proc = undefined;
  };

  const launch = async (): Promise<void> => {
    const p = spawnProcess(ETCD_BIN, args, { collect: false, tailChars: 2000 });
    proc = p;
    const died = p.exited.then(() => {
      throw new Error(`test etcd exited during startup: ${p.output()}`);
    });
    try {
      await Promise.race([waitForHealthy(endpoint, readyTimeoutMs), died]);
    } catch (err) {
      await kill('SIGKILL');
      throw new Error(`test etcd on ${endpoint} failed to start: ${String(err)}\n${p.output()}`, {
        cause: err,
      });
    }
    died.catch(() => {}); // a later crash is the test's business
  };

  const revision = async (): Promise<number> => {
    const res = await etcd.client().kv.range({ key: Buffer.from([0]), count_only: true });
    return Number(res.header.revision);
  };

  const etcd: TestEtcd = {
    endpoint,
    clientPort,
    peerPort,
    dataDir,
    get pid() {
      return proc?.pid;
    },
    client() {
      if (stopped !== undefined) throw new Error('test etcd is stopped');
      client ??= createEtcdClient({ endpoints: [endpoint], callTimeoutMs: 2000 });
      return client;
    },
    kill,
    async restart() {
      await kill('SIGKILL');
      await launch();
    },
    async compact(rev) {
      const target = rev ?? (await revision());
      await etcd.client().kv.compact({ revision: target, physical: true });
      return target;
    },
    revision,
    stop() {
      stopped ??= (async () => {
        client?.close();
        client = undefined;
        await kill('SIGKILL').catch(() => {});
        await rm(dataDir, { recursive: true, force: true }).catch(() => {});
      })();
      return stopped;
    },
  };

  try {
    await launch();
  } catch (err) {
    await etcd.stop();
    throw err;
  }
  return etcd;
}

/** The part of node:test's `TestContext` (or `after` hooks) needed to register cleanup. */
export interface CleanupContext {
  after(fn: () => unknown): void;
}

/** Starts a test etcd and registers its `stop()` with `t.after`, so it goes away even if the test fails. */
export async function useTestEtcd(t: CleanupContext, opts?: TestEtcdOptions): Promise<TestEtcd> {
  const etcd = await startTestEtcd(opts);
  t.after(() => etcd.stop());
  return etcd;
}
