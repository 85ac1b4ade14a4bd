/**
 * `npm run soak`: the long forms of the reliability runs, one part after
 * the other, each printing a summary line; exits 1 if any part failed.
 *
 *   npm run soak -- [--seconds 600] [--seed N] [--parts fault,memory]
 *                   [--groups 12] [--ops-per-second 120] [--writers 3]
 *
 * Parts: `fault` (the seeded fault run of `test/helpers/fault-run.ts`) is
 * built in. Any other module in this directory that exports `soakPart`
 * (a {@link SoakPart}) or `soakParts` (an array of them) is picked up by
 * itself, e.g. `test/soak/memory.ts`; `--parts` picks and orders them.
 * Other `--name value` flags reach every part through `SoakOptions.args`.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CleanupContext } from '../helpers/etcd.js';
import { Cleanup, formatSummary, runFaultRun } from '../helpers/fault-run.js';

/** What each part receives. */
export interface SoakOptions {
  /** Length of the part's workload. */
  readonly seconds: number;
  readonly seed: number;
  /** Every `--name value` flag given, by name without dashes. */
  readonly args: ReadonlyMap<string, string>;
  /** Prints a progress line. */
  readonly log: (line: string) => void;
  /** Register cleanups here; they run when the part ends or the soak is interrupted. */
  readonly cleanup: CleanupContext;
}

/** What each part reports. */
export interface SoakReport {
  readonly ok: boolean;
  /** One line with the part's figures. */
  readonly summary: string;
  /** Figures for the final JSON line. */
  readonly figures?: Readonly<Record<string, unknown>>;
}

/** One pluggable soak. */
export interface SoakPart {
  readonly name: string;
  run(opts: SoakOptions): Promise<SoakReport>;
}

/** The fault run, long form. */
export const faultSoak: SoakPart = {
  name: 'fault',
  async run(o) {
    const num = (name: string, fallback: number): number => Number(o.args.get(name) ?? fallback);
    const r = await runFaultRun(o.cleanup, {
      seed: o.seed, durationMs: o.seconds * 1000, log: o.log,
      groups: num('groups', 12), opsPerSecond: num('ops-per-second', 120), writers: num('writers', 3),
    });
    for (const d of r.mismatchDetails) o.log(d);
    const ok = r.mismatches === 0 && r.revisionRegressions === 0 && r.notReady === 0 && r.finalConverged;
    return { ok, summary: formatSummary(r), figures: { ...r } };
  },
};

/** Parts exported by the other modules of this directory (compiled `.js` next to this file). */
async function pluggedParts(): Promise<SoakPart[]> {
  const here = dirname(fileURLToPath(import.meta.url));
  const self = fileURLToPath(import.meta.url);
  const parts: SoakPart[] = [];
  for (const file of readdirSync(here).filter((f) => f.endsWith('.js')).sort()) {
    const path = join(here, file);
    if (path === self) continue;
    const mod = (await import(pathToFileURL(path).href)) as { soakPart?: SoakPart; soakParts?: readonly SoakPart[] };
    if (mod.soakPart !== undefined) parts.push(mod.soakPart);
    if (mod.soakParts !== undefined) parts.push(...mod.soakParts);
  }
  return parts;
}

/** `--name value` and `--name=value` pairs. */
export function parseSoakArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(a)}: write --name value`);
    const eq = a.indexOf('=');
    if (eq > 0) args.set(a.slice(2, eq), a.slice(eq + 1));
    else args.set(a.slice(2), argv[++i] ?? '');
  }
  return args;
}

const USAGE = `Usage: npm run soak -- [--seconds 600] [--seed N] [--parts fault,memory] [--nodes 10000]

  --seconds N   length of each part (the memory soak is meant for 1800)
  --seed N      seed of the fault run (printed, to repeat a run)
  --parts LIST  which parts, in order: fault (consistency under faults), memory (RSS at 10,000 nodes)
  --nodes N     nodes of the memory soak
`;

async function main(): Promise<number> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const args = parseSoakArgs(process.argv.slice(2));
  const seconds = Number(args.get('seconds') ?? 600);
  const seed = Number(args.get('seed') ?? Date.now() % 2 ** 31);
  if (!(seconds > 0) || !Number.isInteger(seed)) throw new Error('--seconds must be > 0 and --seed an integer');
  const all = [faultSoak, ...(await pluggedParts())];
  const wanted = args.get('parts')?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const parts = wanted === undefined ? all : wanted.map((n) => all.find((p) => p.name === n) ?? fail(`unknown part ${n}; known: ${all.map((p) => p.name).join(', ')}`));
  const log = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  log(`soak: parts ${parts.map((p) => p.name).join(', ')}; ${seconds} s each; seed ${seed} (repeat with --seed ${seed})`);

  const cleanup = new Cleanup();
  const interrupted = (): void => {
    log('interrupted: cleaning up');
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  const reports: ({ part: string } & SoakReport)[] = [];
  try {
    for (const part of parts) {
      log(`part ${part.name}: start`);
      const report = await part.run({ seconds, seed, args, log: (l) => log(`[${part.name}] ${l}`), cleanup }).catch(
        (err: unknown): SoakReport => ({ ok: false, summary: `failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` }),
      );
      await cleanup.run();
      reports.push({ part: part.name, ...report });
      log(`part ${part.name}: ${report.ok ? 'OK' : 'FAILED'}: ${report.summary}`);
    }
  } finally {
    await cleanup.run();
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  }
  process.stdout.write(`${JSON.stringify({ seed, seconds, ok: reports.every((r) => r.ok), reports })}\n`);
  return reports.every((r) => r.ok) ? 0 : 1;
}

function fail(message: string): never {
  throw new Error(message);
}

// Only as the entry point: not when imported by a part, nor when `npm test` (node --test dist/test/) loads it as a test file.
const isEntry = process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url;
if (isEntry && process.env['NODE_TEST_CONTEXT'] === undefined) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
