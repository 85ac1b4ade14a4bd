/**
 * `etcd-http-sd register`: a sidecar that keeps one exporter registered
 * until SIGTERM/SIGINT, then deregisters it and exits 0.
 */
import { hostname, networkInterfaces } from 'node:os';
import { Registry } from 'prom-client';
import { checkListen, deepFreeze, row } from '../config/checks.js';
import { flagsOf, type Env, type ReadFile, type Resolved, type SettingRow, type Settings } from '../config/file.js';
import { formatHelp, isHelpRequested, parseDuration, UsageError, type FlagSpec } from '../config/flags.js';
import { refuseProtectedLabels } from '../config/labels.js';
import { ETCD_CONNECTION_FLAGS, loadEtcdConnection, type EtcdConnectionConfig } from '../config/serve.js';
import { ConfigError, InvalidArgumentError, describe, errorMessage } from '../errors.js';
import { listen, listenProblem, type HttpServer } from '../http/server.js';
import { statusHandler } from '../http/status.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../log.js';
import { createRegisterMetrics } from '../metrics/register.js';
import { RegistryClient } from '../register/client.js';
import { CollisionError, isPermanentRefusal } from '../register/errors.js';
import type { CollisionEvent } from '../register/events.js';
import { validateHealthCheck, type HealthCheckOptions, type ValidHealthCheck } from '../register/health.js';
import { hostUrl, joinHostPort } from '../net.js';
import { validateNode, type NodeSpec, type ValidNode } from '../register/node.js';
import type { RegisteredNode } from '../register/registration.js';
import { checkLabels, type LabelPolicy } from '../registry/index.js';
import { EXIT_FAILURE, EXIT_OK, type CliContext } from './io.js';

const SUMMARY = `Register one exporter in the registry and keep it registered until SIGTERM or
SIGINT, then remove it and exit 0. The node is written under a lease of --ttl,
renewed every TTL/3; if etcd loses the lease (outage longer than the TTL,
revocation) it is put again under a new lease as soon as etcd answers.
With --check-url the node is registered only while that URL answers 2xx, at
the URL's host: the address registered is the address checked.
A key deleted or overwritten by another writer, or its group document
deleted, is put back at once. If another registrant holds the same node
(group, id, exporter type), register exits 1 unless --takeover; a registrant
whose node is taken over exits 1 too. Neither deletes the other's key.
If etcd refuses the user or its permission, register exits 1 (see docs/security.md).
--etcd-endpoints defaults to http://127.0.0.1:2379 (where serve runs its embedded etcd).

Example (node_exporter sidecar):
  etcd-http-sd register --etcd-endpoints http://etcd:2379 --group web \\
    --exporter-type node_exporter --port 9100 --check-url http://10.0.0.5:9100/metrics`;

/** Flags of `register` besides the etcd connection. */
export const REGISTER_SETTINGS: readonly SettingRow[] = deepFreeze([
  row('group', 'string', 'NAME', '', '', 'Group to join, as the Go library allows: 1-63 bytes, no / \\ ? # [ ] or space. Required.'),
  row('id', 'string', 'ID', '', '', 'Node id. Default: the hostname.'),
  row('exporter-type', 'string', 'TYPE', '', '', 'Exporter type, e.g. node_exporter. Required.'),
  row('port', 'int', 'PORT', '', '', 'Port the exporter listens on. Required.'),
  row('host', 'string', 'HOST', '', '', 'Host to scrape (written as address HOST:PORT). Default: the host of --check-url, else the first non-internal IPv4 address.'),
  row('address', 'string', 'HOST:PORT', '', '', 'Address to scrape, instead of --host.'),
  row('metrics-path', 'string', 'PATH', '', '/metrics', 'Path of the metrics endpoint.'),
  row('label', 'repeat', 'NAME=VALUE', '', '', 'Node label.'),
  row('status', 'string', 'STATUS', '', 'healthy', 'Node status, e.g. maintenance.'),
  row('ttl', 'string', 'DURATION', '', '30s', 'Lease TTL in whole seconds, at least 1s: 30s, 2m, or a plain number of seconds (30).'),
  row('check-url', 'string', 'URL', '', '', 'Register only while this http(s) URL answers 2xx. Its host is the host registered: --host or --address, if given, must name the same one.'),
  row('check-interval', 'duration', '', '', '10s', 'Time between health checks.'),
  row('check-timeout', 'duration', '', '', '', 'Bound of one health check. Default min(5s, --check-interval).'),
  row('check-failures', 'int', 'N', '', '3', 'Failed checks in a row before the node is withdrawn.'),
  row('unhealthy-status', 'string', 'STATUS', '', '', 'Keep an unhealthy node with this status instead of removing it.'),
  row('takeover', 'bool', '', '', 'false', 'Take the node over when another registrant holds its key (same group, id and exporter type), instead of exiting 1.'),
  row('metrics-listen', 'string', 'HOST:PORT', '', '', 'Serve this process\'s own /metrics (repairs, collisions, lease losses) here: host:port, :port or [ipv6]:port. Default: none.'),
  row('log-level', 'string', 'LEVEL', 'log_level', 'info', `Least severe log level: ${LOG_LEVELS.join(', ')}.`),
]);

