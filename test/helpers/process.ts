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
import { request, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
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

/** Throws unless `url` is HTTP (or HTTPS) to 127.0.0.1: tests never send traffic anywhere else. */
export function assertLoopbackUrl(url: string): URL {
  const parsed = new URL(url);
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname !== '127.0.0.1') {
    throw new Error(`refusing non-loopback URL ${url}: tests may only reach http://127.0.0.1`);
  }
  return parsed;
}

/** A response of {@link httpRequest}. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  /** `body` as UTF-8. */
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
  /** CA to trust for an `https://` URL. */
  readonly ca?: Buffer;
}

/** The one HTTP client of the tests: one request to a loopback URL, without keep-alive, with a timeout. */
export function httpRequest(url: string, opts: HttpRequestOptions = {}): Promise<HttpResult> {
  const target = assertLoopbackUrl(url);
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { connection: 'close', ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const options = { method: opts.method ?? 'GET', headers };
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    };
    const req = target.protocol === 'https:' ? httpsRequest(target, { ...options, ...(opts.ca === undefined ? {} : { ca: opts.ca }) }, onResponse) : request(target, options, onResponse);
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

/** Options of {@link spawnProcess}. */
export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** `pipe` gives the child a stdin (`child.stdin`); default `ignore`. */
  readonly stdin?: 'pipe' | 'ignore';
  /** Characters of interleaved stdout/stderr kept for `output()`. Default 8000. */
  readonly tailChars?: number;
  /** Its own process group (as a terminal makes for a foreground job); `kill` then signals the whole group. */
  readonly detached?: boolean;
  /** Whether `stdout()` and `stderr()` keep everything; false (long-lived chatty processes): only the tail. Default true. */
  readonly collect?: boolean;
}

/** A spawned process, its output so far and how it ended; see {@link spawnProcess}. */
export interface Spawned {
  readonly child: ChildProcess;
  /** Pid, undefined when the spawn failed. */
  readonly pid: number | undefined;
  /** Whether the process has not exited yet. */
  readonly running: boolean;
  /** Resolves once the process has exited and its output is read (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Why the spawn failed, if it did (e.g. ENOENT). */
  readonly spawnError: Error | undefined;
  /** All of stdout so far ('' unless `collect`). */
  stdout(): string;
  /** All of stderr so far ('' unless `collect`). */
  stderr(): string;
  /** The last `tailChars` characters of stdout and stderr, interleaved as received. */
  output(): string;
  /** Sends `signal` (default SIGKILL; to the group when `detached`) unless already exited, and resolves once exited. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once exited. Idempotent; never throws. */
  stop(graceMs: number): Promise<ExitInfo>;
}

function describeExit(e: ExitInfo): string {
  return e.signal !== null ? `signal ${e.signal}` : `code ${String(e.code)}`;
}

/**
 * The one place tests spawn processes: stdout and stderr collected, exit
 * watched, kill and stop. Prefer {@link spawnTracked} or {@link useChild},
 * which also stop the process when the test ends.
 */
export function spawnProcess(command: string, args: readonly string[], opts: SpawnOptions = {}): Spawned {
  const child = spawn(command, args, {
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    ...(opts.detached === true ? { detached: true } : {}),
  });
  const tail = new Tail(opts.tailChars ?? 8000);
  const collect = opts.collect ?? true;
  let out = '';
  let err = '';
  let spawnError: Error | undefined;
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    if (collect) out += c;
    tail.push(c);
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    if (collect) err += c;
    tail.push(c);
  });
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', (e) => {
      spawnError = e;
      if (child.pid === undefined) resolve({ code: null, signal: null }); // spawn failed: no 'close' follows
    });
  }).then((e) => (exitInfo = e));
  let stopping: Promise<ExitInfo> | undefined;
  const kill = (signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> => {
    if (exitInfo === undefined && child.pid !== undefined) {
      if (opts.detached === true) process.kill(-child.pid, signal);
      else child.kill(signal);
    }
    return exited;
  };
  return {
    child,
    get pid() {
      return child.pid;
    },
    get running() {
      return child.pid !== undefined && exitInfo === undefined;
    },
    exited,
    get spawnError() {
      return spawnError;
    },
    stdout: () => out,
    stderr: () => err,
    output: () => tail.toString(),
    kill,
    stop(graceMs) {
      stopping ??= (async () => {
        if (exitInfo !== undefined || child.pid === undefined) return exited;
        const timer = setTimeout(() => void kill('SIGKILL'), graceMs);
        try {
          return await kill('SIGTERM');
        } finally {
          clearTimeout(timer);
        }
      })();
      return stopping;
    },
  };
}

