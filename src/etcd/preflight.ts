/**
 * Checks before the embedded etcd is spawned, each failing with the setting
 * at fault: the binary, the ports, the data dir (created with a deadline: a
 * mount that never answers must not hang start-up), and a leftover etcd of
 * an earlier run that was killed before it could stop its child.
 */
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { EtcdHttpSdError, InvalidArgumentError, errorMessage } from '../errors.js';
import { isPort, joinHostPort } from '../net.js';
import type { EmbeddedEtcdOptions } from './embedded.js';

/** The only host the embedded etcd ever binds to or is reached on. */
export const LOOPBACK = '127.0.0.1';

/** Which setting a preflight failure is about. */
export type PreflightProblem = 'client_port' | 'peer_port' | 'data_dir';

/** A preflight failure; `problem` lets the CLI name the setting and exit 2. */
export class PreflightError extends EtcdHttpSdError {
  constructor(readonly problem: PreflightProblem, message: string, options?: { cause?: unknown }) {
    super('EMBEDDED_ETCD_FAILED', message, options);
  }
}

/** Fails fast (and unambiguously) when a port is taken: a foreign etcd could otherwise pass our health check. */
export function assertPortFree(port: number, what: 'client' | 'peer'): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new PreflightError(`${what}_port`, `embedded etcd ${what} port ${joinHostPort(LOOPBACK, port)} is unavailable: ${err.code ?? err.message}`, { cause: err }));
    });
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** The file system calls `prepareDataDir` makes: injectable, so a test can make one never settle. */
export interface DataDirFs {
  readonly mkdir: (dir: string, options: { recursive: true; mode: number }) => Promise<unknown>;
  readonly access: (dir: string, mode: number) => Promise<void>;
}

const NODE_FS: DataDirFs = { mkdir, access };

/** `mkdir -p` and a write check of the data dir, within `timeoutMs` (or until `signal`). */
export async function prepareDataDir(dir: string, timeoutMs: number, signal?: AbortSignal, fs: DataDirFs = NODE_FS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new PreflightError('data_dir', `etcd data dir ${dir} did not answer within ${timeoutMs} ms (a hung mount?)`)), timeoutMs);
    signal?.addEventListener('abort', () => reject(new EtcdHttpSdError('CLOSED', 'start-up aborted')), { once: true });
  });
  const work = (async () => {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.access(dir, fsConstants.W_OK | fsConstants.X_OK);
  })().catch((err: unknown) => {
    throw new PreflightError('data_dir', `cannot use etcd data dir ${dir}: ${errorMessage(err)}`, { cause: err });
  });
  try {
    await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where the embedded etcd's pid is kept while it runs. */
export function pidFile(dataDir: string): string {
  return join(dataDir, 'etcd-http-sd-etcd.pid');
}

async function commandLine(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/**
 * The pid of an etcd still running on `dataDir` from an earlier run (its
 * pid file names a live process whose command line has our `--data-dir`).
 */
export async function findLeftover(dataDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(pidFile(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  const cmd = await commandLine(pid);
  return cmd?.includes(`--data-dir=${dataDir}`) === true ? pid : undefined;
}

/** Whether a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a leftover etcd (not our child, so its exit is polled): SIGTERM, SIGKILL after `graceMs`. */
export async function stopLeftover(pid: number, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  try {
    process.kill(-pid, 'SIGTERM'); // it leads its own process group
  } catch {
    process.kill(pid, 'SIGTERM');
  }
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Records the running etcd's pid; best effort (a read-only data dir would have failed earlier). */
export async function writePidFile(dataDir: string, pid: number): Promise<void> {
  await writeFile(pidFile(dataDir), `${pid}\n`, { mode: 0o600 }).catch(() => {});
}

export async function removePidFile(dataDir: string): Promise<void> {
  await rm(pidFile(dataDir), { force: true }).catch(() => {});
}

export function binaryMissing(binary: string, cause: unknown): EtcdHttpSdError {
  return new EtcdHttpSdError(
    'ETCD_BINARY_MISSING',
    `etcd binary ${JSON.stringify(binary)} not found. Install etcd (Debian/Ubuntu: apt-get install etcd-server) ` +
      'or pass its path with --etcd-binary.',
    { cause },
  );
}

export async function checkExecutable(binary: string): Promise<void> {
  try {
    await access(binary, fsConstants.X_OK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw binaryMissing(binary, err);
    throw new EtcdHttpSdError('EMBEDDED_ETCD_FAILED', `cannot run ${binary}: ${errorMessage(err)}`, { cause: err });
  }
}

/** What the checks before a start read of the embedded etcd's options. */
export type PreflightOptions = Pick<EmbeddedEtcdOptions, 'binary' | 'dataDir' | 'clientPort' | 'peerPort' | 'logger' | 'stopTimeoutMs' | 'signal' | 'dataDirTimeoutMs'>;

/**
 * Every check before etcd is spawned, in order: the options, the binary,
 * the data dir, a leftover etcd of a killed run (stopped), then the ports
 * (after the leftover is gone: it may hold them).
 */
export async function preflight(opts: PreflightOptions): Promise<void> {
  checkOptions(opts);
  if (opts.binary.includes('/')) await checkExecutable(opts.binary);
  await prepareDataDir(opts.dataDir, opts.dataDirTimeoutMs ?? 10_000, opts.signal);
  const leftover = await findLeftover(opts.dataDir);
  if (leftover !== undefined) {
    opts.logger?.warn('an embedded etcd of an earlier run is still running on this data dir (that run was killed before it could stop it); stopping it', { pid: leftover, dataDir: opts.dataDir });
    await stopLeftover(leftover, opts.stopTimeoutMs ?? 5000);
  }
  await assertPortFree(opts.clientPort, 'client');
  await assertPortFree(opts.peerPort, 'peer');
  opts.signal?.throwIfAborted();
}

function checkOptions(opts: PreflightOptions): void {
  if (opts.binary === '') throw new InvalidArgumentError('binary', opts.binary, 'must not be empty');
  if (opts.dataDir === '') throw new InvalidArgumentError('dataDir', opts.dataDir, 'must not be empty');
  for (const field of ['clientPort', 'peerPort'] as const) {
    const port = opts[field];
    if (!isPort(port)) {
      throw new InvalidArgumentError(field, port, 'must be an integer port between 1 and 65535');
    }
  }
  if (opts.clientPort === opts.peerPort) {
    throw new InvalidArgumentError('peerPort', opts.peerPort, 'must differ from clientPort');
  }
}
