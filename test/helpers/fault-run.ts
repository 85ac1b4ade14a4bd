/**
 * The seeded fault run, shared by the CI test
 * (`test/reliability/faults.test.ts`, short) and `npm run soak` (long).
 *
 * Writers put, update, heartbeat and delete nodes, change and delete group
 * documents, write leased nodes that expire, atomic multi-key transactions
 * and junk straight into etcd, while an injector breaks the link between
 * our server and etcd (TCP proxy: drops, a second drop during catch-up,
 * stalls, slow links, a block while etcd compacts) and etcd itself
 * (SIGKILL + restart on the same data dir). Checkpoints at random moments
 * compare the served `/v1/targets` at its advertised revision R with a
 * listing of etcd at R rendered by the same code, byte for byte; after
 * quiescing, the same must hold at the final revision.
 *
 * Seeded: the operations, the fault schedule and the checkpoint times
 * come from `seed`; the interleaving with real time does not.
 */
import { Etcd3, type IOptions } from 'etcd3';
import { prefixEnd } from '../../src/etcd/client.js';
import { EtcdSource } from '../../src/mirror/etcd-source.js';
import type { KeyValue } from '../../src/mirror/source.js';
import { formatGoTime, formatGroupDocument, formatNodeDocument, RegistryState, type NodeDocumentInput } from '../../src/registry/index.js';
import { startTestEtcd, type CleanupContext, type TestEtcd } from './etcd.js';
import { httpGet, useTestServer } from './server.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** Faults the injector knows. */
export const FAULT_KINDS = ['drop', 'drop_during_catch_up', 'stall', 'slow_link', 'compact_while_cut', 'compact_live', 'etcd_kill', 'silent_watch_death', 'burst_while_cut'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Operations the writers know. */
export const OP_KINDS = ['node_put', 'heartbeat', 'node_delete', 'leased_nodes', 'group_put', 'group_delete', 'txn', 'group_wipe', 'junk', 'large_document', 'other_app'] as const;
export type OpKind = (typeof OP_KINDS)[number];

const OP_WEIGHTS: Record<OpKind, number> = {
  node_put: 30, heartbeat: 25, node_delete: 10, leased_nodes: 8, group_put: 7, group_delete: 2, txn: 8, group_wipe: 1, junk: 3, large_document: 1, other_app: 10,
};
const FAULT_WEIGHTS: Record<FaultKind, number> = {
  drop: 3, drop_during_catch_up: 3, stall: 2, slow_link: 2, compact_while_cut: 2, compact_live: 1, etcd_kill: 2, silent_watch_death: 1, burst_while_cut: 1,
};

/** Options of {@link runFaultRun}. */
export interface FaultRunOptions {
  readonly seed: number;
  /** Length of the workload phase (faults and writes). */
  readonly durationMs: number;
  /** Groups written to. Default 12. */
  readonly groups?: number;
  /** Node ids per group. Default 12. */
  readonly nodesPerGroup?: number;
  /** Concurrent writers. Default 3. */
  readonly writers?: number;
  /** Upper bound of operations per second, all writers together. Default 120. */
  readonly opsPerSecond?: number;
  /** Gap between faults, [min, max] ms. Default [1500, 4000]. */
  readonly faultGapMs?: readonly [number, number];
  /** Gap between checkpoints, [min, max] ms. Default [300, 1500]. */
  readonly checkpointGapMs?: readonly [number, number];
  /** Fault kinds to draw from. Default all. */
  readonly faults?: readonly FaultKind[];
  /** Progress lines (faults, every 10 s a status line). Default: none. */
  readonly log?: (line: string) => void;
}

/** What one run saw. */
export interface FaultRunResult {
  readonly seed: number;
  readonly workloadMs: number;
  readonly ops: Record<OpKind, number>;
  /** Operations etcd refused or that failed while it was down (expected during faults). */
  readonly opErrors: number;
  readonly faults: Record<FaultKind, number>;
  /** `drop_during_catch_up` faults whose second drop hit before the backlog was applied. */
  readonly midCatchUpDrops: number;
  /** Longest time, per fault kind, from the fault's end until the served revision reached etcd's (-1: not within 60 s). */
  readonly maxRecoveryMs: Partial<Record<FaultKind, number>>;
  /** From the server's `etcd_http_sd_watch_events_total`. */
  readonly eventsApplied: { readonly put: number; readonly delete: number };
  /** From `etcd_http_sd_reloads_total`, by reason. */
  readonly reloads: Record<string, number>;
  readonly checkpoints: number;
  /** Checkpoints whose revision could not be listed any more (compacted, etcd down). */
  readonly checkpointsSkipped: number;
  /** Served body differed from the listing at its own revision (checkpoints + final). */
  readonly mismatches: number;
  readonly mismatchDetails: readonly string[];
  /** Served revision went backwards between two responses. */
  readonly revisionRegressions: number;
  /** `/readyz` or `/v1/targets` answered other than 200 after the first load. */
  readonly notReady: number;
  readonly finalRevision: number;
  readonly finalConverged: boolean;
  readonly finalTargets: number;
  readonly finalGroups: number;
  /** Store revisions written during the run. */
  readonly revisions: number;
}

/** mulberry32: a small, fast, seedable PRNG. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded choices. */
export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  weighted<K extends string>(weights: Readonly<Record<K, number>>, allowed: readonly K[]): K {
    const total = allowed.reduce((s, k) => s + weights[k], 0);
    let x = this.next() * total;
    for (const k of allowed) {
      x -= weights[k];
      if (x < 0) return k;
    }
    return allowed[allowed.length - 1]!;
  }
}

