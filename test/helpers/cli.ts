/** Runs the built CLI (`dist/src/cli/main.js`) as a child process. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';
import type { CleanupContext } from './etcd.js';
import { repoRoot } from './fixtures.js';

/** Path of the compiled CLI entry. */
export const CLI = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');

/** A running CLI process with its output so far. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code (or signal name) once it exits. */
  readonly exited: Promise<number | string>;
}

/**
 * Spawns `command` with stdout and stderr collected; kills it (SIGKILL) when
 * the test ends if still running. `stdin` says whether the child gets a pipe.
 */
export function spawnTracked(t: CleanupContext, command: string, args: readonly string[], opts: SpawnOptions & { stdin?: 'pipe' | 'ignore' } = {}): CliProcess {
  const child = spawn(command, args, { ...opts, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Spawns the CLI; kills it (SIGKILL) when the test ends if still running. */
export function spawnCli(t: CleanupContext, args: readonly string[], opts: { env?: Record<string, string>; cwd?: string } = {}): CliProcess {
  return spawnTracked(t, process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? repoRoot(),
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...opts.env },
  });
}

/** Runs the CLI to completion. */
export async function runCli(t: CleanupContext, args: readonly string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const p = spawnCli(t, args, opts);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
