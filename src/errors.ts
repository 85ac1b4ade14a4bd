/**
 * Typed errors shared by every module. Each carries a stable `code` that
 * callers switch on, and the context that lets a user fix the problem.
 */

/** Stable error codes; part of the public API. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'ETCD_UNAVAILABLE'
  | 'ETCD_BINARY_MISSING'
  | 'EMBEDDED_ETCD_FAILED'
  | 'INVALID_ARGUMENT'
  | 'CONFLICT'
  | 'NOT_FOUND'
  | 'TIMEOUT'
  | 'LEASE_EXPIRED'
  | 'COLLISION'
  | 'CLOSED';

/** Base class of every error this package throws on purpose. */
export class EtcdHttpSdError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration value is missing or wrong; `setting` names it as the user wrote it. */
export class ConfigError extends EtcdHttpSdError {
  /** The flag, YAML key or environment variable at fault. */
  readonly setting: string;

  constructor(setting: string, message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', `${setting}: ${message}`, options);
    this.setting = setting;
  }
}

/** A caller passed a bad argument; `field` and `value` say which. */
export class InvalidArgumentError extends EtcdHttpSdError {
  /** The argument or field at fault. */
  readonly field: string;
  /** The rejected value, as given. */
  readonly value: unknown;

  constructor(field: string, value: unknown, message: string) {
    super('INVALID_ARGUMENT', `${field}: ${message} (got ${describe(value)})`);
    this.field = field;
    this.value = value;
  }
}

/** etcd could not be reached or refused the request. */
export class EtcdUnavailableError extends EtcdHttpSdError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ETCD_UNAVAILABLE', message, options);
  }
}

/** An operation did not finish within its deadline. */
export class TimeoutError extends EtcdHttpSdError {
  constructor(what: string, ms: number) {
    super('TIMEOUT', `${what} did not finish within ${ms} ms`);
  }
}

/** Short, log-safe rendering of a rejected value. */
export function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  }
  if (value === undefined) return 'nothing';
  try {
    const s = JSON.stringify(value);
    // JSON.stringify gives undefined (typed string) for functions and symbols: String() names them.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition, @typescript-eslint/no-base-to-string
    return s === undefined ? String(value) : s.length > 80 ? `${s.slice(0, 80)}…` : s;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The message of anything thrown, for logs. */
export function errorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // grpc-js appends "Resolution note: " even when it has no note: drop the dangling label.
  return message.replace(/\s*Resolution note:\s*(?=$|\n)/g, '');
}
