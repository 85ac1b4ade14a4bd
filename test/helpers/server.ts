/**
 * Starts our server in-process against a given etcd, on a free loopback
 * port, with a private metrics registry and fast mirror timings; and small
 * HTTP helpers (over `httpRequest`) the integration and end-to-end tests share.
 */
import { readFileSync } from 'node:fs';
import { loadServeConfig } from '../../src/config/serve.js';
import { errorMessage } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { CleanupContext } from './etcd.js';
import { httpRequest, type HttpResult } from './process.js';

/** Options of `useTestServer`. */
export interface TestServerOptions {
  readonly prefix?: string;
  /** Extra `serve` flags. */
  readonly args?: readonly string[];
  /** Receives every log line (JSON text); default: dropped unless TEST_LOG=1. */
  readonly logLines?: string[];
  readonly probeIntervalMs?: number;
  readonly stallMs?: number;
}

/** Starts a server for `endpoint` and stops it when the test ends. */
export async function useTestServer(t: CleanupContext, endpoint: string, opts: TestServerOptions = {}): Promise<RunningServer> {
  const argv = ['--etcd-endpoints', endpoint, '--listen', '127.0.0.1:0', '--etcd-call-timeout', '2s', ...(opts.prefix ? ['--etcd-prefix', opts.prefix] : []), ...(opts.args ?? [])];
  const config = loadServeConfig(argv, {}, (p) => readFileSync(p));
  const lines = opts.logLines;
  const logger: Logger = createLogger({
    level: 'debug',
    write: (line) => {
      lines?.push(line);
      if (process.env['TEST_LOG'] === '1') process.stderr.write(`${line}\n`);
    },
  });
  const server = await startServer(config, logger, {
    mirror: { probeIntervalMs: opts.probeIntervalMs ?? 200, stallMs: opts.stallMs ?? 2000, backoffInitialMs: 50, backoffMaxMs: 500 },
  });
  t.after(() => server.close());
  return server;
}

/** A response as the tests look at it. */
export type TestResponse = HttpResult;

/** {@link httpRequest} with the arguments most tests give: headers, method, and `ca` for HTTPS. */
export function httpGet(url: string, headers: Record<string, string> = {}, method = 'GET', ca?: Buffer): Promise<TestResponse> {
  return httpRequest(url, { headers, method, timeoutMs: 60_000, ...(ca === undefined ? {} : { ca }) });
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === undefined ? '' : `: ${errorMessage(lastError)}`}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Fetches `/v1/targets` (or a sub-path) and parses it. */
export async function targets(server: { url: string }, path = '/v1/targets'): Promise<{ revision: number; etag: string; groups: { targets: string[]; labels: Record<string, string> }[] }> {
  const res = await httpGet(`${server.url}${path}`);
  if (res.status !== 200) throw new Error(`${path}: status ${res.status}: ${res.text}`);
  return { revision: Number(res.headers['x-etcd-revision']), etag: String(res.headers['etag']), groups: JSON.parse(res.text) as { targets: string[]; labels: Record<string, string> }[] };
}
