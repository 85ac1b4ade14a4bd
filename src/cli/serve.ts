/** `etcd-http-sd serve`: run the SD server until SIGTERM/SIGINT. */
import { isHelpRequested, formatHelp } from '../config/flags.js';
import { loadServeConfig, SERVE_FLAGS } from '../config/serve.js';
import { createLogger } from '../log.js';
import { joinHostPort } from '../net.js';
import { startServer } from '../server.js';
import { disablePretenuring } from './heap.js';
import { EXIT_OK, type CliContext } from './io.js';

const SUMMARY = `Serve the etcd service registry as Prometheus http_sd targets.

With no --etcd-endpoints, serve starts and supervises a local etcd on
127.0.0.1 (binary from --etcd-binary, data in --etcd-data-dir), in its own
process group: Ctrl-C stops serve, which then stops etcd. An etcd left
running by a serve that was killed is recognised and stopped at the next start.
Every flag can also be set as ETCD_HTTP_SD_<FLAG> (e.g. ETCD_HTTP_SD_LISTEN)
or in the YAML file named by --config. The etcd password is read from
--etcd-password-file or ETCD_HTTP_SD_ETCD_PASSWORD, never from a flag.

Endpoints: /v1/targets, /v1/targets/<group>, /v1/groups, /healthz, /readyz, /metrics,
the console at / with /v1/nodes, /v1/invalid, /v1/explain/<group>/<node> and
/v1/events, and /v1/scrape-configs when --admin-token-file is set. With --auth-bearer-token-file
and/or --auth-basic-username the SD endpoints (and /metrics with
--auth-protect-metrics) require credentials, and so do the console and its
routes; /healthz and /readyz stay open.
Secrets are read from files at start-up and never logged.

With --cleanup-empty-groups, one replica (elected through etcd) deletes group
documents that have had no nodes for --cleanup-grace; only this needs an etcd
user with write access (docs/security.md). Serving alone needs read access.`;

/** Runs `serve`; resolves with the exit code once stopped. */
export async function serveCommand(ctx: CliContext): Promise<number> {
  if (isHelpRequested(ctx.argv)) {
    ctx.stdout(formatHelp('etcd-http-sd serve', SUMMARY, SERVE_FLAGS));
    return EXIT_OK;
  }
  const config = loadServeConfig(ctx.argv, ctx.env, ctx.readFile);
  disablePretenuring();
  const logger = createLogger({ level: config.logLevel });
  logger.info('starting', { version: VERSION, prefix: config.etcd.prefix, listen: joinHostPort(config.listen.host, config.listen.port), ...(config.configFile ? { configFile: config.configFile } : {}) });
  // The first signal during start-up aborts it: nothing may keep starting after a Ctrl-C.
  const abort = new AbortController();
  let early: NodeJS.Signals | undefined;
  void ctx.stopSignal.then((sig) => {
    early = sig;
    abort.abort();
  });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, logger, { signal: abort.signal });
  } catch (err) {
    if (early === undefined) throw err;
    logger.info('start-up aborted by signal', { signal: early });
    return EXIT_OK;
  }
  const signal = await ctx.stopSignal;
  const started = Date.now();
  logger.info('signal received', { signal });
  await server.close();
  logger.info('stop complete', { ms: Date.now() - started });
  return EXIT_OK;
}

/** The package version, reported in logs and `--version`. */
export const VERSION = '0.1.0';