/** Lists `{prefix}/` at exactly `revision` (paged) and renders it as `/v1/targets` would. Rejects if compacted. */
export async function renderAtRevision(client: Etcd3, prefix: string, revision: number, pageSize = 500): Promise<string> {
  const state = new RegistryState(prefix);
  const apply = (kvs: readonly KeyValue[]): void => {
    for (const kv of kvs) state.apply({ type: 'put', key: kv.key, value: kv.value });
  };
  await new EtcdSource(client, prefix, pageSize).list(apply, () => undefined, revision);
  return state.snapshot().body;
}

/** Reads one sample of a Prometheus text metric; 0 when absent. */
export function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels === '' ? '' : `{${labels}}`} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** A cleanup list for callers without node:test (the soak): `after()` registers, `run()` runs them in reverse. */
export class Cleanup implements CleanupContext {
  private readonly fns: (() => unknown)[] = [];
  after(fn: () => unknown): void {
    this.fns.push(fn);
  }
  async run(): Promise<void> {
    while (this.fns.length > 0) {
      try {
        await this.fns.pop()!();
      } catch {
        // best effort: the rest must still run
      }
    }
  }
}

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;

/**
 * The test's own client to etcd (writers, listings, compaction): no
 * circuit breaker, so the test sees etcd as soon as it is back and its
 * figures measure the server, not etcd3's 5 s breaker on our side.
 */