/** Default endpoint of the client commands: where `serve` runs its embedded etcd. */
export const DEFAULT_CLIENT_ENDPOINT = 'http://127.0.0.1:2379';

/** The connection flags for client commands' `--help`: without serve's embedded-etcd wording. */
export function clientConnectionFlags(): FlagSpec[] {
  return ETCD_CONNECTION_FLAGS.map((f) =>
    f.name === 'etcd-endpoints'
      ? { ...f, help: `etcd endpoints, all http:// or all https://. (env ETCD_HTTP_SD_ETCD_ENDPOINTS, default ${DEFAULT_CLIENT_ENDPOINT})` }
      : f,
  );
}

/** Where `register` may look for its defaults. */
export interface SystemInfo {
  readonly hostname: () => string;
  readonly interfaces: typeof networkInterfaces;
}

/** The validated configuration of `register`. */
export interface RegisterConfig {
  readonly etcd: EtcdConnectionConfig;
  readonly node: NodeSpec;
  readonly ttlSeconds: number;
  readonly healthCheck?: HealthCheckOptions;
  /** Whether to take over a node key another registrant holds. */
  readonly takeover: boolean;
  /** Where to serve this process's own /metrics; absent: nowhere. */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  readonly logLevel: LogLevel;
}

/** The first non-internal IPv4 address, else `fallback`. */
export function primaryAddress(interfaces: ReturnType<typeof networkInterfaces>, fallback: string): string {
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return fallback;
}

function value(settings: Settings, name: string): Resolved | undefined {
  return settings.get(name);
}

function str(settings: Settings, name: string): string | undefined {
  const r = value(settings, name);
  return r === undefined ? undefined : String(r.value);
}

function required(settings: Settings, name: string, example: string): Resolved {
  const r = value(settings, name);
  if (r === undefined) throw new UsageError(`--${name}`, `is required, e.g. --${name} ${example}`);
  return r;
}

/** Parses `--label NAME=VALUE` occurrences; names the server drops (reserved, `policy`'s protected ones) are refused. */
export function parseLabels(r: Resolved | undefined, policy?: LabelPolicy): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of r === undefined ? [] : (r.value as readonly string[])) {
    const eq = item.indexOf('=');
    // Never a value in a message: it may be anything, a secret included. Without "=" it is a name.
    if (eq < 0) throw new ConfigError(r?.where ?? '--label', `expected NAME=VALUE, got ${JSON.stringify(item)}`);
    if (eq === 0) throw new ConfigError(r?.where ?? '--label', 'expected NAME=VALUE, got no name before "="');
    labels[item.slice(0, eq)] = item.slice(eq + 1);
  }
  const bad = checkLabels(labels)[0];
  if (bad !== undefined) throw new ConfigError(r?.where ?? '--label', `label ${bad.name}: ${bad.problem}`);
  refuseProtectedLabels(labels, r?.where ?? '--label', policy);
  return labels;
}

const FIELD_FLAGS: Readonly<Record<string, string>> = {
  group: 'group', id: 'id', exporterType: 'exporter-type', port: 'port', host: 'host', address: 'address',
  metricsPath: 'metrics-path', status: 'status', ttlSeconds: 'ttl', 'healthCheck.url': 'check-url',
  'healthCheck.intervalMs': 'check-interval', 'healthCheck.timeoutMs': 'check-timeout',
  'healthCheck.failures': 'check-failures', 'healthCheck.unhealthyStatus': 'unhealthy-status',
};

