/**
 * A real etcd for one size of the benchmark, and the fast bulk write of the
 * registry into it: transactions of up to 128 puts (etcd's default
 * `--max-txn-ops`), several in flight, each group's nodes under one long lease.
 */
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../src/etcd/client.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import type { Cleanup } from './cleanup.js';
import { entries, leaseIdOf, type Layout } from './dataset.js';

/** etcd flags added to the tests' fast ones: room for the data, no mid-run snapshotting. */
export const BENCH_ETCD_FLAGS: readonly string[] = ['--quota-backend-bytes=4294967296', '--snapshot-count=1000000'];

/** TTL of the nodes' leases; longer than any run, so they need no keep-alive. */
export const NODE_LEASE_TTL_S = 3600;

const TXN_OPS = 128;
const TXNS_IN_FLIGHT = 8;

/** A started etcd with a client that has generous deadlines for bulk work. */
export interface BenchEtcd {
  readonly etcd: TestEtcd;
  readonly endpoint: string;
  readonly client: Etcd3;
}

/** Starts etcd (fresh data dir under the OS temp dir) and registers its stop with `cleanup`. */
export async function startBenchEtcd(cleanup: Cleanup): Promise<BenchEtcd> {
  const etcd = await startTestEtcd({ extraArgs: BENCH_ETCD_FLAGS });
  cleanup.after(() => etcd.stop());
  const client = createEtcdClient({ endpoints: [etcd.endpoint], callTimeoutMs: 60_000 });
  cleanup.after(() => client.close());
  return { etcd, endpoint: etcd.endpoint, client };
}

/** What writing the registry took. */
export interface PopulateResult {
  readonly keys: number;
  readonly ms: number;
  readonly revision: number;
  /** Leases granted: one per group (`leaseIdOf`). */
  readonly leases: number;
}

/** Writes every group and node of `layout`, each group's nodes under the group's lease. */
export async function populate(client: Etcd3, layout: Layout): Promise<PopulateResult> {
  const started = performance.now();
  let granted = 0;
  const grantWorker = async (): Promise<void> => {
    while (granted < layout.groups) await client.leaseClient.leaseGrant({ ID: leaseIdOf(granted++), TTL: NODE_LEASE_TTL_S });
  };
  await Promise.all(Array.from({ length: TXNS_IN_FLIGHT }, grantWorker));
  const source = entries(layout, new Date());
  let keys = 0;
  let revision = 0;
  interface Entry { key: string; value: string; lease?: string }
  const nextBatch = (): Entry[] => {
    const batch: Entry[] = [];
    for (let r = source.next(); !r.done; r = source.next()) {
      batch.push(r.value);
      if (batch.length === TXN_OPS) break;
    }
    return batch;
  };
  const worker = async (): Promise<void> => {
    for (let batch = nextBatch(); batch.length > 0; batch = nextBatch()) {
      const res = await client.kv.txn({
        success: batch.map((e) => ({
          request_put: { key: Buffer.from(e.key), value: Buffer.from(e.value), ...(e.lease !== undefined ? { lease: e.lease } : {}) },
        })),
      });
      keys += batch.length;
      revision = Math.max(revision, Number(res.header.revision));
    }
  };
  await Promise.all(Array.from({ length: TXNS_IN_FLIGHT }, worker));
  return { keys, ms: performance.now() - started, revision, leases: layout.groups };
}
