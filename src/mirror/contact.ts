/**
 * How the mirror reports an unreachable etcd: a warning when contact is
 * lost, when the reason changes and every 30 s while it lasts, debug lines
 * in between. A wrong CA or a refused client certificate must be visible
 * at the default log level, and not hidden behind etcd3's "circuit breaker
 * is open", which replaces the real error while the breaker is open.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

/** While etcd stays unreachable for the same reason, it is logged at warn level at most this often. */
export const UNREACHABLE_WARN_INTERVAL_MS = 30_000;

/** Where the mirror stood when contact failed. */
export interface ContactContext {
  /** The watch was connected until now. */
  readonly wasConnected: boolean;
  /** A state is being served (else: not ready until the first load). */
  readonly serving: boolean;
  readonly revision: number;
}

/** Remembers the last failure and decides how loudly to log the next one. */
export class ContactReporter {
  private cause: string | undefined;
  private warned: { readonly message: string; readonly at: number } | undefined;

  constructor(private readonly log: Logger) {}

  /** The last real failure since contact was lost, e.g. a TLS certificate error. */
  get lastError(): string | undefined {
    return this.cause;
  }

  /** Logs one failed contact with etcd. */
  lost(err: unknown, at: ContactContext): void {
    const error = this.describe(err);
    const fields = { error, revision: at.revision };
    if (at.wasConnected) {
      this.log.warn('etcd connection lost; serving the last state', fields);
      this.warned = { message: stableText(error), at: Date.now() };
    } else if (this.shouldWarn(error)) {
      this.log.warn(at.serving ? 'etcd still unreachable; serving the last state' : 'etcd unreachable; not ready until the first load', fields);
    } else {
      this.log.debug('etcd unreachable', { error });
    }
  }

  /** Contact is back: forget the failure. */
  restored(): void {
    this.cause = undefined;
    this.warned = undefined;
  }

  private describe(err: unknown): string {
    const message = errorMessage(err);
    if ((err as { isBrokenCircuitError?: unknown } | null)?.isBrokenCircuitError === true) {
      return this.cause === undefined ? message : `${this.cause}${BREAKER_NOTE}`;
    }
    this.cause = message;
    return message;
  }

  private shouldWarn(error: string): boolean {
    const message = stableText(error);
    const now = Date.now();
    const last = this.warned;
    if (last?.message === message && now - last.at < UNREACHABLE_WARN_INTERVAL_MS) return false;
    this.warned = { message, at: now };
    return true;
  }
}

const BREAKER_NOTE = " (calls paused by the client's circuit breaker)";

/** A message without the timestamps gRPC puts in it, nor the breaker note, so repeats compare equal. */
function stableText(message: string): string {
  return message.replace(/\(\d{4}-\d\d-\d\dT[^)]*\)/g, '()').replace(BREAKER_NOTE, '');
}
