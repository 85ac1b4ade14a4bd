// Property: for any request, the fast path answers exactly what the Express routes answer.
//
// Every generated request is sent twice to one server: as generated, and as an
// "Express-only twin" that means the same to Express but that the fast path
// always declines: a trailing `?` (no query) or `&` (a query) adds an empty
// pair, which Express's query parser drops and the fast path refuses to read.
// The path is unchanged, so even 404 messages (which name the path) agree.
// Half the twins also escape one letter of a plain query value (`web` as
// `%77eb`), which Express decodes and the fast path leaves to Express.
//
// Reproducible: the seed is printed; FAST_PATH_SEED=<n> replays it and
// FAST_PATH_REQUESTS=<n> changes how many requests are generated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestEtcd } from '../helpers/etcd.js';
import { loadFixtureFile, putFixtures } from '../helpers/fixtures.js';
import { httpGet, useTestServer, type TestResponse } from '../helpers/server.js';

const TOKEN = 'fp-token-K4wQ9';
const BASIC_USER = 'prometheus';
const BASIC_PASSWORD = 'fp-basic-R2nL6';

/** mulberry32: a tiny seeded generator, so a failing run can be replayed from its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Gen {
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
  int(max: number): number;
}

function gen(random: () => number): Gen {
  return {
    pick: (items) => items[Math.floor(random() * items.length)] as (typeof items)[number],
    chance: (p) => random() < p,
    int: (max) => Math.floor(random() * max),
  };
}

// Fixture groups, valid names absent from etcd, and invalid or escaped spellings.
const GROUPS = ['web', 'web-canary', 'db', 'akash', 'ext', 'empty', 'hostile', 'badgroup', 'orphans', 'nosuchgroup', 'web.prod', 'a:b'];
const ODD_GROUPS = ['', 'Web', 'bad%3Fname', 'a%20b', '%E0%A4%A', 'a%2Fb', '%77eb', 'caf%C3%A9', '.', '..', 'a+b', 'x'.repeat(300), '%00', '-x', 'a_b'];
const EXPORTERS = ['node_exporter', 'nginx_exporter', 'postgres_exporter', 'app', 'nope', '', 'node%5Fexporter', 'node+exporter'];
const SHARD_BY = ['__address__', 'environment', 'instance', 'job', '__tmp_x', 'bad-name', '__param_x', '', '__meta_etcd_group'];
const NUMBERS = ['0', '1', '2', '3', '-1', 'x', '1.5', '99999999', '', '01'];
const OTHER_PARAMS = ['groups', 'x', 'group[]', 'GROUP', ''];

function group(g: Gen): string {
  return g.chance(0.75) ? g.pick(GROUPS) : g.pick(ODD_GROUPS);
}

function param(g: Gen, name: string, value: string): string {
  // A bare name (no '=') is a pair the fast path cannot read either.
  return g.chance(0.03) ? name : `${name}=${value}`;
}

/** Query pairs: filters, coherent or incoherent shard parameters, unknown names, repeats. */
function queryPairs(g: Gen, inPath: boolean): string[] {
  const pairs: string[] = [];
  const n = g.int(5);
  for (let i = 0; i < n; i++) {
    const kind = g.int(10);
    if (kind < 3 && !inPath) pairs.push(param(g, 'group', group(g)));
    else if (kind < 6) pairs.push(param(g, 'exporter_type', g.pick(EXPORTERS)));
    else if (kind < 8) {
      if (g.chance(0.6)) {
        const count = 1 + g.int(4);
        pairs.push(param(g, 'shard', String(g.int(count))), param(g, 'shards', String(count)));
        if (g.chance(0.5)) pairs.push(param(g, 'shard_by', g.pick(SHARD_BY)));
      } else {
        pairs.push(param(g, g.pick(['shard', 'shards', 'shard_by']), g.chance(0.5) ? g.pick(NUMBERS) : g.pick(SHARD_BY)));
      }
    } else if (kind < 9) pairs.push(param(g, g.pick(OTHER_PARAMS), 'web'));
    else if (pairs.length > 0) pairs.push(g.pick(pairs)); // a repeated pair
  }
  if (inPath && g.chance(0.05)) pairs.push(param(g, 'group', group(g)));
  return pairs;
}

interface Request {
  readonly method: string;
  readonly path: string;
  readonly pairs: readonly string[];
  readonly headers: Record<string, string>;
}

/** A request answered 200 before, and its ETag: sent again to reach the 304s. */
interface Answered {
  readonly req: Request;
  readonly etag: string;
}

