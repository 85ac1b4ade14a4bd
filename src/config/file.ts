/**
 * Where settings come from. One table row per setting names its flag,
 * environment variable, YAML key and default; `loadSettings` picks each
 * value by precedence (flag > environment > file > default) and remembers
 * where it came from, so errors name the setting as the user wrote it.
 * The YAML file itself is parsed in `document.ts`.
 */
import { ConfigError, describe, errorMessage } from '../errors.js';
import { parseConfigDocument, type ConfigDocument } from './document.js';
import { convertFlagValue, expectedForm, parseFlags, type FlagSpec, type FlagValue } from './flags.js';

export { parseConfigDocument, parseConfigFile } from './document.js';
export type { ConfigDocument } from './document.js';

/** One setting: its flag (the name also gives the environment variable), YAML key and default. */
export interface SettingRow {
  /** The flag; its help gets the environment variable and default appended in `flagsOf`. */
  readonly flag: FlagSpec;
  /** Path of the key in the YAML file; absent for settings the file cannot hold. */
  readonly yaml?: readonly string[];
  /** Value when no source sets it, written as on the command line (`5s`, `2379`). */
  readonly default?: string;
}

/** Where a setting's value came from, strongest first. */
export type SettingSource = 'flag' | 'env' | 'file' | 'default';

/** The value of a setting and where it came from. */
export interface Resolved {
  /** The value in its flag kind's form (durations in ms, lists as arrays). */
  readonly value: FlagValue;
  /** Which source won. */
  readonly source: SettingSource;
  /** The setting as the user wrote it: `--etcd-prefix`, `ETCD_HTTP_SD_ETCD_PREFIX` or `config.yml:4:3: etcd.prefix`. */
  readonly where: string;
}

/** Every setting of a command, resolved but not yet validated. */
export interface Settings {
  /** Whether `-h`/`--help` was given; the caller then prints help and stops. */
  readonly help: boolean;
  /** Command-line arguments that are not flags, for the command to check. */
  readonly positionals: readonly string[];
  /** The configuration file read, if any. */
  readonly configFile?: string;
  /** The winning value of the setting named by its flag; `undefined` when unset without default. */
  get(name: string): Resolved | undefined;
}

/** Reads a file named in the configuration; injected so tests need no disk. */
export type ReadFile = (path: string) => Buffer;

/** Environment variables as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Environment variables of flags: `--foo-bar` → `ETCD_HTTP_SD_FOO_BAR`. */
export function envName(flag: string): string {
  return `ETCD_HTTP_SD_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** The flag specs of `rows` for `parseFlags` and `formatHelp`, with env var and default in the help. */
export function flagsOf(rows: readonly SettingRow[]): readonly FlagSpec[] {
  return Object.freeze(
    rows.map((row) => {
      const dflt = row.default === undefined ? '' : `, default ${row.default}`;
      return Object.freeze({ ...row.flag, help: `${row.flag.help} (env ${envName(row.flag.name)}${dflt})` });
    }),
  );
}

/** Name of the flag naming the YAML file (env `ETCD_HTTP_SD_CONFIG`); the file cannot set it. */
export const CONFIG_FLAG = 'config';

/**
 * Resolves `rows` from `argv`, `env` and the YAML file named by `--config`
 * or `ETCD_HTTP_SD_CONFIG` (which `rows` must include). The file may hold
 * only the keys of `fileRows` (default `rows`): a command that reads a
 * subset passes the full table so one file serves every command.
 */
export function loadSettings(
  rows: readonly SettingRow[],
  argv: readonly string[],
  env: Env,
  readFile: ReadFile,
  fileRows: readonly SettingRow[] = rows,
): Settings {
  const parsed = parseFlags(argv, flagsOf(rows));
  const byName = new Map(rows.map((row) => [row.flag.name, row]));
  const fromArgs = (row: SettingRow): Resolved | undefined => pickArgEnv(row, parsed.values, env);
  const configRow = byName.get(CONFIG_FLAG);
  const config = configRow === undefined ? undefined : fromArgs(configRow);
  const doc = config === undefined ? undefined : readConfig(config, readFile);
  doc?.checkKeys(fileRows.flatMap((row) => (row.yaml === undefined ? [] : [row.yaml])));
  const resolved = new Map<string, Resolved>();
  for (const row of rows) {
    const r = fromArgs(row) ?? fromFile(row, doc) ?? fromDefault(row);
    if (r !== undefined) resolved.set(row.flag.name, r);
  }
  return {
    help: parsed.help,
    positionals: parsed.positionals,
    ...(doc === undefined ? {} : { configFile: doc.fileName }),
    get: (name) => resolved.get(name),
  };
}

function pickArgEnv(row: SettingRow, flags: ReadonlyMap<string, FlagValue>, env: Env): Resolved | undefined {
  const flag = flags.get(row.flag.name);
  if (flag !== undefined) return { value: flag, source: 'flag', where: `--${row.flag.name}` };
  const name = envName(row.flag.name);
  const text = env[name];
  // An empty variable counts as unset, as shells make unsetting awkward.
  if (text === undefined || text === '') return undefined;
  const value = convertFlagValue(row.flag.kind, text);
  if (value === undefined) {
    throw new ConfigError(name, `expected ${expectedForm(row.flag.kind)}, got ${describe(text)}`);
  }
  return { value, source: 'env', where: name };
}

function readConfig(config: Resolved, readFile: ReadFile): ConfigDocument {
  const path = String(config.value);
  return parseConfigDocument(readSettingFile(config.where, path, readFile).toString('utf8'), path);
}

function fromFile(row: SettingRow, doc: ConfigDocument | undefined): Resolved | undefined {
  if (row.yaml === undefined || doc === undefined) return undefined;
  const raw = doc.get(row.yaml);
  if (raw === undefined) return undefined;
  const where = doc.label(row.yaml);
  const value = yamlValue(row.flag, raw);
  if (value === undefined) {
    const hint = row.flag.kind === 'duration' && typeof raw === 'number' ? ' (quote it with its unit, e.g. "5s")' : '';
    throw new ConfigError(where, `expected ${expectedForm(row.flag.kind)}, got ${describe(raw)}${hint}`);
  }
  return { value, source: 'file', where };
}

/** A YAML value in its flag kind's form; strings are read as on the command line. */
function yamlValue(flag: FlagSpec, raw: unknown): FlagValue | undefined {
  if (typeof raw === 'string') return convertFlagValue(flag.kind, raw);
  const listKind = flag.kind === 'list' || flag.kind === 'repeat';
  if (listKind && Array.isArray(raw) && raw.every((s) => typeof s === 'string')) return raw;
  if (flag.kind === 'int' && Number.isSafeInteger(raw)) return raw as number;
  if (flag.kind === 'bool' && typeof raw === 'boolean') return raw;
  return undefined;
}

function fromDefault(row: SettingRow): Resolved | undefined {
  if (row.default === undefined) return undefined;
  const value = convertFlagValue(row.flag.kind, row.default);
  if (value === undefined) throw new TypeError(`bad default of --${row.flag.name}: ${row.default}`);
  return { value, source: 'default', where: `--${row.flag.name}` };
}

/** Reads a file a setting names; a failure is a `ConfigError` naming the setting and path. */
export function readSettingFile(where: string, path: string, readFile: ReadFile): Buffer {
  try {
    return readFile(path);
  } catch (err) {
    throw new ConfigError(where, `cannot read ${describe(path)}: ${errorMessage(err)}`, { cause: err });
  }
}