export function directClient(endpoints: readonly string[], callTimeoutMs = 2000): Etcd3 {
  // Pass-through policy: etcd3 only calls `execute`.
  const passThrough = { execute: async <T>(fn: (ctx: { signal: AbortSignal }) => T) => fn({ signal: new AbortController().signal }) } as unknown as HostPolicy;
  return new Etcd3({
    hosts: [...endpoints],
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    faultHandling: { host: () => passThrough },
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const PREFIX = '/services';
const GROUP_NAMES = ['web', 'web-canary', 'db', 'db_1', 'api', 'api-v2', 'cache', 'queue', 'search', 'edge', 'auth', 'batch', 'logs', 'mail', 'ml', 'ci'];
const EXPORTERS = ['node_exporter', 'postgres_exporter', 'blackbox_exporter'];
/** Leases live 1-2 s (a restart of etcd extends them a little): older ones need no revoke at the end. */
const LEASE_MEMORY_MS = 15_000;

function groupNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => GROUP_NAMES[i] ?? `g${i}`);
}

interface Known {
  doc: NodeDocumentInput;
  lease?: string;
}

/** The writers: seeded operations straight into etcd, each writer with its own PRNG stream. */
class Workload {
  readonly ops = Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as Record<OpKind, number>;
  opErrors = 0;
  /** Leases granted in the last {@link LEASE_MEMORY_MS}, by id, with their grant time (older ones have expired). */
  readonly leases = new Map<string, number>();
  private readonly known = new Map<string, Known>();
  private readonly groups: string[];

  constructor(
    private readonly client: Etcd3,
    private readonly opts: Required<Pick<FaultRunOptions, 'groups' | 'nodesPerGroup' | 'writers' | 'opsPerSecond'>>,
  ) {
    this.groups = groupNames(opts.groups);
  }

  async writer(rng: Rng, until: () => boolean): Promise<void> {
    const periodMs = (1000 * this.opts.writers) / this.opts.opsPerSecond;
    while (!until()) {
      const started = Date.now();
      const kind = rng.weighted(OP_WEIGHTS, OP_KINDS);
      try {
        await this.op(kind, rng);
        this.ops[kind]++;
      } catch {
        this.opErrors++;
        await sleep(50); // etcd down or the lease gone: carry on
      }
      await sleep(Math.max(0, periodMs - (Date.now() - started)));
    }
  }

  private remember(lease: string): void {
    const now = Date.now();
    for (const [id, at] of this.leases) {
      if (now - at < LEASE_MEMORY_MS) break;
      this.leases.delete(id);
    }
    this.leases.set(lease, now);
  }

  private slot(rng: Rng): { group: string; key: string; id: string; exporter: string } {
    const group = rng.pick(this.groups);
    const n = rng.int(0, this.opts.nodesPerGroup - 1);
    const id = `${group}-${n}`;
    const exporter = EXPORTERS[n % EXPORTERS.length]!;
    return { group, id, exporter, key: `${PREFIX}/${group}/nodes/${id}_${exporter}` };
  }

  private nodeDoc(rng: Rng, id: string, exporter: string): NodeDocumentInput {
    const labels: Record<string, string> = {};
    if (rng.float() < 0.7) labels['zone'] = rng.pick(['a', 'b', 'c']);
    if (rng.float() < 0.3) labels['role'] = rng.pick(['primary', 'replica', '']);
    if (rng.float() < 0.1) labels[rng.pick(['bad-name', '1st', '__address__', 'env'])] = rng.pick(['x', 'prod']);
    const doc: NodeDocumentInput = {
      id, exporterType: exporter, port: rng.pick([9100, 9101, 9187, 9115, rng.int(1024, 65535)]),
      metricsPath: rng.pick(['/metrics', '', '/probe']), labels,
      status: rng.float() < 0.9 ? 'healthy' : 'maintenance', lastSeen: formatGoTime(new Date(), rng.int(0, 999_999)),
    };
    return rng.float() < 0.2 ? { ...doc, address: `10.0.${rng.int(0, 9)}.${rng.int(1, 254)}:${doc.port}` } : doc;
  }

  private groupDoc(rng: Rng, name: string): string {
    const labels: Record<string, string> = {};
    if (rng.float() < 0.8) labels['environment'] = rng.pick(['production', 'staging']);
    if (rng.float() < 0.4) labels['zone'] = rng.pick(['a', 'b', 'eu']);
    if (rng.float() < 0.4) labels['team'] = rng.pick(['sre', 'data', 'web']);
    return formatGroupDocument({ name, username: 'scraper', password: `pw${rng.int(0, 99)}`, commonLabels: labels, created: formatGoTime(new Date()) });
  }

  private get c(): Etcd3 {
    return this.client;
  }

  private async put(key: string, value: string, lease?: string): Promise<void> {
    await this.c.kv.put({ key: Buffer.from(key), value: Buffer.from(value), ...(lease === undefined ? {} : { lease }) });
  }

  private async op(kind: OpKind, rng: Rng): Promise<void> {
    const s = this.slot(rng);
    switch (kind) {
      case 'node_put': {
        const doc = this.nodeDoc(rng, s.id, s.exporter);
        await this.put(s.key, formatNodeDocument(doc));
        this.known.set(s.key, { doc });
        return;
      }
      case 'heartbeat': {
        const k = this.known.get(s.key);
        const doc = k === undefined ? this.nodeDoc(rng, s.id, s.exporter) : { ...k.doc, lastSeen: formatGoTime(new Date(), rng.int(0, 999_999)) };
        await this.put(s.key, formatNodeDocument(doc), k?.lease);
        this.known.set(s.key, { doc, ...(k?.lease === undefined ? {} : { lease: k.lease }) });
        return;
      }
      case 'node_delete':
        this.known.delete(s.key);
        await this.c.kv.deleteRange({ key: Buffer.from(s.key) });
        return;
      case 'leased_nodes': {
        const grant = await this.c.leaseClient.leaseGrant({ TTL: rng.int(1, 2) });
        this.remember(grant.ID);
        for (let i = rng.int(1, 3); i > 0; i--) {
          const t = i === 1 ? s : this.slot(rng);
          const doc = this.nodeDoc(rng, t.id, t.exporter);
          await this.put(t.key, formatNodeDocument(doc), grant.ID);
          this.known.set(t.key, { doc, lease: grant.ID });
        }
        return;
      }
      case 'group_put':
        await this.put(`${PREFIX}/${s.group}`, this.groupDoc(rng, s.group));
        return;
      case 'group_delete':
        await this.c.kv.deleteRange({ key: Buffer.from(`${PREFIX}/${s.group}`) });
        return;
      case 'group_wipe': {
        const start = Buffer.from(`${PREFIX}/${s.group}/nodes/`);
        await this.c.kv.deleteRange({ key: start, range_end: prefixEnd(start) });
        return;
      }
      case 'txn':
        return this.txn(rng);
      case 'junk':
        return this.junk(rng, s);
      case 'large_document': {
        // Up to 1.2 MB (etcd takes 1.5 MiB): unknown fields are legal, so the node is served.
        const doc = JSON.stringify({ ...(JSON.parse(formatNodeDocument(this.nodeDoc(rng, s.id, s.exporter))) as object), note: 'x'.repeat(rng.int(100_000, 1_200_000)) });
        await this.put(s.key, doc);
        this.known.delete(s.key);
        return;
      }
      case 'other_app':
        // Another application sharing the etcd: moves the revision, never the registry.
        await this.put(`/other-app/k${rng.int(0, 99)}`, String(rng.int(0, 1e9)));
        return;
    }
  }

  // Several keys in one revision: the served state must show all of them or none.
  private async txn(rng: Rng): Promise<void> {
    const keys = new Map<string, { request_put?: { key: Buffer; value: Buffer }; request_delete_range?: { key: Buffer } }>();
    for (let i = rng.int(2, 5); i > 0; i--) {
      const s = this.slot(rng);
      if (rng.float() < 0.25) {
        keys.set(s.key, { request_delete_range: { key: Buffer.from(s.key) } });
      } else if (rng.float() < 0.2) {
        keys.set(`${PREFIX}/${s.group}`, { request_put: { key: Buffer.from(`${PREFIX}/${s.group}`), value: Buffer.from(this.groupDoc(rng, s.group)) } });
      } else {
        keys.set(s.key, { request_put: { key: Buffer.from(s.key), value: Buffer.from(formatNodeDocument(this.nodeDoc(rng, s.id, s.exporter))) } });
      }
    }
    await this.c.kv.txn({ compare: [], success: [...keys.values()], failure: [] });
  }

  // Documents the server must skip or ignore; sometimes removed again.
  private async junk(rng: Rng, s: { group: string; key: string }): Promise<void> {
    const key = rng.pick([s.key, `${PREFIX}/${s.group}/other/thing`, `${PREFIX}/bad name!/nodes/x_y`, `${PREFIX}-old/${s.group}/nodes/x_y`, `${PREFIX}/${s.group}/nodes/nojson_x`]);
    if (rng.float() < 0.3) await this.c.kv.deleteRange({ key: Buffer.from(key) });
    else await this.put(key, rng.pick(['not json {', '{"id":"x"}', '{"id":"x","exporter_type":"t","port":0}']));
    this.known.delete(key);
  }
}

interface Env {
  readonly etcd: TestEtcd;
  /** Breaker-free client for the test's own calls. */
  readonly client: Etcd3;
  readonly proxy: TcpProxy;
  readonly url: string;
  readonly connected: () => boolean;
  /** The server's applied revision. */
  readonly served: () => number;
  readonly log: (line: string) => void;
  /** Second drops that hit while the served revision was still behind the backlog. */
  midCatchUpDrops: number;
  /** Makes the server's etcd3 watchers stop delivering, as a watcher that died silently does. */
  readonly silenceWatch: () => void;
}

/**
 * etcd3's silent watcher death, made on purpose: the etcd3 watchers of the
 * server's source lose their `data` listeners, so events stop arriving while
 * the stream stays up. Reaches into the mirror and etcd3 internals (test-only):
 * Mirror.opts.source → EtcdSource.watchNs → etcd3 WatchManager.watchers.
 */
function silenceWatchers(mirror: unknown): void {
  interface Internals { opts?: { source?: { watchNs?: { watchManager?: { watchers?: { removeAllListeners(e: string): void }[] } } } } }
  for (const w of (mirror as Internals).opts?.source?.watchNs?.watchManager?.watchers ?? []) w.removeAllListeners('data');
}

/** The test's own etcd calls after a restart: etcd3's circuit breaker refuses calls for up to 5 s. */
async function retry<T>(fn: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await sleep(500);
    }
  }
}

