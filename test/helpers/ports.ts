/**
 * Free loopback TCP ports for tests. A port is free when asked; another
 * process could take it before the test binds it, which is rare enough.
 */
import { createServer, type Server } from 'node:net';
import { hostUrl, joinHostPort } from '../../src/net.js';

/** The only address tests send traffic to. */
export const LOOPBACK = '127.0.0.1';

/** `127.0.0.1:<port>`, for listen flags. */
export function loopbackAddress(port: number): string {
  return joinHostPort(LOOPBACK, port);
}

/** `<scheme>://127.0.0.1:<port>`. */
export function loopbackUrl(port: number, scheme = 'http'): string {
  return hostUrl(scheme, LOOPBACK, port);
}

function listenOnFreePort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`unexpected server address ${String(address)}`));
        return;
      }
      resolve({ server, port: address.port });
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const { server, port } = await listenOnFreePort();
  await close(server);
  return port;
}

/** Returns `n` distinct free ports on 127.0.0.1 (all held open together while chosen). */
export async function freePorts(n: number): Promise<number[]> {
  const held: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const { server, port } = await listenOnFreePort();
      held.push(server);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map(close));
  }
}

/** True when nothing listens on 127.0.0.1:`port` (we could bind it). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
