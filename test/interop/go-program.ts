/**
 * Builds and runs test/interop/go: our own Go program that writes and reads
 * the registry as the Go library and promster do (docs/registry-layout.md).
 * Built once per test process with `go build` into a temporary directory.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CleanupContext } from '../helpers/etcd.js';
import { repoRoot } from '../helpers/fixtures.js';
import { runCommand, spawnTracked } from '../helpers/process.js';

const SOURCE = join(repoRoot(), 'test', 'interop', 'go');
let built: Promise<string> | undefined;

interface Run {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const r = await runCommand(cmd, args, {
    env: { ...process.env, ...opts.env }, input: opts.stdin ?? '', timeoutMs: 300_000,
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
  });
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The built program's path; the build is shared by every test of the process. */
export function interopBinary(): Promise<string> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'etcd-http-sd-interop-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'interop');
    const r = await run('go', ['build', '-o', out, '.'], { cwd: SOURCE, env: { GOFLAGS: '-mod=readonly' } });
    if (r.code !== 0) throw new Error(`go build in ${SOURCE} failed (${String(r.code)}): ${r.stderr}`);
    return out;
  })();
  return built;
}

/** Runs one command of the program to completion; rejects unless it exits 0. */
export async function goRun(args: readonly string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<string> {
  const r = await run(await interopBinary(), args, opts);
  if (r.code !== 0) throw new Error(`interop ${args.join(' ')} exited ${String(r.code)}: ${r.stderr}`);
  return r.stdout;
}

/** Runs a command whose stdout is one JSON document. */
export async function goJson<T>(args: readonly string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<T> {
  return JSON.parse(await goRun(args, opts)) as T;
}

/** A long-running command (`register`, `watch`): JSON lines on stdout, stopped by closing stdin. */
export interface GoProcess {
  readonly child: ChildProcess;
  /** Every JSON line printed so far. */
  readonly lines: () => Record<string, unknown>[];
  /** Closes stdin (the Go side's context is cancelled) and resolves with the exit code. */
  stop(): Promise<number | string>;
}

/** Starts a long-running command; killed when the test ends if still running. */
export async function goStart(t: CleanupContext, args: readonly string[], env: Record<string, string> = {}): Promise<GoProcess> {
  const proc = spawnTracked(t, await interopBinary(), args, { env: { ...process.env, ...env }, stdin: 'pipe' });
  const { child } = proc;
  const exited = proc.exited.then((e) => e.code ?? e.signal ?? -1);
  const lines = (): Record<string, unknown>[] =>
    proc.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  void exited.then((code) => {
    if (code !== 0 && process.env['TEST_LOG'] === '1') process.stderr.write(`interop ${args[0] ?? ''} exited ${String(code)}: ${proc.stderr()}\n`);
  });
  return {
    child,
    lines,
    stop: async () => {
      child.stdin?.end();
      return exited;
    },
  };
}

/** One Go-side node as read back by `read-all`. */
export interface GoNode {
  readonly id: string;
  readonly exporter_type: string;
  readonly port: number;
  readonly metrics_path: string;
  readonly labels: Record<string, string> | null;
  readonly status: string;
  readonly last_seen: string;
}

/** One group as `read-all` prints it. */
export interface GoGroupRead {
  readonly name: string;
  readonly group_error?: string;
  readonly group?: { name: string; spec: { username: string; password: string; common_labels?: Record<string, string> }; created: string };
  readonly nodes: GoNode[];
  readonly skipped_nodes: string[];
}

/** One promster job as `promster-targets` prints it. */
export interface GoJob {
  readonly job_name: string;
  readonly targets: string[];
  readonly labels: Record<string, string>;
  readonly metrics_path: string;
  readonly basic_auth?: { username: string; password: string };
}