async function writeBurst(client: Etcd3, rng: Rng): Promise<void> {
  const start = Buffer.from(`${PREFIX}/burst/nodes/`);
  await client.kv.deleteRange({ key: start, range_end: prefixEnd(start) });
  const note = 'b'.repeat(2400);
  const round = rng.int(0, 1e6);
  for (let i = 0; i < 2048; i += 128) {
    const ops = Array.from({ length: 128 }, (_, j) => {
      const id = `burst-${round}-${i + j}`;
      const value = formatNodeDocument({ id, exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: { note }, status: 'healthy', lastSeen: formatGoTime(new Date()) });
      return { request_put: { key: Buffer.from(`${PREFIX}/burst/nodes/${id}_node_exporter`), value: Buffer.from(value) } };
    });
    await client.kv.txn({ success: ops });
  }
}

async function currentRevision(client: Etcd3): Promise<number> {
  const res = await client.kv.range({ key: Buffer.from([0]), count_only: true });
  return Number(res.header.revision);
}

/** Compacts (physically) at the current revision + `offset` (<= 0). */
async function compact(env: Env, offset = 0): Promise<void> {
  const revision = Math.max(1, (await currentRevision(env.client)) + offset);
  await env.client.kv.compact({ revision, physical: true });
}

/** Ms from now until the server is connected and serves at least etcd's revision of now; -1 after 60 s. */
async function measureRecovery(env: Env, served: () => number): Promise<number> {
  const t0 = Date.now();
  let target: number;
  try {
    target = await retry(() => currentRevision(env.client));
  } catch {
    return -1;
  }
  return (await waitFor(() => env.connected() && served() >= target, 60_000)) ? Date.now() - t0 : -1;
}

