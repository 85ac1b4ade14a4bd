// HTTP fuzz against a live server (hostile input): random methods,
// paths, query strings, headers, oversized URLs and bodies, and malformed raw
// requests. No 5xx except the documented 503 before the first load, no
// crash (/healthz keeps answering), and memory stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { RunningServer } from '../../src/server.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { EXPECTED_FIXTURE_TARGETS } from '../helpers/expected.js';
import { loadFixtureFile, putFixtures } from '../helpers/fixtures.js';
import { liveBytes } from '../helpers/memory.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

const SEED = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
const ADMIN_TOKEN = 'fuzz-admin-token-0c9e';

interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly bodyBytes: number;
}

interface Outcome {
  readonly status?: number | undefined;
  readonly error?: string;
}

/** One request over its own connection; the status, or the error if no response came. Bounded by `timeoutMs`. */
function send(port: number, r: FuzzRequest, timeoutMs = 15_000): Promise<Outcome> {
  return new Promise((resolve) => {
    let status: number | undefined;
    let settled = false;
    const done = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    let req: ReturnType<typeof request>;
    try {
      req = request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers: { connection: 'close', ...r.headers } }, (res) => {
        status = res.statusCode;
        res.on('data', () => undefined);
        res.on('end', () => done({ status }));
        res.on('error', () => done({ status }));
      });
    } catch (err) {
      // The client refused to send it (e.g. an invalid header value): not the server's business.
      resolve({ error: `client: ${(err as Error).message}` });
      return;
    }
    const timer = setTimeout(() => req.destroy(new Error('timeout')), timeoutMs);
    req.on('error', (err) => done(status !== undefined ? { status } : { error: (err as NodeJS.ErrnoException).code ?? err.message }));
    if (r.bodyBytes > 0) {
      const chunk = Buffer.alloc(Math.min(r.bodyBytes, 64 * 1024), 0x61);
      let left = r.bodyBytes;
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    } else {
      req.end();
    }
  });
}

/** Raw bytes over a socket; the status of the first response line, if any. Bounded by `timeoutMs`. */
function sendRaw(port: number, bytes: string | Buffer, timeoutMs = 5000): Promise<Outcome & { raw: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = (error?: string): void => {
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
      resolve(m !== null ? { status: Number(m[1]), raw } : { error: error ?? 'no response', raw });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => finish());
    socket.on('error', (err) => finish((err as NodeJS.ErrnoException).code ?? err.message));
    socket.on('connect', () => socket.end(bytes));
  });
}

// ---------- generators ----------

