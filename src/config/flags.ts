/**
 * A small argv parser shared by every subcommand. Pure: it takes an argv
 * array and a table of flag specs, and never reads `process`.
 */
import { EtcdHttpSdError, describe } from '../errors.js';

/** How a flag's value is read. */
export type FlagKind = 'string' | 'int' | 'bool' | 'list' | 'duration' | 'repeat';

/** One flag a command accepts. */
export interface FlagSpec {
  /** Name without dashes, e.g. `etcd-endpoints`. */
  readonly name: string;
  /**
   * `string`; `int`; `bool` (`--x`, `--x=false`); `list` (comma-separated);
   * `duration` (`500ms`, `30s`, `2m`, `1h`, `1m30s`, in milliseconds);
   * `repeat` (every occurrence collected, e.g. `--label k=v --label k2=v2`).
   */
  readonly kind: FlagKind;
  /** One-line description for `--help`. */
  readonly help: string;
  /** Name of the value in `--help`, e.g. `HOST:PORT`. Default depends on `kind`. */
  readonly placeholder?: string;
  /**
   * When set, the flag is refused with this advice and hidden from `--help`:
   * for flags that must not exist, like a password visible in `ps`.
   */
  readonly refused?: string;
}

/** A parsed flag value: `string`, `int`/`duration` → number, `bool`, `list`/`repeat` → strings. */
export type FlagValue = string | number | boolean | readonly string[];

/** Result of `parseFlags`. */
export interface ParsedArgs {
  /** Values of the flags given, by name; absent flags are absent. */
  readonly values: ReadonlyMap<string, FlagValue>;
  /** Arguments that are not flags, in order (everything after `--` included). */
  readonly positionals: readonly string[];
  /** Whether `-h` or `--help` was given; then other problems are not reported. */
  readonly help: boolean;
}

/** The command line is wrong; `flag` names the flag (or argument) at fault as written. */
export class UsageError extends EtcdHttpSdError {
  /** The flag at fault, with its dashes, e.g. `--port`. */
  readonly flag: string;

  constructor(flag: string, message: string) {
    super('INVALID_ARGUMENT', `${flag}: ${message}`);
    this.flag = flag;
  }
}

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds of a duration such as `500ms`, `30s`, `2m`, `1h` or `1m30s`
 * (Go's units, without `us`/`ns`); `0` alone is allowed. `undefined` if malformed.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) {
    ms += Number(amount) * (UNIT_MS[unit ?? ''] ?? Number.NaN);
  }
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** The integer written in decimal in `text`, or `undefined` (no `1e3`, `0x10` or `1.0`). */
export function parseInteger(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text.trim())) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Converts the text of a flag (or environment variable) to its kind's value,
 * or `undefined` when it has the wrong form (see `expectedForm`).
 */
export function convertFlagValue(kind: FlagKind, text: string): FlagValue | undefined {
  switch (kind) {
    case 'string':
      return text;
    case 'int':
      return parseInteger(text);
    case 'duration':
      return parseDuration(text);
    case 'bool':
      return text === 'true' ? true : text === 'false' ? false : undefined;
    case 'list':
      return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    case 'repeat':
      return [text];
  }
}

/** What a value of `kind` looks like, for error messages. */
export function expectedForm(kind: FlagKind): string {
  switch (kind) {
    case 'int':
      return 'an integer';
    case 'duration':
      return 'a duration such as 500ms, 30s, 2m or 1h';
    case 'bool':
      return 'true or false';
    case 'list':
      return 'a comma-separated list';
    case 'string':
      return 'a string (quote it in YAML)';
    case 'repeat':
      return 'a value';
  }
}

/**
 * Parses `argv` (without the program and command names) against `specs`.
 * Accepts `--name value`, `--name=value`, `--flag`/`--flag=false` for bools;
 * `--` ends flags. A repeated non-`repeat` flag keeps its last value.
 * Throws `UsageError` for unknown or refused flags, missing or malformed values.
 */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  try {
    return parseStrict(argv, specs);
  } catch (err) {
    // `cmd --bad --help` should show the help, not complain about --bad.
    if (err instanceof UsageError && isHelpRequested(argv)) {
      return { values: new Map(), positionals: [], help: true };
    }
    throw err;
  }
}

