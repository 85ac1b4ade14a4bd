import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, nullLogger, type LogLevel } from '../../src/log.js';

function capture(level: LogLevel = 'debug'): { lines: Record<string, unknown>[]; log: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level,
    write: (line) => {
      assert.ok(!line.includes('\n'), 'one line per call');
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  return { lines, log };
}

test('writes one JSON object per call with ts, level, msg and fields', () => {
  const { lines, log } = capture();
  log.info('started', { port: 9911, endpoints: ['http://a:1'] });
  assert.equal(lines.length, 1);
  const [line] = lines;
  assert.deepEqual(Object.keys(line ?? {}), ['ts', 'level', 'msg', 'port', 'endpoints']);
  assert.equal(line?.['level'], 'info');
  assert.equal(line['msg'], 'started');
  assert.equal(line['port'], 9911);
  assert.deepEqual(line['endpoints'], ['http://a:1']);
  assert.ok(!Number.isNaN(Date.parse(String(line['ts']))));
  assert.equal(new Date(String(line['ts'])).toISOString(), line['ts']);
});

test('drops lines below the level', () => {
  const { lines, log } = capture('warn');
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  assert.deepEqual(
    lines.map((l) => l['level']),
    ['warn', 'error'],
  );
});

test('redacts secret-looking keys, also in nested objects and arrays', () => {
  const { lines, log } = capture();
  log.info('conn', {
    password: 'hunter2',
    etcd: { username: 'u', password: 'hunter2', tls: { clientSecret: 's' } },
    items: [{ token: 't', ok: 1 }],
    Authorization: 'Bearer x',
    passwordFile: '/run/secret',
    pass: 'p',
  });
  const line = lines[0] ?? {};
  const text = JSON.stringify(line);
  for (const secret of ['hunter2', 'Bearer', '/run/secret', '"s"', '"t"', '"p"']) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
  assert.equal(line['password'], '[redacted]');
  assert.deepEqual(line['etcd'], { username: 'u', password: '[redacted]', tls: { clientSecret: '[redacted]' } });
  assert.deepEqual(line['items'], [{ token: '[redacted]', ok: 1 }]);
  assert.equal(line['Authorization'], '[redacted]');
});

test('renders errors as their message', () => {
  const { lines, log } = capture();
  log.error('failed', { err: new Error('boom'), nested: { cause: new TypeError('bad') } });
  assert.equal(lines[0]?.['err'], 'boom');
  assert.deepEqual(lines[0]['nested'], { cause: 'bad' });
});

test('child loggers add fields; call fields win', () => {
  const { lines, log } = capture();
  const child = log.child({ component: 'mirror', n: 1 }).child({ m: 2 });
  child.info('x', { n: 3 });
  assert.equal(lines[0]?.['component'], 'mirror');
  assert.equal(lines[0]['n'], 3);
  assert.equal(lines[0]['m'], 2);
});

test('fields cannot overwrite ts, level or msg', () => {
  const { lines, log } = capture();
  log.info('real', { msg: 'fake', level: 'error' });
  assert.equal(lines[0]?.['msg'], 'real');
  assert.equal(lines[0]['level'], 'info');
  assert.equal(lines[0]['field_msg'], 'fake');
});

test('never throws on awkward values', () => {
  const { lines, log } = capture();
  const loop: Record<string, unknown> = { a: 1 };
  loop['self'] = loop;
  const shared = { k: 1 };
  log.info('odd', { big: 10n, loop, buf: Buffer.from('secret key'), twice: [shared, shared], undef: undefined });
  const line = lines[0] ?? {};
  assert.equal(line['big'], '10');
  assert.deepEqual(line['loop'], { a: 1, self: '[circular]' });
  assert.equal(line['buf'], '[10 bytes]');
  assert.deepEqual(line['twice'], [{ k: 1 }, { k: 1 }]);
  assert.ok(!('undef' in line));
});

test('nullLogger writes nothing and its children neither', () => {
  nullLogger.info('x', { password: 'p' });
  nullLogger.child({ a: 1 }).error('y');
  assert.equal(nullLogger.child({}), nullLogger);
});

test('defaults to stderr', (t) => {
  const writes: string[] = [];
  t.mock.method(process.stderr, 'write', (chunk: string) => {
    writes.push(chunk);
    return true;
  });
  createLogger({ level: 'info' }).info('to stderr');
  t.mock.restoreAll();
  assert.equal(writes.length, 1);
  assert.match(writes[0] ?? '', /"msg":"to stderr"\}\n$/);
});
