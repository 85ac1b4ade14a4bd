/**
 * The settings of `serve`, and the etcd connection group that every
 * subcommand (serve, register, group, targets) shares. Validated and frozen
 * once here, so modules receive typed values and never read env or files.
 * To add a setting, add a row to a table and a check to its loader.
 */
import { ConfigError, describe } from '../errors.js';
import type { EtcdConnection, EtcdTls } from '../etcd/client.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';
import {
  CONFIG_FLAG,
  flagsOf,
  loadSettings,
  readSettingFile,
  type Env,
  type ReadFile,
  type Resolved,
  type SettingRow,
  type Settings,
} from './file.js';
import { UsageError, type FlagKind, type FlagSpec } from './flags.js';

const PASSWORD_ADVICE =
  'put the password in a file named by --etcd-password-file (or etcd.password_file) or in ETCD_HTTP_SD_ETCD_PASSWORD';

/** How to reach etcd, plus the key prefix of the registry. */
export interface EtcdConnectionConfig extends EtcdConnection {
  /** Key prefix of the registry, starting with `/`, without trailing `/`. Default `/services`. */
  readonly prefix: string;
}

/** The validated, deeply frozen configuration of `serve`. */
export interface ServeConfig {
  /** Where the HTTP server listens; port 0 picks a free port. Default `127.0.0.1:9911`. */
  readonly listen: { readonly host: string; readonly port: number };
  /** Default `info`. */
  readonly logLevel: LogLevel;
  /** `endpoints` is `[]` when serve starts its own (embedded) etcd. */
  readonly etcd: EtcdConnectionConfig;
  /** The etcd that serve starts when no endpoints are set. */
  readonly embeddedEtcd: {
    readonly binary: string;
    readonly dataDir: string;
    readonly clientPort: number;
    readonly peerPort: number;
  };
  /** Bound of the rendered-response cache. Default 64 MiB. */
  readonly cacheMaxBytes: number;
  /** The YAML file read, if any. */
  readonly configFile?: string;
}

/** A table row: flag `name` of `kind`, YAML key path `yaml` (dotted), `default` as typed on the command line. */
function row(name: string, kind: FlagKind, placeholder: string, yaml: string, dflt: string, help: string): SettingRow {
  const flag: FlagSpec = { name, kind, help, ...(placeholder === '' ? {} : { placeholder }) };
  return { flag, ...(yaml === '' ? {} : { yaml: yaml.split('.') }), ...(dflt === '' ? {} : { default: dflt }) };
}

/** The settings saying how to reach etcd; every subcommand accepts them. */
export const ETCD_CONNECTION_SETTINGS: readonly SettingRow[] = deepFreeze([
  row(CONFIG_FLAG, 'string', 'FILE', '', '', 'YAML configuration file; flags and environment override it.'),
  row('etcd-endpoints', 'list', 'URL,...', 'etcd.endpoints', '',
    'etcd endpoints, all http:// or all https://; none: run an embedded etcd.'),
  row('etcd-prefix', 'string', '/PATH', 'etcd.prefix', '/services', 'Key prefix of the service registry.'),
  row('etcd-username', 'string', 'USER', 'etcd.username', '', 'etcd user; needs a password.'),
  row('etcd-password-file', 'string', 'FILE', 'etcd.password_file', '',
    'File holding the etcd password (one trailing newline ignored); or set ETCD_HTTP_SD_ETCD_PASSWORD.'),
  // Environment only: a flag would show the password to every user in `ps`.
  {
    flag: {
      name: 'etcd-password',
      kind: 'string',
      help: '',
      refused: `not accepted: a password on the command line is visible in ps; ${PASSWORD_ADVICE}`,
    },
  },
  row('etcd-ca-file', 'string', 'FILE', 'etcd.tls.ca_file', '',
    'CA certificate (PEM) of the etcd server; needs https:// endpoints.'),
  row('etcd-cert-file', 'string', 'FILE', 'etcd.tls.cert_file', '', 'Client certificate (PEM), with --etcd-key-file.'),
  row('etcd-key-file', 'string', 'FILE', 'etcd.tls.key_file', '', 'Client private key (PEM), with --etcd-cert-file.'),
  row('etcd-call-timeout', 'duration', '', 'etcd.call_timeout', '5s', 'Deadline of each etcd request.'),
]);

