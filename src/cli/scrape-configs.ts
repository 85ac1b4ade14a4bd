/**
 * `etcd-http-sd scrape-configs`: reads the registry once from etcd and
 * prints the Prometheus `scrape_configs` document that `GET
 * /v1/scrape-configs` serves, from the same rendering code. It
 * holds secrets: `--output` and password files are written with mode 0600.
 */
import { mkdir } from 'node:fs/promises';
import { checkListen, row, text } from '../config/checks.js';
import { flagsOf, type Settings } from '../config/file.js';
import { formatHelp, isHelpRequested, UsageError } from '../config/flags.js';
import { authFrom, HTTP_SETTINGS } from '../config/http.js';
import { SCRAPE_SETTINGS, scrapeDefaultsFrom } from '../config/scrape.js';
import { SHARD_SETTINGS, shardSettingsFrom, shardSpecs } from '../config/shard.js';
import { ETCD_CONNECTION_SETTINGS, LISTEN_SETTING, loadEtcdConnection } from '../config/serve.js';
import { ConfigError, describe } from '../errors.js';
import { writeFileAtomic } from '../file-sd/index.js';
import { hostUrl } from '../net.js';
import type { Content } from '../registry/index.js';
import { passwordFiles, renderScrapeConfigs } from '../scrape-config/index.js';
import { applyFileAccess, directoryMode, fileAccessFrom, type FileAccess } from './file-owner.js';
import { EXIT_OK, type CliContext } from './io.js';
import { loadRegistryState } from './load-state.js';

function optionalText(settings: Settings, name: string): string | undefined {
  const v = settings.get(name);
  return v === undefined ? undefined : text(v);
}

const SUMMARY = `Print a Prometheus scrape_configs document for the registry's groups:
one job per group, reading its targets from /v1/targets/<group> of the SD
server at --external-url (default: from --listen), with the group's
credentials as basic_auth and the SD server's own credentials when it
requires them. Merge its jobs into the scrape_configs of prometheus.yml.

With --shards N, one document per shard: shard I's jobs read only the
targets hashmod puts on shard I (job names stay the group names, so series
look the same whichever Prometheus scrapes them). --shard I prints one;
without it all N are printed as a YAML stream, or written to --output with
{shard} in the file name replaced by I.

The output holds passwords unless --scrape-password-dir is set; with
--write-password-files the passwords go to DIR/<group>.password (mode 0600).`;

/** Settings the SD server uses that the generated jobs depend on, plus this command's own. */
const ROWS = [
  LISTEN_SETTING,
  ...HTTP_SETTINGS.filter((r) => /^(auth-bearer|auth-basic|tls-cert-file)/.test(r.flag.name)),
  ...SCRAPE_SETTINGS,
  ...SHARD_SETTINGS,
  row('output', 'string', 'FILE', '', '', 'Write the document to FILE (mode 0600) instead of standard output; {shard} in FILE: one file per shard.'),
  row('write-password-files', 'bool', '', '', 'false', 'Write each group\'s password to --scrape-password-dir (dir mode 0700, files 0600).'),
  row('file-owner', 'string', 'USER[:GROUP]', '', '', 'Owner of --output and the password files (and their dir), e.g. root:prometheus; changing the user needs root.'),
  row('file-mode', 'string', 'MODE', '', '0600', 'Mode of --output and the password files, e.g. 0640 with --file-owner :prometheus; never readable by others.'),
];

