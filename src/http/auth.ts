/**
 * Access control of the HTTP routes: bearer token and/or HTTP
 * basic auth, the two schemes Prometheus's `http_sd_configs` can send. A
 * request passes when it matches any configured scheme. Secrets are
 * compared as SHA-256 digests with `timingSafeEqual`, so neither content
 * nor length leaks through timing. Refusals are 401 with one
 * `WWW-Authenticate` challenge per scheme; no secret or header is logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Logger } from '../log.js';
import { HttpError } from './errors.js';

/** The realm every challenge names. */
export const REALM = 'etcd-http-sd';

/** Credentials a route accepts; at least one scheme. Secret. */
export interface RouteCredentials {
  readonly bearerToken?: string;
  readonly basic?: { readonly username: string; readonly password: string };
}

/** What the `Authorization` header offered. */
export type Offered =
  | { readonly scheme: 'none' }
  | { readonly scheme: 'bearer'; readonly token: string }
  | { readonly scheme: 'basic'; readonly username: string; readonly password: string }
  | { readonly scheme: 'other' };

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** A secret kept only as its digest, compared in constant time. */
export class SecretMatcher {
  readonly #digest: Buffer;

  constructor(secret: string) {
    this.#digest = digest(secret);
  }

  /** Whether `candidate` equals the secret; time independent of where they differ. */
  matches(candidate: string): boolean {
    return timingSafeEqual(digest(candidate), this.#digest);
  }
}

/**
 * Parses an `Authorization` header (schemes are case-insensitive, RFC 9110
 * 11.1). A bare value without a scheme counts as a bearer token: that is
 * what Prometheus 2.42's http_sd sends for an `authorization` block without
 * an explicit `type` (https://github.com/prometheus/docs/issues/2377), and it is the same secret.
 */
export function parseAuthorization(header: string | undefined): Offered {
  if (header === undefined || header === '') return { scheme: 'none' };
  if (/^[^ ]+$/.test(header)) return { scheme: 'bearer', token: header };
  const m = /^([A-Za-z]+) +([^ ]+) *$/.exec(header);
  if (m === null) return { scheme: 'other' };
  const scheme = (m[1] ?? '').toLowerCase();
  const value = m[2] ?? '';
  if (scheme === 'bearer') return { scheme: 'bearer', token: value };
  if (scheme !== 'basic') return { scheme: 'other' };
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return { scheme: 'other' };
  return { scheme: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Checks offered credentials against configured ones; build once per route group. */
export class CredentialCheck {
  readonly #bearer: SecretMatcher | undefined;
  readonly #user: SecretMatcher | undefined;
  readonly #password: SecretMatcher | undefined;
  /** The `WWW-Authenticate` challenges of a refusal, one per configured scheme. */
  readonly challenges: readonly string[];

  constructor(creds: RouteCredentials) {
    if (creds.bearerToken === undefined && creds.basic === undefined) {
      throw new TypeError('CredentialCheck needs a bearer token or basic credentials');
    }
    this.#bearer = creds.bearerToken === undefined ? undefined : new SecretMatcher(creds.bearerToken);
    this.#user = creds.basic === undefined ? undefined : new SecretMatcher(creds.basic.username);
    this.#password = creds.basic === undefined ? undefined : new SecretMatcher(creds.basic.password);
    this.challenges = [
      ...(this.#bearer === undefined ? [] : [`Bearer realm="${REALM}"`]),
      ...(this.#user === undefined ? [] : [`Basic realm="${REALM}", charset="UTF-8"`]),
    ];
  }

  /** Whether the offered credentials match a configured scheme. */
  accepts(offered: Offered): boolean {
    if (offered.scheme === 'bearer') return this.#bearer?.matches(offered.token) ?? false;
    if (offered.scheme !== 'basic' || this.#user === undefined || this.#password === undefined) return false;
    // Both compared every time: which half was wrong must not show in the timing.
    const userOk = this.#user.matches(offered.username);
    const passwordOk = this.#password.matches(offered.password);
    return userOk && passwordOk;
  }
}

function remote(req: Request): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * Middleware that lets a request through only with matching credentials;
 * otherwise 401 with the challenges. Logs refusals at debug level with
 * path, remote address and the scheme offered, never the header.
 */
export function requireCredentials(creds: RouteCredentials, logger: Logger): RequestHandler {
  const check = new CredentialCheck(creds);
  return (req, res, next) => {
    const offered = parseAuthorization(req.headers.authorization);
    if (check.accepts(offered)) {
      next();
      return;
    }
    logger.debug('request refused: no valid credentials', { path: req.path.slice(0, 200), remote: remote(req), offered: offered.scheme });
    res.setHeader('WWW-Authenticate', [...check.challenges]);
    next(new HttpError(401, offered.scheme === 'none' ? 'credentials required' : 'invalid credentials'));
  };
}