/** Re-throws a library `InvalidArgumentError` as a `ConfigError` naming the flag (or variable) the user set. */
function asSettingError(settings: Settings, err: unknown): unknown {
  if (!(err instanceof InvalidArgumentError)) return err;
  const flag = err.field.startsWith('labels.') ? 'label' : FIELD_FLAGS[err.field] ?? err.field;
  const where = value(settings, flag)?.where ?? `--${flag}`;
  const message = err.message.slice(err.field.length + 2);
  return new ConfigError(where, err.field.startsWith('labels.') ? `label ${err.field.slice(7)}: ${message}` : message);
}

/** `checkedHost`: the host --check-url checks, the default of --host. */
function nodeFrom(settings: Settings, system: SystemInfo, checkedHost: string | undefined): NodeSpec {
  const address = str(settings, 'address');
  const host = str(settings, 'host') ?? (address === undefined ? checkedHost ?? primaryAddress(system.interfaces(), system.hostname()) : undefined);
  return {
    group: String(required(settings, 'group', 'web').value),
    id: str(settings, 'id') ?? system.hostname(),
    exporterType: String(required(settings, 'exporter-type', 'node_exporter').value),
    port: Number(required(settings, 'port', '9100').value),
    metricsPath: str(settings, 'metrics-path') ?? '/metrics',
    labels: parseLabels(value(settings, 'label')),
    status: str(settings, 'status') ?? 'healthy',
    ...(host === undefined ? {} : { host }),
    ...(address === undefined ? {} : { address }),
  };
}

function healthFrom(settings: Settings): HealthCheckOptions | undefined {
  const url = str(settings, 'check-url');
  if (url === undefined) return undefined;
  const timeout = value(settings, 'check-timeout');
  const status = str(settings, 'unhealthy-status');
  return {
    url,
    intervalMs: Number(value(settings, 'check-interval')?.value),
    failures: Number(value(settings, 'check-failures')?.value),
    ...(timeout === undefined ? {} : { timeoutMs: Number(timeout.value) }),
    ...(status === undefined ? {} : { unhealthyStatus: status }),
  };
}

/** A host as the URL parser writes it (lower case, IPv4 dotted, IPv6 compressed in brackets), to compare hosts by value. */
export function normalHost(host: string): string {
  try {
    // Any port will do: only the hostname is read back.
    return new URL(`${hostUrl('http', host, 80)}/`).hostname;
  } catch {
    return host.toLowerCase();
  }
}

/**
 * Refuses a node registered at a host its health check does not look at: a
 * check of 127.0.0.1 passing says nothing of 10.0.0.5, where Prometheus
 * scrapes. Hosts compare by value (`[::1]` is `::1`), without name
 * resolution, which may differ here and at Prometheus: `localhost` is not
 * `127.0.0.1`. Only the host: the check may ask another port of the exporter.
 * The URL is never shown whole: its userinfo is a password.
 */
function checkSameHost(settings: Settings, node: ValidNode, check: ValidHealthCheck): void {
  const address = node.address;
  if (address === undefined) return;
  const host = address.slice(0, address.lastIndexOf(':'));
  const checked = check.url.hostname;
  if (normalHost(host) === normalHost(checked)) return;
  const flag = value(settings, 'address') === undefined ? 'host' : 'address';
  const given = value(settings, flag)?.where ?? `--${flag}`;
  const checkUrl = value(settings, 'check-url')?.where ?? '--check-url';
  throw new ConfigError(given, `${describe(str(settings, flag) ?? host)} is not the host ${checkUrl} checks (${describe(checked)}): ` +
    `the node would be registered at an address its health check never reached. Give ${checkUrl} the address Prometheus scrapes ` +
    `(http://${joinHostPort(host, check.url.port === '' ? node.port : Number(check.url.port))}${check.url.pathname}), or leave out ${given} to register ${checked}`);
}

