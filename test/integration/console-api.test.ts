// The operator's JSON API and event stream against a real etcd: /v1/nodes, /v1/invalid,
// /v1/explain, /v1/events and the console page, behind the SD routes' access control.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestEtcd } from '../helpers/etcd.js';
import { CONSOLE_GROUP_PASSWORD, consoleNode, PREFIX, putConsoleFixtures } from '../helpers/console-fixtures.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';
import { openSse } from '../helpers/sse.js';

const TOKEN = 'console-sd-token-K2pW9';
const AUTH = { authorization: `Bearer ${TOKEN}` };

test('console, explanations and events: content, access control, no secret, resumable stream', async (t) => {
  const etcd = await useTestEtcd(t);
  await putConsoleFixtures(etcd.client());
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-console-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'sd.token'), TOKEN, { mode: 0o600 });
  const server = await useTestServer(t, etcd.endpoint, { args: ['--auth-bearer-token-file', join(dir, 'sd.token')] });
  await server.mirror.whenReady();
  const get = async (path: string): Promise<{ status: number; text: string; json: () => Record<string, unknown> }> => {
    const r = await httpGet(`${server.url}${path}`, AUTH);
    assert.ok(!r.text.includes(CONSOLE_GROUP_PASSWORD) && !r.text.includes('pw-akash-Q1'), `${path} never shows a group password`);
    return { status: r.status, text: r.text, json: () => JSON.parse(r.text) as Record<string, unknown> };
  };

  for (const path of ['/', '/console.js', '/v1/nodes', '/v1/invalid', '/v1/explain/web/web-1_node_exporter', '/v1/events']) {
    assert.equal((await httpGet(`${server.url}${path}`)).status, 401, `${path} needs the SD credentials`);
  }

  const page = await get('/');
  assert.equal(page.status, 200);
  assert.match(page.text, /data-group="web"/);
  assert.match(page.text, /data-group="akash"/);
  assert.match(page.text, /invalid_json/);

  const nodes = (await get('/v1/nodes?exporter_type=metrics')).json();
  assert.equal(nodes['total'], 1);
  assert.deepEqual((nodes['nodes'] as Record<string, string>[]).map((n) => [n['group'], n['id'], n['address']]), [['akash', 'abc', 'abc.ingress.example.net:31080']]);
  assert.equal((await get('/v1/nodes?per_page=501')).status, 400, 'page size is bounded');
  assert.equal((await get('/v1/nodes?address=127.0.0.1:9101')).json()['total'], 1);

  const invalid = (await get('/v1/invalid')).json();
  assert.deepEqual((invalid['documents'] as Record<string, string>[]).map((d) => [d['key'], d['reason']]), [
    [`${PREFIX}/akash/nodes/broken`, 'invalid_json'], [`${PREFIX}/akash/nodes/noport_x`, 'invalid_port'],
  ]);

  const explained = (await get('/v1/explain/web/web-1_node_exporter')).json();
  assert.equal(explained['served'], true);
  assert.deepEqual(explained['address'], { rule: 'id_and_port', value: 'web-1:9100' });
  const served = JSON.parse((await httpGet(`${server.url}/v1/targets/web`, AUTH)).text) as unknown[];
  assert.deepEqual(explained['target'], served[0], 'the explained target is what /v1/targets serves');
  assert.equal((explained['group_document'] as Record<string, unknown>)['credentials'], 'username and password');
  assert.equal((await get('/v1/explain/akash/broken')).json()['served'], false);
  assert.equal((await get('/v1/explain/web/nope')).status, 404);

  const stream = await openSse(`${server.url}/v1/events`, AUTH);
  t.after(() => stream.close());
  assert.equal(stream.status, 200);
  const sync = await stream.next((m) => m.event === 'sync', 'sync');
  const put = await etcd.client().put(`${PREFIX}/web/nodes/web-3_node_exporter`).value(consoleNode('web-3')).exec();
  const added = await stream.next((m) => m.event === 'added', 'added');
  assert.equal(added.id, put.header.revision);
  assert.equal((JSON.parse(added.data) as { node: string }).node, 'web-3_node_exporter');
  const del = await etcd.client().delete().key(`${PREFIX}/web/nodes/web-3_node_exporter`).exec();
  const removed = await stream.next((m) => m.event === 'removed', 'removed');
  assert.equal(removed.id, del.header.revision);

  const resumed = await openSse(`${server.url}/v1/events`, { ...AUTH, 'last-event-id': sync.id ?? '' });
  t.after(() => resumed.close());
  await resumed.next((m) => m.event === 'sync', 'sync after replay');
  assert.deepEqual(resumed.messages.map((m) => m.event), ['added', 'removed', 'sync'], 'what it missed, then sync');
  const reset = await openSse(`${server.url}/v1/events`, { ...AUTH, 'last-event-id': '1' });
  t.after(() => reset.close());
  assert.equal((await reset.next(() => true, 'first message')).event, 'reset', 'a revision before the stream began');
  await eventually('nodes back to 2 in web', async () => ((await get('/v1/nodes?group=web')).json()['total'] === 2 ? true : undefined));
});

test('before the first load the console page is HTML saying it waits for etcd (503), the API stays JSON; then the console', async (t) => {
  const etcd = await useTestEtcd(t);
  await putConsoleFixtures(etcd.client());
  await etcd.kill(); // the server starts while etcd is down: nothing loaded yet
  const server = await useTestServer(t, etcd.endpoint);
  const page = await httpGet(`${server.url}/`, { accept: 'text/html' });
  assert.equal(page.status, 503);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.ok(page.headers['retry-after'] !== undefined);
  assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
  assert.match(page.text, /<p id="waiting">Waiting for the first load of the registry from etcd/);
  assert.match(page.text, /<meta http-equiv="refresh"/);
  assert.match(page.text, /<td id="status-etcd">not connected/);
  const api = await httpGet(`${server.url}/v1/nodes`);
  assert.equal(api.status, 503);
  assert.match(String(api.headers['content-type']), /^application\/json/);
  assert.match(api.text, /registry not loaded yet/);

  await etcd.restart();
  await server.mirror.whenReady();
  const ready = await httpGet(`${server.url}/`, { accept: 'text/html' });
  assert.equal(ready.status, 200);
  assert.match(ready.text, /data-group="web"/);
});
