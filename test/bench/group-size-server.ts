/**
 * The server side of `npm run bench:group-size`, run as a child process so
 * its CPU and event loop are its own: the mirror, event hub, metrics and
 * HTTP handler assembled as `serve` does, fed by an in-memory source
 * (the watch path is the same; etcd would only add noise here). Group 0
 * holds `--big` nodes, groups 1..4 one node each. On an IPC message it
 * applies visible updates to random nodes of group 0 at a fixed rate and
 * answers with the CPU it used (`process.cpuUsage`).
 */
import { Registry } from 'prom-client';
import { EventHub } from '../../src/events/hub.js';
import { createHttpHandler } from '../../src/http/app.js';
import { listen } from '../../src/http/server.js';
import { nullLogger } from '../../src/log.js';
import { createServerMetrics, registerStateGauges } from '../../src/metrics/metrics.js';
import { Mirror } from '../../src/mirror/mirror.js';
import type { KeyValue, RegistrySource, WatchSink } from '../../src/mirror/source.js';
import { groupEntry, nodeEntry, PREFIX } from './dataset.js';
import { loadedAsTestFile } from './entry.js';

/** Asks the child for one update run. */
export interface UpdateRequest {
  readonly rate: number;
  readonly ms: number;
}

/** What one update run cost the child. */
export interface UpdateReply {
  readonly updates: number;
  readonly cpuMicros: number;
  readonly wallMs: number;
}

const SMALL_GROUPS = 4;

class MemorySource implements RegistrySource {
  revision = 1;
  sink: WatchSink | undefined;
  constructor(private readonly kvs: readonly KeyValue[]) {}
  list(onPage: (kvs: readonly KeyValue[]) => void): Promise<number> {
    onPage(this.kvs);
    return Promise.resolve(this.revision);
  }
  watch(_from: number, sink: WatchSink): { cancel(): Promise<void> } {
    this.sink = sink;
    queueMicrotask(() => sink.onConnected());
    return { cancel: () => Promise.resolve() };
  }
  probe(): Promise<number> {
    return Promise.resolve(this.revision);
  }
  changedSince(): Promise<boolean> {
    return Promise.resolve(false);
  }
  isCompacted(): Promise<boolean> {
    return Promise.resolve(false);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function dataset(big: number, lastSeen: Date): KeyValue[] {
  const out: KeyValue[] = [];
  for (let g = 0; g <= SMALL_GROUPS; g++) {
    out.push({ ...groupEntry(g), modRevision: 1 });
    const count = g === 0 ? big : 1;
    for (let n = 0; n < count; n++) out.push({ ...nodeEntry(g, n, lastSeen), modRevision: 1 });
  }
  return out;
}

function runUpdates(source: MemorySource, big: number, req: UpdateRequest): Promise<UpdateReply> {
  const lastSeen = new Date();
  const cpu = process.cpuUsage();
  const started = performance.now();
  let updates = 0;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * req.rate);
      while (updates < due) {
        const n = Math.floor(Math.random() * big);
        const kv = nodeEntry(0, n, lastSeen, `2.${source.revision}.0`);
        source.revision += 1;
        source.sink?.onData([{ type: 'put', key: kv.key, value: kv.value, modRevision: source.revision }], source.revision);
        updates++;
      }
      if (performance.now() - started >= req.ms) {
        clearInterval(timer);
        const used = process.cpuUsage(cpu);
        resolve({ updates, cpuMicros: used.user + used.system, wallMs: performance.now() - started });
      }
    }, 5);
  });
}

async function main(): Promise<void> {
  const big = Number(process.argv[2]);
  const source = new MemorySource(dataset(big, new Date()));
  const registry = new Registry();
  const metrics = createServerMetrics(registry);
  const mirror = new Mirror({ source, prefix: PREFIX, logger: nullLogger, metrics: metrics.mirror });
  registerStateGauges(registry, mirror);
  const hub = new EventHub(mirror);
  const { handler } = createHttpHandler({
    mirror, registry, httpMetrics: metrics.http, logger: nullLogger, cacheMaxBytes: 64 * 1024 * 1024, operator: { source: mirror, hub },
  });
  const http = await listen(handler, '127.0.0.1', 0);
  mirror.start();
  await mirror.whenReady();
  process.on('message', (msg: UpdateRequest) => {
    void runUpdates(source, big, msg).then((reply) => process.send?.(reply));
  });
  process.on('disconnect', () => {
    void Promise.all([http.close(0), mirror.close()]).then(() => process.exit(0));
  });
  process.send?.({ url: `http://127.0.0.1:${http.address.port}` });
}

if (!loadedAsTestFile()) void main();
