import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEtcdClient } from '../../src/etcd/client.js';
import {
  startEmbeddedEtcd,
  type EmbeddedEtcd,
  type EmbeddedEtcdExit,
  type EmbeddedEtcdOptions,
  type EmbeddedEtcdRestart,
} from '../../src/etcd/embedded.js';
import { EtcdHttpSdError, TimeoutError } from '../../src/errors.js';
import { ETCD_BIN } from '../helpers/etcd.js';
import { freePorts, isPortFree } from '../helpers/ports.js';

/** A temp dir removed after the test. */
async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-embedded-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function baseOptions(t: TestContext): Promise<EmbeddedEtcdOptions> {
  const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
  const dir = await tempDir(t);
  return { binary: ETCD_BIN, dataDir: join(dir, 'nested', 'data'), clientPort, peerPort, readyTimeoutMs: 15_000 };
}

/** Starts embedded etcd and registers its close() before anything can fail. */
async function start(t: TestContext, opts: EmbeddedEtcdOptions): Promise<EmbeddedEtcd> {
  const etcd = await startEmbeddedEtcd(opts);
  t.after(() => etcd.close());
  return etcd;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: timed out`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

test('embedded etcd starts on loopback, serves put/get and stops cleanly', async (t) => {
  const opts = await baseOptions(t);
  const etcd = await start(t, opts);
  assert.equal(etcd.endpoint, `http://127.0.0.1:${opts.clientPort}`);
  assert.ok((await stat(opts.dataDir)).isDirectory(), 'data dir created with mkdir -p');
  const pid = etcd.pid;
  assert.ok(pid !== undefined && processAlive(pid));

  const client = createEtcdClient({ endpoints: [etcd.endpoint], callTimeoutMs: 2000 });
  t.after(() => client.close());
  await client.put('/embedded/k').value('v1');
  assert.equal(await client.get('/embedded/k').string(), 'v1');
  client.close();

  const exits: EmbeddedEtcdExit[] = [];
  etcd.on('exit', (info) => exits.push(info));
  await etcd.close();
  await etcd.close(); // idempotent
  assert.equal(etcd.pid, undefined);
  assert.equal(processAlive(pid), false, 'etcd process is gone');
  assert.equal(await isPortFree(opts.clientPort), true, 'client port released');
  assert.equal(await isPortFree(opts.peerPort), true, 'peer port released');
  assert.equal(exits.length, 1);
  assert.equal(exits[0]?.expected, true);
});

test('a missing etcd binary gives ETCD_BINARY_MISSING with install advice', async (t) => {
  const opts = await baseOptions(t);
  for (const binary of ['etcd-http-sd-no-such-binary', '/nonexistent/dir/etcd']) {
    await assert.rejects(startEmbeddedEtcd({ ...opts, binary }), (err: unknown) => {
      assert.ok(err instanceof EtcdHttpSdError);
      assert.equal(err.code, 'ETCD_BINARY_MISSING');
      assert.match(err.message, new RegExp(binary.replace(/[/.]/g, '\\$&')));
      assert.match(err.message, /apt-get install etcd-server/);
      assert.match(err.message, /--etcd-binary/);
      return true;
    });
  }
});

