/**
 * The processes under test, each in its own process: our server as users
 * run it (the built CLI), the limit (a bare node:http server) and the usual
 * alternative (reads etcd per request). Every child is stopped through the
 * cleanup collector; output lines are kept (bounded) and can be awaited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from '../helpers/cli.js';
import { freePort, loopbackAddress, loopbackUrl } from '../helpers/ports.js';
import { httpRequest, waitForHttpOk } from '../helpers/process.js';
import type { Cleanup } from './cleanup.js';
import { sleep } from './stats.js';
import type { WriterConfig, WriterResult } from './writer.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Path of a compiled bench entry next to this file (e.g. `limit-server.js`). */
export function benchScript(name: string): string {
  return join(HERE, name);
}

/** A child process whose output lines can be read and awaited. */
export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Output lines so far (stdout and stderr, at most the last 2,000). */
  lines(): readonly string[];
  /** Resolves with the first line (already seen or to come) that `match` accepts; rejects after `timeoutMs` or on exit. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number): Promise<string>;
  /** Resolves with the exit code or signal once it exits. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, SIGKILL after `graceMs` (default 5000); resolves when exited. Idempotent. */
  stop(graceMs?: number): Promise<number | string>;
}

/** Spawns `node script args`; its stop is registered with `cleanup`. */
export function spawnNode(cleanup: Cleanup, name: string, script: string, args: readonly string[], nodeFlags: readonly string[] = []): Proc {
  const child = spawn(process.execPath, [...nodeFlags, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
  if (child.pid === undefined) throw new Error(`${name}: could not spawn ${script}`);
  const lines: string[] = [];
  const waiters = new Set<(line: string) => void>();
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 2000) lines.shift();
        for (const w of waiters) w(line);
      }
    });
  }
  let exitValue: number | string | undefined;
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      exitValue = code ?? signal ?? -1;
      resolve(exitValue);
    }),
  );
  let stopping: Promise<number | string> | undefined;
  const proc: Proc = {
    name,
    pid: child.pid,
    child,
    lines: () => lines,
    exited,
    waitForLine(match, timeoutMs) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(onLine);
        };
        const onLine = (line: string): void => {
          if (!match(line)) return;
          done();
          resolve(line);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no expected output within ${timeoutMs} ms; last lines:\n${lines.slice(-20).join('\n')}`));
        }, timeoutMs);
        waiters.add(onLine);
        void exited.then((code) => {
          if (!waiters.has(onLine)) return;
          done();
          reject(new Error(`${name} exited (${code}) before the expected output; last lines:\n${lines.slice(-20).join('\n')}`));
        });
      });
    },
    stop(graceMs = 5000) {
      stopping ??= (async () => {
        if (exitValue !== undefined) return exitValue;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      })();
      return stopping;
    },
  };
  cleanup.after(() => proc.stop());
  return proc;
}

/** An HTTP server under test. */
export interface ServerProc extends Proc {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
}

/** Our server as users run it, plus how long it took from spawn to `/readyz` 200. */
export interface OurServer extends ServerProc {
  readonly spawnToReadyMs: number;
  /** The `ms` of its `registry loaded` log line. */
  readonly loadMs: number;
}

/** Starts `etcd-http-sd serve` against `endpoint` and waits until it is ready (first load in memory). */
export async function startOurServer(cleanup: Cleanup, endpoint: string, opts: { profileDir?: string; readyTimeoutMs: number }): Promise<OurServer> {
  const port = await freePort();
  const url = loopbackUrl(port);
  const started = performance.now();
  const nodeFlags = opts.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`];
  // Log level info: the default users run with; it logs a handful of lines, none per request or event.
  const proc = spawnNode(cleanup, 'etcd-http-sd', CLI, ['serve', '--etcd-endpoints', endpoint, '--listen', loopbackAddress(port), '--log-level', 'info'], nodeFlags);
  const loaded = (l: string): boolean => l.includes('"msg":"registry loaded"');
  try {
    // Polling /readyz every 10 ms all through a long load took about 2% of the server's CPU
    // (1M nodes, profiled): wait for the load's log line, then confirm readiness over HTTP.
    await proc.waitForLine(loaded, opts.readyTimeoutMs);
    await waitUntilOk(`${url}/readyz`, opts.readyTimeoutMs, proc.exited);
  } catch (err) {
    throw new Error(`${String(err)}\n--- etcd-http-sd output ---\n${proc.lines().slice(-20).join('\n')}`, { cause: err });
  }
  const spawnToReadyMs = performance.now() - started;
  const line = await proc.waitForLine(loaded, 5000);
  const loadMs = Number((JSON.parse(line) as { ms?: unknown }).ms);
  return { ...proc, url, spawnToReadyMs, loadMs };
}

/** Polls `url` every 10 ms (one connection per try) until it answers 200; rejects on timeout or exit. */
async function waitUntilOk(url: string, timeoutMs: number, exited: Promise<unknown>): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer';
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set when the process exits, during the awaits
  while (!dead && performance.now() < deadline) {
    try {
      const res = await httpRequest(url, { timeoutMs: 2000 });
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await sleep(10);
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set when the process exits, during the awaits
  throw new Error(`${url} not ready (${dead ? 'process exited' : `after ${timeoutMs} ms`}; last: ${last})`);
}

/** Starts the bare node:http server answering the files of `manifest` (see limit-server.ts). */
export async function startLimitServer(cleanup: Cleanup, manifest: string): Promise<ServerProc> {
  const port = await freePort();
  const proc = spawnNode(cleanup, 'limit', benchScript('limit-server.js'), [String(port), manifest]);
  const url = loopbackUrl(port);
  await waitForHttpOk(`${url}/healthz`, 15_000, proc.exited);
  return { ...proc, url };
}

/** Starts the usual alternative (see alternative-server.ts) reading `endpoint`. */
export async function startAlternativeServer(cleanup: Cleanup, endpoint: string, prefix: string): Promise<ServerProc> {
  const port = await freePort();
  const proc = spawnNode(cleanup, 'alternative', benchScript('alternative-server.js'), [String(port), endpoint, prefix]);
  const url = loopbackUrl(port);
  await waitForHttpOk(`${url}/healthz`, 15_000, proc.exited);
  return { ...proc, url };
}

/** A running background writer (writer.ts). */
export interface WriterRun {
  readonly proc: Proc;
  /** Resolves with the writer's result line once it is done (duration over or `finish()`). */
  readonly result: Promise<WriterResult>;
  /** Asks the writer to stop now; resolves with its result. */
  finish(): Promise<WriterResult>;
}

/** Starts writer.ts with `config` and resolves once it is writing (its clock has started). */
export async function startWriter(cleanup: Cleanup, config: WriterConfig): Promise<WriterRun> {
  const proc = spawnNode(cleanup, `writer(${config.mode})`, benchScript('writer.js'), [JSON.stringify(config)]);
  await proc.waitForLine((l) => l.startsWith('{"started"'), 30_000);
  const result = proc
    .waitForLine((l) => l.startsWith('{"result"'), config.durationMs + 60_000)
    .then((l) => (JSON.parse(l) as { result: WriterResult }).result);
  result.catch(() => undefined); // observed by whoever awaits it
  return {
    proc,
    result,
    finish() {
      proc.child.kill('SIGTERM');
      return result;
    },
  };
}
