// The HTTP API against a real etcd loaded with the Go-written fixtures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { useTestEtcd } from '../helpers/etcd.js';
import { loadFixtureFile, putFixtures } from '../helpers/fixtures.js';
import { EXPECTED_FIXTURE_TARGETS } from '../helpers/expected.js';
import { eventually, httpGet, targets, useTestServer } from '../helpers/server.js';

test('fixtures in etcd are served exactly as the spec prescribes, with ETag, revision, 304 and gzip', async (t) => {
  const etcd = await useTestEtcd(t);
  const put = await putFixtures(etcd.client(), loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();

  const res = await httpGet(`${server.url}/v1/targets`, { accept: 'application/json' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(res.text), EXPECTED_FIXTURE_TARGETS);
  assert.ok(Number(res.headers['x-etcd-revision']) >= put.revision);
  const etag = String(res.headers['etag']);
  assert.match(etag, /^"[A-Za-z0-9_-]+"$/);

  const notModified = await httpGet(`${server.url}/v1/targets`, { 'if-none-match': etag });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.body.length, 0);
  assert.equal(notModified.headers['etag'], etag);

  const gz = await httpGet(`${server.url}/v1/targets`, { 'accept-encoding': 'gzip, deflate' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(gz.body).toString('utf8'), res.text);
  const refused = await httpGet(`${server.url}/v1/targets`, { 'accept-encoding': 'gzip;q=0' });
  assert.equal(refused.headers['content-encoding'], undefined);
});

test('filters: /v1/targets/:group, ?group= and ?exporter_type=; web never shows web-canary', async (t) => {
  const etcd = await useTestEtcd(t);
  const put = await putFixtures(etcd.client(), loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();

  const web = await targets(server, '/v1/targets/web');
  assert.deepEqual(web.groups.map((g) => g.labels['__meta_etcd_group']), ['web', 'web', 'web']);
  const both = await targets(server, '/v1/targets?group=web-canary&group=web');
  assert.deepEqual([...new Set(both.groups.map((g) => g.labels['__meta_etcd_group']))], ['web', 'web-canary']);
  const nginx = await targets(server, '/v1/targets?exporter_type=nginx_exporter');
  assert.deepEqual(nginx.groups.map((g) => g.targets[0]), ['web-1:9113']);
  const webNode = await targets(server, '/v1/targets/web?exporter_type=node_exporter');
  assert.deepEqual(webNode.groups.map((g) => g.targets[0]), ['web-1:9100', 'web-2:9100']);
  const unknown = await targets(server, '/v1/targets/nosuchgroup');
  assert.deepEqual(unknown.groups, [], 'an unknown but valid group is empty, not an error: it may appear later');
  assert.notEqual(web.etag, both.etag);
});

test('bad requests get 4xx JSON with a message; /v1/groups never shows credentials', async (t) => {
  const etcd = await useTestEtcd(t);
  const put = await putFixtures(etcd.client(), loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();

  for (const [path, status] of [
    ['/v1/targets?group=bad%3Fname', 400], ['/v1/targets?groups=web', 400], ['/v1/targets?exporter_type=', 400],
    ['/v1/targets/bad%3Fname', 400], ['/v1/targets/a%20b', 400], ['/v1/targets/%E0%A4%A', 400], ['/v1/targets/web/extra', 404], ['/nope', 404],
    [`/v1/targets?group=${'a'.repeat(300)}`, 400], ['/v1/groups?x=1', 400],
  ] as const) {
    const res = await httpGet(`${server.url}${path}`);
    assert.equal(res.status, status, path);
    assert.equal(typeof (JSON.parse(res.text) as { error: unknown }).error, 'string', path);
  }
  const post = await httpGet(`${server.url}/v1/targets`, {}, 'POST');
  assert.equal(post.status, 404);

  const groups = await httpGet(`${server.url}/v1/groups`);
  assert.equal(groups.status, 200);
  assert.doesNotMatch(groups.text, /s3cret|scraper|password|username/);
  const web = (JSON.parse(groups.text) as Record<string, unknown>[]).find((g) => g['name'] === 'web');
  assert.deepEqual(web, { name: 'web', common_labels: { environment: 'production', region: 'us-east' }, nodes: 3, exporter_types: ['nginx_exporter', 'node_exporter'] });
  const health = await httpGet(`${server.url}/healthz`);
  assert.equal(health.status, 200);
});

test('malformed documents are skipped and counted in metrics while the rest is served', async (t) => {
  const etcd = await useTestEtcd(t);
  const put = await putFixtures(etcd.client(), loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  await etcd.client().put('/services/web/nodes/late_bad').value('{"id":"late"');

  const metrics = await eventually('the watch-time invalid document to be counted', async () => {
    const text = (await httpGet(`${server.url}/metrics`)).text;
    // broken_json and hostile/nodes/deep/er_key (an id with "/", read as a node) on load, late_bad on watch.
    return text.includes('etcd_http_sd_invalid_documents_skipped_total{reason="invalid_json"} 3') ? text : undefined;
  });
  assert.match(metrics, /etcd_http_sd_invalid_documents\{reason="invalid_json"\} 3/);
  assert.match(metrics, /etcd_http_sd_invalid_documents\{reason="missing_id"\} 1/);
  assert.match(metrics, /etcd_http_sd_invalid_documents\{reason="invalid_port"\} 1/);
  assert.match(metrics, /etcd_http_sd_invalid_documents\{reason="not_an_object"\} 1/);
  assert.match(metrics, /etcd_http_sd_targets\{group="web",exporter_type="node_exporter"\} 2/);
  assert.match(metrics, /etcd_http_sd_targets\{group="web",exporter_type="nginx_exporter"\} 1/);
  assert.match(metrics, /etcd_http_sd_reloads_total\{reason="initial"\} 1/);
  assert.match(metrics, /etcd_http_sd_etcd_connected 1/);
  assert.match(metrics, /process_resident_memory_bytes/);
  const served = await targets(server);
  assert.equal(served.groups.length, EXPECTED_FIXTURE_TARGETS.length);
});

test('the fast path answers exactly what the Express route answers: body, ETag, 304, gzip, HEAD, metrics', async (t) => {
  const etcd = await useTestEtcd(t);
  const put = await putFixtures(etcd.client(), loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  const pick = (r: { status: number; headers: Record<string, unknown>; body: Buffer }): unknown => ({
    status: r.status, body: r.body.toString('base64'),
    headers: Object.fromEntries(['etag', 'x-etcd-revision', 'content-type', 'content-encoding', 'content-length', 'vary', 'cache-control'].map((h) => [h, r.headers[h]])),
  });
  // Express routes are not strict about a trailing slash; the fast path only takes the exact path.
  // '%77eb' is 'web' escaped: the fast path leaves escapes to Express.
  for (const [fast, viaExpress] of [
    ['/v1/targets', '/v1/targets/'], ['/v1/targets/web', '/v1/targets/web/'],
    ['/v1/targets?group=web&group=db&exporter_type=node_exporter', '/v1/targets?group=%77eb&group=db&exporter_type=node_exporter'],
    ['/v1/targets?exporter_type=nginx_exporter', '/v1/targets/?exporter_type=nginx_exporter'],
  ] as const) {
    for (const headers of [{}, { 'accept-encoding': 'gzip' }]) {
      const a = await httpGet(`${server.url}${fast}`, headers);
      const b = await httpGet(`${server.url}${viaExpress}`, headers);
      assert.equal(a.status, 200, fast);
      assert.deepEqual(pick(a), pick(b), `${fast} vs ${viaExpress} ${JSON.stringify(headers)}`);
      const head = await httpGet(`${server.url}${fast}`, headers, 'HEAD');
      assert.equal(head.body.length, 0);
      assert.equal(head.headers['content-length'], a.headers['content-length']);
      assert.equal((await httpGet(`${server.url}${fast}`, { 'if-none-match': String(a.headers['etag']) })).status, 304);
    }
  }
  const metrics = (await httpGet(`${server.url}/metrics`)).text;
  assert.match(metrics, /etcd_http_sd_http_requests_total\{route="\/v1\/targets\/:group",code="304"\} 2/);
  assert.match(metrics, /etcd_http_sd_http_requests_total\{route="\/v1\/targets",code="200"\} \d+/);
});

test('before the first load the fast-path routes still answer 503 (through Express)', async (t) => {
  const etcd = await useTestEtcd(t);
  await etcd.kill();
  const server = await useTestServer(t, etcd.endpoint);
  for (const path of ['/v1/targets', '/v1/targets/web']) {
    const r = await httpGet(`${server.url}${path}`);
    assert.equal(r.status, 503, path);
    assert.match(r.text, /not loaded yet/);
  }
});
