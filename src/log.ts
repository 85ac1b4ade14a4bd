/**
 * Structured logging: one JSON object per line, so log shippers need no
 * parser of their own. Secrets are redacted here as well as kept out of
 * messages at their source (defence in depth).
 */

/** Severity of a log line, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Every level, least severe first; also the values `--log-level` accepts. */
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(['debug', 'info', 'warn', 'error']);

/** Extra structured data of a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Writes structured log lines; `child` adds fields to every line it writes. */
export interface Logger {
  /** Logs detail useful when chasing a problem. */
  debug(msg: string, fields?: LogFields): void;
  /** Logs a normal, noteworthy event. */
  info(msg: string, fields?: LogFields): void;
  /** Logs something wrong that the program works around. */
  warn(msg: string, fields?: LogFields): void;
  /** Logs a failure. */
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (call fields win on clashes). */
  child(fields: LogFields): Logger;
}

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** Lines below this level are dropped. */
  readonly level: LogLevel;
  /** Receives each line without its newline. Default: appends `\n` and writes to `process.stderr`. */
  readonly write?: (line: string) => void;
}

/** What replaces the value of a field whose key looks secret. */
export const REDACTED = '[redacted]';

const SECRET_KEY = /pass(word)?|secret|token|authorization/i;
const RESERVED_KEYS = new Set(['ts', 'level', 'msg']);

/** Creates a logger that writes one JSON line per call at or above `level`. */
export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const min = LOG_LEVELS.indexOf(options.level);
  return makeLogger((level) => LOG_LEVELS.indexOf(level) >= min, write, {});
}

/** A logger that writes nothing; for tests and library callers without logging. */
export const nullLogger: Logger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => nullLogger,
});

function makeLogger(
  enabled: (level: LogLevel) => boolean,
  write: (line: string) => void,
  base: LogFields,
): Logger {
  const log = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    if (enabled(level)) write(formatLine(level, msg, { ...base, ...fields }));
  };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => makeLogger(enabled, write, { ...base, ...fields }),
  };
}

/**
 * Renders one line. Never throws: a logging call must not turn a handled
 * problem into an unhandled one.
 */
function formatLine(level: LogLevel, msg: string, fields: LogFields): string {
  const line: Record<string, unknown> = { ts: new Date().toISOString(), level, msg };
  for (const [key, value] of Object.entries(fields)) {
    // A field may not overwrite ts/level/msg, which every reader relies on.
    const name = RESERVED_KEYS.has(key) ? `field_${key}` : key;
    line[name] = SECRET_KEY.test(key) ? REDACTED : render(value, new WeakSet());
  }
  try {
    return JSON.stringify(line);
  } catch (err) {
    return JSON.stringify({ ts: line['ts'], level, msg, log_error: `fields not serialisable: ${String(err)}` });
  }
}

/** JSON-safe form of a field value, with secret keys of nested objects redacted. */
function render(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value.message;
  // Buffers would otherwise print every byte, and may hold key material.
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  const proto = Object.getPrototypeOf(value) as unknown;
  const plain = Array.isArray(value) || proto === Object.prototype || proto === null;
  if (!plain) return value;
  // `seen` holds the ancestors only, so a shared (not circular) object prints twice.
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  let out: unknown;
  if (Array.isArray(value)) {
    out = value.map((item) => render(item, seen));
  } else {
    const obj: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      obj[key] = SECRET_KEY.test(key) ? REDACTED : render(inner, seen);
    }
    out = obj;
  }
  seen.delete(value);
  return out;
}
