/**
 * Runs wrk (its own process, one thread) against a loopback URL for a
 * bounded time and reads its exact figures from a Lua `done` hook:
 * requests, bytes, errors and latency percentiles in microseconds.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertLoopbackUrl } from '../helpers/process.js';

/** wrk binary; override with env `WRK_BIN`. */
export const WRK_BIN = process.env['WRK_BIN'] ?? 'wrk';

const REPORT = `
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p99_us":%.0f,"max_us":%.0f}\\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

/** One wrk run's figures. */
export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  /** Completed requests per second. */
  readonly rps: number;
  /** Response bytes (headers included) per request. */
  readonly bytesPerRequest: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Socket errors, timeouts and non-2xx/3xx answers. */
  readonly errors: number;
  /** `errors` by kind, as wrk counts them. */
  readonly errorKinds: Readonly<Record<'connect' | 'read' | 'write' | 'status' | 'timeout', number>>;
}

/** How to run wrk. */
export interface WrkOptions {
  readonly durationMs: number;
  readonly connections: number;
  readonly headers?: readonly string[];
  /** A request slower than this counts as a timeout. Default 30 s. */
  readonly timeoutMs?: number;
}

let scriptDir: string | undefined;

function reportScript(): string {
  if (scriptDir === undefined) {
    scriptDir = mkdtempSync(join(tmpdir(), 'etcd-http-sd-bench-wrk-'));
    writeFileSync(join(scriptDir, 'report.lua'), REPORT);
    const dir = scriptDir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return join(scriptDir, 'report.lua');
}

/** Runs wrk against `url` (must be http://127.0.0.1); killed if it overruns its duration by 30 s. */
export function runWrk(url: string, opts: WrkOptions): Promise<WrkResult> {
  assertLoopbackUrl(url);
  const seconds = Math.max(1, Math.round(opts.durationMs / 1000));
  const args = [
    '-t1', `-c${opts.connections}`, `-d${seconds}s`, '--timeout', `${Math.ceil((opts.timeoutMs ?? 30_000) / 1000)}s`,
    '-s', reportScript(),
    ...(opts.headers ?? []).flatMap((h) => ['-H', h]),
    url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(WRK_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000 + 30_000);
    child.once('error', (err) => {
      clearTimeout(killer);
      reject(new Error(`cannot run ${WRK_BIN}: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(killer);
      const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
      if (code !== 0 || line === undefined) {
        reject(new Error(`wrk ${args.join(' ')} failed (exit ${String(code)}):\n${out.slice(-2000)}`));
        return;
      }
      const r = JSON.parse(line.slice('WRKJSON '.length)) as Record<string, number>;
      const requests = r['requests']!;
      const secs = r['duration_us']! / 1e6;
      resolve({
        requests,
        seconds: secs,
        rps: requests / secs,
        bytesPerRequest: requests === 0 ? 0 : r['bytes']! / requests,
        p50Ms: r['p50_us']! / 1000,
        p99Ms: r['p99_us']! / 1000,
        maxMs: r['max_us']! / 1000,
        errors: r['connect']! + r['read']! + r['write']! + r['status']! + r['timeout']!,
        errorKinds: { connect: r['connect']!, read: r['read']!, write: r['write']!, status: r['status']!, timeout: r['timeout']! },
      });
    });
  });
}
