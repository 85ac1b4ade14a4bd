/**
 * The console at scale: builds a registry of `--nodes` nodes (default
 * 100,000, the benchmark's dataset) in memory, serves it with the real HTTP
 * handler, and times the console's first page, a full-scan search, an
 * explanation and an event-stream fan-out. Loopback only; prints Markdown.
 *
 *   node dist/test/bench/console.js [--nodes N] [--runs R] [--browser]
 *
 * `--browser` also loads the page in Debian's chromium (headless, as the
 * browser test does) and reports the browser's own navigation timings.
 */
import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import { Registry } from 'prom-client';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { EventHub } from '../../src/events/hub.js';
import { loopbackUrl } from '../helpers/ports.js';
import { createHttpHandler } from '../../src/http/app.js';
import { listen } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { createServerMetrics } from '../../src/metrics/metrics.js';
import type { MirrorStatus } from '../../src/mirror/mirror.js';
import { RegistryState } from '../../src/registry/index.js';
import { entries, layoutOf, PREFIX } from './dataset.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i < 0 ? undefined : Number(process.argv[i + 1]);
  return v !== undefined && Number.isInteger(v) && v > 0 ? v : fallback;
}

class StaticMirror extends EventEmitter<{ change: [] }> {
  revision = 1;
  constructor(private readonly state: RegistryState) {
    super();
  }
  content() {
    return this.state.snapshot();
  }
  registryState() {
    return this.state;
  }
  status(): MirrorStatus {
    return { ready: true, connected: true, revision: this.revision, lastContactAgeMs: 0, lastEventAgeMs: undefined, lastReload: { reason: 'initial', at: Date.now(), revision: 1 } };
  }
}

function get(url: string): Promise<{ ms: number; bytes: number; status: number }> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    request(url, { headers: { connection: 'close' } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, bytes, status: res.statusCode ?? 0 }));
    }).on('error', reject).end();
  });
}

async function timed(url: string, runs: number): Promise<string> {
  const first = await get(url);
  if (first.status !== 200) throw new Error(`${url}: HTTP ${first.status}`);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push((await get(url)).ms);
  ms.sort((a, b) => a - b);
  const at = (q: number): string => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(1);
  return `${first.ms.toFixed(1)} | ${at(0.5)} | ${at(0.95)} | ${(first.bytes / 1024).toFixed(1)} KiB`;
}

/** Navigation timings (ms from navigation start) of `runs` loads of `url` in a fresh headless chromium. */
async function inBrowser(url: string, runs: number): Promise<string[]> {
  const profile = await mkdtemp(join(tmpdir(), 'etcd-http-sd-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    const samples: { dcl: number; load: number; live: number }[] = [];
    for (let i = 0; i < runs; i++) {
      const start = Date.now();
      await page.goto(url, { waitUntil: 'load' });
      await page.locator('body[data-live="on"]').waitFor();
      const live = Date.now() - start;
      // A string: this runs in the page, and the project compiles without the DOM types.
      const nav = await page.evaluate<{ dcl: number; load: number }>("(() => { const e = performance.getEntriesByType('navigation')[0]; return { dcl: e.domContentLoadedEventEnd, load: e.loadEventEnd }; })()");
      samples.push({ ...nav, live });
    }
    const med = (k: 'dcl' | 'load' | 'live'): string => samples.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(samples.length / 2)]!.toFixed(0);
    return [`| chromium: DOMContentLoaded | ${samples[0]!.dcl.toFixed(0)} | ${med('dcl')} | | |`, `| chromium: load event | ${samples[0]!.load.toFixed(0)} | ${med('load')} | | |`,
      `| chromium: goto until live (event stream open) | ${samples[0]!.live} | ${med('live')} | | |`];
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const nodes = arg('--nodes', 100_000);
  const runs = arg('--runs', 20);
  const state = new RegistryState(PREFIX);
  const built = Date.now();
  for (const e of entries(layoutOf(nodes, 100), new Date('2026-12-01T00:00:00Z'))) state.apply({ type: 'put', key: e.key, value: e.value });
  state.snapshot();
  const mirror = new StaticMirror(state);
  const registry = new Registry();
  const hub = new EventHub(mirror);
  const { handler } = createHttpHandler({
    mirror, registry, httpMetrics: createServerMetrics(registry).http, logger: createLogger({ level: 'error', write: () => {} }),
    cacheMaxBytes: 64 * 1024 * 1024, operator: { source: mirror, hub },
  });
  const http = await listen(handler, '127.0.0.1', 0);
  const base = loopbackUrl(http.address.port);
  const some = state.snapshot().groups[Math.floor(state.snapshot().groups.length / 2)]!;
  const rows = [
    ['console first page `GET /`', `${base}/`],
    ['`GET /v1/nodes` first page', `${base}/v1/nodes`],
    ['`GET /v1/nodes?q=` (scans every node)', `${base}/v1/nodes?q=nomatch`],
    ['`GET /v1/nodes?page=1000`', `${base}/v1/nodes?page=1000`],
    ['`GET /v1/explain/{group}/{node}`', `${base}/v1/explain/${some.name}/${encodeURIComponent(some.nodes[0]!.key)}`],
  ];
  const lines = [`console at ${nodes} nodes (registry built in ${Date.now() - built} ms), ${runs} runs each, wall time per request on loopback`, '', '| request | first ms | median ms | p95 ms | size |', '|---|---|---|---|---|'];
  for (const [what, url] of rows) lines.push(`| ${what} | ${await timed(url!, runs)} |`);
  if (process.argv.includes('--browser')) lines.push(...(await inBrowser(`${base}/`, Math.min(runs, 10))));
  process.stdout.write(`${lines.join('\n')}\n`);
  hub.close();
  await http.close(1000);
}

main().catch((err: unknown) => {
  process.stderr.write(`console bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
