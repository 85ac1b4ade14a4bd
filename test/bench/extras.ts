/**
 * The focused benchmarks (`bench:shard`, `bench:shard-http`, `bench:heartbeat`,
 * `bench:discovery`), run by `npm run bench` after the sizes so that one
 * command prints every row. Each runs in its own process, one after the
 * other, so none measures another's load; their Markdown goes into the report.
 */
import { spawn } from 'node:child_process';
import { benchScript } from './children.js';

/** One focused benchmark: its report section and how to run it. */
interface Extra {
  readonly name: ExtraName;
  readonly title: string;
  readonly script: string;
  readonly args: (quick: boolean) => readonly string[];
  readonly nodeFlags?: readonly string[];
}

export type ExtraName = 'shard' | 'shard-http' | 'heartbeat' | 'discovery';

const EXTRAS: readonly Extra[] = [
  {
    name: 'shard',
    title: 'Shard views in process: full body next to a shard of 1/20, and one update (`npm run bench:shard`)',
    script: 'shard.js',
    args: (quick) => (quick ? ['--nodes', '10000', '--big-group', '10000'] : ['--nodes', '100000', '--big-group', '100000']),
    nodeFlags: ['--expose-gc'],
  },
  {
    name: 'shard-http',
    title: 'Shards over HTTP: full `/v1/targets` next to `?shard=7&shards=20` (`npm run bench:shard-http`)',
    script: 'shard-http.js',
    args: (quick) => ['--nodes', '10000', '--seconds', quick ? '1' : '3'],
  },
  {
    name: 'heartbeat',
    title: 'Heartbeats: server CPU per watch message next to a bare etcd3 watcher (`npm run bench:heartbeat`)',
    script: 'heartbeat-watch.js',
    args: (quick) => ['--nodes', '10000', '--seconds', quick ? '5' : '20'],
  },
  {
    name: 'discovery',
    title: 'Discovery: etcd put → target in a real Prometheus, file_sd and http_sd (`npm run bench:discovery`)',
    script: 'discovery.js',
    args: (quick) => (quick ? ['--seconds', '30'] : []),
  },
];

export const EXTRA_NAMES: readonly ExtraName[] = EXTRAS.map((e) => e.name);

/** What one focused benchmark printed. */
export interface ExtraResult {
  readonly name: ExtraName;
  readonly title: string;
  /** Its Markdown, or why it failed. */
  readonly markdown: string;
  readonly ok: boolean;
  readonly seconds: number;
}

/** A script's stdout once it exits; its stderr (progress) goes to ours. */
function runScript(script: string, args: readonly string[], nodeFlags: readonly string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, benchScript(script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(chunks).toString('utf8') }));
  });
}

/** Runs the chosen focused benchmarks in order; a failure is reported in its section, not thrown. */
export async function runExtras(names: readonly ExtraName[], quick: boolean, log: (msg: string) => void): Promise<ExtraResult[]> {
  const results: ExtraResult[] = [];
  for (const extra of EXTRAS.filter((e) => names.includes(e.name))) {
    log(`\n== ${extra.name}`);
    const started = performance.now();
    const { code, stdout } = await runScript(extra.script, extra.args(quick), extra.nodeFlags ?? []);
    const ok = code === 0;
    results.push({ name: extra.name, title: extra.title, markdown: ok ? stdout.trim() : `failed (exit ${String(code)}); its output:\n\n${stdout.trim()}`, ok, seconds: (performance.now() - started) / 1000 });
  }
  return results;
}

/** The report sections of the focused benchmarks. */
export function renderExtras(results: readonly ExtraResult[]): string {
  return results.map((r) => `### ${r.title}\n\n${r.markdown}\n`).join('\n');
}