/** Waits up to `ms` for `cond`, polling every 10 ms. */
async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (cond()) return true;
    await sleep(10);
  }
  return cond();
}

/**
 * Turns a slow link back to normal without reordering bytes: chunks already
 * queued with the delay must be written before any new chunk goes through
 * undelayed (the proxy's `setDelay(0)` alone would let later bytes overtake
 * them and corrupt the HTTP/2 stream; seen in the first runs).
 */
async function clearDelay(proxy: TcpProxy, delayMs: number): Promise<void> {
  proxy.pause();
  await sleep(delayMs + 100);
  proxy.setDelay(0);
  proxy.resume();
}

async function injectFault(kind: FaultKind, rng: Rng, env: Env): Promise<void> {
  const { proxy, etcd } = env;
  switch (kind) {
    case 'drop':
      proxy.dropAll();
      return;
    case 'drop_during_catch_up': {
      // Cut long enough for a backlog, slow the link so the replay takes a while, then cut again right after the re-watch attached.
      proxy.block();
      await waitFor(() => !env.connected(), 10_000);
      await sleep(rng.int(300, 1500));
      const backlog = await currentRevision(env.client).catch(() => 0);
      proxy.setDelay(rng.int(5, 30));
      proxy.unblock();
      await waitFor(env.connected, 15_000);
      await sleep(rng.int(0, 60));
      proxy.dropAll(); // the queued chunks die with their sockets: no reordering
      proxy.setDelay(0);
      if (env.served() < backlog) env.midCatchUpDrops++;
      return;
    }
    case 'stall':
      proxy.pause();
      await sleep(rng.int(1000, 3000));
      proxy.resume();
      return;
    case 'slow_link': {
      const delay = rng.int(20, 150);
      proxy.setDelay(delay);
      await sleep(rng.int(2000, 5000));
      await clearDelay(proxy, delay);
      return;
    }
    case 'compact_while_cut': {
      proxy.block();
      await waitFor(() => !env.connected(), 10_000);
      await sleep(rng.int(300, 800));
      try {
        await retry(() => compact(env));
      } finally {
        proxy.unblock();
      }
      return;
    }
    case 'burst_while_cut': {
      // While cut: the previous burst deleted in one revision, then about 5 MB of new nodes in 16
      // revisions, so the catch-up after the cut is one watch message far over 4 MiB.
      proxy.block();
      await waitFor(() => !env.connected(), 10_000);
      try {
        await retry(() => writeBurst(env.client, rng));
      } finally {
        proxy.unblock();
      }
      return;
    }
    case 'compact_live': {
      const back = rng.int(0, 50);
      await retry(async () => compact(env, -back));
      return;
    }
    case 'silent_watch_death':
      env.silenceWatch();
      return;
    case 'etcd_kill':
      await etcd.kill('SIGKILL');
      await sleep(rng.int(300, 2000));
      await etcd.restart();
      return;
  }
}

