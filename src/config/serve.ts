/**
 * The settings of `serve`, validated and frozen once here, so modules
 * receive typed values and never read env or files. The rows live by
 * concern: the etcd connection every subcommand shares (`etcd.ts`), access
 * control and TLS (`http.ts`), generated scrape configs (`scrape.ts`).
 * To add a setting, add a row to a table and a check to its loader.
 */
import { ConfigError, describe } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';
import type { LabelPolicy } from '../registry/index.js';
import type { ScrapeConfigDefaults } from '../scrape-config/options.js';
import { checkListen, checkPort, checkPositive, deepFreeze, need, oneOf, row, text } from './checks.js';
import { ETCD_CONNECTION_SETTINGS, etcdConnectionFrom, type EtcdConnectionConfig } from './etcd.js';
import { flagsOf, loadSettings, type Env, type ReadFile, type SettingRow, type Settings } from './file.js';
import { UsageError, type FlagSpec } from './flags.js';
import { adminTokenFrom, authFrom, HTTP_SETTINGS, listenerTlsFrom, type AuthConfig, type ListenerTls } from './http.js';
import { SCRAPE_SETTINGS, scrapeDefaultsFrom } from './scrape.js';
import { CLEANUP_SETTINGS, cleanupFrom, type CleanupConfig } from './cleanup.js';
import { labelPolicyFrom, PROTECTED_LABELS_SETTING } from './labels.js';

export { deepFreeze } from './checks.js';
export { ETCD_CONNECTION_SETTINGS, etcdConnectionFrom } from './etcd.js';
export type { EtcdConnectionConfig } from './etcd.js';

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
  /** A response not written within this time is cut. Default 30 s. */
  readonly httpWriteTimeoutMs: number;
  /** Bounds on stored documents; documents over them are skipped and counted. */
  readonly documentLimits: { readonly maxDocumentBytes: number; readonly maxLabels: number; readonly maxLabelBytes: number };
  /** Label names no document may set. Default `job`. */
  readonly labelPolicy: LabelPolicy;
  /** Open HTTP connections at most. Default 1024. */
  readonly maxConnections: number;
  /** Bytes of bodies unfinished responses may hold before new ones get 503. Default 256 MiB. */
  readonly maxPendingResponseBytes: number;
  /** Access control of the SD endpoints; absent: they are open. Secret. */
  readonly auth?: AuthConfig;
  /** HTTPS listener; absent: plain HTTP. */
  readonly tls?: ListenerTls;
  /** `GET /v1/scrape-configs`; absent (no admin token): the route is off. Secret. */
  readonly scrapeConfigs?: { readonly adminToken: string; readonly defaults: ScrapeConfigDefaults };
  /** Empty-group cleanup; absent: off (the default). */
  readonly cleanup?: CleanupConfig;
  /** The YAML file read, if any. */
  readonly configFile?: string;
}

/** Where the HTTP server listens; `scrape-configs` derives its default URL from it too. */
export const LISTEN_SETTING: SettingRow = deepFreeze(
  row('listen', 'string', 'HOST:PORT', 'listen', '127.0.0.1:9911', 'HTTP listen address: host:port, :port or [ipv6]:port.'),
);

/** Every setting of `serve`: the etcd connection group, then serve's own. */
export const SERVE_SETTINGS: readonly SettingRow[] = deepFreeze([
  ...ETCD_CONNECTION_SETTINGS,
  LISTEN_SETTING,
  row('log-level', 'string', 'LEVEL', 'log_level', 'info', `Least severe log level: ${LOG_LEVELS.join(', ')}.`),
  row('etcd-binary', 'string', 'PATH', 'embedded_etcd.binary', 'etcd', 'etcd executable of the embedded etcd.'),
  row('etcd-data-dir', 'string', 'DIR', 'embedded_etcd.data_dir', './etcd-data', 'Data directory of the embedded etcd.'),
  row('embedded-etcd-client-port', 'int', 'PORT', 'embedded_etcd.client_port', '2379', 'Client port of the embedded etcd.'),
  row('embedded-etcd-peer-port', 'int', 'PORT', 'embedded_etcd.peer_port', '2380', 'Peer port of the embedded etcd.'),
  row('cache-max-bytes', 'int', 'BYTES', 'cache.max_bytes', '67108864', 'Bound of the rendered-response cache; a full body larger than this is not held but written from the registry on each request.'),
  row('http-write-timeout', 'duration', '', 'http.write_timeout', '30s', 'A response not fully written within this time has its connection closed (slow or non-reading clients).'),
  row('max-document-bytes', 'int', 'BYTES', 'limits.max_document_bytes', '1572864', 'Documents larger than this are skipped and counted (etcd accepts 1.5 MiB by default).'),
  row('max-labels', 'int', 'N', 'limits.max_labels', '128', 'Documents with more labels than this are skipped and counted.'),
  row('max-label-bytes', 'int', 'BYTES', 'limits.max_label_bytes', '4096', 'Documents with a label name or value longer than this are skipped and counted.'),
  PROTECTED_LABELS_SETTING,
  row('max-connections', 'int', 'N', 'http.max_connections', '1024', 'Open HTTP connections at most; more are closed at once.'),
  row('max-pending-response-bytes', 'int', 'BYTES', 'http.max_pending_response_bytes', '268435456',
    'Bytes of response bodies that responses not yet fully written may hold (a body shared by several counts once); over it, new /v1/targets requests get 503 with Retry-After.'),
  ...HTTP_SETTINGS,
  ...SCRAPE_SETTINGS,
  ...CLEANUP_SETTINGS,
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
    httpWriteTimeoutMs: checkPositive(need(settings, 'http-write-timeout'), 'ms'),
    maxConnections: checkPositive(need(settings, 'max-connections'), 'connections'),
    maxPendingResponseBytes: checkPositive(need(settings, 'max-pending-response-bytes'), 'bytes'),
    documentLimits: {
      maxDocumentBytes: checkPositive(need(settings, 'max-document-bytes'), 'bytes'),
      maxLabels: checkPositive(need(settings, 'max-labels'), 'labels'),
      maxLabelBytes: checkPositive(need(settings, 'max-label-bytes'), 'bytes'),
    },
    labelPolicy: labelPolicyFrom(settings),
    ...httpFrom(settings, readFile),
    ...cleanupOf(settings),
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

function httpFrom(settings: Settings, readFile: ReadFile): Pick<ServeConfig, 'auth' | 'tls' | 'scrapeConfigs'> {
  const auth = authFrom(settings, readFile);
  const tls = listenerTlsFrom(settings, readFile);
  const defaults = scrapeDefaultsFrom(settings, auth);
  const adminToken = adminTokenFrom(settings, readFile, auth);
  return {
    ...(auth === undefined ? {} : { auth }),
    ...(tls === undefined ? {} : { tls }),
    ...(adminToken === undefined ? {} : { scrapeConfigs: { adminToken, defaults } }),
  };
}

function cleanupOf(settings: Settings): Pick<ServeConfig, 'cleanup'> {
  const cleanup = cleanupFrom(settings);
  return cleanup === undefined ? {} : { cleanup };
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
