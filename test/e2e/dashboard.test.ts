/**
 * End to end, the watched deployment of deploy/compose on loopback: a real
 * etcd, two servers, a real node_exporter and a real Prometheus 2.42 running
 * prometheus.example.yml itself (host names mapped to the test servers,
 * intervals cut to 1 s) with deploy/prometheus/alerts.yml loaded. Checks the
 * example's jobs do what they say (relabelling, maintenance nodes dropped,
 * basic auth sent), that every query of the Grafana dashboard parses and
 * returns data through Prometheus's HTTP API, and that every rule evaluates.
 * Every address in the registry and the config is 127.0.0.1.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { formatGoTime, formatGroupDocument, formatNodeDocument } from '../../src/registry/documents.js';
import { groupKey, nodeKey } from '../../src/registry/keys.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { putFixtures, repoRoot, type FixtureEntry } from '../helpers/fixtures.js';
import { useNodeExporter } from '../helpers/node-exporter.js';
import { httpRequest } from '../helpers/process.js';
import { usePrometheus, type QueryData, type TestPrometheus } from '../helpers/prometheus.js';
import { eventually, httpGet, targets, useTestServer } from '../helpers/server.js';

const ROOT = repoRoot();
const PREFIX = '/services';
const SCRAPE_PASSWORD = 's3cret';
/** Grafana's variables as the dashboard would resolve them against this Prometheus (1 s scrapes). */
const VARIABLES: Readonly<Record<string, string>> = { __rate_interval: '5s', job: 'etcd-http-sd', instance: '.+' };
const TIMEOUT_MS = 30_000;

interface DashboardQuery { readonly panel: string; readonly expr: string }

/** Replaces `$var` and `${var}` by {@link VARIABLES}; an unknown variable is an error. */
function substitute(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (_, name: string) => {
    const v = VARIABLES[name];
    if (v === undefined) throw new Error(`dashboard variable $${name} has no test value`);
    return v;
  });
}

/** Every panel query and every `label_values(query, label)` variable query of the dashboard. */
function dashboard(): { queries: DashboardQuery[]; variables: { name: string; expr: string; label: string }[] } {
  const dash = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'dashboards', 'etcd-http-sd.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr?: string }[] }[];
    templating: { list: { name: string; type: string; definition?: string }[] };
  };
  const queries = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: substitute(t.expr ?? '') })));
  const variables = dash.templating.list.filter((v) => v.type === 'query').map((v) => {
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(v.definition ?? '');
    if (m === null) throw new Error(`variable ${v.name}: not label_values(query, label): ${String(v.definition)}`);
    return { name: v.name, expr: substitute(m[1] ?? ''), label: m[2] ?? '' };
  });
  return { queries, variables };
}

interface ScrapeConfig { job_name: string; scrape_interval?: string; basic_auth?: { password_file?: string }; http_sd_configs?: { url: string; refresh_interval?: string }[]; static_configs?: { targets: string[] }[] }
interface PromConfig { global?: Record<string, string>; rule_files?: string[]; scrape_configs: ScrapeConfig[] }

/**
 * prometheus.example.yml for this machine: the compose host names (in the
 * order the `etcd-http-sd` job lists them) become the test servers, every
 * interval 1 s, file paths absolute. Throws on any address not loopback.
 */
function exampleConfig(servers: readonly string[], passwordFile: string): PromConfig {
  const config = parse(readFileSync(join(ROOT, 'prometheus.example.yml'), 'utf8')) as PromConfig;
  const own = config.scrape_configs.find((j) => j.job_name === 'etcd-http-sd')?.static_configs?.[0]?.targets ?? [];
  assert.equal(own.length, servers.length, 'one test server per server of the example');
  const host = (h: string): string => {
    const i = own.indexOf(h);
    if (i < 0) throw new Error(`prometheus.example.yml names ${h}, not one of the servers ${own.join(', ')}`);
    return servers[i] ?? '';
  };
  config.global = { ...config.global, scrape_interval: '1s', evaluation_interval: '1s' };
  config.rule_files = (config.rule_files ?? []).map((f) => join(ROOT, f));
  for (const job of config.scrape_configs) {
    delete job.scrape_interval;
    if (job.basic_auth?.password_file !== undefined) job.basic_auth.password_file = passwordFile;
    for (const sd of job.http_sd_configs ?? []) {
      const url = new URL(sd.url);
      url.host = host(url.host);
      sd.url = url.toString();
      sd.refresh_interval = '1s';
    }
    for (const sc of job.static_configs ?? []) sc.targets = sc.targets.map(host);
  }
  const addresses = config.scrape_configs.flatMap((j) => [...(j.http_sd_configs ?? []).map((c) => new URL(c.url).hostname), ...(j.static_configs ?? []).flatMap((c) => c.targets.map((a) => a.split(':')[0]))]);
  assert.ok(addresses.every((a) => a === '127.0.0.1'), `non-loopback address in the test config: ${addresses.join(', ')}`);
  return config;
}