interface Checks {
  checkpoints: number;
  skipped: number;
  mismatches: number;
  regressions: number;
  notReady: number;
  lastRevision: number;
  readonly details: string[];
}

function describeMismatch(revision: number, served: string, expected: string): string {
  let i = 0;
  while (i < served.length && served[i] === expected[i]) i++;
  return `revision ${revision}: served ${served.length} B, listing ${expected.length} B, first difference at ${i}: served …${served.slice(Math.max(0, i - 60), i + 120)}… listing …${expected.slice(Math.max(0, i - 60), i + 120)}…`;
}

/** One comparison: served body at its revision R vs etcd listed at R. Returns whether it compared. */
async function checkpoint(env: Env, checks: Checks): Promise<boolean> {
  const res = await httpGet(`${env.url}/v1/targets`);
  const ready = await httpGet(`${env.url}/readyz`);
  if (res.status !== 200 || ready.status !== 200) {
    checks.notReady++;
    return false;
  }
  const revision = Number(res.headers['x-etcd-revision']);
  if (revision < checks.lastRevision) {
    checks.regressions++;
    if (checks.details.length < 20) checks.details.push(`served revision went back from ${checks.lastRevision} to ${revision}`);
  }
  checks.lastRevision = Math.max(checks.lastRevision, revision);
  let expected: string;
  try {
    expected = await renderAtRevision(env.client, PREFIX, revision);
  } catch {
    return false; // compacted (GRPCOutOfRangeError), or etcd down
  }
  if (expected !== res.text) {
    checks.mismatches++;
    if (checks.details.length < 20) checks.details.push(describeMismatch(revision, res.text, expected));
  }
  return true;
}

async function checkLoop(env: Env, rng: Rng, gap: readonly [number, number], until: () => boolean, checks: Checks): Promise<void> {
  while (!until()) {
    await sleep(rng.int(gap[0], gap[1]));
    try {
      if (await checkpoint(env, checks)) checks.checkpoints++;
      else checks.skipped++;
    } catch {
      checks.skipped++;
    }
  }
}