const ROUTES = ['/v1/targets', '/v1/targets/web', '/v1/targets/db', '/v1/groups', '/v1/scrape-configs', '/healthz', '/readyz', '/metrics', '/', '/v1', '/v1/'];
const segment = fc.oneof(
  fc.constantFrom('..', '.', '', '%', '%zz', '%E0%A4%A', '%00', '%2e%2e', '%2F', '%252F', 'web', 'db', 'targets', 'v1', '__proto__', 'constructor', ';', ':group', '*', '\u00e9', '%C3%A9', 'a'.repeat(64), 'web-canary'),
  fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,30}$/),
);
const pathArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ROUTES) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...ROUTES), fc.array(segment, { maxLength: 4 })).map(([r, s]) => [r, ...s].join('/')) },
  { weight: 1, arbitrary: fc.array(segment, { maxLength: 6 }).map((s) => `/${s.join('/')}`) },
  { weight: 1, arbitrary: fc.constantFrom('//v1/targets', '/v1//targets', '/V1/TARGETS', '/v1/targets/', '/v1/targets/web/', '/v1/targets/..%2f..%2fetc', '/./v1/targets', '/healthz/../v1/targets') },
);
const qKey = fc.constantFrom('group', 'exporter_type', 'group[]', 'group[0]', 'a[b]', 'a[b][c]', '__proto__', 'constructor', 'prototype', 'toString', '', 'x', 'Group', 'group ', 'exporter_type[__proto__]');
const qValue = fc.oneof(
  fc.constantFrom('', 'web', 'db', 'web-canary', 'bad.name', 'node_exporter', '__proto__', '%', '%zz', '%00', 'a'.repeat(257), '[]', '{}', 'a&b', '\u00e9'),
  fc.stringMatching(/^[A-Za-z0-9_.~-]{0,40}$/),
);
const queryArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant('') },
  { weight: 4, arbitrary: fc.array(fc.tuple(qKey, qValue), { maxLength: 6 }).map((kv) => `?${kv.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`) },
  { weight: 1, arbitrary: fc.constantFrom('?', '?&&', '?=x', '?group', '?group=web&group=web&group=db', `?${'group=web&'.repeat(150)}`, `?${'x=1&'.repeat(1200)}`, '?group=%', '?group=%E0%A4%A', '?exporter_type=%C3', '?a[b]=1&a[c]=2', '?__proto__[polluted]=1') },
);
const headerArb = fc.dictionary(
  fc.oneof(
    fc.constantFrom('accept-encoding', 'if-none-match', 'authorization', 'accept', 'x-prometheus-refresh-interval-seconds', 'host', 'range', 'if-modified-since', 'x-forwarded-for', 'x-forwarded-proto', 'cookie', 'content-type', 'expect', 'te', 'upgrade'),
    fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
  ),
  fc.oneof(
    fc.constantFrom('gzip', 'gzip;q=0', 'gzip;q=abc', 'x-gzip, deflate', '*', '"x"', 'W/"x"', '*, "a"', 'Bearer ', `Bearer ${ADMIN_TOKEN}`, 'Basic !!!', 'Basic Og==', 'Basic ' + 'A'.repeat(4000),
      'bytes=0-10', 'evil.example', '127.0.0.1:1', '[::1]:99999', 'a b', 'application/json', '100-continue', 'websocket', 'x'.repeat(8000)),
    fc.stringMatching(/^[ -~]{0,60}$/).map((s) => s.trim()),
  ),
  { maxKeys: 6 },
);
const methodArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant('GET') },
  { weight: 4, arbitrary: fc.constantFrom('HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH') },
  { weight: 1, arbitrary: fc.constantFrom('TRACE', 'PROPFIND', 'PURGE', 'SEARCH', 'LINK', 'FOO', 'get', 'M-SEARCH', 'QUERY') },
);
const bodyArb = fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 64 * 1024 }) }, { weight: 1, arbitrary: fc.constantFrom(1 << 20, 4 << 20) });
const requestArb: fc.Arbitrary<FuzzRequest> = fc.record({ method: methodArb, path: fc.tuple(pathArb, queryArb).map(([p, q]) => p + q), headers: headerArb, bodyBytes: bodyArb });