/** A loopback "exporter" that records the Authorization header of each scrape. */
async function useAuthRecorder(t: TestContext): Promise<{ address: string; authorizations: string[] }> {
  const authorizations: string[] = [];
  const server = createServer((req, res) => {
    authorizations.push(req.headers.authorization ?? '');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('# TYPE web_stub_up gauge\nweb_stub_up 1\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, authorizations };
}

/** The registry: group demo (one healthy node, one in maintenance, one invalid document), group web with scrape credentials. */
function registry(nodeExporter: string, webStub: string): FixtureEntry[] {
  const now = formatGoTime(new Date());
  const node = (group: string, id: string, type: string, address: string, status = 'healthy'): FixtureEntry => ({
    key: nodeKey(PREFIX, group, id, type),
    value: formatNodeDocument({ id, exporterType: type, port: Number(address.split(':')[1]), metricsPath: '/metrics', labels: { instance_name: id }, status, lastSeen: now, address }),
    lease: true,
  });
  return [
    { key: groupKey(PREFIX, 'demo'), value: formatGroupDocument({ name: 'demo', username: '', password: '', commonLabels: { environment: 'e2e' }, created: now }), lease: false },
    node('demo', 'ne-1', 'node_exporter', nodeExporter),
    node('demo', 'ne-2', 'node_exporter', nodeExporter, 'maintenance'),
    { key: `${PREFIX}/demo/nodes/broken_node_exporter`, value: '{not json', lease: false },
    { key: groupKey(PREFIX, 'web'), value: formatGroupDocument({ name: 'web', username: 'scraper', password: SCRAPE_PASSWORD, commonLabels: {}, created: now }), lease: false },
    node('web', 'web-1', 'web_stub', webStub),
  ];
}

/** Why a query's answer is no data, or undefined when it has at least one finite sample. */
function noData(data: QueryData): string | undefined {
  if (data.resultType === 'vector') {
    if (data.result.length === 0) return 'empty result';
    return data.result.some((s) => Number.isFinite(Number(s.value[1]))) ? undefined : `no finite value: ${JSON.stringify(data.result)}`;
  }
  if (data.resultType === 'scalar') return Number.isFinite(Number(data.result[1])) ? undefined : 'not finite';
  return `unexpected ${data.resultType} result`;
}

/** Each query that fails or returns no data, with the reason. */
async function failingQueries(prometheus: TestPrometheus, queries: readonly DashboardQuery[]): Promise<string[]> {
  const failures = await Promise.all(queries.map(async (q) => {
    try {
      const why = noData(await prometheus.api.query(q.expr));
      return why === undefined ? undefined : `${q.panel}: ${q.expr}: ${why}`;
    } catch (err) {
      return `${q.panel}: ${q.expr}: ${err instanceof Error ? err.message : String(err)}`;
    }
  }));
  return failures.filter((f): f is string => f !== undefined);
}

interface RuleState { name: string; type: 'alerting' | 'recording'; health: string; lastError?: string; state?: string; lastEvaluation: string }

async function rules(prometheus: TestPrometheus): Promise<RuleState[]> {
  const res = await httpRequest(`${prometheus.url}/api/v1/rules`);
  const body = JSON.parse(res.text) as { data: { groups: { rules: RuleState[] }[] } };
  return body.data.groups.flatMap((g) => g.rules);
}

test('prometheus.example.yml and the Grafana dashboard against a real Prometheus: every panel has data', async (t) => {
  const { queries, variables } = dashboard();
  const etcd = await useTestEtcd(t);
  const servers = [await useTestServer(t, etcd.endpoint, { prefix: PREFIX }), await useTestServer(t, etcd.endpoint, { prefix: PREFIX })];
  for (const s of servers) await eventually('the server to load the registry', () => targets(s).then(() => true));
  const exporter = await useNodeExporter(t);
  const web = await useAuthRecorder(t);
  // Written after the first load, so the servers see watch events too.
  const put = await putFixtures(etcd.client(), registry(exporter.address, web.address), 30);
  t.after(() => put.lease?.release());
  for (const s of servers) await eventually('the server to serve both groups', async () => ((await targets(s)).groups.length === 3 ? true : undefined));

  const dir = mkdtempSync(join(tmpdir(), 'etcd-http-sd-dashboard-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const passwordFile = join(dir, 'web-scrape-password');
  writeFileSync(passwordFile, `${SCRAPE_PASSWORD}\n`);
  const prometheus = await usePrometheus(t, { config: exampleConfig(servers.map((s) => new URL(s.url).host), passwordFile) });

  // Some SD traffic of every kind, errors included, on both replicas.
  for (const s of servers) {
    for (const path of ['/v1/targets', '/v1/targets/web', '/v1/groups', '/v1/targets?exporter_type=node_exporter']) assert.equal((await httpGet(`${s.url}${path}`)).status, 200);
    assert.equal((await httpGet(`${s.url}/v1/targets?bogus=1`)).status, 400);
    assert.equal((await httpGet(`${s.url}/nope`)).status, 404);
  }

  // The example's jobs: group label, maintenance and web dropped from `registry`, web scraped with basic auth.
  const active = await eventually('the example jobs to scrape their targets', async () => {
    const list = await prometheus.api.targets();
    const up = (pool: string): number => list.filter((x) => x.scrapePool === pool && x.health === 'up').length;
    return up('registry') === 1 && up('registry-web') === 1 && up('etcd-http-sd') === 2 ? list : undefined;
  }, TIMEOUT_MS, 200);
  const pool = (name: string): typeof active => active.filter((x) => x.scrapePool === name);
  assert.equal(pool('registry').length, 1);
  assert.equal(pool('registry')[0]?.scrapeUrl, exporter.metricsUrl);
  assert.deepEqual([pool('registry')[0]?.labels['group'], pool('registry')[0]?.labels['instance_name']], ['demo', 'ne-1']);
  assert.ok(Object.keys(pool('registry')[0]?.labels ?? {}).every((l) => !l.startsWith('__meta_')));
  assert.equal(pool('registry-web').length, 1);
  assert.equal(pool('registry-web')[0]?.labels['group'], 'web');
  const dropped = await prometheus.api.droppedTargets();
  assert.ok(dropped.some((d) => d.discoveredLabels['__meta_etcd_node_status'] === 'maintenance'), 'the maintenance node is dropped');
  await eventually('a scrape of web-1', () => (web.authorizations.length > 0 ? true : undefined), TIMEOUT_MS);
  assert.ok(web.authorizations.every((a) => a === `Basic ${Buffer.from(`scraper:${SCRAPE_PASSWORD}`).toString('base64')}`), `basic auth sent: ${web.authorizations.join(', ')}`);

  // Every dashboard query parses and returns data.
  let failing: string[] = [];
  await eventually('every dashboard query to return data', async () => {
    failing = await failingQueries(prometheus, queries);
    return failing.length === 0 ? true : undefined;
  }, TIMEOUT_MS, 500).catch(() => assert.fail(`dashboard queries without data:\n${failing.join('\n')}`));
  t.diagnostic(`${queries.length} dashboard queries returned data`);
  for (const v of variables) {
    const data = await prometheus.api.query(v.expr);
    const values = data.resultType === 'vector' ? data.result.map((s) => s.metric[v.label]) : [];
    assert.ok(values.length > 0 && values.every((x) => x !== undefined), `variable ${v.name}: label_values gives nothing`);
  }

  // Every rule evaluates; in this healthy stack only the invalid document alert is on its way.
  // A rule group can evaluate before the first scrape that carries the invalid documents: wait for
  // an evaluation that saw them (the alert pending), then check every other rule in that same list.
  const states = await eventually('every rule evaluated, the invalid document alert pending', async () => {
    const list = await rules(prometheus);
    const evaluated = list.length > 0 && list.every((r) => !r.lastEvaluation.startsWith('0001'));
    return evaluated && list.some((r) => r.name === 'EtcdHttpSdInvalidDocuments' && r.state === 'pending') ? list : undefined;
  }, TIMEOUT_MS, 200);
  for (const r of states) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
  const alerting = Object.fromEntries(states.filter((r) => r.type === 'alerting').map((r) => [r.name, r.state]));
  assert.equal(alerting['EtcdHttpSdInvalidDocuments'], 'pending');
  for (const [name, state] of Object.entries(alerting)) if (name !== 'EtcdHttpSdInvalidDocuments') assert.equal(state, 'inactive', name);
});

