/**
 * Runs a single-member etcd as a supervised child process, listening on
 * 127.0.0.1 only. Used by `serve --embedded-etcd`; the CLI owns `process`
 * and must call {@link EmbeddedEtcd.close} on shutdown.
 *
 * etcd runs in its own process group: a Ctrl-C (SIGINT to the terminal's
 * foreground group, or systemd's KillMode=control-group) reaches only us,
 * and we stop etcd ourselves instead of seeing it "crash" and restarting it.
 * Its pid is kept in the data dir, so a run that was SIGKILLed before it could
 * stop etcd is recognised, and its etcd stopped, by the next start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { EtcdHttpSdError, TimeoutError, errorMessage } from '../errors.js';
import { hostUrl } from '../net.js';
import { waitForHealthy } from './health.js';
import { binaryMissing, LOOPBACK, preflight, removePidFile, writePidFile } from './preflight.js';

export { waitForHealthy } from './health.js';
export { PreflightError, type PreflightProblem } from './preflight.js';
/** Lines of etcd's stderr kept for error messages. */
const STDERR_LINES = 40;
/** Lines of that tail quoted in an error message. */
const TAIL_IN_MESSAGE = 12;
/** A run healthy this long resets the restart backoff. */
const STABLE_AFTER_MS = 30_000;

/** Structured logger the embedded etcd reports to; `debug` gets etcd's own stderr. */
export interface EmbeddedEtcdLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  debug?(msg: string, fields?: Record<string, unknown>): void;
}

/** Options of {@link startEmbeddedEtcd}. */
export interface EmbeddedEtcdOptions {
  /** etcd executable: a path, or a name looked up in PATH (e.g. `etcd`). */
  readonly binary: string;
  /** Data directory; created (mkdir -p) if missing and kept across restarts. */
  readonly dataDir: string;
  /** Client port on 127.0.0.1. */
  readonly clientPort: number;
  /** Peer port on 127.0.0.1. */
  readonly peerPort: number;
  /** Member name (`--name`). Default `etcd-http-sd`. */
  readonly name?: string;
  /** Where to log; default: nothing is logged. */
  readonly logger?: EmbeddedEtcdLogger;
  /** How long to wait for `/health` after each start. Default 15000 ms. */
  readonly readyTimeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL in `close()`. Default 5000 ms. */
  readonly stopTimeoutMs?: number;
  /** Delay before restart n is `min(initialMs * 2^n, maxMs)`. Defaults 250 ms and 10000 ms. */
  readonly restartBackoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Aborts start-up (the first Ctrl-C): etcd, if spawned, is stopped and start rejects with CLOSED. */
  readonly signal?: AbortSignal;
  /** Deadline of creating the data dir. Default 10000 ms. */
  readonly dataDirTimeoutMs?: number;
}

/** Payload of the `exit` event. */
export interface EmbeddedEtcdExit {
  readonly pid: number | undefined;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when `close()` (or a failed start) caused it, false for a crash. */
  readonly expected: boolean;
}

/** Payload of the `restarted` event. */
export interface EmbeddedEtcdRestart {
  readonly pid: number;
  /** Restart attempts since the last stable run, this one included. */
  readonly attempt: number;
}

interface Run {
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: NodeJS.ErrnoException }>;
  healthyAt?: number;
}

const noop = (): void => {};
const silent: EmbeddedEtcdLogger = { info: noop, warn: noop, error: noop };

/**
 * A supervised etcd child process: restarted with capped exponential backoff
 * when it dies unexpectedly, always on the same data dir and ports.
 * Obtain one from {@link startEmbeddedEtcd}.
 */
export class EmbeddedEtcd extends EventEmitter {
  /** Client URL, `http://127.0.0.1:<clientPort>`. */
  readonly endpoint: string;
  /** The data directory in use. */
  readonly dataDir: string;
  private readonly opts: EmbeddedEtcdOptions;
  private readonly log: EmbeddedEtcdLogger;
  private readonly stderrTail: string[] = [];
  private current: Run | undefined;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private readonly abort = new AbortController();

  /** @internal Use {@link startEmbeddedEtcd}. */
  constructor(opts: EmbeddedEtcdOptions) {
    super();
    this.opts = opts;
    this.log = opts.logger ?? silent;
    this.endpoint = hostUrl('http', LOOPBACK, opts.clientPort);
    this.dataDir = opts.dataDir;
  }