/** Whether `-h` or `--help` appears before any `--`. */
export function isHelpRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

function parseStrict(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values = new Map<string, FlagValue>();
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      const spec = lookup(byName, name);
      let text = eq === -1 ? undefined : arg.slice(eq + 1);
      if (text === undefined && spec.kind !== 'bool') {
        text = argv[i + 1];
        // `--port --listen x` means a forgotten value, not a port named "--listen".
        if (text === undefined || text.startsWith('--')) throw missingValue(spec);
        i++;
      }
      store(values, spec, text ?? 'true');
    } else if (arg.startsWith('-') && arg !== '-') {
      throw new UsageError(arg, 'unknown flag: flags are written --name (run with --help to list them)');
    } else {
      positionals.push(arg);
    }
  }
  return { values, positionals, help };
}

function lookup(byName: ReadonlyMap<string, FlagSpec>, name: string): FlagSpec {
  const spec = byName.get(name);
  if (spec === undefined) {
    throw new UsageError(`--${name}`, 'unknown flag (run with --help to list the flags)');
  }
  if (spec.refused !== undefined) throw new UsageError(`--${name}`, spec.refused);
  return spec;
}

function missingValue(spec: FlagSpec): UsageError {
  const form = spec.kind === 'repeat' || spec.kind === 'string' ? placeholderOf(spec) : expectedForm(spec.kind);
  return new UsageError(`--${spec.name}`, `missing value: expected ${form}`);
}

function store(values: Map<string, FlagValue>, spec: FlagSpec, text: string): void {
  const value = convertFlagValue(spec.kind, text);
  if (value === undefined) {
    throw new UsageError(`--${spec.name}`, `expected ${expectedForm(spec.kind)}, got ${describe(text)}`);
  }
  const previous = values.get(spec.name);
  const merged = spec.kind === 'repeat' && Array.isArray(previous) ? [...(previous as readonly string[]), text] : value;
  values.set(spec.name, merged);
}

function placeholderOf(spec: FlagSpec): string {
  if (spec.placeholder !== undefined) return spec.placeholder;
  switch (spec.kind) {
    case 'int':
      return 'N';
    case 'duration':
      return 'DURATION';
    case 'list':
      return 'A,B,...';
    case 'bool':
      return '';
    case 'string':
    case 'repeat':
      return 'VALUE';
  }
}

const HELP_COLUMN_MAX = 34;

/**
 * Formats `--help` output: a usage line, the summary, then one aligned line
 * per flag (refused flags are left out). `args` names positional arguments
 * in the usage line, e.g. `<service>`.
 */
export function formatHelp(
  commandName: string,
  summary: string,
  specs: readonly FlagSpec[],
  args?: string,
): string {
  const rows: (readonly [string, string])[] = specs
    .filter((s) => s.refused === undefined)
    .map((s) => {
      const ph = placeholderOf(s);
      const suffix = s.kind === 'repeat' ? ' (repeatable)' : '';
      return [`--${s.name}${ph === '' ? '' : ` ${ph}`}`, `${s.help}${suffix}`] as const;
    });
  rows.push(['-h, --help', 'Show this help and exit.']);
  const width = Math.min(HELP_COLUMN_MAX, Math.max(...rows.map(([left]) => left.length)) + 2);
  const pad = ' '.repeat(width + 2);
  const lines = rows.map(([left, help]) => {
    const text = help.split('\n').join(`\n${pad}`);
    return left.length + 2 > width ? `  ${left}\n${pad}${text}` : `  ${left.padEnd(width)}${text}`;
  });
  const usage = `Usage: ${commandName} [flags]${args === undefined ? '' : ` ${args}`}`;
  return `${usage}\n\n${summary}\n\nFlags:\n${lines.join('\n')}\n`;
}
