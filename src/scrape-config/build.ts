/**
 * The Prometheus `scrape_configs` document for the registry's groups, as
 * plain objects: one job per group, whose `http_sd_configs` read
 * `/v1/targets/<group>` from this server and whose `basic_auth` is the
 * group's credentials. Pure: no I/O; `yaml.ts` turns it into text.
 */
import { shardQuery, type ScrapeConfigOptions, type SdClientAuth, type SecretRef } from './options.js';

/** What a job is made from: a group's name and, when it has them, its scrape credentials (secret). */
export interface ScrapeGroup {
  readonly name: string;
  readonly credentials?: { readonly username: string; readonly password: string };
}

/** `basic_auth` of Prometheus's HTTP client config. */
export interface BasicAuthConfig {
  readonly username: string;
  readonly password?: string;
  readonly password_file?: string;
}

/**
 * `authorization` of Prometheus's HTTP client config. `type` is always
 * written: http_sd in Prometheus 2.42 does not apply the documented default
 * and sends the bare credentials (https://github.com/prometheus/docs/issues/2377).
 */
export interface AuthorizationConfig {
  readonly type: 'Bearer';
  readonly credentials?: string;
  readonly credentials_file?: string;
}

/** One `http_sd_configs` entry. */
export interface HttpSdConfig {
  readonly url: string;
  readonly authorization?: AuthorizationConfig;
  readonly basic_auth?: BasicAuthConfig;
  readonly tls_config?: { readonly ca_file: string };
}

/** One job of `scrape_configs`. */
export interface ScrapeJob {
  readonly job_name: string;
  readonly http_sd_configs: readonly HttpSdConfig[];
  readonly basic_auth?: BasicAuthConfig;
}

/** The document: `scrape_configs:` and nothing else, to be merged into a Prometheus config. */
export interface ScrapeConfigsDocument {
  readonly scrape_configs: readonly ScrapeJob[];
}

/** A password file the document refers to, with its content. Secret. */
export interface PasswordFile {
  readonly group: string;
  readonly path: string;
  readonly password: string;
}

function secret<K extends string, F extends string>(ref: SecretRef, inlineKey: K, fileKey: F): Record<K, string> | Record<F, string> {
  return 'inline' in ref ? ({ [inlineKey]: ref.inline } as Record<K, string>) : ({ [fileKey]: ref.file } as Record<F, string>);
}

function sdAuthFields(auth: SdClientAuth | undefined): Pick<HttpSdConfig, 'authorization' | 'basic_auth'> {
  if (auth === undefined) return {};
  if (auth.type === 'bearer') return { authorization: { type: 'Bearer', ...secret(auth.token, 'credentials', 'credentials_file') } };
  return { basic_auth: { username: auth.username, ...secret(auth.password, 'password', 'password_file') } };
}

/** Path of a group's password file under `dir`. Group names never hold `/` and are never `.` or `..` (`isValidGroupName`), so each is one safe file name. */
export function passwordFilePath(dir: string, group: string): string {
  return `${dir.endsWith('/') ? dir : `${dir}/`}${group}.password`;
}

function basicAuth(group: ScrapeGroup, passwordDir: string | undefined): BasicAuthConfig | undefined {
  const c = group.credentials;
  if (c === undefined) return undefined;
  // A username without password is valid basic auth: Prometheus sends an empty password.
  if (c.password === '') return { username: c.username };
  return passwordDir === undefined
    ? { username: c.username, password: c.password }
    : { username: c.username, password_file: passwordFilePath(passwordDir, group.name) };
}

/** The job of one group. */
export function buildScrapeJob(group: ScrapeGroup, opts: ScrapeConfigOptions): ScrapeJob {
  const sd: HttpSdConfig = {
    url: `${opts.externalUrl}/v1/targets/${encodeURIComponent(group.name)}${shardQuery(opts.shard)}`,
    ...sdAuthFields(opts.sdAuth),
    ...(opts.sdCaFile === undefined ? {} : { tls_config: { ca_file: opts.sdCaFile } }),
  };
  const auth = basicAuth(group, opts.passwordDir);
  return {
    job_name: `${opts.jobPrefix ?? ''}${group.name}`,
    http_sd_configs: [sd],
    ...(auth === undefined ? {} : { basic_auth: auth }),
  };
}

/** One job per group, in the order given (the registry's: by name). */
export function buildScrapeConfigs(groups: readonly ScrapeGroup[], opts: ScrapeConfigOptions): ScrapeConfigsDocument {
  return { scrape_configs: groups.map((g) => buildScrapeJob(g, opts)) };
}

/** The password files a document built with `passwordDir` refers to (none without it). */
export function passwordFiles(groups: readonly ScrapeGroup[], passwordDir: string | undefined): PasswordFile[] {
  if (passwordDir === undefined) return [];
  return groups.flatMap((g) =>
    g.credentials === undefined || g.credentials.password === ''
      ? []
      : [{ group: g.name, path: passwordFilePath(passwordDir, g.name), password: g.credentials.password }],
  );
}