function ttlFrom(settings: Settings): number {
  const r = value(settings, 'ttl');
  const raw = String(r?.value ?? '');
  // The message says "whole seconds": a plain number of them is accepted too.
  const ms = /^[0-9]+$/.test(raw) ? Number(raw) * 1000 : parseDuration(raw);
  if (ms === undefined) throw new ConfigError(r?.where ?? '--ttl', `expected a duration such as 500ms, 30s, 2m or 1h, or whole seconds (30), got ${JSON.stringify(raw)}`);
  if (!(ms >= 1000) || ms % 1000 !== 0) {
    throw new ConfigError(r?.where ?? '--ttl', `must be whole seconds, at least 1s (etcd leases count in seconds): 30s, 2m or 30; got ${JSON.stringify(raw)}`);
  }
  return ms / 1000;
}

/**
 * Loads and checks everything `register` needs before touching etcd:
 * errors name the flag (or environment variable) and the expected form.
 */
export function loadRegisterConfig(argv: readonly string[], env: Env, readFile: ReadFile, system: SystemInfo): RegisterConfig {
  const { etcd, settings } = loadEtcdConnection(argv, env, readFile, REGISTER_SETTINGS);
  const stray = settings.positionals[0];
  if (stray !== undefined) throw new UsageError(JSON.stringify(stray), 'unexpected argument: register takes flags only');
  const logLevel = str(settings, 'log-level') ?? 'info';
  const level = LOG_LEVELS.find((l) => l === logLevel);
  if (level === undefined) throw new ConfigError(value(settings, 'log-level')?.where ?? '--log-level', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const listenAt = value(settings, 'metrics-listen');
  const metricsListen = listenAt === undefined ? undefined : checkListen(listenAt);
  try {
    const healthCheck = healthFrom(settings);
    const check = healthCheck === undefined ? undefined : validateHealthCheck(healthCheck);
    const node = nodeFrom(settings, system, check?.url.hostname);
    const valid = validateNode(node);
    if (check !== undefined) checkSameHost(settings, valid, check);
    const endpoints = etcd.endpoints.length > 0 ? etcd.endpoints : [DEFAULT_CLIENT_ENDPOINT];
    return {
      etcd: { ...etcd, endpoints }, node, ttlSeconds: ttlFrom(settings), logLevel: level, takeover: value(settings, 'takeover')?.value === true,
      ...(healthCheck ? { healthCheck } : {}), ...(metricsListen ? { metricsListen } : {}),
    };
  } catch (err) {
    throw asSettingError(settings, err);
  }
}

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 5000;

/** How registering ended: registered (its handle), stopped by a signal first, or refused for good. */
type RegisterOutcome = { readonly kind: 'registered'; readonly node: RegisteredNode } | { readonly kind: 'stopped' | 'refused' };

/** Registers, retrying with backoff while etcd does not answer. */
async function registerUntilStopped(client: RegistryClient, config: RegisterConfig, logger: Logger, stop: Promise<unknown>): Promise<RegisterOutcome> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the stop promise during the await
  for (let delay = RETRY_MIN_MS; !stopped; delay = Math.min(RETRY_MAX_MS, delay * 2)) {
    try {
      // register() joins the group first (creates its document if absent), as the Go registrar does.
      const node = await client.register(config.node, config.healthCheck ? { healthCheck: config.healthCheck } : {});
      return { kind: 'registered', node };
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the stop promise during the await
      if (stopped) break;
      if (err instanceof CollisionError) {
        // Another process registers this very node: retrying would only fight it.
        logger.error('another registrant holds this node: not registered', { key: err.key, holderLeaseId: err.holderLeaseId, error: err.message });
        return { kind: 'refused' };
      }
      if (isPermanentRefusal(err)) {
        // Retrying cannot grant a permission: fail so the supervisor shows it (docs/security.md lists the roles).
        logger.error('etcd refused the registration: check the etcd user and its role (write on the group prefix)', { group: config.node.group, error: errorMessage(err) });
        return { kind: 'refused' };
      }
      logger.warn('registration failed; retrying', { error: errorMessage(err), retryInMs: delay });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stop, new Promise((r) => (timer = setTimeout(r, delay)))]);
      clearTimeout(timer);
    }
  }
  return { kind: 'stopped' };
}

