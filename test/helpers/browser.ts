/**
 * Debian's chromium driven by playwright-core: never a browser download,
 * headless, no background traffic, a fresh profile per launch (removed after).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import type { CleanupContext } from './etcd.js';

/** The browser binary; override with env `CHROMIUM_BIN`. */
export const CHROMIUM_BIN = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches chromium with a fresh `--user-data-dir` (a persistent context is how playwright passes one). */
export async function useBrowser(t: CleanupContext, opts: { httpCredentials?: { username: string; password: string } } = {}): Promise<BrowserContext> {
  const profile = await mkdtemp(join(tmpdir(), 'etcd-http-sd-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    ...(opts.httpCredentials === undefined ? {} : { httpCredentials: opts.httpCredentials }),
  });
  t.after(async () => {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  });
  return context;
}
