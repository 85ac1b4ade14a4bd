/**
 * Loopback etcd members for the reliability tests: a 3-member cluster
 * (static `--initial-cluster`) or a single member, optionally serving
 * clients over TLS with client-certificate auth. Health and metrics are
 * read from a separate plain-http metrics listener per member, so the
 * harness needs no client certificate. Each member can be killed and
 * restarted on its data dir; `stop()` removes everything.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForHealthy } from '../../src/etcd/embedded.js';
import { ETCD_BIN, type CleanupContext } from './etcd.js';
import { freePorts, loopbackUrl } from './ports.js';
import { httpRequest, spawnProcess, type Spawned } from './process.js';

/** Server-side TLS of the client listener (PEM file paths). */
export interface MemberTls {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA that client certificates must chain to (`--client-cert-auth`). */
  readonly trustedCaFile: string;
}

/** Options of {@link startTestCluster}. */
export interface TestClusterOptions {
  /** Members. Default 3. */
  readonly size?: number;
  readonly tls?: MemberTls;
  /** Extra flags for every member, after the defaults. */
  readonly extraArgs?: readonly string[];
  /** Health wait per (re)start. Default 30000 ms. */
  readonly readyTimeoutMs?: number;
}

/** One member. */
export interface TestMember {
  readonly name: string;
  /** `http(s)://127.0.0.1:<clientPort>`. */
  readonly endpoint: string;
  /** Plain-http listener for `/health` and `/metrics`. */
  readonly metricsUrl: string;
  readonly running: boolean;
  /** Sends `signal` (default SIGKILL) and waits for the exit. No-op when not running. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same data dir and waits for `/health`. */
  restart(): Promise<void>;
  /** `/metrics` text of the member. */
  metrics(): Promise<string>;
}

/** A running set of members; see {@link startTestCluster}. */
export interface TestCluster {
  readonly members: readonly TestMember[];
  readonly endpoints: readonly string[];
  /** Index of the member that reports `etcd_server_is_leader 1`, or -1. */
  leader(): Promise<number>;
  /** Live watchers per member (`etcd_debugging_mvcc_watcher_total`), -1 for a stopped member. */
  watchers(): Promise<number[]>;
  /** Kills every member and removes the data dirs. Idempotent; never throws. */
  stop(): Promise<void>;
}

/** Flags of a test member: quick elections that still tolerate a loaded 2-core machine. */
export const CLUSTER_ETCD_FLAGS: readonly string[] = [
  '--heartbeat-interval=50',
  '--election-timeout=500',
  '--experimental-watch-progress-notify-interval=500ms',
  '--logger=zap',
  '--log-level=error',
  '--log-outputs=stderr',
];

/** GET over plain http without keep-alive; rejects on status other than 200. */
export async function getText(url: string, timeoutMs = 2000): Promise<string> {
  const res = await httpRequest(url, { timeoutMs });
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return res.text;
}

/** Starts the members together and waits until each is healthy. Pair with `stop()` (see {@link useTestCluster}). */
export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const size = opts.size ?? 3;
  const ports = await freePorts(size * 3);
  const root = await mkdtemp(join(tmpdir(), 'etcd-http-sd-cluster-'));
  const scheme = opts.tls === undefined ? 'http' : 'https';
  const specs = Array.from({ length: size }, (_, i) => ({
    name: `m${i}`,
    client: ports[i * 3]!, peer: ports[i * 3 + 1]!, metrics: ports[i * 3 + 2]!,
  }));
  const initialCluster = specs.map((s) => `${s.name}=${loopbackUrl(s.peer)}`).join(',');
  const token = `reliability-${process.pid}-${ports[0]}`;
  const timeout = opts.readyTimeoutMs ?? 30_000;
  let stopped: Promise<void> | undefined;

  const members = specs.map((s): TestMember & { launch(): Promise<void> } => {
    const endpoint = loopbackUrl(s.client, scheme);
    const metricsUrl = loopbackUrl(s.metrics);
    const args = [
      `--name=${s.name}`, `--data-dir=${join(root, s.name)}`,
      `--listen-client-urls=${endpoint}`, `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${loopbackUrl(s.peer)}`, `--initial-advertise-peer-urls=${loopbackUrl(s.peer)}`,
      `--listen-metrics-urls=${metricsUrl}`,
      `--initial-cluster=${initialCluster}`, `--initial-cluster-token=${token}`, '--initial-cluster-state=new',
      ...(opts.tls === undefined ? [] : [
        `--cert-file=${opts.tls.certFile}`, `--key-file=${opts.tls.keyFile}`,
        `--trusted-ca-file=${opts.tls.trustedCaFile}`, '--client-cert-auth',
      ]),
      ...CLUSTER_ETCD_FLAGS, ...(opts.extraArgs ?? []),
    ];
    let proc: Spawned | undefined;
    const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
      const p = proc;
      if (p === undefined) return;
      await p.kill(signal);
      if (proc === p) proc = undefined;
    };
    const launch = async (): Promise<void> => {
      if (stopped !== undefined) throw new Error('test cluster is stopped');
      const p = spawnProcess(ETCD_BIN, args, { collect: false, tailChars: 2000 });
      proc = p;
      const died = p.exited.then(() => {
        throw new Error(`etcd ${s.name} exited during startup: ${p.output()}`);
      });
      try {
        await Promise.race([waitForHealthy(metricsUrl, timeout), died]);
      } catch (err) {
        await kill();
        throw new Error(`etcd ${s.name} (${endpoint}) failed to start: ${String(err)}`, { cause: err });
      }
      died.catch(() => {}); // a later crash is the test's business
    };
    return {
      name: s.name, endpoint, metricsUrl,
      get running() {
        return proc !== undefined;
      },
      kill,
      launch,
      restart: async () => {
        await kill();
        await launch();
      },
      metrics: () => getText(`${metricsUrl}/metrics`),
    };
  });

  const cluster: TestCluster = {
    members,
    endpoints: members.map((m) => m.endpoint),
    async leader() {
      for (const [i, m] of members.entries()) {
        if (!m.running) continue;
        const text = await m.metrics().catch(() => '');
        if (/^etcd_server_is_leader 1$/m.test(text)) return i;
      }
      return -1;
    },
    async watchers() {
      return Promise.all(members.map(async (m) => {
        if (!m.running) return -1;
        const line = /^etcd_debugging_mvcc_watcher_total (\S+)$/m.exec(await m.metrics().catch(() => ''));
        return line === null ? -1 : Number(line[1]);
      }));
    },
    stop() {
      stopped ??= (async () => {
        await Promise.all(members.map((m) => m.kill().catch(() => undefined)));
        await rm(root, { recursive: true, force: true }).catch(() => undefined);
      })();
      return stopped;
    },
  };
  try {
    await Promise.all(members.map((m) => m.launch()));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Starts members and registers their `stop()` with `t.after`. */
export async function useTestCluster(t: CleanupContext, opts?: TestClusterOptions): Promise<TestCluster> {
  const cluster = await startTestCluster(opts);
  t.after(() => cluster.stop());
  return cluster;
}
