/**
 * Settings of the HTTP listener: access control of the SD
 * endpoints, the admin token of `/v1/scrape-configs`, and TLS. Secret and
 * certificate files are read once, here; modules receive the values.
 * No message ever holds a secret's value, only the setting and file name.
 */
import { createSecureContext } from 'node:tls';
import { ConfigError, describe, errorMessage } from '../errors.js';
import { readSecretFile, row, text } from './checks.js';
import { readSettingFile, type ReadFile, type Resolved, type SettingRow, type Settings } from './file.js';

/** Who may read the SD endpoints: a request passes if it matches any configured scheme. Secret. */
export interface AuthConfig {
  /** `Authorization: Bearer <token>`. */
  readonly bearerToken?: string;
  /** `Authorization: Basic ...`. */
  readonly basic?: { readonly username: string; readonly password: string };
  /** Whether `/metrics` needs the same credentials. Default false. */
  readonly protectMetrics: boolean;
}

/** Certificate chain and private key (PEM) of the HTTPS listener. */
export interface ListenerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Access-control and TLS settings of `serve`. */
export const HTTP_SETTINGS: readonly SettingRow[] = [
  row('auth-bearer-token-file', 'string', 'FILE', 'auth.bearer_token_file', '',
    'File holding the bearer token the SD endpoints require (Prometheus http_sd "authorization").'),
  row('auth-basic-username', 'string', 'USER', 'auth.basic.username', '',
    'Username the SD endpoints accept with HTTP basic auth; needs --auth-basic-password-file.'),
  row('auth-basic-password-file', 'string', 'FILE', 'auth.basic.password_file', '',
    'File holding the basic-auth password of --auth-basic-username.'),
  row('auth-protect-metrics', 'bool', '', 'auth.protect_metrics', 'false',
    'Require the SD credentials on /metrics too (/healthz and /readyz stay open).'),
  row('admin-token-file', 'string', 'FILE', 'auth.admin_token_file', '',
    'File holding the bearer token of /v1/scrape-configs, which holds secrets; unset: that route is off.'),
  row('tls-cert-file', 'string', 'FILE', 'tls.cert_file', '', 'Certificate chain (PEM) of the HTTPS listener; with --tls-key-file.'),
  row('tls-key-file', 'string', 'FILE', 'tls.key_file', '', 'Private key (PEM) of the HTTPS listener; with --tls-cert-file.'),
];

// RFC 6750 b64token: what fits in an Authorization header unquoted.
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

function token(r: Resolved, readFile: ReadFile, what: string): string {
  const value = readSecretFile(r, readFile, what);
  if (!TOKEN.test(value)) {
    throw new ConfigError(r.where, `the ${what} in ${describe(text(r))} must be one line of letters, digits and -._~+/ (then "=" padding)`);
  }
  return value;
}

/** The SD endpoints' access control, or `undefined` when they are open. */
export function authFrom(settings: Settings, readFile: ReadFile): AuthConfig | undefined {
  const bearer = settings.get('auth-bearer-token-file');
  const basic = basicFrom(settings, readFile);
  // Absent from commands that serve nothing (scrape-configs).
  const protect = settings.get('auth-protect-metrics');
  if (bearer === undefined && basic === undefined) {
    if (protect?.value === true) {
      throw new ConfigError(protect.where, 'needs credentials to protect with: set --auth-bearer-token-file or --auth-basic-username');
    }
    return undefined;
  }
  return {
    ...(bearer === undefined ? {} : { bearerToken: token(bearer, readFile, 'bearer token') }),
    ...(basic === undefined ? {} : { basic }),
    protectMetrics: protect?.value === true,
  };
}

function basicFrom(settings: Settings, readFile: ReadFile): AuthConfig['basic'] {
  const user = settings.get('auth-basic-username');
  const file = settings.get('auth-basic-password-file');
  if (user === undefined && file === undefined) return undefined;
  if (user === undefined || file === undefined) {
    const [given, missing] = user === undefined ? [file, '--auth-basic-username'] : [user, '--auth-basic-password-file'];
    throw new ConfigError(given?.where ?? missing, `needs ${missing} too: basic auth takes a username and a password`);
  }
  const username = text(user);
  // RFC 7617: the user-id cannot contain a colon; control characters cannot be sent.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (username === '' || /[:\u0000-\u001f\u007f]/.test(username)) {
    throw new ConfigError(user.where, `must be a non-empty username without ":" or control characters, got ${describe(username)}`);
  }
  const password = readSecretFile(file, readFile, 'password');
  if (/[\r\n]/.test(password)) throw new ConfigError(file.where, `the password in ${describe(text(file))} must be one line`);
  return { username, password };
}

/** The admin token of `/v1/scrape-configs`, or `undefined` (route off). Must differ from the SD token. */
export function adminTokenFrom(settings: Settings, readFile: ReadFile, auth: AuthConfig | undefined): string | undefined {
  const r = settings.get('admin-token-file');
  if (r === undefined) return undefined;
  const admin = token(r, readFile, 'admin token');
  if (admin === auth?.bearerToken || admin === auth?.basic?.password) {
    throw new ConfigError(r.where, 'must differ from the SD endpoints\' credentials: whoever reads targets must not get every group\'s password');
  }
  return admin;
}

/** The HTTPS listener's certificate and key, checked to load together; `undefined` for plain HTTP. */
export function listenerTlsFrom(settings: Settings, readFile: ReadFile): ListenerTls | undefined {
  const cert = settings.get('tls-cert-file');
  const key = settings.get('tls-key-file');
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    const [given, missing] = cert === undefined ? [key, '--tls-cert-file'] : [cert, '--tls-key-file'];
    throw new ConfigError(given?.where ?? missing, `needs ${missing} too: a certificate and its key go together`);
  }
  const tls = { cert: readSettingFile(cert.where, text(cert), readFile), key: readSettingFile(key.where, text(key), readFile) };
  try {
    createSecureContext(tls);
  } catch (err) {
    // OpenSSL's message names the problem (bad PEM, key does not match), never the key.
    throw new ConfigError(cert.where, `cannot use ${describe(text(cert))} with ${describe(text(key))}: ${errorMessage(err)}`, { cause: err });
  }
  return tls;
}
