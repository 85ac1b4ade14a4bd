/**
 * The deploy artefacts (Dockerfile, compose, Kubernetes, systemd, Grafana,
 * prometheus.example.yml) parse, have the shape a deployment needs, and agree
 * with each other and with the real CLI: every `serve` and `register` command
 * line and environment in them goes through the same config loaders the
 * binary uses. The Docker build context is compiled and the image's
 * HEALTHCHECK command run, since no Docker engine is available to tests.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadRegisterConfig, REGISTER_SETTINGS, type RegisterConfig } from '../../src/cli/register.js';
import { envName } from '../../src/config/file.js';
import { loadServeConfig, SERVE_SETTINGS, type ServeConfig } from '../../src/config/serve.js';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { repoRoot } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { runChecked, runCommand } from '../helpers/process.js';

const ROOT = repoRoot();
const DEPLOY = join(ROOT, 'deploy');
const at = (...p: string[]): string => join(ROOT, ...p);
const text = (...p: string[]): string => readFileSync(at(...p), 'utf8');

// Loose shapes of the parsed files: only what the checks read.
type Dict = Record<string, unknown>;
interface Container { name: string; image?: string; args?: string[]; env?: { name: string; value?: string }[]; ports?: { name?: string; containerPort: number }[]; livenessProbe?: Probe; readinessProbe?: Probe; resources?: { requests?: Dict }; volumeMounts?: { name: string; mountPath: string; subPath?: string }[] }
interface Probe { httpGet?: { path: string; port: string | number } }
interface PodSpec { containers: Container[]; volumes?: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[] }
interface K8s { kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: Dict & { replicas?: number; selector?: { matchLabels?: Record<string, string> } & Record<string, string>; template?: { metadata: { labels: Record<string, string> }; spec: PodSpec }; ports?: { name: string; targetPort?: string | number }[] }; data?: Record<string, string>; stringData?: Record<string, string> }
interface ComposeService { image?: string; build?: { context: string }; command?: string[]; environment?: Record<string, string>; ports?: string[]; volumes?: string[]; network_mode?: string; healthcheck?: Dict }

/** Parses every YAML document of a file; a YAML error or warning fails with its line. */
function yamlDocs(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, 'utf8'), { merge: true, prettyErrors: true }).map((doc) => {
    const problems = [...doc.errors, ...doc.warnings];
    assert.equal(problems.length, 0, `${relative(ROOT, path)}: ${problems.map((e) => e.message).join('\n')}`);
    return doc.toJS() as unknown;
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** A read-only file system for the config loaders: absolute path → content. */
function fakeFs(files: Record<string, string>): (path: string) => Buffer {
  return (path) => {
    const content = files[path];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: no such file ${path}`), { code: 'ENOENT' });
    return Buffer.from(content);
  };
}

const SYSTEM = { hostname: () => 'host-1', interfaces: () => ({}) };
const serve = (argv: readonly string[], env: Record<string, string>, files: Record<string, string> = {}): ServeConfig => loadServeConfig(argv, env, fakeFs(files));
const register = (argv: readonly string[], env: Record<string, string>, files: Record<string, string> = {}): RegisterConfig => loadRegisterConfig(argv, env, fakeFs(files), SYSTEM);

// --- Dockerfile -----------------------------------------------------------

interface Instruction { readonly op: string; readonly args: string }
function dockerfile(): Instruction[] {
  const joined = text('Dockerfile').replace(/\\\n/g, ' ');
  return joined.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ op: l.split(/\s+/)[0]?.toUpperCase() ?? '', args: l.replace(/^\S+\s*/, '') }));
}
/** The instructions of the last stage. */
function finalStage(all: Instruction[]): Instruction[] {
  const from = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(from);
}
function dockerEnv(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.filter((x) => x.op === 'ENV')) for (const m of i.args.matchAll(/(\w+)=(\S+)/g)) env[m[1] ?? ''] = m[2] ?? '';
  return env;
}
const execForm = (args: string): string[] => JSON.parse(args.slice(args.indexOf('['))) as string[];

test('the Dockerfile: multi-stage, non-root, HEALTHCHECK on /healthz, etcd-http-sd serve as entrypoint', () => {
  const all = dockerfile();
  const last = finalStage(all);
  assert.ok(all.filter((i) => i.op === 'FROM').length >= 2, 'multi-stage: at least two FROM');
  assert.ok(last.some((i) => i.op === 'COPY' && i.args.includes('--from=')), 'the runtime stage copies from the build stage');
  const user = last.filter((i) => i.op === 'USER').at(-1)?.args;
  assert.ok(user !== undefined && !/^(root|0)(:|$)/.test(user), `runtime USER must be non-root, got ${String(user)}`);
  const health = last.find((i) => i.op === 'HEALTHCHECK');
  assert.ok(health !== undefined && execForm(health.args).join(' ').includes('/healthz'), 'HEALTHCHECK asks /healthz');
  const entry = execForm(last.find((i) => i.op === 'ENTRYPOINT')?.args ?? '');
  assert.deepEqual(entry, ['node', '/app/dist/src/cli/main.js']);
  assert.deepEqual(execForm(last.find((i) => i.op === 'CMD')?.args ?? ''), ['serve']);
  assert.ok(last.some((i) => i.op === 'COPY' && /\/dist\/src\s+\.\/dist\/src$/.test(i.args)) && last.some((i) => i.args === '/app' && i.op === 'WORKDIR'),
    'the compiled server lands where ENTRYPOINT runs it');
  const env = dockerEnv(last);
  const config = serve([], env);
  assert.equal(config.listen.host, '0.0.0.0', 'the container listens on every interface');
  assert.ok(last.some((i) => i.op === 'EXPOSE' && i.args === String(config.listen.port)), 'EXPOSE matches ETCD_HTTP_SD_LISTEN');
});

/**
 * The files `docker build .` would send under the repository's .dockerignore:
 * as Docker does, a pattern matches a path or any of its parent directories,
 * the last matching pattern wins, `!` re-includes.
 */
function buildContext(): string[] {
  const glob = (p: string): RegExp => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\0').replace(/\*/g, '[^/]*').replace(/\0/g, '.*')}$`);
  const rules = text('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ keep: l.startsWith('!'), re: glob(l.replace(/^!/, '').replace(/\/$/, '')) }));
  const matches = (re: RegExp, path: string): boolean => path.split('/').some((_, i, parts) => re.test(parts.slice(0, i + 1).join('/')));
  const skip = new Set(['node_modules', '.git', 'dist']);
  assert.ok(rules.every((r) => !r.keep || ![...skip].some((d) => matches(r.re, `${d}/x`))), 'the context never includes node_modules, .git or dist');
  const walk = (rel: string): string[] => readdirSync(at(rel), { withFileTypes: true }).flatMap((e) => {
    const p = rel === '' ? e.name : posix.join(rel, e.name);
    if (e.isDirectory()) return skip.has(p) ? [] : walk(p);
    return [p];
  });
  return walk('').filter((p) => !rules.reduce((excluded, r) => (matches(r.re, p) ? !r.keep : excluded), false));
}

test('the Docker build context compiles and the entrypoint runs serve --help', async () => {
  const context = buildContext();
  for (const need of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/cli/main.ts']) assert.ok(context.includes(need), `context lacks ${need}`);
  assert.ok(!context.some((p) => p.startsWith('test/') || p.startsWith('deploy/')), 'tests and deploy files stay out of the image');
  const dir = mkdtempSync(join(tmpdir(), 'etcd-http-sd-docker-context-'));
  try {
    for (const p of context) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      cpSync(at(p), join(dir, p));
    }
    symlinkSync(at('node_modules'), join(dir, 'node_modules'), 'dir'); // stands for `npm ci`
    await run(process.execPath, [at('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir });
    const help = await run(process.execPath, [join(dir, 'dist', 'src', 'cli', 'main.js'), 'serve', '--help'], { cwd: dir });
    assert.match(help, /Usage: etcd-http-sd serve/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return (await runChecked(cmd, args, { ...opts, timeoutMs: 60_000 })).stdout;
}

test('the HEALTHCHECK command exits 0 on a 200 /healthz, 1 otherwise, over HTTP or HTTPS', async (t) => {
  const cmd = execForm(finalStage(dockerfile()).find((i) => i.op === 'HEALTHCHECK')?.args ?? '');
  assert.equal(cmd[0], 'node');
  const check = (env: Record<string, string>): Promise<number> => run(process.execPath, cmd.slice(1), { env: { ...process.env, ...env } }).then(() => 0, () => 1);
  let status = 200;
  const handler = (req: IncomingMessage, res: ServerResponse): void => void res.writeHead(req.url === '/healthz' ? status : 404).end();
  const plain = await listening(t, createServer(handler));
  assert.equal(await check({ ETCD_HTTP_SD_LISTEN: `0.0.0.0:${plain}` }), 0);
  status = 503;
  assert.equal(await check({ ETCD_HTTP_SD_LISTEN: `0.0.0.0:${plain}` }), 1);
  assert.equal(await check({ ETCD_HTTP_SD_LISTEN: `:${await freePort()}` }), 1, 'nothing listening');

  if (!existsSync('/usr/bin/openssl')) { t.diagnostic('no /usr/bin/openssl: the HTTPS health check is not run'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'etcd-http-sd-healthcheck-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { cert, key } = await makeSelfSignedCert(dir);
  status = 200;
  const tls = await listening(t, createHttpsServer({ cert: readFileSync(cert), key: readFileSync(key) }, handler));
  assert.equal(await check({ ETCD_HTTP_SD_LISTEN: `0.0.0.0:${tls}`, ETCD_HTTP_SD_TLS_CERT_FILE: cert }), 0, 'HTTPS, self-signed');
  assert.equal(await check({ ETCD_HTTP_SD_LISTEN: `0.0.0.0:${tls}` }), 1, 'HTTP to an HTTPS port');
});

/** Listens on a free loopback port, closed when the test ends; resolves with the port. */
async function listening(t: TestContext, server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as { port: number }).port;
}

// --- every YAML and JSON file parses -------------------------------------------

test('every YAML and JSON file under deploy/, and prometheus.example.yml, parses', () => {
  const files = [...filesUnder(DEPLOY), at('prometheus.example.yml')].filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(files.length >= 15, `found only ${files.length} files`);
  for (const f of files) {
    if (f.endsWith('.json')) assert.doesNotThrow(() => JSON.parse(readFileSync(f, 'utf8')), relative(ROOT, f));
    else assert.ok(yamlDocs(f).every((d) => d !== null && typeof d === 'object'), `${relative(ROOT, f)}: an empty document`);
  }
});

test('every ETCD_HTTP_SD_* variable the artefacts name is a setting of serve or register', () => {
  const known = new Set([...SERVE_SETTINGS, ...REGISTER_SETTINGS].map((r) => envName(r.flag.name)));
  const files = [...filesUnder(DEPLOY), at('Dockerfile'), at('prometheus.example.yml')];
  const named = files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/ETCD_HTTP_SD_[A-Z0-9_]+/g)].map((m) => ({ f, name: m[0] })));
  assert.ok(named.length > 5);
  for (const { f, name } of named) assert.ok(known.has(name), `${relative(ROOT, f)}: ${name} is no setting`);
});

// --- prometheus.example.yml ----------------------------------------------

interface ScrapeConfig { job_name: string; basic_auth?: { username: string; password_file?: string }; http_sd_configs?: { url: string }[]; static_configs?: { targets: string[] }[]; relabel_configs?: { source_labels?: string[]; regex?: string; action?: string; target_label?: string }[] }
const example = (): { rule_files: string[]; scrape_configs: ScrapeConfig[] } => parse(text('prometheus.example.yml')) as { rule_files: string[]; scrape_configs: ScrapeConfig[] };

test('prometheus.example.yml: http_sd job with relabelling, a basic_auth group job, and the servers own /metrics', () => {
  const jobs = new Map(example().scrape_configs.map((j) => [j.job_name, j]));
  const registry = jobs.get('registry');
  assert.ok(registry?.http_sd_configs?.every((c) => c.url.endsWith('/v1/targets')));
  const relabel = registry?.relabel_configs ?? [];
  assert.ok(relabel.some((r) => r.source_labels?.[0] === '__meta_etcd_node_status' && r.regex === 'maintenance' && r.action === 'drop'));
  assert.ok(relabel.some((r) => r.source_labels?.[0] === '__meta_etcd_group' && r.target_label === 'group'));
  const web = jobs.get('registry-web');
  assert.ok(web?.basic_auth?.password_file !== undefined && web.http_sd_configs?.every((c) => c.url.endsWith('/v1/targets/web')));
  // The job name the dashboard's default and the alerts use.
  assert.ok(jobs.get('etcd-http-sd')?.static_configs?.[0]?.targets.length === 2);
  assert.match(text('deploy', 'prometheus', 'alerts.yml'), /up\{job="etcd-http-sd"\}/);
});

// --- compose ---------------------------------------------------------------

test('compose: etcd, two servers, Prometheus on prometheus.example.yml, node_exporter with a register sidecar, Grafana', () => {
  const dir = join(DEPLOY, 'compose');
  const services = (yamlDocs(join(dir, 'compose.yaml'))[0] as { services: Record<string, ComposeService> }).services;
  const imageEnv = dockerEnv(finalStage(dockerfile()));
  const ours = Object.entries(services).filter(([, s]) => s.image === 'etcd-http-sd:local');
  for (const [, s] of ours) assert.ok(existsSync(join(dir, s.build?.context ?? '?', 'Dockerfile')), 'builds the repository Dockerfile');
  const servers = ours.filter(([, s]) => s.command === undefined);
  assert.equal(servers.length, 2, 'two replicas of the server');
  const hosts = new Set<string>();
  for (const [name, s] of servers) {
    const config = serve([], { ...imageEnv, ...s.environment });
    assert.ok(config.etcd.endpoints.length > 0 && config.etcd.endpoints.every((e) => new URL(e).hostname in services), `${name}: etcd endpoints name compose services`);
    assert.ok(s.ports?.some((p) => p.endsWith(`:${config.listen.port}`)));
    hosts.add(`${name}:${config.listen.port}`);
  }
  assert.ok(services['etcd'] && services['node-exporter']);
  for (const [name, s] of Object.entries(services)) {
    for (const p of s.ports ?? []) assert.match(p, /^127\.0\.0\.1:/, `${name}: ports published on loopback only`);
    for (const v of (s.volumes ?? []).filter((v) => v.startsWith('.'))) assert.ok(existsSync(join(dir, v.split(':')[0] ?? '')), `${name}: ${v} exists`);
  }
  const sidecar = ours.find(([, s]) => s.command?.[0] === 'register')?.[1];
  assert.equal(sidecar?.network_mode, 'service:node-exporter');
  assert.deepEqual(sidecar.healthcheck, { disable: true });
  const reg = register(sidecar.command?.slice(1) ?? [], { ...imageEnv, ...sidecar.environment });
  assert.equal(reg.node.exporterType, 'node_exporter');
  assert.equal(new URL(reg.healthCheck?.url ?? '').port, '9100');
  assert.equal(new URL(reg.healthCheck?.url ?? '').hostname, reg.node.host, 'checked where it is scraped');

  // Prometheus runs the example config with its rule and password files where it looks for them.
  const prom = services['prometheus'];
  const mounts = new Map((prom?.volumes ?? []).map((v) => [v.split(':')[1] ?? '', v.split(':')[0] ?? '']));
  assert.ok(prom?.command?.includes('--config.file=/etc/prometheus/prometheus.yml'));
  assert.equal(mounts.get('/etc/prometheus/prometheus.yml'), '../../prometheus.example.yml');
  const ex = example();
  for (const rules of ex.rule_files) assert.equal(join(dir, mounts.get(posix.join('/etc/prometheus', rules)) ?? '?'), at(rules));
  for (const job of ex.scrape_configs) {
    if (job.basic_auth?.password_file !== undefined) assert.ok(mounts.has(job.basic_auth.password_file), `${job.job_name}: password_file mounted`);
    const addrs = [...(job.http_sd_configs ?? []).map((c) => new URL(c.url).host), ...(job.static_configs ?? []).flatMap((c) => c.targets)];
    for (const a of addrs) assert.ok(hosts.has(a), `${job.job_name}: ${a} is a compose server`);
  }

  // Grafana gets the provisioning and the dashboard where the provisioning says.
  const graf = new Map((services['grafana']?.volumes ?? []).map((v) => [v.split(':')[0] ?? '', v.split(':')[1] ?? '']));
  const provider = (yamlDocs(join(DEPLOY, 'grafana', 'provisioning', 'dashboards', 'etcd-http-sd.yml'))[0] as { providers: { options: { path: string } }[] }).providers[0];
  assert.equal(graf.get('../grafana/dashboards'), provider?.options.path);
  assert.equal(graf.get('../grafana/provisioning/datasources'), '/etc/grafana/provisioning/datasources');
  assert.equal(graf.get('../grafana/provisioning/dashboards'), '/etc/grafana/provisioning/dashboards');
  const ds = (yamlDocs(join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'))[0] as { datasources: { type: string; url: string }[] }).datasources;
  assert.ok(ds.some((d) => d.type === 'prometheus' && new URL(d.url).hostname === 'prometheus'));
});

// --- Kubernetes ------------------------------------------------------------

function kustomized(dir: string): K8s[] {
  const kust = yamlDocs(join(dir, 'kustomization.yaml'))[0] as { resources: string[] };
  const yamls = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
  assert.deepEqual([...kust.resources].sort(), yamls, `${relative(ROOT, dir)}: kustomization lists every manifest`);
  return kust.resources.flatMap((r) => yamlDocs(join(dir, r)) as K8s[]);
}
const find = (docs: K8s[], kind: string, name: string): K8s => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(d, `${kind}/${name} missing`);
  return d;
};
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The files a container sees from its ConfigMap and Secret volumes. */
function containerFiles(docs: K8s[], pod: PodSpec, c: Container): Record<string, string> {
  const files: Record<string, string> = {};
  for (const m of c.volumeMounts ?? []) {
    const vol = pod.volumes?.find((v) => v.name === m.name);
    const src = vol?.configMap ? find(docs, 'ConfigMap', vol.configMap.name).data : vol?.secret ? find(docs, 'Secret', vol.secret.secretName).stringData : undefined;
    assert.ok(src, `volume ${m.name} of ${c.name} comes from a ConfigMap or Secret of the manifests`);
    for (const [k, v] of Object.entries(src)) if (m.subPath === undefined || m.subPath === k) files[m.subPath === undefined ? `${m.mountPath}/${k}` : m.mountPath] = v;
  }
  return files;
}
/** Container args with Kubernetes' `$(VAR)` filled in from its env (downward-API values made up). */
const expand = (c: Container): string[] => (c.args ?? []).map((a) => a.replace(/\$\((\w+)\)/g, (_, v: string) => c.env?.find((e) => e.name === v)?.value ?? `${v.toLowerCase().replace(/_/g, '-')}-1`));

test('kubernetes: 2-replica Deployment with probes and requests, Service, ConfigMap/Secret wiring, register sidecar', async (t) => {
  const dir = join(DEPLOY, 'kubernetes');
  const docs = kustomized(dir);
  const imageEnv = dockerEnv(finalStage(dockerfile()));
  const dep = find(docs, 'Deployment', 'etcd-http-sd');
  const pod = dep.spec?.template;
  assert.ok(pod !== undefined && dep.spec?.replicas === 2);
  assert.ok(selects(dep.spec.selector?.matchLabels, pod.metadata.labels));
  const c = pod.spec.containers.find((x) => x.args?.[0] === 'serve');
  assert.ok(c?.resources?.requests?.['cpu'] !== undefined && c.resources.requests['memory'] !== undefined, 'resource requests');
  assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
  assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
  const config = serve(c.args?.slice(1) ?? [], { ...imageEnv }, containerFiles(docs, pod.spec, c));
  const port = c.ports?.find((p) => p.containerPort === config.listen.port);
  assert.ok(port?.name !== undefined, 'the container port is the one the config listens on');
  for (const probe of [c.livenessProbe, c.readinessProbe]) assert.equal(probe.httpGet?.port, port.name);

  const svc = find(docs, 'Service', 'etcd-http-sd');
  assert.ok(selects(svc.spec?.selector, pod.metadata.labels));
  assert.ok(svc.spec?.ports?.some((p) => p.targetPort === port.name));
  assert.ok(selects(find(docs, 'PodDisruptionBudget', 'etcd-http-sd').spec?.selector?.matchLabels, pod.metadata.labels));
  assert.ok(config.etcd.endpoints.length > 0 && config.etcd.endpoints.every((e) => docs.some((d) => d.kind === 'Service' && d.metadata.name === new URL(e).hostname)), 'etcd endpoints name the demo etcd Service');

  const sidecarPod = docs.map((d) => d.spec?.template?.spec).find((p) => p?.containers.some((x) => x.args?.[0] === 'register'));
  const sidecar = sidecarPod?.containers.find((x) => x.args?.[0] === 'register');
  assert.ok(sidecarPod && sidecar);
  const reg = register(expand(sidecar).slice(1), { ...imageEnv }, containerFiles(docs, sidecarPod, sidecar));
  assert.equal(reg.node.host, 'pod-ip-1', 'scraped at the pod IP');
  assert.ok(sidecarPod.containers.some((x) => x !== sidecar && x.ports?.some((p) => p.containerPort === reg.node.port)), 'registers the port its exporter listens on');
  assert.equal(new URL(reg.healthCheck?.url ?? '').hostname, 'pod-ip-1', 'checked where it is scraped');
  await kubectlKustomize(t, dir);
});

test('kubernetes/monitoring: ServiceMonitor on the Service as job etcd-http-sd, PrometheusRule equal to alerts.yml', async (t) => {
  const dir = join(DEPLOY, 'kubernetes', 'monitoring');
  const docs = kustomized(dir);
  const svc = find(kustomized(join(DEPLOY, 'kubernetes')), 'Service', 'etcd-http-sd');
  const sm = find(docs, 'ServiceMonitor', 'etcd-http-sd').spec as unknown as { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string; relabelings: { targetLabel: string; replacement: string }[] }[] };
  assert.ok(selects(sm.selector.matchLabels, svc.metadata.labels));
  assert.ok(sm.endpoints.every((e) => svc.spec?.ports?.some((p) => p.name === e.port) && e.path === '/metrics'));
  assert.ok(sm.endpoints.every((e) => e.relabelings.some((r) => r.targetLabel === 'job' && r.replacement === 'etcd-http-sd')));
  assert.deepEqual(find(docs, 'PrometheusRule', 'etcd-http-sd').spec, parse(text('deploy', 'prometheus', 'alerts.yml')));
  await kubectlKustomize(t, dir);
});

/** `kubectl kustomize` (offline) when kubectl is installed; CI does not install it. */
async function kubectlKustomize(t: TestContext, dir: string): Promise<void> {
  const kubectl = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
  if (kubectl === undefined) { t.diagnostic(`no kubectl: kustomize build of ${relative(ROOT, dir)} not checked`); return; }
  await run(kubectl, ['kustomize', dir]);
}

// --- systemd ---------------------------------------------------------------

/** A unit file: section → [key, value] in order; comments and blank lines dropped, `\` continuations joined. */
function unitFile(path: string): Map<string, [string, string][]> {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  for (const line of readFileSync(path, 'utf8').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(\w+)\]$/.exec(line);
    if (head) sections.set(head[1] ?? '', (current = []));
    else current?.push([line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
  }
  return sections;
}
const unitValues = (u: Map<string, [string, string][]>, section: string, key: string): string[] => (u.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
/** ExecStart as systemd splits it: `${VAR}` within one word, `$VAR` split on whitespace, specifiers replaced. */
function execWords(line: string, env: Record<string, string>, specifiers: Record<string, string>): string[] {
  return line.replace(/%(\w)/g, (_, s: string) => specifiers[s] ?? `%${s}`).split(/\s+/).flatMap((w) => {
    const bare = /^\$(\w+)$/.exec(w);
    if (bare) return (env[bare[1] ?? ''] ?? '').split(/\s+/).filter((x) => x !== '');
    return [w.replace(/\$\{(\w+)\}/g, (_, v: string) => env[v] ?? '')];
  });
}
const envLines = (lines: readonly string[]): Record<string, string> =>
  Object.fromEntries(lines.filter((l) => /^\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

test('systemd: the server unit runs serve with the shipped config, the template runs register per exporter', async (t) => {
  const dir = join(DEPLOY, 'systemd');
  const server = unitFile(join(dir, 'etcd-http-sd.service'));
  const tmpl = unitFile(join(dir, 'etcd-http-sd-register@.service'));
  for (const u of [server, tmpl]) assert.deepEqual([...u.keys()], ['Unit', 'Service', 'Install']);
  const [bin, cmd, ...args] = execWords(unitValues(server, 'Service', 'ExecStart')[0] ?? '', {}, {});
  assert.ok(bin?.endsWith('/etcd-http-sd') && cmd === 'serve');
  const config = serve(args, envLines(unitValues(server, 'Service', 'Environment')), { '/etc/etcd-http-sd/config.yaml': text('deploy', 'systemd', 'config.yaml') });
  assert.ok(config.embeddedEtcd.dataDir.startsWith(`/var/lib/${unitValues(server, 'Service', 'StateDirectory')[0] ?? '?'}/`), 'embedded etcd data in the StateDirectory');

  assert.deepEqual(unitValues(tmpl, 'Service', 'EnvironmentFile'), ['/etc/etcd-http-sd/register/%i.env']);
  assert.deepEqual(unitValues(tmpl, 'Unit', 'BindsTo'), ['%i.service']);
  const envFiles = readdirSync(join(dir, 'register')).filter((f) => f.endsWith('.env'));
  assert.ok(envFiles.length > 0);
  for (const f of envFiles) {
    const env = envLines(readFileSync(join(dir, 'register', f), 'utf8').split('\n'));
    const words = execWords(unitValues(tmpl, 'Service', 'ExecStart')[0] ?? '', env, { i: basename(f, '.env'), H: 'host-1' });
    assert.equal(words[1], 'register');
    const reg = register(words.slice(2), {});
    assert.equal(reg.node.id, 'host-1');
    assert.equal(reg.node.host, 'host-1', 'scraped at the host\'s name');
    assert.equal(new URL(reg.healthCheck?.url ?? '').host, `host-1:${reg.node.port}`, 'checked where it is scraped');
  }
  await systemdVerify(t, dir);
});

/** `systemd-analyze verify` in a throwaway root (stub binary and exporter unit) when systemd-analyze exists. */
async function systemdVerify(t: TestContext, dir: string): Promise<void> {
  if (!existsSync('/usr/bin/systemd-analyze') || !existsSync('/usr/lib/systemd/system')) { t.diagnostic('no systemd-analyze: units not verified'); return; }
  const root = mkdtempSync(join(tmpdir(), 'etcd-http-sd-systemd-'));
  try {
    cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    writeFileSync(join(root, 'usr/local/bin/etcd-http-sd'), '#!/bin/sh\n', { mode: 0o755 });
    const units = join(root, 'etc/systemd/system');
    mkdirSync(units, { recursive: true });
    for (const f of ['etcd-http-sd.service', 'etcd-http-sd-register@.service']) cpSync(join(dir, f), join(units, f));
    writeFileSync(join(units, 'prometheus-node-exporter.service'), '[Service]\nExecStart=/usr/local/bin/etcd-http-sd\n');
    const r = await runCommand('/usr/bin/systemd-analyze', ['verify', '--man=no', `--root=${root}`, 'etcd-http-sd.service', 'etcd-http-sd-register@prometheus-node-exporter.service'], { timeoutMs: 30_000 });
    const out = `${r.code === 0 ? '' : `exit ${String(r.code)}\n`}${r.stdout}${r.stderr}`;
    assert.equal(out.trim(), '', `systemd-analyze verify: ${out}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// --- Grafana ---------------------------------------------------------------

interface Panel { type: string; id: number; title: string; gridPos: { x: number; w: number }; datasource?: { uid: string }; targets?: { expr?: string; datasource?: { uid: string } }[] }

test('grafana: every dashboard panel has a query, on the dashboard data source variable', () => {
  const dash = JSON.parse(text('deploy', 'grafana', 'dashboards', 'etcd-http-sd.json')) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
  const vars = new Set(dash.templating.list.map((v) => v.name));
  for (const v of ['datasource', 'job', 'instance']) assert.ok(vars.has(v), `variable ${v}`);
  const panels = dash.panels.filter((p) => p.type !== 'row');
  assert.ok(panels.length >= 15);
  assert.equal(new Set(dash.panels.map((p) => p.id)).size, dash.panels.length, 'unique panel ids');
  for (const p of panels) {
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: inside the 24 columns`);
    assert.ok((p.targets ?? []).length > 0, `${p.title}: no query`);
    for (const t of p.targets ?? []) {
      assert.ok(t.expr !== undefined && t.expr.trim() !== '', `${p.title}: a target without expr`);
      assert.equal(t.datasource?.uid, '${datasource}', `${p.title}: data source`);
      for (const m of t.expr.matchAll(/\$(\w+)/g)) assert.ok(vars.has(m[1] ?? '') || m[1]?.startsWith('__'), `${p.title}: unknown variable $${m[1]}`);
    }
  }
});
