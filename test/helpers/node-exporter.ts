/**
 * A real node_exporter for end-to-end tests: loopback only, a free port, and
 * only the cheap `loadavg` and `meminfo` collectors, so a scrape takes a few
 * milliseconds.
 */
import type { CleanupContext } from './etcd.js';
import { freePort, loopbackAddress } from './ports.js';
import { useChild, type Child } from './process.js';

/** node_exporter binary used by tests; override with env `NODE_EXPORTER_BIN`. */
export const NODE_EXPORTER_BIN = process.env['NODE_EXPORTER_BIN'] ?? '/usr/bin/prometheus-node-exporter';

/** Flags that make node_exporter quick and quiet (checked against the Debian 1.5 build). */
export const FAST_NODE_EXPORTER_FLAGS: readonly string[] = [
  '--collector.disable-defaults',
  '--collector.loadavg',
  '--collector.meminfo',
  '--log.level=warn',
];

/** Options of {@link useNodeExporter}. */
export interface NodeExporterOptions {
  /** Extra flags, appended after the defaults. */
  readonly extraArgs?: readonly string[];
  /** Readiness wait. Default 10000 ms. */
  readonly readyTimeoutMs?: number;
}

/** A running node_exporter. */
export interface TestNodeExporter {
  readonly port: number;
  /** `127.0.0.1:<port>`: the scrape address. */
  readonly address: string;
  /** `http://127.0.0.1:<port>/metrics`. */
  readonly metricsUrl: string;
  readonly process: Child;
  /** SIGTERM (then SIGKILL); idempotent. Also registered with `t.after`. */
  stop(): Promise<void>;
}

/** Starts node_exporter on a free loopback port, waits for `/metrics`, and stops it when the test ends. */
export async function useNodeExporter(t: CleanupContext, opts: NodeExporterOptions = {}): Promise<TestNodeExporter> {
  const port = await freePort();
  const address = loopbackAddress(port);
  const metricsUrl = `http://${address}/metrics`;
  const child = await useChild(t, {
    name: 'node_exporter',
    command: NODE_EXPORTER_BIN,
    args: [`--web.listen-address=${address}`, ...FAST_NODE_EXPORTER_FLAGS, ...(opts.extraArgs ?? [])],
    readyUrl: metricsUrl,
    readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
  });
  return {
    port,
    address,
    metricsUrl,
    process: child,
    stop: async () => {
      await child.stop();
    },
  };
}
