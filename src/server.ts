/**
 * Assembles `serve`: etcd (given, or embedded and supervised), the mirror,
 * metrics and the HTTP server, and takes them down in the right order.
 * Touches no `process` state: the CLI owns signals and exit codes.
 */
import type { Etcd3 } from 'etcd3';
import { Registry } from 'prom-client';
import { EmptyGroupCleaner } from './cleanup/index.js';
import type { ServeConfig } from './config/serve.js';
import { createEtcdClient } from './etcd/client.js';
import { EventHub } from './events/hub.js';
import { PreflightError, startEmbeddedEtcd, type EmbeddedEtcd } from './etcd/embedded.js';
import { ConfigError } from './errors.js';
import { createHttpHandler } from './http/app.js';
import { listen, listenProblem, type HttpServer } from './http/server.js';
import type { Logger } from './log.js';
import { hostUrl } from './net.js';
import { createServerMetrics, registerStateGauges } from './metrics/metrics.js';
import { EtcdSource } from './mirror/etcd-source.js';
import { Mirror, type MirrorOptions } from './mirror/mirror.js';

/** A running server. */
export interface RunningServer {
  /** Base URL of the HTTP listener, e.g. `http://127.0.0.1:9911` (`https://` with TLS). */
  readonly url: string;
  readonly mirror: Mirror;
  readonly registry: Registry;
  /** The embedded etcd's endpoint when serve started one. */
  readonly embeddedEndpoint?: string;
  /** Empty-group cleanup, when `--cleanup-empty-groups` is on. */
  readonly cleaner?: EmptyGroupCleaner;
  /** Stops in order: readiness, HTTP (in-flight requests finish), cleanup (leaves its election), watch, client, embedded etcd. */
  close(): Promise<void>;
}

/** Extra knobs for tests and embedders. */
export interface ServerOverrides {
  readonly registry?: Registry;
  readonly mirror?: Partial<Pick<MirrorOptions, 'probeIntervalMs' | 'stallMs' | 'backoffInitialMs' | 'backoffMaxMs'>>;
  /** Aborts start-up (the first Ctrl-C): whatever was started is stopped and start rejects. */
  readonly signal?: AbortSignal;
}

/** Starts everything `serve` runs. Resolves once the HTTP server listens (not once loaded: see /readyz). */
export async function startServer(config: ServeConfig, logger: Logger, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const embedded = config.etcd.endpoints.length === 0 ? await startEmbedded(config, logger, overrides.signal) : undefined;
  // What has been started so far, stopped in reverse if a later step throws.
  let client: Etcd3 | undefined;
  let mirror: Mirror | undefined;
  let hub: EventHub | undefined;
  let http: HttpServer | undefined;
  let cleaner: EmptyGroupCleaner | undefined;
  try {
    const endpoints = embedded ? [embedded.endpoint] : config.etcd.endpoints;
    client = createEtcdClient({ ...config.etcd, endpoints });
    const registry = overrides.registry ?? new Registry();
    const source = new EtcdSource(client, config.etcd.prefix);
    const metrics = createServerMetrics(registry);
    mirror = new Mirror({ ...overrides.mirror, source, prefix: config.etcd.prefix, logger, metrics: metrics.mirror, limits: config.documentLimits, labelPolicy: config.labelPolicy });
    registerStateGauges(registry, mirror);
    hub = new EventHub(mirror);
    const { app, handler } = createHttpHandler({
      mirror, registry, httpMetrics: metrics.http, logger, cacheMaxBytes: config.cacheMaxBytes, maxPendingResponseBytes: config.maxPendingResponseBytes,
      ...(config.auth === undefined ? {} : { access: config.auth }),
      ...(config.scrapeConfigs === undefined ? {} : { scrapeConfigs: config.scrapeConfigs }),
      operator: { source: mirror, hub },
    });
    http = await listen(handler, config.listen.host, config.listen.port, config.tls, {
      writeTimeoutMs: config.httpWriteTimeoutMs, maxConnections: config.maxConnections,
    }).catch((err: unknown) => {
      throw listenProblem(err, config.listen, '--listen');
    });
    overrides.signal?.throwIfAborted();
    mirror.start();
    cleaner = config.cleanup === undefined ? undefined : new EmptyGroupCleaner({
      ...config.cleanup, client, prefix: config.etcd.prefix, mirror, registry, logger: logger.child({ component: 'cleanup' }),
    });
    cleaner?.start();
    const url = hostUrl(http.scheme, http.address.address, http.address.port);
    // Which protections are on, never their secrets.
    logger.info('listening', {
      url, etcd: endpoints, prefix: config.etcd.prefix, embedded: embedded !== undefined,
      access: describeAccess(config), scrapeConfigsRoute: config.scrapeConfigs !== undefined,
    });
    const [c, m, h, s, cl] = [client, mirror, hub, http, cleaner];
    return {
      url, mirror: m, registry,
      ...(embedded ? { embeddedEndpoint: embedded.endpoint } : {}),
      ...(cl ? { cleaner: cl } : {}),
      close: () => {
        h.close(); // ends the event streams, which would otherwise hold the HTTP close to its deadline
        return shutdown(app.locals, s, m, c, embedded, logger, cl);
      },
    };
  } catch (err) {
    // Nothing started may outlive the failed start: no listener, timers, watch or etcd connection.
    hub?.close();
    await http?.close(0);
    await cleaner?.close();
    await mirror?.close();
    client?.close();
    await embedded?.close();
    throw err;
  }
}

