// A hostile registrant: it may write anything, but only under its
// own group (`/services/web/` and the key `/services/web`, what its etcd role
// allows). It must never redirect a scrape through reserved labels, appear as
// another group, or replace, hide or relabel another group's targets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { waitForConvergence } from '../helpers/converge.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { loadFixtureFile, putFixtures } from '../helpers/fixtures.js';
import { httpGet, targets, useTestServer } from '../helpers/server.js';

const P = '/services';
const OWN_GROUP = 'web';
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The attacker's writes, refused (by the test) outside what its role would allow. */
function attacker(client: Etcd3): { put(key: string, value: string): Promise<void>; del(key: string, prefix?: boolean): Promise<void> } {
  const allowed = (key: string): void => {
    assert.ok(key === `${P}/${OWN_GROUP}` || key.startsWith(`${P}/${OWN_GROUP}/`), `the attacker's role does not cover ${key}`);
  };
  return {
    async put(key, value) {
      allowed(key);
      await client.put(key).value(value);
    },
    async del(key, prefix = false) {
      allowed(key);
      if (prefix) await client.delete().prefix(key);
      else await client.delete().key(key);
    },
  };
}

interface Item { targets: string[]; labels: Record<string, string> }

function checkServed(items: readonly Item[]): void {
  for (const item of items) {
    assert.deepEqual(Object.keys(item), ['targets', 'labels']);
    assert.doesNotMatch(item.targets[0]!, /[/@?#\s]/);
    for (const [name, value] of Object.entries(item.labels)) {
      assert.match(name, LABEL_NAME);
      if (name.startsWith('__')) assert.ok(name === '__metrics_path__' || name.startsWith('__meta_etcd_'), `reserved label ${name} served`);
      assert.ok(value !== '');
    }
    assert.equal(item.labels['exporter_type'], item.labels['__meta_etcd_exporter_type']);
    // Prometheus would keep a served job over the scrape config's: the default --protected-labels drops it.
    assert.equal(item.labels['job'], undefined, 'no registrant sets job');
  }
}

const spoofLabels = {
  __address__: '169.254.169.254:80', __scheme__: 'https', __metrics_path__: '/steal', __param_target: 'http://169.254.169.254/',
  __meta_etcd_group: 'db', __meta_etcd_node_id: 'db_1', __meta_etcd_exporter_type: 'postgres_exporter', __scrape_interval__: '1s',
  '_-address__': 'x', '-_scheme__': 'x', exporter_type: 'postgres_exporter', job: 'db', group: 'db', name: 'db',
};

/** Every attack, in order; each is a list of writes. */
function attacks(evil: ReturnType<typeof attacker>): [string, () => Promise<void>][] {
  const nodeKey = (n: string): string => `${P}/${OWN_GROUP}/nodes/${n}`;
  const doc = (fields: Record<string, unknown>): string => JSON.stringify({ id: 'w-evil', exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: {}, status: 'healthy', last_seen: '2025-03-01T10:00:05.987654321Z', ...fields });
  return [
    ['reserved and meta labels on a node', () => evil.put(nodeKey('w-evil_node_exporter'), doc({ labels: spoofLabels }))],
    ['another group\'s node id, type and key suffix', () => evil.put(nodeKey('db_1_postgres_exporter'), doc({ id: 'db_1', exporter_type: 'postgres_exporter', port: 9187, labels: spoofLabels, name: 'db', group: 'db' }))],
    ['scrape-bending addresses', async () => {
      const bad = ['169.254.169.254:80/latest/meta-data', 'user:pw@db_1:9187', 'db_1:9187?x=1', 'db_1:9187#x', 'db_1 :9187', 'http://db_1:9187', '//db_1:9187'];
      for (const [i, address] of bad.entries()) await evil.put(nodeKey(`addr${i}_node_exporter`), doc({ id: `addr${i}`, address }));
      for (const [i, address] of bad.entries()) await evil.put(nodeKey(`lbl${i}_node_exporter`), doc({ id: `lbl${i}`, labels: { address, ingress_host: address } }));
      await evil.put(nodeKey('id_node_exporter'), doc({ id: '169.254.169.254/x' }));
      await evil.put(nodeKey('path_node_exporter'), doc({ id: 'path', metrics_path: '//169.254.169.254/latest' }));
    }],
    ['group document naming another group, with reserved common labels', () => evil.put(`${P}/${OWN_GROUP}`, JSON.stringify({ name: 'db', spec: { username: 'u', password: 'p', common_labels: spoofLabels } }))],
    ['path tricks in keys', async () => {
      for (const k of ['nodes/../../db/nodes/db_1_postgres_exporter', 'nodes/x/../../../db', '../db', 'nodes/', 'nodes/a/b', 'x/nodes/y']) {
        await evil.put(`${P}/${OWN_GROUP}/${k}`, doc({ id: 'trick', labels: { __meta_etcd_group: 'db' } }));
      }
    }],
    ['metric-label injection through exporter_type', () => evil.put(nodeKey('inj_x'), doc({ id: 'inj', exporter_type: 'x"} 1\netcd_http_sd_targets{group="db",exporter_type="postgres_exporter"} 0\n#' }))],
    ['garbage and huge documents', async () => {
      await evil.put(nodeKey('garbage_1'), '{"id":');
      await evil.put(nodeKey('garbage_2'), '[]');
      await evil.put(nodeKey('big_node_exporter'), doc({ id: 'big', labels: { big: 'x'.repeat(512 * 1024) } }));
      await evil.put(`${P}/${OWN_GROUP}`, '{"spec": 1}');
    }],
    ['deleting its own prefix and group', async () => {
      await evil.del(`${P}/${OWN_GROUP}/`, true);
      await evil.del(`${P}/${OWN_GROUP}`);
    }],
  ];
}

test('a registrant writing only under its own group cannot redirect scrapes nor touch another group\'s targets', async (t) => {
  const etcd = await useTestEtcd(t);
  const client = etcd.client();
  const put = await putFixtures(client, loadFixtureFile().entries);
  t.after(() => put.lease?.release());
  const server = await useTestServer(t, etcd.endpoint);
  await server.mirror.whenReady();
  await waitForConvergence(server, client, P, 45_000);
  const groups = (JSON.parse((await httpGet(`${server.url}/v1/groups`)).text) as { name: string }[]).map((g) => g.name);
  const others = groups.filter((g) => g !== OWN_GROUP);
  assert.ok(others.includes('web-canary') && others.includes('db'));
  const baseline = new Map<string, string>();
  for (const g of others) baseline.set(g, (await httpGet(`${server.url}/v1/targets/${g}`)).text);
  const groupsBaseline = (JSON.parse((await httpGet(`${server.url}/v1/groups`)).text) as { name: string }[]).filter((g) => g.name !== OWN_GROUP);

  for (const [name, attack] of attacks(attacker(client))) {
    await attack();
    await waitForConvergence(server, client, P, 45_000);
    const all = await targets(server);
    checkServed(all.groups);
    for (const item of all.groups) {
      // Whatever the document says, a target's group is the one in its key.
      if (item.labels['__meta_etcd_group'] !== OWN_GROUP) {
        assert.ok(baseline.get(item.labels['__meta_etcd_group']!)!.includes(JSON.stringify(item.labels)), `${name}: a target appeared in group ${item.labels['__meta_etcd_group']}`);
      }
      assert.notEqual(item.targets[0], '169.254.169.254:80', `${name}: no reserved label redirects a scrape`);
    }
    for (const g of others) assert.equal((await httpGet(`${server.url}/v1/targets/${g}`)).text, baseline.get(g), `${name}: group ${g} unchanged`);
    const nowGroups = (JSON.parse((await httpGet(`${server.url}/v1/groups`)).text) as { name: string }[]).filter((g) => g.name !== OWN_GROUP);
    assert.deepEqual(nowGroups, groupsBaseline, `${name}: /v1/groups unchanged for other groups`);
    // /metrics stays well-formed: no injected sample for another group.
    const metrics = (await httpGet(`${server.url}/metrics`)).text;
    for (const line of metrics.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eEInfNa]+$/, `${name}: metric line ${JSON.stringify(line.slice(0, 200))}`);
    }
    assert.doesNotMatch(metrics, /etcd_http_sd_targets\{group="db",exporter_type="postgres_exporter"\} 0/);
  }
  // What the attacker could do: serve its own nodes, under its own group, at addresses of its choosing.
  const web = await targets(server, `/v1/targets/${OWN_GROUP}`);
  assert.deepEqual(web.groups, [], 'it deleted only its own group');
});