/** Whether `host` is a loopback address or `localhost`: only a Prometheus on this machine reaches it. */
export function isLoopback(host: string): boolean {
  const h = normalHost(host);
  return h === 'localhost' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The process's own /metrics on `at`, fed by `client`'s events; a failure to listen is a bad --metrics-listen (exit 2). */
async function serveMetrics(at: { host: string; port: number }, client: RegistryClient, node: () => RegisteredNode | undefined, logger: Logger): Promise<HttpServer> {
  const registry = new Registry();
  const nodes = (): number => (node()?.state === 'registered' && client.leaseState === 'alive' ? 1 : 0);
  const metrics = createRegisterMetrics(registry, { nodes });
  client.on('lost', () => metrics.leaseLost());
  client.on('restored', () => metrics.leaseRestored());
  client.on('withdrawn', (e) => metrics.withdrawn(e.action));
  client.on('repaired', (e) => metrics.repaired(e.cause));
  client.on('collision', (e) => metrics.collision(e.action));
  const http = await listen(statusHandler(registry, () => nodes() > 0), at.host, at.port).catch((err: unknown) => {
    throw listenProblem(err, at, '--metrics-listen');
  });
  logger.info('serving metrics', { url: `${hostUrl('http', http.address.address, http.address.port)}/metrics` });
  return http;
}

/** Runs `register`; resolves with the exit code after deregistering on SIGTERM/SIGINT. */
export async function registerCommand(ctx: CliContext): Promise<number> {
  if (isHelpRequested(ctx.argv)) {
    ctx.stdout(formatHelp('etcd-http-sd register', SUMMARY, [...clientConnectionFlags(), ...flagsOf(REGISTER_SETTINGS)]));
    return EXIT_OK;
  }
  const config = loadRegisterConfig(ctx.argv, ctx.env, ctx.readFile, { hostname, interfaces: networkInterfaces });
  const logger = createLogger({ level: config.logLevel });
  const client = new RegistryClient({ ...config.etcd, ttlSeconds: config.ttlSeconds, logger, takeover: config.takeover });
  let node: RegisteredNode | undefined;
  let http: HttpServer | undefined;
  try {
    http = config.metricsListen === undefined ? undefined : await serveMetrics(config.metricsListen, client, () => node, logger);
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
  try {
    return await runRegistrant(ctx, config, client, logger, (n) => (node = n));
  } finally {
    await http?.close(1000);
  }
}

async function runRegistrant(ctx: CliContext, config: RegisterConfig, client: RegistryClient, logger: Logger, registered: (n: RegisteredNode) => void): Promise<number> {
  logger.info('registering', { endpoints: config.etcd.endpoints, prefix: config.etcd.prefix, ttlSeconds: config.ttlSeconds, node: { ...config.node } });
  const host = config.node.host ?? config.node.address?.slice(0, config.node.address.lastIndexOf(':')) ?? '';
  if (isLoopback(host)) logger.warn('the node is registered at a loopback address: only a Prometheus on this machine can scrape it', { host });
  const yielded = new Promise<CollisionEvent>((resolve) => client.on('collision', (e) => {
    if (e.action === 'yielded') resolve(e);
  }));
  const outcome = await registerUntilStopped(client, config, logger, ctx.stopSignal);
  if (outcome.kind === 'refused') {
    await client.close().catch(() => undefined);
    return EXIT_FAILURE;
  }
  if (outcome.kind === 'registered') registered(outcome.node);
  const end = await Promise.race([ctx.stopSignal.then((signal) => ({ signal })), yielded.then((taken) => ({ taken }))]);
  if ('taken' in end) {
    // Running on without a node would look healthy to the supervisor while registering nothing.
    logger.error('another registrant took this node over (--takeover): exiting; give one of them its own --id', { key: end.taken.node.key, holderLeaseId: end.taken.holderLeaseId });
  } else {
    logger.info('signal received: deregistering', { signal: end.signal });
  }
  try {
    await client.close(); // deletes the key only while under our lease: never the taker's
    logger.info('deregistered; exiting');
    return 'taken' in end ? EXIT_FAILURE : EXIT_OK;
  } catch (err) {
    logger.error('deregistration incomplete: keys left expire with the lease', { error: errorMessage(err), ttlSeconds: config.ttlSeconds });
    return EXIT_FAILURE;
  }
}
