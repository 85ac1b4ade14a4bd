/**
 * Settings of the generated Prometheus `scrape_configs`, shared
 * by `GET /v1/scrape-configs` and the `scrape-configs` command: where the
 * jobs point, their names, where passwords go, and how the jobs
 * authenticate to the SD endpoints (derived from the server's own auth).
 */
import { ConfigError, describe } from '../errors.js';
import {
  configPathProblem,
  jobPrefixProblem,
  normalizeExternalUrl,
  type ScrapeConfigDefaults,
  type SdClientAuth,
  type SecretRef,
} from '../scrape-config/options.js';
import { row, text } from './checks.js';
import type { Resolved, SettingRow, Settings } from './file.js';
import type { AuthConfig } from './http.js';

/** Scrape-config settings, for `serve` and `scrape-configs`. */
export const SCRAPE_SETTINGS: readonly SettingRow[] = [
  row('external-url', 'string', 'URL', 'scrape_configs.external_url', '',
    'Base URL of this server as Prometheus reaches it, for generated scrape configs; default: from the request (serve).'),
  row('scrape-job-prefix', 'string', 'PREFIX', 'scrape_configs.job_prefix', '',
    'Put before each group name to make the generated job_name, e.g. etcd-sd-; default none.'),
  row('scrape-password-dir', 'string', 'DIR', 'scrape_configs.password_dir', '',
    'Absolute dir: generated jobs read password_file DIR/<group>.password instead of an inline password.'),
  row('scrape-sd-credentials-file', 'string', 'FILE', 'scrape_configs.sd_credentials_file', '',
    'Absolute path Prometheus reads the SD credential (bearer token, else basic password) from; default inline.'),
  row('scrape-sd-ca-file', 'string', 'FILE', 'scrape_configs.sd_ca_file', '',
    'Absolute path of the CA Prometheus verifies this server\'s HTTPS certificate with (tls_config.ca_file).'),
];

function absolutePath(r: Resolved): string {
  const path = text(r);
  const problem = configPathProblem(path);
  if (problem !== undefined) throw new ConfigError(r.where, `${problem}, got ${describe(path)}`);
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** The base URL from `--external-url`, normalised; `undefined` when unset. */
export function externalUrlFrom(settings: Settings): string | undefined {
  const r = settings.get('external-url');
  if (r === undefined) return undefined;
  const result = normalizeExternalUrl(text(r));
  if ('problem' in result) throw new ConfigError(r.where, `${result.problem}, got ${describe(text(r))}`);
  return result.url;
}

/** Validates the scrape-config settings; `auth` is the server's access control, which the jobs must satisfy. */
export function scrapeDefaultsFrom(settings: Settings, auth: AuthConfig | undefined): ScrapeConfigDefaults {
  const prefix = settings.get('scrape-job-prefix');
  const jobPrefix = prefix === undefined ? '' : text(prefix);
  const problem = jobPrefixProblem(jobPrefix);
  if (problem !== undefined && prefix !== undefined) throw new ConfigError(prefix.where, `${problem}, got ${describe(jobPrefix)}`);
  const dir = settings.get('scrape-password-dir');
  const ca = settings.get('scrape-sd-ca-file');
  const externalUrl = externalUrlFrom(settings);
  const sdAuth = sdAuthFrom(settings, auth);
  return {
    jobPrefix,
    ...(externalUrl === undefined ? {} : { externalUrl }),
    ...(dir === undefined ? {} : { passwordDir: absolutePath(dir) }),
    ...(sdAuth === undefined ? {} : { sdAuth }),
    ...(ca === undefined ? {} : { sdCaFile: absolutePath(ca) }),
  };
}

/** Bearer when the server takes it (Prometheus's `authorization`), else basic; inline unless a file is named. */
function sdAuthFrom(settings: Settings, auth: AuthConfig | undefined): SdClientAuth | undefined {
  const fileSetting = settings.get('scrape-sd-credentials-file');
  const file = fileSetting === undefined ? undefined : absolutePath(fileSetting);
  const secret = (inline: string): SecretRef => (file === undefined ? { inline } : { file });
  if (auth?.bearerToken !== undefined) return { type: 'bearer', token: secret(auth.bearerToken) };
  if (auth?.basic !== undefined) return { type: 'basic', username: auth.basic.username, password: secret(auth.basic.password) };
  if (fileSetting !== undefined) {
    throw new ConfigError(fileSetting.where, 'is set but the SD endpoints take no credentials: set --auth-bearer-token-file or drop this setting');
  }
  return undefined;
}
