/** Listening and graceful closing of the HTTP server. */
import { createServer, type Server, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A listening server. */
export interface HttpServer {
  readonly server: Server;
  /** Host and port actually bound (port 0 resolved). */
  readonly address: AddressInfo;
  /**
   * Stops accepting, lets in-flight requests finish, and after `deadlineMs`
   * cuts whatever is left. Idle keep-alive sockets are closed at once.
   */
  close(deadlineMs?: number): Promise<void>;
}

/** Listens on `host:port`; rejects with the OS error (e.g. EADDRINUSE). */
export async function listen(handler: RequestListener, host: string, port: number): Promise<HttpServer> {
  const server = createServer(handler);
  // Slow clients must not pin sockets forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    address: server.address() as AddressInfo,
    close: (deadlineMs = 5000) => closeServer(server, deadlineMs),
  };
}

function closeServer(server: Server, deadlineMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), deadlineMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
