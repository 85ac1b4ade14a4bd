/**
 * Secrets the tests plant, a scanner that finds them (or pieces of them) in
 * anything the server produced, and etcd users and roles with those
 * passwords (security). Every planted secret is random-looking,
 * so that no 8-character piece of one is a word a log line could hold
 * ("etcd-registrant-pw" matched "registration"); the fixtures' `pw`
 * (akash's password) is too short to scan for and is left out on purpose.
 */
import type { Etcd3 } from 'etcd3';
import { Range } from 'etcd3';
import { createEtcdClient } from '../../src/etcd/client.js';
import type { CleanupContext } from './etcd.js';

/** Distinctive secrets the security tests plant. */
export const TEST_SECRETS = Object.freeze({
  /** A group's scrape password (`spec.password`). */
  groupPassword: 'Gp1-sEk7Qv93xZ-7f3a',
  /** The same group's scrape user (`spec.username`, secret per the layout). */
  groupUsername: 'Gu1-scrUsr5d2e19',
  /** A second group's scrape password. */
  groupPassword2: 'Gp2-sEk9Lm41cW-91c4',
  /** etcd root's password (used by the tests only). */
  etcdRootPassword: 'Er0-rTq8Wn2k-c0ffee',
  /** The read-only `sd-reader` etcd user's password (the server's). */
  etcdReaderPassword: 'Er1-rDr4Hj7p-8a61e2',
  /** The `registrant-web` etcd user's password (the register CLI's). */
  etcdRegistrantPassword: 'Er2-rGs6Tb3y-4be7d0',
  /** The `sd-cleaner` etcd user's password (a server with empty-group cleanup). */
  etcdCleanerPassword: 'Er3-cLn2Vx8u-e35a90',
  /** Bearer token of the SD endpoints. */
  sdToken: 'Sd1-tOk3Fz6q-3e9a1f77',
  /** Bearer token of `/v1/scrape-configs`. */
  adminToken: 'Ad1-tOk8Rw5m-d41c77b0e2',
});

/** Secrets of the shared fixtures worth scanning for (`s3cret`: web's password; `scraper` is too common a word). */
export const FIXTURE_SECRETS: readonly string[] = Object.freeze(['s3cret']);

/** Every secret the scan looks for. */
export const ALL_SECRETS: readonly string[] = Object.freeze([...Object.values(TEST_SECRETS), ...FIXTURE_SECRETS]);

/** One place a secret (or a piece of one) was found. */
export interface SecretHit {
  /** Which output, e.g. `GET /v1/targets body` or `log line 12`. */
  readonly where: string;
  /** The secret found, masked except for its first 3 characters. */
  readonly secret: string;
  /** How it was found: `whole`, `fragment`, `base64`, `url-encoded`. */
  readonly how: string;
}

/** Shortest piece of a secret that counts as a leak: V8 quotes 10 characters of bad JSON, for example. */
export const FRAGMENT_LENGTH = 8;

function mask(secret: string): string {
  return `${secret.slice(0, 3)}${'*'.repeat(Math.max(0, secret.length - 3))}`;
}

/** Base64 forms of `secret` at the three byte alignments, without the partial edge characters. */
function base64Forms(secret: string): string[] {
  const forms: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.from(`${'\0'.repeat(shift)}${secret}`).toString('base64');
    const skip = Math.ceil((shift * 4) / 3);
    const keep = Math.floor(((shift + Buffer.byteLength(secret)) * 4) / 3);
    const core = encoded.slice(skip, keep);
    if (core.length >= FRAGMENT_LENGTH) forms.push(core);
  }
  return forms;
}

/**
 * Finds `secrets` in `text`: whole, any piece of `FRAGMENT_LENGTH`
 * characters (for secrets at least that long), base64 or URL-encoded.
 */
export function findSecrets(where: string, text: string, secrets: readonly string[] = ALL_SECRETS): SecretHit[] {
  const hits: SecretHit[] = [];
  for (const secret of secrets) {
    const hit = (how: string): void => void hits.push({ where, secret: mask(secret), how });
    if (text.includes(secret)) {
      hit('whole');
      continue;
    }
    let found = false;
    for (let i = 0; !found && i + FRAGMENT_LENGTH <= secret.length; i++) found = text.includes(secret.slice(i, i + FRAGMENT_LENGTH));
    if (found) hit('fragment');
    else if (base64Forms(secret).some((f) => text.includes(f))) hit('base64');
    else if (encodeURIComponent(secret) !== secret && text.includes(encodeURIComponent(secret))) hit('url-encoded');
  }
  return hits;
}

/** A named piece of output to scan. */
export interface Output {
  readonly where: string;
  readonly text: string;
}

/** Collects outputs (bodies, headers, log lines) during a test, to scan them at the end. */
export class OutputLog {
  readonly outputs: Output[] = [];