test('a taken client port gives EMBEDDED_ETCD_FAILED', async (t) => {
  const opts = await baseOptions(t);
  const blocker = createServer((sock) => sock.destroy()); // an unread socket would keep close() waiting
  blocker.listen(opts.clientPort, '127.0.0.1');
  await once(blocker, 'listening');
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  await assert.rejects(startEmbeddedEtcd(opts), (err: unknown) => {
    assert.ok(err instanceof EtcdHttpSdError);
    assert.equal(err.code, 'EMBEDDED_ETCD_FAILED');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${opts.clientPort}`));
    return true;
  });
});

test('a binary that exits during startup gives EMBEDDED_ETCD_FAILED', async (t) => {
  const opts = await baseOptions(t);
  await assert.rejects(startEmbeddedEtcd({ ...opts, binary: '/bin/false' }), (err: unknown) => {
    assert.ok(err instanceof EtcdHttpSdError);
    assert.equal(err.code, 'EMBEDDED_ETCD_FAILED');
    assert.match(err.message, /exited during startup \(code 1/);
    return true;
  });
});

test('etcd exiting during startup: the error quotes the tail of its stderr', async (t) => {
  const opts = await baseOptions(t);
  await mkdir(opts.dataDir, { recursive: true });
  await writeFile(join(opts.dataDir, 'member'), 'not a directory');
  await assert.rejects(startEmbeddedEtcd(opts), (err: unknown) => {
    assert.ok(err instanceof EtcdHttpSdError);
    assert.equal(err.code, 'EMBEDDED_ETCD_FAILED');
    assert.match(err.message, /exited during startup/);
    assert.match(err.message, /failed to create snapshot directory/);
    return true;
  });
});

test('not healthy within readyTimeoutMs: EMBEDDED_ETCD_FAILED caused by a TimeoutError, etcd killed', async (t) => {
  const opts = await baseOptions(t);
  await assert.rejects(startEmbeddedEtcd({ ...opts, readyTimeoutMs: 1 }), (err: unknown) => {
    assert.ok(err instanceof EtcdHttpSdError);
    assert.equal(err.code, 'EMBEDDED_ETCD_FAILED');
    assert.match(err.message, /did not become healthy within 1 ms/);
    assert.ok(err.cause instanceof TimeoutError);
    return true;
  });
  assert.equal(await isPortFree(opts.clientPort), true, 'the half-started etcd was killed');
});

test('supervision: a SIGKILLed etcd is restarted on the same data dir', async (t) => {
  const opts = await baseOptions(t);
  const etcd = await start(t, { ...opts, restartBackoff: { initialMs: 50, maxMs: 1000 } });
  const client = createEtcdClient({ endpoints: [etcd.endpoint], callTimeoutMs: 2000 });
  t.after(() => client.close());
  await client.put('/embedded/survives').value('yes');
  client.close();

  const firstPid = etcd.pid;
  assert.ok(firstPid !== undefined);
  const exited = once(etcd, 'exit') as Promise<[EmbeddedEtcdExit]>;
  const restarted = once(etcd, 'restarted') as Promise<[EmbeddedEtcdRestart]>;
  process.kill(firstPid, 'SIGKILL');

  const [exit] = await withTimeout(exited, 5000, 'exit event');
  assert.equal(exit.expected, false);
  assert.equal(exit.signal, 'SIGKILL');
  const [info] = await withTimeout(restarted, 20_000, 'restarted event');
  assert.notEqual(info.pid, firstPid);
  assert.equal(etcd.pid, info.pid);
  assert.equal(info.attempt, 1);

  const after = createEtcdClient({ endpoints: [etcd.endpoint], callTimeoutMs: 2000 });
  t.after(() => after.close());
  assert.equal(await after.get('/embedded/survives').string(), 'yes');
  after.close();

  await etcd.close();
  assert.equal(processAlive(info.pid), false);
});

test('supervision: a failed restart is retried with backoff', async (t) => {
  const opts = await baseOptions(t);
  const etcd = await start(t, { ...opts, restartBackoff: { initialMs: 100, maxMs: 400 } });
  const pid = etcd.pid;
  assert.ok(pid !== undefined);

  const blocker = createServer((sock) => sock.destroy()); // an unread socket would keep close() waiting
  t.after(() => new Promise<void>((resolve) => (blocker.listening ? blocker.close(() => resolve()) : resolve())));
  const failed = once(etcd, 'restartFailed') as Promise<[Error]>;
  const restarted = once(etcd, 'restarted') as Promise<[EmbeddedEtcdRestart]>;
  let blocked = false;
  etcd.on('exit', () => {
    // Take the client port while etcd is down so the first restart fails (once only).
    if (blocked) return;
    blocked = true;
    blocker.listen(opts.clientPort, '127.0.0.1');
  });
  process.kill(pid, 'SIGKILL');

  const [err] = await withTimeout(failed, 10_000, 'restartFailed event');
  assert.ok(err instanceof EtcdHttpSdError);
  assert.equal(err.code, 'EMBEDDED_ETCD_FAILED');
  assert.match(err.message, /address already in use/);
  await new Promise<void>((resolve) => blocker.close(() => resolve()));

  const [info] = await withTimeout(restarted, 20_000, 'restarted event');
  assert.ok(info.attempt >= 2);
  assert.equal(etcd.pid, info.pid);
});
