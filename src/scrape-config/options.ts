/**
 * Options of the generated Prometheus `scrape_configs` document, and the
 * checks of the values that end up in it.
 */
import { DEFAULT_SHARD_BY, type ShardSpec } from '../shard/index.js';

/** A secret as it appears in a Prometheus config: the value itself, or a file Prometheus reads it from. */
export type SecretRef = { readonly inline: string } | { readonly file: string };

/**
 * How the generated `http_sd_configs` authenticate to this server: what
 * Prometheus's http_sd client can send (`authorization` or `basic_auth`).
 */
export type SdClientAuth =
  | { readonly type: 'bearer'; readonly token: SecretRef }
  | { readonly type: 'basic'; readonly username: string; readonly password: SecretRef };

/** Options of `buildScrapeConfigs` / `renderScrapeConfigs`. */
export interface ScrapeConfigOptions {
  /** Base URL of this server as Prometheus reaches it, without trailing `/` (e.g. `http://127.0.0.1:9911`). */
  readonly externalUrl: string;
  /** Put before each group name to make the job name. Default `''`. */
  readonly jobPrefix?: string;
  /**
   * When set, a group's password is referenced as `password_file:
   * <passwordDir>/<group>.password` instead of written inline.
   */
  readonly passwordDir?: string;
  /** Credentials of the SD endpoints, when the server requires them. */
  readonly sdAuth?: SdClientAuth;
  /** CA file Prometheus verifies this server's certificate with (`tls_config.ca_file`). */
  readonly sdCaFile?: string;
  /** When set, the jobs read only this shard of each group (`?shard=&shards=`), for one Prometheus of a sharded set. */
  readonly shard?: ShardSpec;
  /** A comment put at the top of the document. */
  readonly comment?: string;
}

/** The scrape-config options a configuration fixes; the external URL may be left to the request. */
export type ScrapeConfigDefaults = Omit<ScrapeConfigOptions, 'externalUrl' | 'comment'> & { readonly externalUrl?: string };

const JOB_PREFIX = /^[A-Za-z0-9_.:-]{0,64}$/;

/** Why `prefix` cannot start job names, or `undefined` when it can. */
export function jobPrefixProblem(prefix: string): string | undefined {
  return JOB_PREFIX.test(prefix) ? undefined : 'must be at most 64 letters, digits, "_", ".", ":" or "-"';
}

/**
 * The base URL as written into configs (`scheme://host[:port][/path]`,
 * trailing `/` removed), or a string saying why `url` is not one.
 */
export function normalizeExternalUrl(url: string): { readonly url: string } | { readonly problem: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { problem: 'is not a URL: write http://host:port or https://host:port, optionally with a path' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return { problem: 'must start with http:// or https://' };
  if (parsed.username !== '' || parsed.password !== '') return { problem: 'must not hold credentials' };
  if (parsed.search !== '' || parsed.hash !== '' || url.includes('?') || url.includes('#')) {
    return { problem: 'must not have a query or fragment' };
  }
  return { url: `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}` };
}

/** Why `path` cannot be written as a file path into a Prometheus config, or `undefined`. */
export function configPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path (Prometheus would read it relative to its own config file)';
  // Control characters cannot be written in a config file a human can read back.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return /[\u0000-\u001f\u007f]/.test(path) ? 'must not contain control characters' : undefined;
}

/** The query a sharded job's http_sd URL carries: `?shard=I&shards=N`, plus `&shard_by=` when not the default. */
export function shardQuery(shard: ShardSpec | undefined): string {
  if (shard === undefined) return '';
  const by = shard.by.join(',') === DEFAULT_SHARD_BY.join(',') ? '' : `&shard_by=${shard.by.join(',')}`;
  return `?shard=${shard.index}&shards=${shard.count}${by}`;
}