/** Every setting of `serve`: the etcd connection group, then serve's own. */
export const SERVE_SETTINGS: readonly SettingRow[] = deepFreeze([
  ...ETCD_CONNECTION_SETTINGS,
  row('listen', 'string', 'HOST:PORT', 'listen', '127.0.0.1:9911', 'HTTP listen address: host:port, :port or [ipv6]:port.'),
  row('log-level', 'string', 'LEVEL', 'log_level', 'info', `Least severe log level: ${LOG_LEVELS.join(', ')}.`),
  row('etcd-binary', 'string', 'PATH', 'embedded_etcd.binary', 'etcd', 'etcd executable of the embedded etcd.'),
  row('etcd-data-dir', 'string', 'DIR', 'embedded_etcd.data_dir', './etcd-data', 'Data directory of the embedded etcd.'),
  row('embedded-etcd-client-port', 'int', 'PORT', 'embedded_etcd.client_port', '2379', 'Client port of the embedded etcd.'),
  row('embedded-etcd-peer-port', 'int', 'PORT', 'embedded_etcd.peer_port', '2380', 'Peer port of the embedded etcd.'),
  row('cache-max-bytes', 'int', 'BYTES', 'cache.max_bytes', '67108864', 'Bound of the rendered-response cache.'),
]);

/** Flag specs of `serve`, for `parseFlags` and `formatHelp`. */
export const SERVE_FLAGS: readonly FlagSpec[] = flagsOf(SERVE_SETTINGS);

/** Flag specs of the etcd connection group, for subcommands' `--help`. */
export const ETCD_CONNECTION_FLAGS: readonly FlagSpec[] = flagsOf(ETCD_CONNECTION_SETTINGS);

/**
 * Loads `serve`'s configuration: flag > environment variable > YAML file
 * (`--config` or `ETCD_HTTP_SD_CONFIG`) > default. Throws `UsageError` for a
 * bad command line and `ConfigError` naming the setting for a bad value.
 * The caller handles `--help` first (`isHelpRequested(argv)`).
 */
export function loadServeConfig(argv: readonly string[], env: Env, readFile: ReadFile): ServeConfig {
  const settings = loadSettings(SERVE_SETTINGS, argv, env, readFile);
  const stray = settings.positionals[0];
  if (stray !== undefined) throw new UsageError(describe(stray), 'unexpected argument: serve takes flags only');
  const etcd = etcdConnectionFrom(settings, readFile);
  const logLevel = oneOf(need(settings, 'log-level'), LOG_LEVELS);
  return deepFreeze({
    listen: checkListen(need(settings, 'listen')),
    logLevel,
    etcd,
    embeddedEtcd: embeddedFrom(settings),
    cacheMaxBytes: checkPositive(need(settings, 'cache-max-bytes'), 'bytes'),
    ...(settings.configFile === undefined ? {} : { configFile: settings.configFile }),
  });
}

/**
 * Loads the etcd connection group plus a subcommand's `extraRows`. The YAML
 * file may hold every key `serve` knows, so one file serves all commands.
 * Returns the frozen connection and the settings, for the extra rows.
 */
export function loadEtcdConnection(
  argv: readonly string[],
  env: Env,
  readFile: ReadFile,
  extraRows: readonly SettingRow[] = [],
): { readonly etcd: EtcdConnectionConfig; readonly settings: Settings } {
  const rows = [...ETCD_CONNECTION_SETTINGS, ...extraRows];
  const settings = loadSettings(rows, argv, env, readFile, [...SERVE_SETTINGS, ...extraRows]);
  return { etcd: deepFreeze(etcdConnectionFrom(settings, readFile)), settings };
}