/** Oversized on purpose: 100 KB and 1 MB URLs, huge and many headers, multi-MB bodies. */
const OVERSIZED: readonly FuzzRequest[] = [
  { method: 'GET', path: `/${'a'.repeat(100 * 1024)}`, headers: {}, bodyBytes: 0 },
  { method: 'GET', path: `/v1/targets?group=${'a'.repeat(100 * 1024)}`, headers: {}, bodyBytes: 0 },
  { method: 'GET', path: `/v1/targets?${'exporter_type=x&'.repeat(64 * 1024)}`, headers: {}, bodyBytes: 0 },
  { method: 'GET', path: '/v1/targets', headers: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x-big-${i}`, 'v'.repeat(8000)])), bodyBytes: 0 },
  { method: 'GET', path: '/v1/targets', headers: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`x-h${i}`, 'v'])), bodyBytes: 0 },
  { method: 'GET', path: '/v1/targets', headers: { 'accept-encoding': 'gzip,'.repeat(2000) }, bodyBytes: 0 },
  { method: 'GET', path: '/v1/targets', headers: { 'if-none-match': '"a",'.repeat(3000) }, bodyBytes: 0 },
  { method: 'GET', path: '/v1/targets', headers: {}, bodyBytes: 4 << 20 },
  { method: 'POST', path: '/v1/targets', headers: { 'content-type': 'application/json' }, bodyBytes: 4 << 20 },
  { method: 'PUT', path: '/v1/groups', headers: {}, bodyBytes: 8 << 20 },
  { method: 'GET', path: '/healthz', headers: {}, bodyBytes: 2 << 20 },
];

const RAW: readonly string[] = [
  'GET ?x HTTP/1.1\r\nHost: a\r\n\r\n', 'GET x HTTP/1.1\r\nHost: a\r\n\r\n', 'GET * HTTP/1.1\r\nHost: a\r\n\r\n', 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET http://evil.example/v1/targets HTTP/1.1\r\nHost: a\r\n\r\n', 'GET http://evil.example HTTP/1.1\r\nHost: a\r\n\r\n', 'GET http://a?x=1 HTTP/1.1\r\n\r\n',
  'CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /v1/targets\r\n\r\n', 'GET /v1/targets HTTP/9.9\r\n\r\n', 'GET /v1/targets HTTP/1.0\r\n\r\n',
  'G\u00c9T /v1/targets HTTP/1.1\r\n\r\n', 'GET /v1/tar gets HTTP/1.1\r\n\r\n', 'GET /v1/targets HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n',
  'GET /v1/targets HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'POST /v1/targets HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  'GET /v1/targets HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', 'GET /v1/targets HTTP/1.1\nHost: a\n\n', 'GET /v1/targets HTTP/1.1\r\n Host: a\r\n\r\n',
  'GET /v1/targets HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 'GET /v1/targets?\u0000 HTTP/1.1\r\n\r\n', 'GET /\u00ff\u00fe HTTP/1.1\r\n\r\n', '\r\n\r\n\r\n', 'HELLO\r\n\r\n',
  'GET /v1/targets HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  `GET /v1/targets HTTP/1.1\r\n${'X-A: b\r\n'.repeat(3000)}\r\n`, `GET /${'a'.repeat(100 * 1024)} HTTP/1.1\r\n\r\n`, `GET /v1/targets?group=${'%'.repeat(9000)} HTTP/1.1\r\n\r\n`,
  'GET /v1/targets HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n', 'GET /v1/targets HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\nGET /v1/groups HTTP/1.1\r\n\r\n',
];

/** Sends `count` requests made by `make` (made lazily: the test must not hold them while memory is measured). */
async function fuzz(server: RunningServer, requests: readonly FuzzRequest[] | { count: number; make: (i: number) => FuzzRequest }, concurrency: number): Promise<Map<string, number>> {
  const port = Number(new URL(server.url).port);
  const counts = new Map<string, number>();
  const count = 'count' in requests ? requests.count : requests.length;
  const make = 'make' in requests ? requests.make : (i: number) => requests[i]!;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const r = make(next++);
      const o = await send(port, r);
      const k = o.status !== undefined ? String(o.status) : `error:${o.error}${r.bodyBytes >= 1 << 20 ? ' (big body)' : ''}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
      if (o.status !== undefined && o.status >= 500) {
        assert.fail(`${r.method} ${r.path.slice(0, 300)} ${JSON.stringify(r.headers).slice(0, 300)} body=${r.bodyBytes}: status ${o.status}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

function onlyExpectedErrors(counts: ReadonlyMap<string, number>): void {
  for (const k of counts.keys()) {
    if (!k.startsWith('error:')) continue;
    // Dropped connections are fine only where the server answered early and closed while a huge body was still on its way.
    assert.ok(k.endsWith('(big body)') || k.startsWith('error:client:'), `unexpected failure without a response: ${k}`);
  }
}

async function healthy(server: RunningServer): Promise<void> {
  const res = await httpGet(`${server.url}/healthz`);
  assert.equal(res.status, 200);
}

test('fuzzed requests: 503 only before the first load, never another 5xx; raw malformed requests; the server keeps answering', async (t) => {
  const etcd = await useTestEtcd(t);
  const put = await putFixtures(etcd.client(), loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const dir = await mkdtemp(join(tmpdir(), 'fuzz-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'admin'), ADMIN_TOKEN);
  await etcd.kill(); // the server starts while etcd is down: not loaded yet
  const lines: string[] = [];
  const server = await useTestServer(t, etcd.endpoint, { args: ['--admin-token-file', join(dir, 'admin'), '--cache-max-bytes', '1048576'], logLines: lines });

  const before = fc.sample(requestArb, { numRuns: 300, seed: SEED });
  const port = Number(new URL(server.url).port);
  const beforeCounts = new Map<number, number>();
  for (const r of before) {
    const o = await send(port, r);
    if (o.status === undefined) continue;
    beforeCounts.set(o.status, (beforeCounts.get(o.status) ?? 0) + 1);
    if (o.status >= 500) assert.equal(o.status, 503, `${r.method} ${r.path.slice(0, 200)}: only 503 before the first load`);
  }
  assert.ok((beforeCounts.get(503) ?? 0) > 0, 'the SD routes said 503 before the load');
  await healthy(server);
  assert.equal((await httpGet(`${server.url}/readyz`)).status, 503);

  await etcd.restart();
  await server.mirror.whenReady();
  const requests = [...fc.sample(requestArb, { numRuns: 2500, seed: SEED + 1 }), ...OVERSIZED];
  const counts = await fuzz(server, requests, 6);
  t.diagnostic(`seed ${SEED}; statuses before load: ${JSON.stringify(Object.fromEntries(beforeCounts))}`);
  t.diagnostic(`statuses after load: ${JSON.stringify(Object.fromEntries([...counts].sort()))}`);
  onlyExpectedErrors(counts);
  await healthy(server);

  const rawStatuses: Record<string, number> = {};
  for (const raw of RAW) {
    const o = await sendRaw(port, raw);
    const k = o.status !== undefined ? String(o.status) : `error:${o.error}`;
    rawStatuses[k] = (rawStatuses[k] ?? 0) + 1;
    if (o.status === undefined) t.diagnostic(`raw ${JSON.stringify(raw.slice(0, 60))}: ${k}`);
    if (o.status !== undefined) assert.ok(o.status < 500, `raw ${JSON.stringify(raw.slice(0, 80))}: status ${o.status}`);
    await healthy(server);
  }
  t.diagnostic(`raw requests: ${JSON.stringify(rawStatuses)}`);
  const failures = lines.filter((l) => l.includes('"request failed"') && !l.includes('registry not loaded yet'));
  assert.deepEqual(failures, [], 'the error handler never logged a 5xx but the documented 503');
  // Still serving the fixtures correctly after all that.
  const targets = await httpGet(`${server.url}/v1/targets`);
  assert.equal(targets.status, 200);
  assert.deepEqual(JSON.parse(targets.text), EXPECTED_FIXTURE_TARGETS);
});

test('memory stays bounded under fuzzing, and under distinct long filters (cache keys count toward the cache bound)', async (t) => {
  const etcd = await useTestEtcd(t);
  const put = await putFixtures(etcd.client(), loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const server = await useTestServer(t, etcd.endpoint, { args: ['--cache-max-bytes', '1048576'] });
  await server.mirror.whenReady();
  // Warm up: every route once, every lazily built thing built.
  await fuzz(server, fc.sample(requestArb, { numRuns: 300, seed: SEED + 2 }), 4);
  const base = liveBytes();

  await fuzz(server, fc.sample(requestArb, { numRuns: 1500, seed: SEED + 3 }), 6);
  const afterFuzz = liveBytes();

  // Every filter distinct and as long as a URL may be (~12 KB): the cache must count its keys, not only bodies.
  const filter = (i: number): FuzzRequest => {
    const types = Array.from({ length: 48 }, (_, j) => `t${i}_${j}_${'x'.repeat(220)}`);
    return { method: 'GET', path: `/v1/targets?${types.map((v) => `exporter_type=${v}`).join('&')}`, headers: {}, bodyBytes: 0 };
  };
  const counts = await fuzz(server, { count: 2500, make: filter }, 6);
  assert.deepEqual([...counts.keys()], ['200']);
  const afterFilters = liveBytes();
  const mb = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MB`;
  t.diagnostic(`live heap+buffers: base ${mb(base)}, after 1500 fuzzed requests ${mb(afterFuzz)}, after 2500 distinct 12 KB filters ${mb(afterFilters)} (cache bound 1 MB)`);
  // Generous bounds (the test process also holds the test's own objects): a leak of these requests is 30 MB+.
  assert.ok(afterFuzz - base < 16 * 2 ** 20, `fuzzing grew live memory by ${mb(afterFuzz - base)}`);
  assert.ok(afterFilters - base < 16 * 2 ** 20, `distinct filters grew live memory by ${mb(afterFilters - base)}`);
  await healthy(server);
  await eventually('still serving', async () => ((await httpGet(`${server.url}/v1/targets`)).status === 200 ? true : undefined));
});