/** Runs `scrape-configs`; resolves with the exit code. */
export async function scrapeConfigsCommand(ctx: CliContext): Promise<number> {
  if (isHelpRequested(ctx.argv)) {
    // Unlike serve, no endpoints is no etcd to read: the help must not promise an embedded one.
    const flags = flagsOf([...ETCD_CONNECTION_SETTINGS, ...ROWS]).map((f) => (f.name === 'etcd-endpoints'
      ? { ...f, help: 'etcd endpoints to read the registry from, all http:// or all https://; required. (env ETCD_HTTP_SD_ETCD_ENDPOINTS)' }
      : f));
    ctx.stdout(formatHelp('etcd-http-sd scrape-configs', SUMMARY, flags));
    return EXIT_OK;
  }
  const { etcd, settings } = loadEtcdConnection(ctx.argv, ctx.env, ctx.readFile, ROWS);
  const stray = settings.positionals[0];
  if (stray !== undefined) throw new UsageError(describe(stray), 'unexpected argument: scrape-configs takes flags only');
  if (etcd.endpoints.length === 0) {
    throw new ConfigError('--etcd-endpoints', 'scrape-configs reads an existing etcd: set --etcd-endpoints (or ETCD_HTTP_SD_ETCD_ENDPOINTS)');
  }
  const defaults = scrapeDefaultsFrom(settings, authFrom(settings, ctx.readFile));
  const writePasswords = settings.get('write-password-files')?.value === true;
  if (writePasswords && defaults.passwordDir === undefined) {
    throw new ConfigError('--write-password-files', 'needs --scrape-password-dir: the directory to write the files to');
  }
  const shards = shardSettingsFrom(settings);
  const output = settings.get('output');
  const perShardFile = output !== undefined && text(output).includes('{shard}');
  if (output !== undefined && shards !== undefined && shards.index === undefined && shards.count > 1 && !perShardFile) {
    throw new ConfigError(output.where, 'with --shards and no --shard there is one document per shard: put {shard} in the file name, or pick one with --shard');
  }
  if (perShardFile && shards === undefined) throw new ConfigError(output.where, '{shard} in the file name needs --shards');
  const { state, revision } = await loadRegistryState(etcd);
  const content = state.snapshot();
  const access = fileAccessFrom(optionalText(settings, 'file-owner'), optionalText(settings, 'file-mode'), ctx.readFile);
  const docs = (shards === undefined ? [undefined] : shardSpecs(shards)).map((shard) => ({
    shard,
    body: renderScrapeConfigs(content.groups, {
      ...defaults,
      externalUrl: defaults.externalUrl ?? defaultExternalUrl(settings),
      comment: `Generated by etcd-http-sd scrape-configs from etcd revision ${revision}.${shard === undefined ? '' : ` Shard ${shard.index} of ${shard.count}.`}`,
      ...(shard === undefined ? {} : { shard }),
    }),
  }));
  if (writePasswords && defaults.passwordDir !== undefined) {
    const n = await writePasswordFiles(content, defaults.passwordDir, access);
    ctx.stderr(`wrote ${n} password file(s) to ${defaults.passwordDir}`);
  }
  if (output === undefined) {
    ctx.stdout(docs.map((d) => d.body).join('---\n'));
    return EXIT_OK;
  }
  for (const d of docs) await writeSecretFile(text(output).replaceAll('{shard}', String(d.shard?.index ?? 0)), d.body, access);
  return EXIT_OK;
}

/** `http(s)://<listen address>`, with a wildcard host replaced by loopback. */
function defaultExternalUrl(settings: Settings): string {
  const listen = settings.get('listen');
  if (listen === undefined) throw new TypeError('--listen has a default');
  const { host, port } = checkListen(listen);
  if (port === 0) throw new ConfigError(listen.where, 'port 0 says nothing about where the server is: set --external-url');
  const scheme = settings.get('tls-cert-file') === undefined ? 'http' : 'https';
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return hostUrl(scheme, h, port);
}

async function writePasswordFiles(content: Content, dir: string, access: FileAccess): Promise<number> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await applyFileAccess(dir, access, directoryMode(access.mode));
  const files = passwordFiles(content.groups, dir);
  for (const f of files) await writeSecretFile(f.path, f.password, access);
  return files.length;
}

/**
 * Writes `data` readable by the owner only: into a new file created 0600
 * next to `path`, then renamed over it, so an existing file with wider
 * permissions never holds the secret and readers never see half a file.
 */
async function writeSecretFile(path: string, data: string, access: FileAccess): Promise<void> {
  // Owner and mode before the rename: the file at `path` never has other permissions.
  await writeFileAtomic(path, data, 0o600, (tmp) => applyFileAccess(tmp, access));
}
