// Rendering of the Prometheus scrape_configs document, and its settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { loadServeConfig } from '../../src/config/serve.js';
import { ConfigError } from '../../src/errors.js';
import {
  buildScrapeConfigs,
  configPathProblem,
  jobPrefixProblem,
  normalizeExternalUrl,
  passwordFiles,
  renderScrapeConfigs,
  type ScrapeGroup,
} from '../../src/scrape-config/index.js';

const GROUPS: ScrapeGroup[] = [
  { name: 'db' },
  { name: 'web', credentials: { username: 'scraper', password: 's3cret' } },
  { name: 'nopass', credentials: { username: 'only', password: '' } },
];
const URL_BASE = 'http://127.0.0.1:9911';

test('one job per group: http_sd at /v1/targets/<group>, basic_auth from the group', () => {
  const doc = buildScrapeConfigs(GROUPS, { externalUrl: URL_BASE, jobPrefix: 'etcd-sd-' });
  assert.deepEqual(doc, {
    scrape_configs: [
      { job_name: 'etcd-sd-db', http_sd_configs: [{ url: `${URL_BASE}/v1/targets/db` }] },
      {
        job_name: 'etcd-sd-web',
        http_sd_configs: [{ url: `${URL_BASE}/v1/targets/web` }],
        basic_auth: { username: 'scraper', password: 's3cret' },
      },
      { job_name: 'etcd-sd-nopass', http_sd_configs: [{ url: `${URL_BASE}/v1/targets/nopass` }], basic_auth: { username: 'only' } },
    ],
  });
  assert.deepEqual(buildScrapeConfigs([], { externalUrl: URL_BASE }), { scrape_configs: [] });
  assert.equal(buildScrapeConfigs(GROUPS, { externalUrl: URL_BASE }).scrape_configs[0]?.job_name, 'db', 'no prefix by default');
});

test('password files instead of inline passwords; SD credentials inline or from a file; CA file', () => {
  const doc = buildScrapeConfigs(GROUPS, {
    externalUrl: 'https://sd.local:8443/base',
    passwordDir: '/etc/prometheus/pw',
    sdAuth: { type: 'bearer', token: { file: '/etc/prometheus/sd.token' } },
    sdCaFile: '/etc/prometheus/sd-ca.pem',
  });
  assert.deepEqual(doc.scrape_configs[1], {
    job_name: 'web',
    http_sd_configs: [{
      url: 'https://sd.local:8443/base/v1/targets/web',
      authorization: { type: 'Bearer', credentials_file: '/etc/prometheus/sd.token' },
      tls_config: { ca_file: '/etc/prometheus/sd-ca.pem' },
    }],
    basic_auth: { username: 'scraper', password_file: '/etc/prometheus/pw/web.password' },
  });
  assert.doesNotMatch(JSON.stringify(doc), /s3cret/);
  assert.deepEqual(passwordFiles(GROUPS, '/etc/prometheus/pw'), [{ group: 'web', path: '/etc/prometheus/pw/web.password', password: 's3cret' }]);
  assert.deepEqual(passwordFiles(GROUPS, undefined), []);

  const inline = buildScrapeConfigs([{ name: 'a' }], { externalUrl: URL_BASE, sdAuth: { type: 'bearer', token: { inline: 'tok' } } });
  assert.deepEqual(inline.scrape_configs[0]?.http_sd_configs[0]?.authorization, { type: 'Bearer', credentials: 'tok' });
  const basic = buildScrapeConfigs([{ name: 'a' }], { externalUrl: URL_BASE, sdAuth: { type: 'basic', username: 'u', password: { inline: 'p' } } });
  assert.deepEqual(basic.scrape_configs[0]?.http_sd_configs[0]?.basic_auth, { username: 'u', password: 'p' });
  const basicFile = buildScrapeConfigs([{ name: 'a' }], { externalUrl: URL_BASE, sdAuth: { type: 'basic', username: 'u', password: { file: '/p' } } });
  assert.deepEqual(basicFile.scrape_configs[0]?.http_sd_configs[0]?.basic_auth, { username: 'u', password_file: '/p' });
});

// Strings YAML 1.1 (Prometheus's go-yaml v2) would read as booleans, numbers, null, or as syntax.
const NASTY = ['on', 'no', 'yes', 'off', 'y', 'N', 'NO', 'null', '~', '123', '0x1f', '1:20', '0b101', '1_000', '1e3', '.inf',
  '2001-12-14', 'x: y', '#', '# c', 'a #b', '- a', ' lead', 'trail ', "it's", 'a"b', '{a}', '[a]', '|', '>', '&x', '*x', '!x',
  '%x', '@x', '`x', '<<', '=', '', 'é', 'a\\b', 'tab\there', 'multi\nline'];

test('every string reads back unchanged under YAML 1.1, as Prometheus reads it', () => {
  const groups = NASTY.map((p, i) => ({ name: `g${i}`, credentials: { username: p === '' ? 'u' : p, password: p } }));
  const text = renderScrapeConfigs(groups, { externalUrl: URL_BASE, jobPrefix: '', sdAuth: { type: 'bearer', token: { inline: 'on' } } });
  for (const version of ['1.1', '1.2'] as const) {
    const back = parse(text, { version }) as { scrape_configs: { basic_auth: { username: string; password?: string }; http_sd_configs: { authorization: { credentials: string } }[] }[] };
    NASTY.forEach((p, i) => {
      const job = back.scrape_configs[i];
      assert.equal(job?.basic_auth.password ?? '', p, `password ${JSON.stringify(p)} (YAML ${version})`);
      assert.equal(job?.basic_auth.username, p === '' ? 'u' : p, `username ${JSON.stringify(p)} (YAML ${version})`);
      assert.equal(job.http_sd_configs[0]?.authorization.credentials, 'on');
    });
  }
  assert.match(text, /password: "on"/);
  assert.match(text, /password: "no"/);
  assert.doesNotMatch(text, /(:|-) [&*!]|^%/m, 'no anchors, aliases, tags or directives');
  assert.ok(text.split('\n').every((line) => line.length < 200), 'no line folding needed, none done');
});

