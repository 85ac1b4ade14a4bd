// The console in a real browser (Debian's chromium, headless) against a live server and a real
// etcd: fixture groups listed, search, a skipped document's reason, an explanation, and nodes
// registered and deleted while the page is open appearing and going without a reload.
// Screenshots go to test-artifacts/console/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { useBrowser } from '../helpers/browser.js';
import { useTestEtcd } from '../helpers/etcd.js';
import { CONSOLE_GROUP_PASSWORD, consoleNode, PREFIX, putConsoleFixtures } from '../helpers/console-fixtures.js';
import { repoRoot } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const USER = 'operator';
const PASSWORD = 'console-basic-pw-T6nR3';
const ARTIFACTS = join(repoRoot(), 'test-artifacts', 'console');

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

function nodeRow(page: Page, node: string): ReturnType<Page['locator']> {
  return page.locator(`#nodes tbody tr[data-node="${node}"]`);
}

test('the console lists, searches, explains and follows the registry live', async (t) => {
  await mkdir(ARTIFACTS, { recursive: true });
  const etcd = await useTestEtcd(t);
  await putConsoleFixtures(etcd.client());
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-console-e2e-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'basic.pw'), PASSWORD, { mode: 0o600 });
  const server = await useTestServer(t, etcd.endpoint, { args: ['--auth-basic-username', USER, '--auth-basic-password-file', join(dir, 'basic.pw')] });
  await server.mirror.whenReady();

  // A browser context without credentials (navigation would only show chromium's auth error page).
  const anonymous = await useBrowser(t);
  assert.equal((await anonymous.request.get(`${server.url}/`)).status(), 401, 'the console needs the SD credentials');

  const browser = await useBrowser(t, { httpCredentials: { username: USER, password: PASSWORD } });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('response', (res) => {
    if (res.status() >= 400) errors.push(`${res.status()} ${res.url()}`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  assert.equal((await page.goto(`${server.url}/`))?.status(), 200);
  await page.locator('body[data-live="on"]').waitFor();
  await page.evaluate(() => {
    (globalThis as unknown as { marker: string }).marker = 'same page';
  });

  assert.deepEqual(await page.locator('#groups tbody tr').evaluateAll((rows: unknown[]) => rows.map((r) => (r as { getAttribute(name: string): string | null }).getAttribute('data-group'))), ['akash', 'web']);
  assert.equal(await page.locator('#groups tbody tr[data-group="web"] td').nth(1).textContent(), '2');
  const invalid = page.locator('#invalid tbody');
  assert.match(await invalid.innerText(), new RegExp(`${PREFIX}/akash/nodes/broken\\s+invalid_json`));
  assert.match(await invalid.innerText(), /noport_x\s+invalid_port/);
  await shot(page, '1-loaded');

  await page.fill('input[name="id"]', 'abc');
  await page.click('#search button[type="submit"]');
  await page.locator('#pager', { hasText: '(1 nodes)' }).waitFor();
  assert.equal(await page.locator('#nodes tbody tr').count(), 1);
  assert.equal(await nodeRow(page, 'abc_metrics_exporter').locator('td').nth(3).textContent(), 'abc.ingress.example.net:31080');
  await nodeRow(page, 'abc_metrics_exporter').locator('a.node-link').click();
  const explanation = page.locator('#explain');
  await explanation.waitFor();
  assert.match(await explanation.innerText(), /Address rule: ingress_host_label → abc\.ingress\.example\.net:31080/);
  assert.match(await explanation.innerText(), /exporter_type\s+overridden/);
  assert.match(await explanation.innerText(), /scrape credentials: password only/);
  await shot(page, '2-search-and-explain');

  await page.fill('input[name="id"]', '');
  await page.click('#search button[type="submit"]');
  await page.locator('#pager', { hasText: '(3 nodes)' }).waitFor();
  await etcd.client().put(`${PREFIX}/web/nodes/web-9_node_exporter`).value(consoleNode('web-9', 'node_exporter', 9109)).exec();
  await nodeRow(page, 'web-9_node_exporter').waitFor();
  assert.equal(await page.locator('#groups tbody tr[data-group="web"] td').nth(1).textContent(), '3');
  await shot(page, '3-node-registered');
  await etcd.client().delete().key(`${PREFIX}/web/nodes/web-9_node_exporter`).exec();
  await nodeRow(page, 'web-9_node_exporter').waitFor({ state: 'detached' });
  await page.locator('#pager', { hasText: '(3 nodes)' }).waitFor();

  assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker), 'same page', 'no reload happened');
  const html = await page.content();
  assert.ok(!html.includes(CONSOLE_GROUP_PASSWORD) && !html.includes('pw-akash-Q1') && !html.includes(PASSWORD), 'no secret in the page');
  assert.deepEqual(errors, [], 'no script error');
  await shot(page, '4-node-deleted');
});