  /** Adds one output; `Buffer`s are decoded as UTF-8 (and latin1, so no byte escapes the scan). */
  add(where: string, text: string | Buffer): void {
    if (typeof text === 'string') this.outputs.push({ where, text });
    else this.outputs.push({ where, text: text.toString('utf8') }, { where: `${where} (latin1)`, text: text.toString('latin1') });
  }

  /** Adds a response: status line, every header and the body. */
  addResponse(what: string, res: { status: number; headers: Record<string, string | string[] | undefined>; body?: Buffer; text?: string }): void {
    this.add(`${what} headers`, `${res.status} ${JSON.stringify(res.headers)}`);
    if (res.body !== undefined) this.add(`${what} body`, res.body);
    else if (res.text !== undefined) this.add(`${what} body`, res.text);
  }

  /** Every hit of every secret in everything collected so far. */
  hits(secrets: readonly string[] = ALL_SECRETS): SecretHit[] {
    return this.outputs.flatMap((o) => findSecrets(o.where, o.text, secrets));
  }

  /** Total characters collected (to show the scan had something to scan). */
  get size(): number {
    return this.outputs.reduce((n, o) => n + o.text.length, 0);
  }
}

/** Throws, listing where (never the secret itself), if any output holds a secret. */
export function assertNoSecrets(outputs: readonly Output[] | OutputLog, secrets: readonly string[] = ALL_SECRETS): void {
  const list = outputs instanceof OutputLog ? outputs.outputs : outputs;
  const hits = list.flatMap((o) => findSecrets(o.where, o.text, secrets));
  if (hits.length > 0) {
    const lines = hits.slice(0, 20).map((h) => `  ${h.where}: ${h.secret} (${h.how})`);
    throw new Error(`${hits.length} secret(s) found in output:\n${lines.join('\n')}`);
  }
}

/** The etcd users of the security tests and what each may do (docs/security.md lists the same). */
export interface EtcdUsers {
  /** A client logged in as root; closed when the test ends. */
  readonly root: Etcd3;
  /** Opens a client as `user` with the password of `TEST_SECRETS`; closed when the test ends. */
  clientAs(user: 'sd-reader' | 'registrant-web' | 'sd-cleaner'): Etcd3;
}

/** Password of each test user. */
export const USER_PASSWORDS: Readonly<Record<string, string>> = Object.freeze({
  root: TEST_SECRETS.etcdRootPassword,
  'sd-reader': TEST_SECRETS.etcdReaderPassword,
  'registrant-web': TEST_SECRETS.etcdRegistrantPassword,
  'sd-cleaner': TEST_SECRETS.etcdCleanerPassword,
});

/** Election prefix the cleanup replicas campaign under for `prefix` (see src/cleanup). */
export function electionRange(prefix: string): string {
  return `election/etcd-http-sd-cleanup${prefix}/`;
}

/**
 * Creates the users and roles of docs/security.md on an etcd without auth
 * and turns auth on (the same steps as the etcdctl commands there):
 * - `sd-reader`: read on `{prefix}/` (the server);
 * - `registrant-web`: readwrite on `{prefix}/web/` and on the key `{prefix}/web` (a registrant of group web);
 * - `sd-cleaner`: readwrite on `{prefix}/` and on the election prefix (a server with empty-group cleanup);
 * - `root` (required by etcd to enable auth).
 */
export async function setupEtcdAuth(t: CleanupContext, endpoint: string, prefix = '/services'): Promise<EtcdUsers> {
  const open = createEtcdClient({ endpoints: [endpoint], callTimeoutMs: 15_000 });
  try {
    await open.user('root').create(TEST_SECRETS.etcdRootPassword);
    await open.user('root').addRole('root');
    await open.role('sd-reader').create();
    await open.role('sd-reader').grant({ permission: 'Read', range: Range.prefix(`${prefix}/`) });
    await open.role('registrant-web').create();
    await open.role('registrant-web').grant([
      { permission: 'Readwrite', range: Range.prefix(`${prefix}/web/`) },
      { permission: 'Readwrite', key: `${prefix}/web` },
    ]);
    await open.role('sd-cleaner').create();
    await open.role('sd-cleaner').grant([
      { permission: 'Readwrite', range: Range.prefix(`${prefix}/`) },
      { permission: 'Readwrite', range: Range.prefix(electionRange(prefix)) },
    ]);
    for (const user of ['sd-reader', 'registrant-web', 'sd-cleaner']) {
      await open.user(user).create(USER_PASSWORDS[user]!);
      await open.user(user).addRole(user);
    }
    await open.auth.authEnable();
  } finally {
    open.close();
  }
  const clients: Etcd3[] = [];
  t.after(() => clients.forEach((c) => c.close()));
  const clientAs = (user: string): Etcd3 => {
    const c = createEtcdClient({ endpoints: [endpoint], callTimeoutMs: 15_000, username: user, password: USER_PASSWORDS[user]! });
    clients.push(c);
    return c;
  };
  return { root: clientAs('root'), clientAs };
}