/** After the workload: no faults, every lease gone, then served == listing at the final revision. */
async function finalCheck(env: Env, checks: Checks, timeoutMs: number): Promise<{ converged: boolean; revision: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = { revision: 0, served: '', expected: '' };
  while (Date.now() < deadline) {
    try {
      const current = await currentRevision(env.client);
      const res = await httpGet(`${env.url}/v1/targets`);
      const revision = Number(res.headers['x-etcd-revision']);
      if (res.status === 200 && revision >= current) {
        const expected = await renderAtRevision(env.client, PREFIX, revision);
        if (expected === res.text) return { converged: true, revision, body: res.text };
        last = { revision, served: res.text, expected };
      }
    } catch {
      // etcd still settling after a restart
    }
    await sleep(200);
  }
  checks.mismatches++;
  checks.details.push(`final: did not converge within ${timeoutMs} ms; ${describeMismatch(last.revision, last.served, last.expected)}`);
  return { converged: false, revision: last.revision, body: last.served };
}

/** Runs the fault run; everything it starts is stopped before it returns (and by `ctx.after` if it is abandoned). */
export async function runFaultRun(ctx: CleanupContext, opts: FaultRunOptions): Promise<FaultRunResult> {
  const cleanup = new Cleanup();
  ctx.after(() => cleanup.run());
  try {
    return await run(cleanup, opts);
  } finally {
    await cleanup.run();
  }
}

