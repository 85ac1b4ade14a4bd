#!/usr/bin/env node
/**
 * The `etcd-http-sd` binary. The only module that touches `process`:
 * argv, env, signals and exit codes.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../config/flags.js';
import { ConfigError, EtcdHttpSdError, errorMessage } from '../errors.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliContext } from './io.js';
import { explainCommand } from './explain.js';
import { fileSdCommand } from './file-sd.js';
import { groupCommand } from './group.js';
import { registerCommand } from './register.js';
import { scrapeConfigsCommand } from './scrape-configs.js';
import { serveCommand, VERSION } from './serve.js';
import { targetsCommand } from './targets.js';

type Command = (ctx: CliContext) => Promise<number>;

const COMMANDS: Readonly<Record<string, { run: Command; summary: string }>> = {
  serve: { run: serveCommand, summary: 'serve the registry as Prometheus http_sd targets' },
  'scrape-configs': { run: scrapeConfigsCommand, summary: 'print Prometheus scrape_configs for the groups, with their credentials' },
  'file-sd': { run: fileSdCommand, summary: 'keep Prometheus file_sd files in step with the registry until SIGTERM' },
  register: { run: registerCommand, summary: 'register an exporter and keep it registered until SIGTERM (sidecar)' },
  group: { run: groupCommand, summary: 'configure, list, show or delete groups' },
  targets: { run: targetsCommand, summary: 'print the targets the server would serve, for debugging' },
  explain: { run: explainCommand, summary: 'explain why nodes of a group are served as they are, or not at all' },
};

/** Commands that run until a signal and stop themselves gracefully; the others are cut short by one. */
const LONG_RUNNING: ReadonlySet<string> = new Set(['serve', 'register', 'file-sd']);

/** The exit code of a process stopped by `sig`, as shells report it. */
function signalExit(sig: NodeJS.Signals): number {
  return 128 + (sig === 'SIGINT' ? 2 : 15);
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`);
  return `Usage: etcd-http-sd <command> [flags]\n\nCommands:\n${lines.join('\n')}\n\n` +
    `Flags:\n  -h, --help      this help (with a command: that command's flags)\n  -v, --version   print the version\n\n` +
    `Run 'etcd-http-sd <command> --help' or 'etcd-http-sd help <command>' for a command's flags.\n`;
}

/** `--version` or `-v` anywhere before `--`, even after a subcommand. */
function versionRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '-v' || a === '--version');
}

function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      // A second signal means "now": do not wait for a graceful stop.
      process.once('SIGINT', () => process.exit(EXIT_FAILURE));
      process.once('SIGTERM', () => process.exit(EXIT_FAILURE));
      resolve(sig);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

async function main(args: readonly string[]): Promise<number> {
  // `help serve` is `serve --help`.
  const argv = args[0] === 'help' && args[1] !== undefined ? [args[1], '--help', ...args.slice(2)] : args;
  const [name, ...rest] = argv;
  if (versionRequested(argv)) {
    process.stdout.write(`etcd-http-sd ${VERSION}\n`);
    return EXIT_OK;
  }
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`etcd-http-sd ${VERSION}\n`);
    return EXIT_OK;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`etcd-http-sd: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  const stop = stopSignal();
  const run = command.run({
    argv: rest,
    env: process.env,
    readFile: (path) => readFileSync(path),
    stdout: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    stderr: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    stopSignal: stop,
  });
  if (LONG_RUNNING.has(name)) return run;
  // A one-shot command waiting on etcd stops at the first Ctrl-C, not after its call timeouts.
  return Promise.race([run, stop.then((sig) => {
    process.stderr.write(`etcd-http-sd: ${name} interrupted (${sig})\n`);
    process.exit(signalExit(sig));
  })]);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const usageProblem = err instanceof UsageError || err instanceof ConfigError;
    const prefix = err instanceof EtcdHttpSdError ? '' : 'unexpected error: ';
    process.stderr.write(`etcd-http-sd: ${prefix}${errorMessage(err)}\n`);
    process.exitCode = usageProblem ? EXIT_USAGE : EXIT_FAILURE;
  },
);