/** {@link spawnProcess}, killed (SIGKILL) when the test ends if still running. */
export function spawnTracked(t: CleanupContext, command: string, args: readonly string[], opts: SpawnOptions = {}): Spawned {
  const p = spawnProcess(command, args, opts);
  t.after(() => p.kill('SIGKILL'));
  return p;
}

/**
 * Spawns a child and, when `readyUrl` is given, waits until it answers 200.
 * On any startup failure the child is killed and the error carries the tail
 * of its output. Always pair with `stop()` (see {@link useChild}).
 */
export async function startChild(opts: ChildOptions): Promise<Child> {
  const p = spawnProcess(opts.command, opts.args, {
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    ...(opts.tailChars !== undefined ? { tailChars: opts.tailChars } : {}),
  });
  const graceMs = opts.stopGraceMs ?? 5000;
  const handle: Child = {
    name: opts.name,
    get pid() {
      return p.pid;
    },
    get running() {
      return p.running;
    },
    exited: p.exited,
    output: () => p.output(),
    stop: () => p.stop(graceMs),
  };
  if (opts.readyUrl !== undefined) {
    try {
      await waitForHttpOk(opts.readyUrl, opts.readyTimeoutMs ?? 15_000, p.exited);
    } catch (err) {
      const diedFirst = !p.running;
      const exit = await handle.stop();
      const why = p.spawnError?.message ?? (diedFirst ? `exited with ${describeExit(exit)}` : String(err));
      throw new Error(`${opts.name} failed to start: ${why}\n--- output tail ---\n${p.output()}`, { cause: err });
    }
  } else if (p.spawnError !== undefined || p.pid === undefined) {
    await handle.stop();
    throw new Error(`${opts.name} failed to spawn: ${p.spawnError?.message ?? 'no pid'}`);
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

/** Options of {@link runCommand}. */
export interface RunOptions {
  /** SIGKILL after this long. Default 30000 ms. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed. */
  readonly input?: string;
}

/** Runs a command to completion (SIGKILL after `timeoutMs`) and collects its output. Rejects only when it cannot be spawned. */
export async function runCommand(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const p = spawnProcess(command, args, {
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    ...(opts.input !== undefined ? { stdin: 'pipe' } : {}),
  });
  p.child.stdin?.on('error', () => undefined).end(opts.input);
  const timer = setTimeout(() => void p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const exit = await p.exited;
  clearTimeout(timer);
  if (p.pid === undefined) throw new Error(`cannot run ${command}: ${p.spawnError?.message ?? 'no pid'}`, { cause: p.spawnError });
  return { code: exit.code, stdout: p.stdout(), stderr: p.stderr() };
}

/** A command that exited other than 0; `stderr` is what it said. */
export class CommandFailedError extends Error {
  constructor(readonly command: string, readonly result: CommandResult) {
    super(`${command} exited with ${String(result.code)}: ${(result.stderr || result.stdout).slice(-3000)}`);
    this.name = 'CommandFailedError';
  }

  get stderr(): string {
    return this.result.stderr;
  }
}

/** {@link runCommand}, rejecting with a {@link CommandFailedError} unless the command exits 0. */
export async function runChecked(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const r = await runCommand(command, args, opts);
  if (r.code !== 0) throw new CommandFailedError([command, ...args].join(' ').slice(0, 300), r);
  return r;
}