/** Validates the etcd connection group of already resolved `settings`, reading password and TLS files. */
export function etcdConnectionFrom(settings: Settings, readFile: ReadFile): EtcdConnectionConfig {
  const endpoints = endpointsFrom(settings.get('etcd-endpoints'));
  const tls = tlsFrom(settings, endpoints, readFile);
  return {
    endpoints: endpoints.urls,
    prefix: checkPrefix(need(settings, 'etcd-prefix')),
    callTimeoutMs: checkPositive(need(settings, 'etcd-call-timeout'), 'ms'),
    ...authFrom(settings, readFile),
    ...(tls === undefined ? {} : { tls }),
  };
}

interface Endpoints {
  readonly urls: readonly string[];
  readonly https: boolean;
  readonly where: string;
}

function endpointsFrom(r: Resolved | undefined): Endpoints {
  if (r === undefined) return { urls: [], https: false, where: '--etcd-endpoints' };
  const urls = Array.isArray(r.value) ? (r.value as readonly string[]) : [text(r)];
  const schemes = new Set<string>();
  for (const url of urls) {
    const m = ENDPOINT.exec(url);
    const port = Number(m?.[3]);
    if (m === null || port < 1 || port > 65535) {
      throw new ConfigError(r.where, `${describe(url)} is not an etcd endpoint: write http://host:port or https://host:port`);
    }
    schemes.add(m[1] ?? '');
  }
  if (schemes.size > 1) {
    throw new ConfigError(r.where, `mixes http:// and https:// (${describe(urls)}): use one scheme for all endpoints`);
  }
  // A trailing "/" is harmless to type but etcd3 wants bare host:port URLs.
  return { urls: urls.map((u) => u.replace(/\/$/, '')), https: schemes.has('https'), where: r.where };
}

function tlsFrom(settings: Settings, endpoints: Endpoints, readFile: ReadFile): EtcdTls | undefined {
  const ca = settings.get('etcd-ca-file');
  const cert = settings.get('etcd-cert-file');
  const key = settings.get('etcd-key-file');
  if ((cert === undefined) !== (key === undefined)) {
    const [given, missing] = cert === undefined ? [key, '--etcd-cert-file'] : [cert, '--etcd-key-file'];
    throw new ConfigError(given?.where ?? missing, `needs ${missing} too: a client certificate and its key go together`);
  }
  const first = ca ?? cert;
  if (first !== undefined && !endpoints.https) {
    const now = endpoints.urls.length === 0 ? 'no endpoints are set (embedded etcd speaks plain http)' : 'the endpoints are http://';
    throw new ConfigError(first.where, `TLS needs https:// etcd endpoints, but ${now}: use https:// endpoints or drop the TLS files`);
  }
  if (endpoints.https && ca === undefined) {
    throw new ConfigError(
      endpoints.where,
      'https:// endpoints need --etcd-ca-file (or ETCD_HTTP_SD_ETCD_CA_FILE, etcd.tls.ca_file): ' +
        'the CA that signed the etcd server certificate',
    );
  }
  if (ca === undefined) return undefined;
  const read = (r: Resolved): Buffer => readSettingFile(r.where, text(r), readFile);
  return cert === undefined || key === undefined ? { ca: read(ca) } : { ca: read(ca), cert: read(cert), key: read(key) };
}

const SOURCE_RANK = { flag: 3, env: 2, file: 1, default: 0 } as const;

function authFrom(settings: Settings, readFile: ReadFile): { username?: string; password?: string } {
  const user = settings.get('etcd-username');
  const password = passwordFrom(settings, readFile);
  if (user !== undefined && password === undefined) {
    throw new ConfigError(user.where, `is set but no password is: ${PASSWORD_ADVICE}`);
  }
  if (password !== undefined && user === undefined) {
    throw new ConfigError(password.where, 'is set but no etcd username is: set --etcd-username too, or neither');
  }
  if (user === undefined || password === undefined) return {};
  if (text(user) === '') throw new ConfigError(user.where, 'must not be empty');
  return { username: text(user), password: password.value };
}

