/**
 * A real Prometheus for end-to-end tests: loopback only, a free port, a fresh
 * temp dir for its config and TSDB (removed at the end), warn-level logs, and
 * the lifecycle API on for `reload()`. Plus `promtool` for config checks.
 *
 * Timing worth knowing (Prometheus 2.42): http_sd polls every
 * `refresh_interval`, but the discovery manager hands target updates to the
 * scrape manager at most every 5 s, so a registry change takes up to ~5 s
 * plus one refresh and one scrape interval to show in `/api/v1/targets`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { CleanupContext } from './etcd.js';
import { freePort, loopbackAddress, loopbackUrl } from './ports.js';
import { httpRequest, runCommand, startChild, type Child, type CommandResult } from './process.js';

/** Prometheus binary used by tests; override with env `PROMETHEUS_BIN`. */
export const PROMETHEUS_BIN = process.env['PROMETHEUS_BIN'] ?? '/usr/bin/prometheus';
/** promtool binary; override with env `PROMTOOL_BIN`. */
export const PROMTOOL_BIN = process.env['PROMTOOL_BIN'] ?? '/usr/bin/promtool';

/** A Prometheus configuration: an object (written as YAML) or YAML text. */
export type PrometheusConfig = object | string;

/** Options of {@link usePrometheus}. */
export interface PrometheusOptions {
  readonly config: PrometheusConfig;
  /** Extra flags, appended after the defaults (later flags win). */
  readonly extraArgs?: readonly string[];
  /** Readiness wait. Default 20000 ms. */
  readonly readyTimeoutMs?: number;
}

/** One entry of `/api/v1/targets` `activeTargets` (Prometheus 2.42). */
export interface ActiveTarget {
  readonly discoveredLabels: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly scrapePool: string;
  readonly scrapeUrl: string;
  readonly globalUrl: string;
  readonly lastError: string;
  readonly lastScrape: string;
  readonly lastScrapeDuration: number;
  readonly health: 'up' | 'down' | 'unknown';
  readonly scrapeInterval: string;
  readonly scrapeTimeout: string;
}

/** One entry of `/api/v1/targets` `droppedTargets`. */
export interface DroppedTarget {
  readonly discoveredLabels: Readonly<Record<string, string>>;
}

/** One series of an instant-vector query result. */
export interface VectorSample {
  readonly metric: Readonly<Record<string, string>>;
  /** `[unix seconds, value as text]`. */
  readonly value: readonly [number, string];
}

/** `data` of an `/api/v1/query` answer. */
export type QueryData =
  | { readonly resultType: 'vector'; readonly result: readonly VectorSample[] }
  | { readonly resultType: 'scalar' | 'string'; readonly result: readonly [number, string] }
  | { readonly resultType: 'matrix'; readonly result: readonly { metric: Record<string, string>; values: [number, string][] }[] };

/** The HTTP API calls the tests use. */
export interface PrometheusApi {
  /** `activeTargets` of `/api/v1/targets?state=active`. */
  targets(): Promise<ActiveTarget[]>;
  /** `droppedTargets` of `/api/v1/targets?state=dropped`. */
  droppedTargets(): Promise<DroppedTarget[]>;
  /** Instant query at the current time. */
  query(promql: string): Promise<QueryData>;
  /** Prometheus's own `/metrics` text (e.g. `prometheus_sd_http_failures_total`). */
  selfMetrics(): Promise<string>;
}

/** A running Prometheus; see {@link usePrometheus}. */
export interface TestPrometheus {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The temp dir holding `prometheus.yml` and `data/`. */
  readonly dir: string;
  readonly configFile: string;
  readonly process: Child;
  readonly api: PrometheusApi;
  /** Rewrites the config when given, then `POST /-/reload`; rejects with Prometheus's message when the reload fails. */
  reload(config?: PrometheusConfig): Promise<void>;
  /** SIGTERM (then SIGKILL), then removes the temp dir. Idempotent; never throws. Also registered with `t.after`. */
  stop(): Promise<void>;
}

/** Flags that make a test Prometheus quiet; the listen address, config and storage path are added per instance. */
export const QUIET_PROMETHEUS_FLAGS: readonly string[] = ['--log.level=warn', '--web.enable-lifecycle'];

/** The config as YAML text. */
export function renderConfig(config: PrometheusConfig): string {
  return typeof config === 'string' ? config : stringify(config);
}

interface ApiEnvelope<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
}

async function apiGet<T>(url: string): Promise<T> {
  const res = await httpRequest(url, { headers: { accept: 'application/json' } });
  let body: ApiEnvelope<T>;
  try {
    body = JSON.parse(res.text) as ApiEnvelope<T>;
  } catch {
    throw new Error(`${url}: status ${res.status}, not JSON: ${res.text.slice(0, 500)}`);
  }
  if (res.status !== 200 || body.status !== 'success' || body.data === undefined) {
    throw new Error(`${url}: status ${res.status}: ${body.errorType ?? ''} ${body.error ?? res.text.slice(0, 500)}`);
  }
  return body.data;
}

function createApi(url: string): PrometheusApi {
  return {
    async targets() {
      const data = await apiGet<{ activeTargets: ActiveTarget[] }>(`${url}/api/v1/targets?state=active`);
      return data.activeTargets;
    },
    async droppedTargets() {
      const data = await apiGet<{ droppedTargets: DroppedTarget[] }>(`${url}/api/v1/targets?state=dropped`);
      return data.droppedTargets;
    },
    query(promql) {
      return apiGet<QueryData>(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    },
    async selfMetrics() {
      const res = await httpRequest(`${url}/metrics`);
      if (res.status !== 200) throw new Error(`${url}/metrics: status ${res.status}`);
      return res.text;
    },
  };
}

/**
 * Starts Prometheus with `opts.config`, waits for `/-/ready`, and stops it
 * (and removes its temp dir) when the test ends. Any URL in the config must
 * be loopback: the test rules forbid other traffic.
 */
export async function usePrometheus(t: CleanupContext, opts: PrometheusOptions): Promise<TestPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-prometheus-'));
  const removeDir = (): Promise<void> => rm(dir, { recursive: true, force: true }).catch(() => {});
  const configFile = join(dir, 'prometheus.yml');
  let child: Child;
  let url: string;
  let port: number;
  try {
    await writeFile(configFile, renderConfig(opts.config));
    port = await freePort();
    url = loopbackUrl(port);
    child = await startChild({
      name: 'prometheus',
      command: PROMETHEUS_BIN,
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=${loopbackAddress(port)}`,
        ...QUIET_PROMETHEUS_FLAGS,
        ...(opts.extraArgs ?? []),
      ],
      readyUrl: `${url}/-/ready`,
      readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
      stopGraceMs: 10_000,
    });
  } catch (err) {
    await removeDir();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await child.stop();
      await removeDir();
    })();
    return stopped;
  };
  t.after(stop);
  const base = url;
  return {
    url: base,
    port,
    dir,
    configFile,
    process: child,
    api: createApi(base),
    async reload(config) {
      if (config !== undefined) await writeFile(configFile, renderConfig(config));
      const res = await httpRequest(`${base}/-/reload`, { method: 'POST', timeoutMs: 15_000 });
      if (res.status !== 200) throw new Error(`prometheus reload failed: status ${res.status}: ${res.text.trim()}`);
    },
    stop,
  };
}

/** Runs `promtool` with `args` (e.g. `['check', 'config', file]`); resolves with its exit code and output. */
export function promtool(args: readonly string[]): Promise<CommandResult> {
  return runCommand(PROMTOOL_BIN, args);
}
