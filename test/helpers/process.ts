/**
 * Child processes for tests: spawn a binary, keep the tail of its output for
 * error messages, wait until an HTTP readiness URL answers, and stop it with
 * SIGTERM, then SIGKILL after a grace period. `useChild` registers the stop
 * with `t.after`, so the process goes away even when the test fails.
 *
 * Tests may only talk to loopback: every URL this module requests is checked
 * to be `http://127.0.0.1:<port>/...` first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import type { CleanupContext } from './etcd.js';

/** How a child ended. */
export interface ExitInfo {
  /** Exit code, or null when it died of a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Options of {@link startChild}. */
export interface ChildOptions {
  /** Short name used in error messages, e.g. `prometheus`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Loopback URL that answers 200 once the child is ready; when absent, `startChild` only waits for the spawn. */
  readonly readyUrl?: string;
  /** Readiness wait. Default 15000 ms. */
  readonly readyTimeoutMs?: number;
  /** Time between SIGTERM and SIGKILL in `stop()`. Default 5000 ms. */
  readonly stopGraceMs?: number;
  /** Characters of combined stdout/stderr kept for messages. Default 8000. */
  readonly tailChars?: number;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** A running child; see {@link startChild}. */
export interface Child {
  readonly name: string;
  /** Pid, undefined when the spawn failed. */
  readonly pid: number | undefined;
  /** Whether the process has not exited yet. */
  readonly running: boolean;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** The last `tailChars` characters of stdout and stderr, interleaved as received. */
  output(): string;
  /** SIGTERM, then SIGKILL after `stopGraceMs`; resolves once exited. Idempotent; never throws. */
  stop(): Promise<ExitInfo>;
}

/** A bounded text buffer keeping only the last `max` characters. */
class Tail {
  #text = '';
  constructor(private readonly max: number) {}
  push(chunk: string): void {
    this.#text += chunk;
    if (this.#text.length > this.max * 2) this.#text = this.#text.slice(-this.max);
  }
  toString(): string {
    return this.#text.slice(-this.max);
  }
}

/** Throws unless `url` is plain HTTP to 127.0.0.1: tests never send traffic anywhere else. */
export function assertLoopbackUrl(url: string): URL {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' || parsed.hostname !== '127.0.0.1') {
    throw new Error(`refusing non-loopback URL ${url}: tests may only reach http://127.0.0.1`);
  }
  return parsed;
}

/** A response of {@link httpRequest}. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** Options of {@link httpRequest}. */
export interface HttpRequestOptions {
  /** Default `GET`. */
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Whole-request timeout. Default 5000 ms. */
  readonly timeoutMs?: number;
}

/** One HTTP request to a loopback URL, without keep-alive, with a timeout. */
export function httpRequest(url: string, opts: HttpRequestOptions = {}): Promise<HttpResult> {
  const target = assertLoopbackUrl(url);
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { connection: 'close', ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const req = request(target, { method: opts.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`${opts.method ?? 'GET'} ${url}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(opts.body);
  });
}

/**
 * Polls `url` until it answers 200, `died` settles (the child exited), or
 * `timeoutMs` passes. The error names the last status or connection error.
 */
export async function waitForHttpOk(url: string, timeoutMs: number, died?: Promise<unknown>): Promise<void> {
  assertLoopbackUrl(url);
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt';
  let dead = false;
  void died?.then(() => {
    dead = true;
  });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set when the process exits, during the awaits
  while (!dead) {
    try {
      const res = await httpRequest(url, { timeoutMs: 1000 });
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`process exited before ${url} was ready (last: ${last})`);
}

function watchExit(child: ChildProcess): Promise<ExitInfo> {
  return new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', () => {
      if (child.pid === undefined) resolve({ code: null, signal: null }); // spawn failed: no 'close' follows
    });
  });
}

function describeExit(e: ExitInfo): string {
  return e.signal !== null ? `signal ${e.signal}` : `code ${String(e.code)}`;
}

/**
 * Spawns a child and, when `readyUrl` is given, waits until it answers 200.
 * On any startup failure the child is killed and the error carries the tail
 * of its output. Always pair with `stop()` (see {@link useChild}).
 */
export async function startChild(opts: ChildOptions): Promise<Child> {
  const tail = new Tail(opts.tailChars ?? 8000);
  const child = spawn(opts.command, opts.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => tail.push(chunk));
  }
  let exitInfo: ExitInfo | undefined;
  const exited = watchExit(child).then((e) => {
    exitInfo = e;
    return e;
  });
  const graceMs = opts.stopGraceMs ?? 5000;
  let stopping: Promise<ExitInfo> | undefined;

  const handle: Child = {
    name: opts.name,
    get pid() {
      return child.pid;
    },
    get running() {
      return child.pid !== undefined && exitInfo === undefined;
    },
    exited,
    output: () => tail.toString(),
    stop() {
      stopping ??= (async () => {
        if (exitInfo !== undefined || child.pid === undefined) return exited;
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

  if (opts.readyUrl !== undefined) {
    try {
      await waitForHttpOk(opts.readyUrl, opts.readyTimeoutMs ?? 15_000, exited);
    } catch (err) {
      await handle.stop();
      const why = spawnError?.message ?? (exitInfo ? `exited with ${describeExit(exitInfo)}` : String(err));
      throw new Error(`${opts.name} failed to start: ${why}\n--- output tail ---\n${tail.toString()}`, { cause: err });
    }
  } else if (spawnError !== undefined || child.pid === undefined) {
    await handle.stop();
    throw new Error(`${opts.name} failed to spawn: ${spawnError?.message ?? 'no pid'}`);
  }
  return handle;
}

/** {@link startChild}, with `stop()` registered on `t.after`. */
export async function useChild(t: CleanupContext, opts: ChildOptions): Promise<Child> {
  const child = await startChild(opts);
  t.after(() => child.stop());
  return child;
}

/** Result of {@link runCommand}. */
export interface CommandResult {
  /** Exit code; null when killed by a signal (including the timeout). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (SIGKILL after `timeoutMs`, default 30000) and collects its output. Rejects only when it cannot be spawned. */
export function runCommand(command: string, args: readonly string[], opts: { readonly timeoutMs?: number; readonly cwd?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}) });
    const out: string[] = [];
    const err: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (c: string) => out.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      if (child.pid === undefined) reject(new Error(`cannot run ${command}: ${e.message}`, { cause: e }));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out.join(''), stderr: err.join('') });
    });
  });
}