/** The password, from its file or the environment; never put the value in a message. */
function passwordFrom(settings: Settings, readFile: ReadFile): { value: string; where: string } | undefined {
  const file = settings.get('etcd-password-file');
  const env = settings.get('etcd-password');
  if (file !== undefined && env !== undefined && file.source === env.source) {
    throw new ConfigError(env.where, `conflicts with ${file.where}: give the password one way only`);
  }
  const fileWins = file !== undefined && (env === undefined || SOURCE_RANK[file.source] > SOURCE_RANK[env.source]);
  const pick = fileWins ? file : env;
  if (pick === undefined) return undefined;
  if (pick === env) return { value: text(env), where: env.where };
  const path = text(pick);
  // Editors and `echo` add a newline the user did not mean as part of the password.
  const value = readSettingFile(pick.where, path, readFile).toString('utf8').replace(/\r?\n$/, '');
  if (value === '') throw new ConfigError(pick.where, `the password file ${describe(path)} is empty`);
  return { value, where: pick.where };
}

function embeddedFrom(settings: Settings): ServeConfig['embeddedEtcd'] {
  const client = need(settings, 'embedded-etcd-client-port');
  const peer = need(settings, 'embedded-etcd-peer-port');
  const clientPort = checkPort(client, 1);
  const peerPort = checkPort(peer, 1);
  if (clientPort === peerPort) {
    throw new ConfigError(peer.where, `must differ from the client port (${client.where}), both are ${clientPort}`);
  }
  const binary = text(need(settings, 'etcd-binary'));
  const dataDir = text(need(settings, 'etcd-data-dir'));
  if (binary === '') throw new ConfigError(need(settings, 'etcd-binary').where, 'must name the etcd executable');
  if (dataDir === '') throw new ConfigError(need(settings, 'etcd-data-dir').where, 'must name a directory');
  return { binary, dataDir, clientPort, peerPort };
}

/** Deep-freezes plain objects and arrays; Buffers stay mutable (they cannot be frozen). */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
}

/** The resolved value of a setting that has a default. */
function need(settings: Settings, name: string): Resolved {
  const r = settings.get(name);
  if (r === undefined) throw new TypeError(`setting --${name} has no value and no default`);
  return r;
}

function text(r: Resolved): string {
  return typeof r.value === 'string' ? r.value : String(r.value);
}

function num(r: Resolved): number {
  return typeof r.value === 'number' ? r.value : Number(r.value);
}

const ENDPOINT = /^(https?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})\/?$/;
const LISTEN = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/;

function checkListen(r: Resolved): ServeConfig['listen'] {
  const m = LISTEN.exec(text(r));
  const port = Number(m?.[3]);
  if (m === null || port > 65535) {
    throw new ConfigError(r.where, `expected host:port, :port or [ipv6]:port with a port from 0 to 65535, got ${describe(r.value)}`);
  }
  // ":9911" means every interface, as in Go's net.Listen.
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function checkPrefix(r: Resolved): string {
  const raw = text(r);
  const fix = 'write an absolute key prefix such as /services';
  if (!raw.startsWith('/')) throw new ConfigError(r.where, `must start with "/", got ${describe(raw)}: ${fix}`);
  if (/\s/.test(raw)) throw new ConfigError(r.where, `must not contain whitespace, got ${describe(raw)}: ${fix}`);
  // One trailing "/" is forgiven; keys are built as prefix + "/" + name.
  const prefix = raw.endsWith('/') ? raw.slice(0, -1) : raw;
  if (prefix === '' || prefix.endsWith('/')) {
    throw new ConfigError(r.where, `must name a key prefix below "/" without "//" at the end, got ${describe(raw)}: ${fix}`);
  }
  return prefix;
}

function checkPort(r: Resolved, min: number): number {
  const port = num(r);
  if (port < min || port > 65535) throw new ConfigError(r.where, `must be a port from ${min} to 65535, got ${port}`);
  return port;
}

function checkPositive(r: Resolved, unit: string): number {
  const n = num(r);
  if (n <= 0) throw new ConfigError(r.where, `must be more than 0 ${unit}, got ${n} ${unit}`);
  return n;
}

function oneOf<T extends string>(r: Resolved, allowed: readonly T[]): T {
  const value = text(r);
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new ConfigError(r.where, `must be one of ${allowed.join(', ')}, got ${describe(value)}`);
  return found;
}