  /** Pid of the running etcd, or undefined while it is down or restarting. */
  get pid(): number | undefined {
    return this.current?.proc.pid;
  }

  /** Emitted whenever the etcd process ends, expectedly or not. */
  override on(event: 'exit', listener: (info: EmbeddedEtcdExit) => void): this;
  /** Emitted when etcd is healthy again after an unexpected exit. */
  override on(event: 'restarted', listener: (info: EmbeddedEtcdRestart) => void): this;
  /** Emitted when a restart attempt fails; another one is scheduled. */
  override on(event: 'restartFailed', listener: (err: Error) => void): this;
  // The implementation signature must accept every overload's listener.
  override on(event: string, listener: (...args: never[]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  /**
   * Stops etcd: SIGTERM, then SIGKILL after `stopTimeoutMs`. Resolves once
   * the process has exited; cancels pending restarts. Idempotent.
   */
  close(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  /** @internal Spawns etcd and waits until it is healthy; throws a typed error otherwise. */
  async launch(): Promise<void> {
    const run = this.spawnChild();
    const timeoutMs = this.opts.readyTimeoutMs ?? 15_000;
    const startupAbort = new AbortController();
    const onStop = (): void => startupAbort.abort();
    this.abort.signal.addEventListener('abort', onStop);
    const outcome = await Promise.race([
      waitForHealthy(this.endpoint, timeoutMs, startupAbort.signal).then(
        () => ({ kind: 'ready' as const }),
        (err: unknown) => ({ kind: 'timeout' as const, err }),
      ),
      run.exited.then((info) => ({ kind: 'exited' as const, info })),
    ]).finally(() => {
      startupAbort.abort();
      this.abort.signal.removeEventListener('abort', onStop);
    });
    if (outcome.kind === 'ready') {
      run.healthyAt = Date.now();
      return;
    }
    if (outcome.kind === 'timeout') {
      run.proc.kill('SIGKILL');
      await run.exited;
      if (this.stopping) throw new EtcdHttpSdError('CLOSED', 'embedded etcd was stopped while starting');
      throw new EtcdHttpSdError(
        'EMBEDDED_ETCD_FAILED',
        `embedded etcd on ${this.endpoint} did not become healthy within ${timeoutMs} ms${this.tailText()}`,
        { cause: outcome.err instanceof TimeoutError ? outcome.err : new TimeoutError('etcd /health', timeoutMs) },
      );
    }
    const { code, signal, spawnError } = outcome.info;
    if (spawnError?.code === 'ENOENT') throw binaryMissing(this.opts.binary, spawnError);
    if (spawnError !== undefined) {
      throw new EtcdHttpSdError('EMBEDDED_ETCD_FAILED', `cannot run ${this.opts.binary}: ${spawnError.message}`, {
        cause: spawnError,
      });
    }
    throw new EtcdHttpSdError(
      'EMBEDDED_ETCD_FAILED',
      `embedded etcd exited during startup (code ${code ?? 'none'}, signal ${signal ?? 'none'})${this.tailText()}`,
    );
  }

  private spawnChild(): Run {
    const { binary, peerPort } = this.opts;
    const name = this.opts.name ?? 'etcd-http-sd';
    const clientUrl = this.endpoint;
    const peerUrl = hostUrl('http', LOOPBACK, peerPort);
    const args = [
      `--name=${name}`,
      `--data-dir=${this.dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${name}=${peerUrl}`,
      '--logger=zap',
      '--log-outputs=stderr',
    ];
    this.stderrTail.length = 0;
    // detached: its own process group, so a terminal's Ctrl-C reaches only us (we stop it).
    const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    if (proc.pid !== undefined) void writePidFile(this.dataDir, proc.pid);
    proc.stderr.setEncoding('utf8');
    let partial = '';
    proc.stderr.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.recordStderr(line, proc.pid);
    });
    const exited = new Promise<Awaited<Run['exited']>>((resolve) => {
      proc.on('error', (err: NodeJS.ErrnoException) => {
        // A failed spawn has no pid and never emits 'close'.
        if (proc.pid === undefined) resolve({ code: null, signal: null, spawnError: err });
        else this.log.warn('embedded etcd process error', { pid: proc.pid, error: err.message });
      });
      proc.on('close', (code, signal) => {
        if (partial !== '') this.recordStderr(partial, proc.pid);
        resolve({ code, signal });
      });
    });
    const run: Run = { proc, exited };
    this.current = run;
    void exited.then((info) => this.onExit(run, info.code, info.signal));
    return run;
  }

  private recordStderr(line: string, pid: number | undefined): void {
    if (line.trim() === '') return;
    this.stderrTail.push(line);
    if (this.stderrTail.length > STDERR_LINES) this.stderrTail.shift();
    this.log.debug?.('etcd', { pid, line });
  }

  private tailText(): string {
    const tail = this.stderrTail.slice(-TAIL_IN_MESSAGE);
    return tail.length === 0 ? ' (no stderr output)' : `; last stderr lines:\n${tail.join('\n')}`;
  }

  private onExit(run: Run, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.current === run) this.current = undefined;
    const crashed = run.healthyAt !== undefined && !this.stopping;
    this.emit('exit', { pid: run.proc.pid, code, signal, expected: !crashed } satisfies EmbeddedEtcdExit);
    if (!crashed) return;
    if (Date.now() - (run.healthyAt ?? 0) >= STABLE_AFTER_MS) this.attempt = 0;
    this.log.error('embedded etcd exited unexpectedly', {
      pid: run.proc.pid,
      code,
      signal,
      stderr: this.stderrTail.slice(-TAIL_IN_MESSAGE),
    });
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopping) return;
    const initial = this.opts.restartBackoff?.initialMs ?? 250;
    const max = this.opts.restartBackoff?.maxMs ?? 10_000;
    const delayMs = Math.min(initial * 2 ** this.attempt, max);
    this.attempt += 1;
    this.log.warn('restarting embedded etcd', { delayMs, attempt: this.attempt });
    this.restartTimer = setTimeout(() => void this.restart(), delayMs);
  }

  private async restart(): Promise<void> {
    this.restartTimer = undefined;
    if (this.stopping) return;
    try {
      await this.launch();
      const pid = this.current?.proc.pid ?? -1;
      this.log.info('embedded etcd restarted', { pid, attempt: this.attempt, endpoint: this.endpoint });
      this.emit('restarted', { pid, attempt: this.attempt } satisfies EmbeddedEtcdRestart);
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await
      if (this.stopping) return;
      this.log.error('embedded etcd restart failed', { attempt: this.attempt, error: errorMessage(err) });
      this.emit('restartFailed', err instanceof Error ? err : new Error(String(err)));
      this.scheduleRestart();
    }
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const run = this.current;
    if (run === undefined) {
      this.emit('stopped');
      return;
    }
    const graceMs = this.opts.stopTimeoutMs ?? 5000;
    run.proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      run.exited.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      this.log.warn('embedded etcd ignored SIGTERM; sending SIGKILL', { pid: run.proc.pid, graceMs });
      run.proc.kill('SIGKILL');
      await run.exited;
    }
    await removePidFile(this.dataDir);
    this.log.info('embedded etcd stopped', { pid: run.proc.pid });
    this.emit('stopped');
  }

  /**
   * Kills etcd at once; for `process.on('exit')`, when we exit without
   * `stop()` (a second Ctrl-C, process.exit): a detached etcd would outlive us.
   */
  killNow(): void {
    this.stopping = true;
    if (this.current?.proc.exitCode === null) this.current.proc.kill('SIGKILL');
  }
}

/**
 * Starts a single-member etcd listening only on 127.0.0.1 and resolves once
 * `/health` reports healthy. Throws `ETCD_BINARY_MISSING` when the binary
 * cannot be found, `EMBEDDED_ETCD_FAILED` when a port is taken, etcd exits
 * during startup or is not healthy within `readyTimeoutMs` (the message
 * quotes the tail of etcd's stderr).
 */
export async function startEmbeddedEtcd(opts: EmbeddedEtcdOptions): Promise<EmbeddedEtcd> {
  await preflight(opts);
  const etcd = new EmbeddedEtcd(opts);
  const onAbort = (): void => void etcd.close();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const onExit = (): void => etcd.killNow();
  process.on('exit', onExit);
  try {
    await etcd.launch();
  } catch (err) {
    process.off('exit', onExit);
    await etcd.close();
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  etcd.once('stopped', () => process.off('exit', onExit));
  opts.logger?.info('embedded etcd ready', { endpoint: etcd.endpoint, pid: etcd.pid, dataDir: etcd.dataDir });
  return etcd;
}