test('the comment goes on top; the text is exactly what the fixtures expect', () => {
  const text = renderScrapeConfigs(GROUPS.slice(0, 2), {
    externalUrl: URL_BASE, jobPrefix: 'etcd-sd-', sdAuth: { type: 'bearer', token: { inline: 'sd-token' } }, comment: 'Generated.\nSecret.',
  });
  assert.equal(text, [
    '# Generated.',
    '# Secret.',
    '',
    'scrape_configs:',
    '  - job_name: etcd-sd-db',
    '    http_sd_configs:',
    '      - url: http://127.0.0.1:9911/v1/targets/db',
    '        authorization:',
    '          type: Bearer',
    '          credentials: sd-token',
    '  - job_name: etcd-sd-web',
    '    http_sd_configs:',
    '      - url: http://127.0.0.1:9911/v1/targets/web',
    '        authorization:',
    '          type: Bearer',
    '          credentials: sd-token',
    '    basic_auth:',
    '      username: scraper',
    '      password: s3cret',
    '',
  ].join('\n'));
});

test('option checks: external URL, job prefix, paths', () => {
  assert.deepEqual(normalizeExternalUrl('http://127.0.0.1:9911/'), { url: 'http://127.0.0.1:9911' });
  assert.deepEqual(normalizeExternalUrl('https://sd.example:443/a/b//'), { url: 'https://sd.example/a/b' });
  assert.deepEqual(normalizeExternalUrl('http://[::1]:9911'), { url: 'http://[::1]:9911' });
  for (const bad of ['127.0.0.1:9911', 'ftp://x', 'http://u:p@x', 'http://x/?a=1', 'http://x/#f', 'http://x/?', 'nope']) {
    assert.ok('problem' in normalizeExternalUrl(bad), bad);
  }
  assert.equal(jobPrefixProblem(''), undefined);
  assert.equal(jobPrefixProblem('etcd-sd_1.x:'), undefined);
  assert.ok(jobPrefixProblem('a b'));
  assert.ok(jobPrefixProblem('x'.repeat(65)));
  assert.equal(configPathProblem('/etc/x'), undefined);
  assert.match(configPathProblem('etc/x') ?? '', /absolute/);
  assert.match(configPathProblem('/etc/x\n') ?? '', /control/);
});

function configError(fn: () => unknown, setting: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof ConfigError && err.setting === setting && pattern.test(err.message));
}

test('scrape settings: loaded from flags, env and file; the route exists only with an admin token', () => {
  const fs: Record<string, string> = { admin: 'admin-tok\n', sd: 'sd-tok', pw: 'basic-pw', 'c.yml': 'scrape_configs:\n  job_prefix: "etcd-sd-"\n  password_dir: /pw/\n' };
  const read = (p: string): Buffer => {
    const v = fs[p];
    if (v === undefined) throw new Error(`ENOENT ${p}`);
    return Buffer.from(v);
  };
  assert.equal(loadServeConfig(['--scrape-job-prefix', 'x-'], {}, read).scrapeConfigs, undefined);
  const c = loadServeConfig(['--config', 'c.yml', '--admin-token-file', 'admin', '--auth-bearer-token-file', 'sd', '--external-url', 'http://127.0.0.1:1/'], {}, read);
  assert.deepEqual(c.scrapeConfigs, {
    adminToken: 'admin-tok',
    defaults: { jobPrefix: 'etcd-sd-', externalUrl: 'http://127.0.0.1:1', passwordDir: '/pw', sdAuth: { type: 'bearer', token: { inline: 'sd-tok' } } },
  });
  const basic = loadServeConfig(['--admin-token-file', 'admin', '--auth-basic-username', 'u', '--auth-basic-password-file', 'pw', '--scrape-sd-credentials-file', '/etc/p'], {}, read);
  assert.deepEqual(basic.scrapeConfigs?.defaults.sdAuth, { type: 'basic', username: 'u', password: { file: '/etc/p' } });
  const env = loadServeConfig([], { ETCD_HTTP_SD_ADMIN_TOKEN_FILE: 'admin', ETCD_HTTP_SD_SCRAPE_SD_CA_FILE: '/ca.pem' }, read);
  assert.deepEqual(env.scrapeConfigs?.defaults, { jobPrefix: '', sdCaFile: '/ca.pem' });

  configError(() => loadServeConfig(['--scrape-job-prefix', 'a b'], {}, read), '--scrape-job-prefix', /letters, digits/);
  configError(() => loadServeConfig(['--external-url', 'x:1'], {}, read), '--external-url', /http:\/\//);
  configError(() => loadServeConfig(['--scrape-password-dir', 'rel'], {}, read), '--scrape-password-dir', /absolute/);
  configError(() => loadServeConfig(['--scrape-sd-credentials-file', '/x'], {}, read), '--scrape-sd-credentials-file', /take no credentials/);
  configError(() => loadServeConfig(['--config', 'y.yml'], {}, (p) => (p === 'y.yml' ? Buffer.from('scrape_configs:\n  job_prefx: x\n') : read(p))), 'y.yml:2:3: scrape_configs.job_prefx', /unknown key/);
});
