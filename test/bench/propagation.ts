/**
 * Phase 2: propagation, from a change in etcd to our server serving it, as
 * `X-Etcd-Revision` shows: HEAD `/v1/targets/<group>` is polled back to
 * back over keep-alive until the served revision reaches the change's.
 *
 * - put / delete: from sending the etcd request to the first answer showing
 *   its revision (so etcd's commit is included);
 * - lease expiry: etcd picks the moment, so the clock starts when a watcher
 *   of our own sees the delete, and stops when the server serves it.
 *
 * The poll's round trip bounds the resolution; its median is reported.
 */
import type { Etcd3, IWatchResponse } from 'etcd3';
import { formatGoTime, formatNodeDocument, nodeKey } from '../../src/registry/index.js';
import { PREFIX } from './dataset.js';
import { RevisionPoller } from './http.js';
import { median, sleep, summarize, type LatencySummary } from './stats.js';

/** Figures of one condition. */
export interface PropagationFigures {
  readonly put: LatencySummary;
  readonly delete: LatencySummary;
  readonly leaseExpiry: LatencySummary;
  /** etcd's own part of a put: request sent → acknowledged (median, ms). */
  readonly etcdPutAckMs: number | undefined;
  /** Median round trip of one poll: the measurement's resolution. */
  readonly pollRttMs: number | undefined;
  /** Samples the server did not serve within 10 s. */
  readonly timeouts: number;
  /** Samples lost to an etcd or HTTP error (counted, not fatal). */
  readonly failures: number;
  readonly firstFailure?: string;
}

/** How to run one condition. */
export interface PropagationOptions {
  readonly samples: number;
  readonly leaseSamples: number;
  /** Upper bound of the put/delete part. */
  readonly maxMs: number;
}

const SAMPLE_TIMEOUT_MS = 10_000;

function probeDoc(id: string): string {
  return formatNodeDocument({
    id, exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics',
    labels: { instance: id, role: 'probe' }, status: 'healthy', lastSeen: formatGoTime(new Date()),
  });
}

/** Measures put, delete and lease-expiry propagation into `group` of the server at `url`. */
export async function measurePropagation(client: Etcd3, url: string, group: string, tag: string, opts: PropagationOptions): Promise<PropagationFigures> {
  const poller = new RevisionPoller(`${url}/v1/targets/${group}`);
  try {
    const put: number[] = [];
    const del: number[] = [];
    const ack: number[] = [];
    const failures: string[] = [];
    let timeouts = 0;
    const deadline = performance.now() + opts.maxMs;
    // One change, timed from sending it to the first answer showing its revision.
    const sample = async (into: number[], change: () => Promise<{ header: { revision: string } }>): Promise<void> => {
      const t0 = performance.now();
      try {
        const res = await change();
        if (into === put) ack.push(performance.now() - t0);
        const seen = await poller.until(Number(res.header.revision), SAMPLE_TIMEOUT_MS);
        if (seen === undefined) timeouts++;
        else into.push(seen - t0);
      } catch (err) {
        failures.push(String(err)); // an etcd or HTTP error: reported, not fatal
      }
    };
    for (let i = 0; i < opts.samples && performance.now() < deadline; i++) {
      const id = `probe-${tag}-${i}`;
      const key = Buffer.from(nodeKey(PREFIX, group, id, 'node_exporter'));
      await sample(put, () => client.kv.put({ key, value: Buffer.from(probeDoc(id)) }));
      await sample(del, () => client.kv.deleteRange({ key }));
      await sleep(2 + Math.random() * 8); // spread the samples over the background's phases
    }
    const lease = await measureLeaseExpiry(client, poller, group, tag, opts.leaseSamples, failures);
    return {
      put: summarize(put),
      delete: summarize(del),
      leaseExpiry: summarize(lease.latencies),
      etcdPutAckMs: median(ack),
      pollRttMs: median(poller.rttMs),
      timeouts: timeouts + lease.timeouts,
      failures: failures.length,
      ...(failures.length > 0 ? { firstFailure: failures[0]! } : {}),
    };
  } finally {
    poller.close();
  }
}

/**
 * Grants `samples` one-second leases (250 ms apart), each holding one probe
 * node, and measures, for each expiry, the time from our watcher seeing the
 * delete to the server serving its revision.
 */
async function measureLeaseExpiry(client: Etcd3, poller: RevisionPoller, group: string, tag: string, samples: number, failures: string[]): Promise<{ latencies: number[]; timeouts: number }> {
  if (samples === 0) return { latencies: [], timeouts: 0 };
  const latencies: number[] = [];
  let timeouts = 0;
  const pending = new Map<string, (seenAt: number, revision: number) => void>();
  const watchPrefix = nodeKey(PREFIX, group, `lease-${tag}-`, '').slice(0, -1);
  const watcher = await client.watch().prefix(watchPrefix).create();
  watcher.on('error', () => undefined);
  watcher.on('data', (res: IWatchResponse) => {
    const at = performance.now();
    for (const ev of res.events) {
      if (ev.type !== 'Delete') continue;
      pending.get(ev.kv.key.toString())?.(at, Number(ev.kv.mod_revision));
    }
  });
  try {
    const one = async (i: number): Promise<void> => {
      await sleep(i * 250);
      const id = `lease-${tag}-${i}`;
      const key = nodeKey(PREFIX, group, id, 'node_exporter');
      const expired = new Promise<{ at: number; revision: number }>((resolve) => pending.set(key, (at, revision) => resolve({ at, revision })));
      try {
        const grant = await client.leaseClient.leaseGrant({ TTL: 1 });
        await client.kv.put({ key: Buffer.from(key), value: Buffer.from(probeDoc(id)), lease: grant.ID });
        const gone = await Promise.race([expired, sleep(SAMPLE_TIMEOUT_MS).then(() => undefined)]);
        const seen = gone === undefined ? undefined : await poller.until(gone.revision, SAMPLE_TIMEOUT_MS);
        if (gone === undefined || seen === undefined) timeouts++;
        else latencies.push(seen - gone.at);
      } catch (err) {
        failures.push(String(err));
      }
    };
    await Promise.all(Array.from({ length: samples }, (_, i) => one(i)));
  } finally {
    await watcher.cancel().catch(() => undefined);
  }
  return { latencies, timeouts };
}