function request(g: Gen, etags: readonly string[], answered: readonly Answered[]): Request {
  if (answered.length > 0 && g.chance(0.15)) return revisit(g, g.pick(answered));
  const method = g.pick(['GET', 'GET', 'GET', 'GET', 'GET', 'HEAD', 'HEAD', 'HEAD', 'POST', 'PUT', 'OPTIONS']);
  const shape = g.int(20);
  const path = shape < 8 ? '/v1/targets'
    : shape < 17 ? `/v1/targets/${group(g)}`
      : shape < 18 ? `/v1/targets/${group(g)}/extra`
        : shape < 19 ? '/v1/targets/' : '/v1/targetsX';
  const pairs = g.chance(0.7) ? queryPairs(g, path.startsWith('/v1/targets/')) : [];
  const headers: Record<string, string> = {};
  const auth = g.int(20);
  if (auth < 15) headers['authorization'] = `Bearer ${TOKEN}`;
  else if (auth < 17) headers['authorization'] = `Basic ${Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64')}`;
  else if (auth < 18) headers['authorization'] = 'Bearer wrong';
  else if (auth < 19) headers['authorization'] = `Basic ${Buffer.from(`${BASIC_USER}:wrong`).toString('base64')}`;
  if (g.chance(0.3) && etags.length > 0) {
    const etag = g.pick(etags);
    headers['if-none-match'] = g.pick([etag, `W/${etag}`, `"other", ${etag}`, etag.toUpperCase()]);
  } else if (g.chance(0.05)) {
    headers['if-none-match'] = g.pick(['*', '"nope"', 'garbage', '']);
  }
  if (g.chance(0.5)) headers['accept-encoding'] = g.pick(['gzip', 'gzip, deflate', 'gzip;q=0', 'x-gzip', 'br', 'identity', '*', 'deflate, gzip;q=0.5', 'GZIP']);
  return { method, path, pairs, headers };
}

/** An earlier request again, with its own ETag (or a spelling of it) and maybe another method or encoding. */
function revisit(g: Gen, { req, etag }: Answered): Request {
  const headers: Record<string, string> = { ...req.headers, 'if-none-match': g.pick([etag, etag, `W/${etag}`, `"other", ${etag}`, `${etag}x`]) };
  if (g.chance(0.3)) headers['accept-encoding'] = g.pick(['gzip', 'identity']);
  return { ...req, method: g.chance(0.3) ? g.pick(['GET', 'HEAD', 'POST']) : req.method, headers };
}

function url(path: string, pairs: readonly string[]): string {
  return pairs.length === 0 ? path : `${path}?${pairs.join('&')}`;
}

/** The same request as only Express takes it: an empty trailing pair, maybe one escaped letter. */
function expressTwin(g: Gen, req: Request): string {
  const pairs = [...req.pairs];
  const plain = pairs.map((p, i) => [p, i] as const).filter(([p]) => /^[^=]+=[A-Za-z0-9_.:-]*[A-Za-z][A-Za-z0-9_.:-]*$/.test(p));
  if (plain.length > 0 && g.chance(0.5)) {
    const [p, i] = g.pick(plain);
    const eq = p.indexOf('=');
    const value = p.slice(eq + 1);
    const at = value.search(/[A-Za-z]/);
    const escaped = `%${value.charCodeAt(at).toString(16).toUpperCase()}`;
    pairs[i] = `${p.slice(0, eq + 1)}${value.slice(0, at)}${escaped}${value.slice(at + 1)}`;
  }
  return pairs.length === 0 ? `${req.path}?` : `${req.path}?${pairs.join('&')}&`;
}

const COMPARED_HEADERS = ['etag', 'x-etcd-revision', 'content-type', 'content-encoding', 'content-length', 'vary', 'cache-control', 'www-authenticate', 'allow'];

function observable(r: TestResponse): unknown {
  return {
    status: r.status,
    body: r.body.toString('base64'),
    headers: Object.fromEntries(COMPARED_HEADERS.map((h) => [h, r.headers[h]])),
  };
}

test('property: for random requests the fast path answers exactly what Express answers', { timeout: 180_000 }, async (t) => {
  const seed = Number(process.env['FAST_PATH_SEED'] ?? Math.floor(Math.random() * 2 ** 32));
  const count = Number(process.env['FAST_PATH_REQUESTS'] ?? 2000);
  t.diagnostic(`seed ${seed} (replay: FAST_PATH_SEED=${seed}), ${count} requests`);
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-fast-path-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'sd.token'), TOKEN, { mode: 0o600 });
  await writeFile(join(dir, 'basic.pw'), BASIC_PASSWORD, { mode: 0o600 });
  const etcd = await useTestEtcd(t);
  const put = await putFixtures(etcd.client(), loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const server = await useTestServer(t, etcd.endpoint, {
    args: ['--auth-bearer-token-file', join(dir, 'sd.token'), '--auth-basic-username', BASIC_USER, '--auth-basic-password-file', join(dir, 'basic.pw')],
  });
  await server.mirror.whenReady();

  const g = gen(seeded(seed));
  const etags = new Set<string>();
  const answered: Answered[] = [];
  const statuses = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const req = request(g, [...etags], answered);
    const original = url(req.path, req.pairs);
    const twin = expressTwin(g, req);
    const a = await httpGet(`${server.url}${original}`, req.headers, req.method);
    const b = await httpGet(`${server.url}${twin}`, req.headers, req.method);
    const what = `seed ${seed} request #${i}: ${req.method} ${original} vs ${twin} ${JSON.stringify(req.headers)}`;
    assert.deepEqual(observable(a), observable(b), what);
    const etag = a.headers['etag'];
    if (typeof etag === 'string') etags.add(etag);
    if (a.status === 200 && typeof etag === 'string') answered.push({ req, etag });
    statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
  }
  const summary = [...statuses].sort(([x], [y]) => x - y).map(([s, n]) => `${s}: ${n}`).join(', ');
  t.diagnostic(`statuses ${summary}; ${etags.size} distinct ETags`);
  // The property is only worth something when the generator reaches the answers the fast path gives.
  assert.ok((statuses.get(200) ?? 0) > count / 10, `too few 200s to exercise the fast path: ${summary}`);
  assert.ok((statuses.get(304) ?? 0) > count / 50, `no 304 generated: ${summary}`);
});
