/**
 * What the tests of large responses share: nodes whose documents make a body
 * of megabytes, clients that do not read, and metrics read strictly.
 */
import { connect, type Socket } from 'node:net';
import type { Etcd3 } from 'etcd3';
import { formatGoTime, formatNodeDocument } from '../../src/registry/index.js';

/** Puts `count` nodes of about 2 KB each under `/services/<groupOf(i)>/nodes/`, 128 per transaction. */
export async function putLargeNodes(c: Etcd3, count: number, groupOf: (i: number) => string = () => 'g', note = 'n'.repeat(2000)): Promise<void> {
  for (let i = 0; i < count; i += 128) {
    const ops = [];
    for (let j = i; j < Math.min(count, i + 128); j++) {
      const value = formatNodeDocument({ id: `n${j}`, exporterType: 'node_exporter', port: 9100, metricsPath: '/metrics', labels: { note }, status: 'healthy', lastSeen: formatGoTime(new Date(0)) });
      ops.push({ request_put: { key: Buffer.from(`/services/${groupOf(j)}/nodes/n${j}_node_exporter`), value: Buffer.from(value) } });
    }
    await c.kv.txn({ success: ops });
  }
}

/** Opens a socket, sends one GET and does not read; resolves with the (paused) socket once connected. */
export function nonReader(url: string, path: string, headers = ''): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => {
      s.pause();
      s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** An unlabelled metric's value in a Prometheus text exposition; throws when it is absent. */
export function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no ${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}
