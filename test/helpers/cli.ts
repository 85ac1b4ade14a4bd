/** Runs the built CLI (`dist/src/cli/main.js`) as a child process. */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { CleanupContext } from './etcd.js';
import { repoRoot } from './fixtures.js';
import { spawnTracked } from './process.js';

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

/** Spawns the CLI; kills it (SIGKILL) when the test ends if still running. */
export function spawnCli(t: CleanupContext, args: readonly string[], opts: { env?: Record<string, string>; cwd?: string } = {}): CliProcess {
  const p = spawnTracked(t, process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? repoRoot(),
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...opts.env },
  });
  return { child: p.child, stdout: () => p.stdout(), stderr: () => p.stderr(), exited: p.exited.then((e) => e.code ?? e.signal ?? -1) };
}

/** Runs the CLI to completion. */
export async function runCli(t: CleanupContext, args: readonly string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const p = spawnCli(t, args, opts);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
