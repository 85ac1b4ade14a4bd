/**
 * A loopback TCP proxy between a client and etcd that can cut, refuse and
 * stall traffic: the fault injector of the integration and reliability
 * tests (as etcd3's own test suite does).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { CleanupContext } from './etcd.js';
import { loopbackUrl } from './ports.js';

/** A running proxy. */
export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: give this to the client instead of etcd's. */
  readonly endpoint: string;
  /** Destroys every open connection; new ones are still accepted. */
  dropAll(): void;
  /** Refuses (closes at once) new connections and drops open ones, until `unblock()`. */
  block(): void;
  unblock(): void;
  /** Stops forwarding bytes both ways, keeping connections open (a stalled link). */
  pause(): void;
  resume(): void;
  /** Delays each forwarded chunk by `ms` (a slow link); 0 turns it off. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** Starts a proxy to `127.0.0.1:targetPort` and closes it when the test ends. */
export async function useTcpProxy(t: CleanupContext, targetPort: number): Promise<TcpProxy> {
  const proxy = await startTcpProxy(targetPort);
  t.after(() => proxy.close());
  return proxy;
}

/** Starts a proxy to `127.0.0.1:targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let blocked = false;
  let paused = false;
  let delayMs = 0;
  const forward = (from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      const write = (): void => {
        if (!to.destroyed) to.write(chunk);
      };
      if (delayMs > 0) setTimeout(write, delayMs);
      else write();
    });
  };
  const server: Server = createServer((client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    pairs.add(pair);
    if (paused) {
      client.pause();
      upstream.pause();
    }
    forward(client, upstream);
    forward(upstream, client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const dropAll = (): void => {
    for (const p of pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    pairs.clear();
  };
  return {
    endpoint: loopbackUrl(port),
    dropAll,
    block: () => {
      blocked = true;
      dropAll();
    },
    unblock: () => {
      blocked = false;
    },
    pause: () => {
      paused = true;
      for (const p of pairs) {
        p.client.pause();
        p.upstream.pause();
      }
    },
    resume: () => {
      paused = false;
      for (const p of pairs) {
        p.client.resume();
        p.upstream.resume();
      }
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        dropAll();
        server.close(() => resolve());
      }),
  };
}
