/**
 * `etcd-http-sd file-sd`: keeps Prometheus file_sd files in step with the
 * registry until SIGTERM/SIGINT, for Prometheus servers that should see a
 * change at once (file_sd reacts to inotify; http_sd polls). The same
 * mirror, views, filters and shards as `serve`; its own metrics and
 * readiness on --listen, when set.
 */
import { stat } from 'node:fs/promises';
import { Registry } from 'prom-client';
import { checkListen, row, text } from '../config/checks.js';
import { flagsOf } from '../config/file.js';
import { formatHelp, isHelpRequested, UsageError } from '../config/flags.js';
import { labelPolicyFrom, PROTECTED_LABELS_SETTING } from '../config/labels.js';
import { ETCD_CONNECTION_SETTINGS, loadEtcdConnection } from '../config/serve.js';
import { SHARD_SETTINGS, shardSettingsFrom } from '../config/shard.js';
import { ConfigError, describe } from '../errors.js';
import { createEtcdClient } from '../etcd/client.js';
import { FileSdWriter, formatOf, type FileTarget } from '../file-sd/index.js';
import type { TargetFilter } from '../http/rendered.js';
import { listen } from '../http/server.js';
import { statusHandler } from '../http/status.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../log.js';
import { createServerMetrics, registerStateGauges } from '../metrics/metrics.js';
import { EtcdSource } from '../mirror/etcd-source.js';
import { Mirror } from '../mirror/mirror.js';
import { joinHostPort } from '../net.js';
import { isValidGroupName } from '../registry/index.js';
import { disablePretenuring } from './heap.js';
import { EXIT_OK, type CliContext } from './io.js';

const SUMMARY = `Keep a Prometheus file_sd file in step with the registry until SIGTERM or
SIGINT: --output FILE (JSON, or YAML for .yml/.yaml) holds the targets
/v1/targets would serve; --output-dir DIR holds one file per group
(<group>.json, or .yml with --format yaml). Files are replaced atomically
(temp file, fsync, rename) and only when their content changes; nothing is
written before the first full load. Takes the filters of /v1/targets
(--group, --exporter-type) and its shards (--shards with --shard).
With --listen, serves /metrics, /healthz and /readyz (200 once the files
hold the current state).

Prometheus: file_sd_configs: [{ files: [FILE] }] (or DIR/*.json).`;

const ROWS = [
  row('output', 'string', 'FILE', '', '', 'The file to keep in step (YAML when it ends in .yml or .yaml).'),
  row('output-dir', 'string', 'DIR', '', '', 'A directory to keep one file per group in, instead of --output.'),
  row('format', 'string', 'json|yaml', '', 'json', 'File format in --output-dir.'),
  row('group', 'repeat', 'NAME', '', '', 'Only these groups (repeatable); default all.'),
  row('exporter-type', 'repeat', 'TYPE', '', '', 'Only these exporter types (repeatable); default all.'),
  ...SHARD_SETTINGS,
  PROTECTED_LABELS_SETTING,
  row('listen', 'string', 'HOST:PORT', '', '', 'Serve /metrics, /healthz and /readyz here; default none.'),
  row('log-level', 'string', 'LEVEL', 'log_level', 'info', `Least severe log level: ${LOG_LEVELS.join(', ')}.`),
];

function list(v: unknown): string[] {
  const items: unknown[] = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return items.filter((x): x is string => typeof x === 'string');
}

async function targetOf(output: string | undefined, dir: string | undefined, format: string): Promise<FileTarget> {
  if ((output === undefined) === (dir === undefined)) throw new ConfigError('--output', 'give exactly one of --output FILE and --output-dir DIR');
  if (format !== 'json' && format !== 'yaml') throw new ConfigError('--format', `must be json or yaml, got ${describe(format)}`);
  if (dir !== undefined) {
    const s = await stat(dir).catch(() => undefined);
    if (s?.isDirectory() !== true) throw new ConfigError('--output-dir', `${describe(dir)} is not an existing directory`);
    return { kind: 'dir', dir: dir.replace(/\/+$/, '') || '/', format };
  }
  if (output === undefined) throw new ConfigError('--output', 'give exactly one of --output FILE and --output-dir DIR');
  return { kind: 'file', path: output };
}

/** Runs `file-sd`; resolves with the exit code once stopped. */
export async function fileSdCommand(ctx: CliContext): Promise<number> {
  if (isHelpRequested(ctx.argv)) {
    ctx.stdout(formatHelp('etcd-http-sd file-sd', SUMMARY, flagsOf([...ETCD_CONNECTION_SETTINGS, ...ROWS])));
    return EXIT_OK;
  }
  const { etcd, settings } = loadEtcdConnection(ctx.argv, ctx.env, ctx.readFile, ROWS);
  const stray = settings.positionals[0];
  if (stray !== undefined) throw new UsageError(describe(stray), 'unexpected argument: file-sd takes flags only');
  if (etcd.endpoints.length === 0) throw new ConfigError('--etcd-endpoints', 'file-sd reads an existing etcd: set --etcd-endpoints');
  const get = (name: string): string | undefined => {
    const r = settings.get(name);
    return r === undefined ? undefined : text(r);
  };
  const target = await targetOf(get('output'), get('output-dir'), get('format') ?? 'json');
  disablePretenuring();
  const groups = list(settings.get('group')?.value);
  for (const g of groups) if (!isValidGroupName(g)) throw new ConfigError('--group', `${describe(g)} is not a group name`);
  const shards = shardSettingsFrom(settings);
  if (shards !== undefined && shards.index === undefined) throw new ConfigError('--shard', 'required with --shards: the shard this file is for');
  const filter: TargetFilter = {
    groups: [...new Set(groups)].sort(), exporterTypes: [...new Set(list(settings.get('exporter-type')?.value))].sort(),
    ...(shards?.index === undefined ? {} : { shard: { index: shards.index, count: shards.count, by: shards.by } }),
  };
  const listenSetting = settings.get('listen');
  const address = listenSetting === undefined ? undefined : checkListen(listenSetting);
  const labelPolicy = labelPolicyFrom(settings);
  const logger = createLogger({ level: (get('log-level') ?? 'info') as LogLevel });

  const client = createEtcdClient(etcd);
  const registry = new Registry();
  const metrics = createServerMetrics(registry);
  const mirror = new Mirror({ source: new EtcdSource(client, etcd.prefix), prefix: etcd.prefix, logger, metrics: metrics.mirror, labelPolicy });
  registerStateGauges(registry, mirror);
  const writer = new FileSdWriter({ feed: mirror, target, filter, logger, registry });
  const http = address === undefined ? undefined : await listen(statusHandler(registry, () => writer.ready && mirror.status().ready), address.host, address.port);
  writer.start();
  mirror.start();
  logger.info('file-sd started', { output: target.kind === 'file' ? target.path : target.dir, format: target.kind === 'file' ? formatOf(target.path) : target.format, prefix: etcd.prefix, ...(http ? { listen: joinHostPort(http.address.address, http.address.port) } : {}) });
  const signal = await ctx.stopSignal;
  logger.info('signal received', { signal });
  await http?.close(3000);
  await writer.close();
  await mirror.close();
  client.close();
  return EXIT_OK;
}