async function startEmbedded(config: ServeConfig, logger: Logger, signal?: AbortSignal): Promise<EmbeddedEtcd> {
  const e = config.embeddedEtcd;
  logger.info('no etcd endpoints configured; starting a local etcd', { binary: e.binary, dataDir: e.dataDir, clientPort: e.clientPort });
  try {
    return await startEmbeddedEtcd({
      binary: e.binary, dataDir: e.dataDir, clientPort: e.clientPort, peerPort: e.peerPort, logger: logger.child({ component: 'embedded-etcd' }),
      ...(signal === undefined ? {} : { signal }),
    });
  } catch (err) {
    throw err instanceof PreflightError ? preflightProblem(err) : err;
  }
}

const PREFLIGHT_FIX: Readonly<Record<PreflightError['problem'], readonly [string, string]>> = {
  client_port: ['--embedded-etcd-client-port', 'choose a free port, stop what holds it, or point --etcd-endpoints at a running etcd'],
  peer_port: ['--embedded-etcd-peer-port', 'choose a free port or stop what holds it'],
  data_dir: ['--etcd-data-dir', 'name a directory this user can create and write'],
};

/** A preflight failure is a bad setting: name it and the fix (exit 2). */
function preflightProblem(err: PreflightError): ConfigError {
  const [setting, fix] = PREFLIGHT_FIX[err.problem];
  return new ConfigError(setting, `${err.message}; ${fix}`, { cause: err });
}

async function shutdown(
  locals: { shuttingDown: boolean },
  http: HttpServer,
  mirror: Mirror,
  client: Etcd3,
  embedded: EmbeddedEtcd | undefined,
  logger: Logger,
  cleaner?: EmptyGroupCleaner,
): Promise<void> {
  logger.info('shutting down');
  locals.shuttingDown = true;
  await http.close(3000);
  // Before the client closes: leaving the election revokes its lease, so another replica takes over at once.
  await cleaner?.close();
  await mirror.close();
  client.close();
  await embedded?.close();
  logger.info('stopped');
}

function describeAccess(config: ServeConfig): string[] {
  const a = config.auth;
  if (a === undefined) return ['open'];
  return [
    ...(a.bearerToken === undefined ? [] : ['bearer']),
    ...(a.basic === undefined ? [] : ['basic']),
    ...(a.protectMetrics ? ['metrics protected'] : []),
  ];
}
