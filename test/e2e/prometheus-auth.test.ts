/**
 * End to end: Prometheus 2.42's own http_sd client against our
 * protected SD endpoints — bearer token (typed, and untyped as Prometheus
 * sends it then), basic auth, HTTPS with a private CA — gets its targets; a
 * wrong token gets none. And Prometheus's YAML parser reads back the job
 * names and usernames of generated jobs exactly, however YAML-1.1-hostile.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { formatGoTime, formatNodeDocument } from '../../src/registry/documents.js';
import { nodeKey } from '../../src/registry/keys.js';
import { PROMETHEUS_YAML_OPTIONS } from '../../src/scrape-config/index.js';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { freePort } from '../helpers/ports.js';
import { httpRequest } from '../helpers/process.js';
import { usePrometheus, type TestPrometheus } from '../helpers/prometheus.js';
import { eventually, httpGet, useTestServer } from '../helpers/server.js';

const SD_TOKEN = 'e2e-sd-token-3Fd';
const ADMIN_TOKEN = 'e2e-admin-token-8Sx';
const BASIC_USER = 'prometheus';
const BASIC_PASSWORD = 'e2e-basic-pw-6Tc';
const TIMEOUT_MS = 30_000;
// [group, username]: names Prometheus (go-yaml v2, YAML 1.1) would misread if left unquoted.
const NASTY: [string, string][] = [['on', 'no'], ['yes', 'null'], ['123', '~'], ['y', '1:20'], ['0x1f', 'x: #y']];

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-e2e-sdauth-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function sdJob(name: string, url: string, extra: Record<string, unknown>): Record<string, unknown> {
  return { job_name: name, http_sd_configs: [{ url, refresh_interval: '1s', ...extra }] };
}

/** Scrape pools with at least one discovered target. */
async function poolsWithTargets(prometheus: TestPrometheus): Promise<Map<string, string[]>> {
  const pools = new Map<string, string[]>();
  for (const target of await prometheus.api.targets()) {
    pools.set(target.scrapePool, [...(pools.get(target.scrapePool) ?? []), target.discoveredLabels['__address__'] ?? '']);
  }
  return pools;
}

test('Prometheus http_sd gets targets through bearer, untyped bearer, basic auth and HTTPS; a wrong token gets none', async (t) => {
  const dir = await tempDir(t);
  const etcd = await useTestEtcd(t);
  const closedPort = await freePort();
  const address = `127.0.0.1:${closedPort}`; // loopback, nothing listening: scrapes fail harmlessly
  await etcd.client().put(nodeKey('/services', 'svc', 'n1', 'node_exporter')).value(formatNodeDocument({
    id: 'n1', exporterType: 'node_exporter', port: closedPort, metricsPath: '/metrics', labels: {}, status: 'healthy', lastSeen: formatGoTime(new Date()), address,
  }));
  for (const [group, username] of NASTY) {
    await etcd.client().put(`/services/${group}`).value(JSON.stringify({ name: group, spec: { username, password: 'p' } }));
  }
  const files = { token: join(dir, 'sd.token'), admin: join(dir, 'admin.token'), basic: join(dir, 'basic.pw') };
  await writeFile(files.token, `${SD_TOKEN}\n`);
  await writeFile(files.admin, ADMIN_TOKEN);
  await writeFile(files.basic, BASIC_PASSWORD);
  const auth = ['--auth-bearer-token-file', files.token, '--auth-basic-username', BASIC_USER, '--auth-basic-password-file', files.basic];
  const plain = await useTestServer(t, etcd.endpoint, { args: [...auth, '--admin-token-file', files.admin, '--scrape-job-prefix', 'gen-'] });
  const { cert, key } = await makeSelfSignedCert(dir);
  const tls = await useTestServer(t, etcd.endpoint, { args: [...auth, '--tls-cert-file', cert, '--tls-key-file', key] });
  await Promise.all([plain.mirror.whenReady(), tls.mirror.whenReady()]);

  const generated = await httpGet(`${plain.url}/v1/scrape-configs`, { authorization: `Bearer ${ADMIN_TOKEN}` });
  assert.equal(generated.status, 200);
  const generatedJobs = generated.text.slice(generated.text.indexOf('scrape_configs:\n') + 'scrape_configs:\n'.length);
  const svc = '/v1/targets/svc';
  const manual = stringify({
    global: { scrape_interval: '5s' },
    scrape_configs: [
      sdJob('bearer', `${plain.url}${svc}`, { authorization: { type: 'Bearer', credentials_file: files.token } }),
      // Without `type`, Prometheus 2.42 sends the bare token (https://github.com/prometheus/docs/issues/2377); we accept it.
      sdJob('bearer-untyped', `${plain.url}${svc}`, { authorization: { credentials_file: files.token } }),
      sdJob('basic', `${plain.url}${svc}`, { basic_auth: { username: BASIC_USER, password_file: files.basic } }),
      sdJob('https', `${tls.url}${svc}`, { authorization: { type: 'Bearer', credentials: SD_TOKEN }, tls_config: { ca_file: cert } }),
      sdJob('wrong-token', `${plain.url}${svc}`, { authorization: { type: 'Bearer', credentials: 'not-the-token' } }),
    ],
  }, PROMETHEUS_YAML_OPTIONS);
  const prometheus = await usePrometheus(t, { config: `${manual}${generatedJobs}` });

  const pools = await eventually('targets of the four authorised jobs', async () => {
    const p = await poolsWithTargets(prometheus);
    return ['bearer', 'bearer-untyped', 'basic', 'https'].every((j) => p.has(j)) ? p : undefined;
  }, TIMEOUT_MS, 200);
  for (const job of ['bearer', 'bearer-untyped', 'basic', 'https']) assert.deepEqual(pools.get(job), [address], job);
  assert.equal(pools.get('wrong-token'), undefined);
  await eventually('the wrong token to fail refreshes', async () => {
    const text = await prometheus.api.selfMetrics();
    const failures = Number(/^prometheus_sd_http_failures_total (\S+)$/m.exec(text)?.[1] ?? 0);
    return failures >= 2 ? failures : undefined;
  }, TIMEOUT_MS, 200);
  const ours = (await httpGet(`${plain.url}/metrics`)).text;
  assert.match(ours, /etcd_http_sd_http_requests_total\{route="\/v1\/targets\/:group",code="401"\} [1-9]/);
  assert.match(ours, /etcd_http_sd_http_requests_total\{route="\/v1\/targets\/:group",code="200"\} [1-9]/);

  // What Prometheus itself parsed from the generated jobs (secrets show as <secret>).
  const status = await httpRequest(`${prometheus.url}/api/v1/status/config`);
  const loaded = parse((JSON.parse(status.text) as { data: { yaml: string } }).data.yaml, { version: '1.1' }) as {
    scrape_configs: { job_name: string; basic_auth?: { username: string; password: string }; http_sd_configs?: { authorization?: { type: string; credentials: string } }[] }[];
  };
  for (const [group, username] of NASTY) {
    const job = loaded.scrape_configs.find((j) => j.job_name === `gen-${group}`);
    assert.ok(job, `Prometheus knows job gen-${group}`);
    assert.equal(job.basic_auth?.username, username, group);
    assert.equal(job.basic_auth.password, '<secret>');
    assert.deepEqual(job.http_sd_configs?.[0]?.authorization, { type: 'Bearer', credentials: '<secret>' });
  }
});