async function run(cleanup: Cleanup, opts: FaultRunOptions): Promise<FaultRunResult> {
  const log = opts.log ?? (() => undefined);
  const etcd = await startTestEtcd();
  cleanup.after(() => etcd.stop());
  const proxy = await startTcpProxy(etcd.clientPort);
  cleanup.after(() => proxy.close());
  const logLines: string[] = [];
  const server = await useTestServer(cleanup, proxy.endpoint, { logLines });
  await server.mirror.whenReady();
  const client = directClient([etcd.endpoint]);
  cleanup.after(() => client.close());
  const env: Env = {
    etcd, client, proxy, url: server.url, log, midCatchUpDrops: 0, silenceWatch: () => silenceWatchers(server.mirror),
    connected: () => server.mirror.status().connected, served: () => server.mirror.revision,
  };
  const startRevision = await currentRevision(client);

  const workload = new Workload(client, {
    groups: opts.groups ?? 12, nodesPerGroup: opts.nodesPerGroup ?? 12, writers: opts.writers ?? 3, opsPerSecond: opts.opsPerSecond ?? 120,
  });
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const checks: Checks = { checkpoints: 0, skipped: 0, mismatches: 0, regressions: 0, notReady: 0, lastRevision: 0, details: [] };
  const started = Date.now();
  const endAt = started + opts.durationMs;
  const over = (): boolean => Date.now() >= endAt;

  const recoveries: Partial<Record<FaultKind, number[]>> = {};
  const pending: Promise<void>[] = [];
  const revisionOf = (): number => server.mirror.revision;
  const injector = async (rng: Rng): Promise<void> => {
    const kinds = opts.faults ?? FAULT_KINDS;
    const gap = opts.faultGapMs ?? [1500, 4000];
    const firstRound = [...kinds].sort(() => rng.float() - 0.5);
    while (!over()) {
      await sleep(rng.int(gap[0], gap[1]));
      if (over()) return;
      // Every kind once (seeded order), then drawn by weight.
      const kind = firstRound.pop() ?? rng.weighted(FAULT_WEIGHTS, kinds);
      const t0 = Date.now();
      try {
        await injectFault(kind, rng, env);
        faults[kind]++;
        const at = Math.round((Date.now() - started) / 1000);
        pending.push(measureRecovery(env, revisionOf).then((ms) => {
          (recoveries[kind] ??= []).push(ms);
          log(`fault ${kind} (${Date.now() - t0 - ms} ms) at +${at} s; served state caught up ${ms} ms after it ended`);
        }));
      } catch (err) {
        log(`fault ${kind} failed: ${String(err)}`);
      }
    }
  };
  const status = async (): Promise<void> => {
    while (!over()) {
      await sleep(Math.min(10_000, Math.max(10, endAt - Date.now())));
      const ops = Object.values(workload.ops).reduce((a, b) => a + b, 0);
      log(`+${Math.round((Date.now() - started) / 1000)} s: ops ${ops}, checkpoints ${checks.checkpoints}, mismatches ${checks.mismatches}`);
      logLines.splice(0, Math.max(0, logLines.length - 2000)); // bounded in long runs
    }
  };

  const master = new Rng(opts.seed);
  const seeds = Array.from({ length: (opts.writers ?? 3) + 2 }, () => master.int(1, 2 ** 31 - 1));
  await Promise.all([
    ...Array.from({ length: opts.writers ?? 3 }, (_, i) => workload.writer(new Rng(seeds[i]!), over)),
    injector(new Rng(seeds[seeds.length - 2]!)),
    checkLoop(env, new Rng(seeds[seeds.length - 1]!), opts.checkpointGapMs ?? [300, 1500], over, checks),
    status(),
  ]);
  const workloadMs = Date.now() - started;
  await Promise.all(pending);

  // Quiesce: heal everything, revoke what has not expired yet.
  proxy.resume();
  proxy.setDelay(0);
  proxy.unblock();
  if (etcd.pid === undefined) await etcd.restart();
  for (const id of workload.leases.keys()) await client.leaseClient.leaseRevoke({ ID: id }).catch(() => undefined);
  const final = await finalCheck(env, checks, 60_000);
  const metrics = (await httpGet(`${server.url}/metrics`)).text;
  const reloads: Record<string, number> = {};
  for (const reason of ['initial', 'compacted', 'watch_error']) reloads[reason] = metricValue(metrics, 'etcd_http_sd_reloads_total', `reason="${reason}"`);
  const parsed = final.converged ? (JSON.parse(final.body) as { labels: Record<string, string> }[]) : [];
  if (checks.mismatches > 0) log(`server log tail:\n${logLines.slice(-40).join('\n')}`);
  return {
    seed: opts.seed, workloadMs, ops: workload.ops, opErrors: workload.opErrors, faults, midCatchUpDrops: env.midCatchUpDrops,
    maxRecoveryMs: Object.fromEntries(Object.entries(recoveries).map(([k, v]) => [k, v.includes(-1) ? -1 : Math.max(...v)])),
    eventsApplied: {
      put: metricValue(metrics, 'etcd_http_sd_watch_events_total', 'type="put"'),
      delete: metricValue(metrics, 'etcd_http_sd_watch_events_total', 'type="delete"'),
    },
    reloads, checkpoints: checks.checkpoints, checkpointsSkipped: checks.skipped, mismatches: checks.mismatches,
    mismatchDetails: checks.details, revisionRegressions: checks.regressions, notReady: checks.notReady,
    finalRevision: final.revision, finalConverged: final.converged, finalTargets: parsed.length,
    finalGroups: new Set(parsed.map((g) => g.labels['__meta_etcd_group'])).size, revisions: final.revision - startRevision,
  };
}

/** One line with every figure of a run. */
export function formatSummary(r: FaultRunResult): string {
  const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);
  const list = (o: Record<string, number>): string => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `seed=${r.seed} workload=${Math.round(r.workloadMs / 1000)}s`,
    `ops=${sum(r.ops)} (${list(r.ops)}; failed during faults ${r.opErrors})`,
    `revisions=${r.revisions}`,
    `events_applied=${r.eventsApplied.put + r.eventsApplied.delete} (put ${r.eventsApplied.put}, delete ${r.eventsApplied.delete})`,
    `faults=${sum(r.faults)} (${list(r.faults)}; second drop before the backlog was applied ${r.midCatchUpDrops})`,
    `max_recovery_ms=(${list(r.maxRecoveryMs)})`,
    `reloads=(${list(r.reloads)})`,
    `checkpoints=${r.checkpoints} (skipped ${r.checkpointsSkipped})`,
    `mismatches=${r.mismatches} regressions=${r.revisionRegressions} not_ready=${r.notReady}`,
    `final: converged=${r.finalConverged} revision=${r.finalRevision} targets=${r.finalTargets} groups=${r.finalGroups}`,
  ].join(' ');
}
