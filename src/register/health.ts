/**
 * The health gate: a node is registered only while its exporter answers.
 * Checks the metrics URL every interval; after N failures in a row the node
 * is withdrawn (key removed, or status marked), and put back on the first
 * success.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { InvalidArgumentError, errorMessage } from '../errors.js';

/** Options of the health gate. */
export interface HealthCheckOptions {
  /** `http://` or `https://` URL that must answer 2xx, usually the exporter's metrics URL (userinfo is sent as basic auth). */
  readonly url: string;
  /** Time between checks. Default 10 s. */
  readonly intervalMs?: number;
  /** Bound of one check. Default min(5 s, `intervalMs`). */
  readonly timeoutMs?: number;
  /** Failed checks in a row before the node is withdrawn. Default 3. */
  readonly failures?: number;
  /** When set, an unhealthy node stays registered with this status instead of being removed. */
  readonly unhealthyStatus?: string;
}

/** `HealthCheckOptions` checked, defaults applied. */
export interface ValidHealthCheck {
  readonly url: URL;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly failures: number;
  readonly unhealthyStatus?: string;
}

/** Outcome of one check. */
export interface ProbeResult {
  readonly ok: boolean;
  /** `HTTP 200`, `HTTP 503`, or the connection error. */
  readonly detail: string;
}

/** Checks one URL within `timeoutMs`; never rejects. */
export type Probe = (url: URL, timeoutMs: number) => Promise<ProbeResult>;

/** Default time between checks. */
export const DEFAULT_HEALTH_INTERVAL_MS = 10_000;
/** Default failures in a row before a node is withdrawn. */
export const DEFAULT_HEALTH_FAILURES = 3;

function positive(field: string, value: unknown, integer: boolean): number {
  if (typeof value !== 'number' || !(value > 0) || (integer && !Number.isInteger(value)) || !Number.isFinite(value)) {
    throw new InvalidArgumentError(field, value, integer ? 'must be a whole number, at least 1' : 'must be more than 0');
  }
  return value;
}

/** Checks health options and applies defaults; errors name `healthCheck.<field>`. */
export function validateHealthCheck(opts: HealthCheckOptions): ValidHealthCheck {
  let url: URL | undefined;
  try {
    url = new URL(opts.url);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InvalidArgumentError('healthCheck.url', opts.url, 'must be an http:// or https:// URL');
  }
  const intervalMs = positive('healthCheck.intervalMs', opts.intervalMs ?? DEFAULT_HEALTH_INTERVAL_MS, false);
  const status = opts.unhealthyStatus;
  if (status !== undefined && (typeof status !== 'string' || status === '' || /\s/.test(status))) {
    throw new InvalidArgumentError('healthCheck.unhealthyStatus', status, 'must be a non-empty word such as unhealthy');
  }
  return {
    url,
    intervalMs,
    timeoutMs: positive('healthCheck.timeoutMs', opts.timeoutMs ?? Math.min(5000, intervalMs), false),
    failures: positive('healthCheck.failures', opts.failures ?? DEFAULT_HEALTH_FAILURES, true),
    ...(status === undefined ? {} : { unhealthyStatus: status }),
  };
}

/** GETs `url` on a fresh connection (no agent, nothing left open); 2xx is healthy. The body is not read. */
export const httpProbe: Probe = (url, timeoutMs) =>
  new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean, detail: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ok, detail });
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', agent: false, headers: { connection: 'close' } }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      res.on('error', () => undefined);
      res.destroy();
      done(status >= 200 && status < 300, `HTTP ${status}`);
    });
    const timer = setTimeout(() => done(false, `no answer within ${timeoutMs} ms`), timeoutMs);
    req.on('error', (err) => done(false, errorMessage(err)));
    req.end();
  });

/** What the gate does to the node. Rejections are reported, and the gate goes on. */
export interface HealthActions {
  /** The exporter answers again (or answered the first check): put the node back. */
  healthy(): Promise<void>;
  /** The exporter failed `failures` checks in a row: withdraw the node. */
  unhealthy(reason: string): Promise<void>;
  /** An action failed. */
  error(err: unknown): void;
}

/** Runs the checks of one node. */
export class HealthGate {
  private healthy = false;
  private failed = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly opts: ValidHealthCheck,
    private readonly actions: HealthActions,
    private readonly probe: Probe = httpProbe,
  ) {}

  /** Whether the last verdict was healthy. */
  get isHealthy(): boolean {
    return this.healthy;
  }

  /** The first check, before the node is written; resolves with the verdict (no action is taken). */
  async first(): Promise<ProbeResult> {
    const result = await this.probe(this.opts.url, this.opts.timeoutMs);
    this.healthy = result.ok;
    this.failed = result.ok ? 0 : this.opts.failures;
    return result;
  }

  /** Starts periodic checks. */
  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Stops checking; an action already running completes. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), this.opts.intervalMs);
  }

  private async check(): Promise<void> {
    const result = await this.probe(this.opts.url, this.opts.timeoutMs);
    if (this.stopped) return;
    try {
      if (result.ok) {
        this.failed = 0;
        if (!this.healthy) {
          this.healthy = true;
          await this.actions.healthy();
        }
      } else if (++this.failed >= this.opts.failures && this.healthy) {
        this.healthy = false;
        await this.actions.unhealthy(result.detail);
      }
    } catch (err) {
      this.actions.error(err);
    }
    this.schedule();
  }
}
