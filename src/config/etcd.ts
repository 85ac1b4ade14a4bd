/**
 * The etcd connection group that every subcommand (serve, register, group,
 * targets, scrape-configs) shares: endpoints, prefix, credentials and TLS,
 * validated here with password and certificate files read once.
 */
import { ConfigError, describe } from '../errors.js';
import type { EtcdConnection, EtcdTls } from '../etcd/client.js';
import { isPort } from '../net.js';
import { cleanPrefix } from '../registry/keys.js';
import { checkPositive, deepFreeze, need, readSecretFile, row, text } from './checks.js';
import { CONFIG_FLAG, readSettingFile, type ReadFile, type Resolved, type SettingRow, type Settings } from './file.js';

const PASSWORD_ADVICE =
  'put the password in a file named by --etcd-password-file (or etcd.password_file) or in ETCD_HTTP_SD_ETCD_PASSWORD';

/** How to reach etcd, plus the key prefix of the registry. */
export interface EtcdConnectionConfig extends EtcdConnection {
  /** Key prefix of the registry, cleaned as Go's `path.Join` cleans it, without trailing `/` (`''` for the root). Default `/services`. */
  readonly prefix: string;
}

/** The settings saying how to reach etcd; every subcommand accepts them. */
export const ETCD_CONNECTION_SETTINGS: readonly SettingRow[] = deepFreeze([
  row(CONFIG_FLAG, 'string', 'FILE', '', '', 'YAML configuration file; flags and environment override it.'),
  row('etcd-endpoints', 'list', 'URL,...', 'etcd.endpoints', '',
    'etcd endpoints, all http:// or all https://; none: run an embedded etcd.'),
  row('etcd-prefix', 'string', '/PATH', 'etcd.prefix', '/services', 'Key prefix of the service registry; any base path the Go library takes\n(services, /services/, //services), cleaned as Go cleans it.'),
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
    if (m === null || !isPort(port)) {
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
  if (file !== undefined && file.source === env?.source) {
    throw new ConfigError(env.where, `conflicts with ${file.where}: give the password one way only`);
  }
  const fileWins = file !== undefined && (env === undefined || SOURCE_RANK[file.source] > SOURCE_RANK[env.source]);
  const pick = fileWins ? file : env;
  if (pick === undefined) return undefined;
  if (pick === env) return { value: text(env), where: env.where };
  return { value: readSecretFile(pick, readFile, 'password'), where: pick.where };
}

const ENDPOINT = /^(https?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})\/?$/;

/** Any base path the Go library can use (`services`, `/services/`, `//services`), cleaned as Go cleans it. */
function checkPrefix(r: Resolved): string {
  const raw = text(r);
  const cleaned = cleanPrefix(raw);
  if (!cleaned.ok) throw new ConfigError(r.where, `${cleaned.problem}, got ${describe(raw)}: write a key prefix such as /services`);
  return cleaned.prefix;
}
