/** Listening (plain HTTP or HTTPS) and graceful closing of the HTTP server. */
import { createServer, type Server, type RequestListener } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError, errorMessage } from '../errors.js';
import { joinHostPort, MAX_PORT } from '../net.js';

/** Certificate chain and key (PEM) for an HTTPS listener. */
export interface ListenTls {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** A listening server. */
export interface HttpServer {
  readonly server: Server | HttpsServer;
  /** Host and port actually bound (port 0 resolved). */
  readonly address: AddressInfo;
  /** `https` when listening with TLS, else `http`. */
  readonly scheme: 'http' | 'https';
  /**
   * Stops accepting, lets in-flight requests finish, and after `deadlineMs`
   * cuts whatever is left. Idle keep-alive sockets are closed at once.
   */
  close(deadlineMs?: number): Promise<void>;
}

/** Bounds on what clients can hold. */
export interface ConnectionLimits {
  /** A response not fully written within this time has its connection destroyed. Default 30000. */
  readonly writeTimeoutMs?: number;
  /** Connections beyond this are closed at once by the kernel-side accept. Default 1024. */
  readonly maxConnections?: number;
}

export const DEFAULT_WRITE_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_CONNECTIONS = 1024;

/**
 * Gives every response a deadline: a client that stops reading pins the
 * response's bytes (socket buffer and the body it references) until then,
 * and no longer. Node's `requestTimeout` only covers receiving the request.
 */
function withWriteTimeout(handler: RequestListener, ms: number): RequestListener {
  return (req, res) => {
    const timer = setTimeout(() => res.destroy(), ms);
    timer.unref();
    res.once('close', () => clearTimeout(timer));
    handler(req, res);
  };
}

/** Listens on `host:port`, with TLS when `tls` is given; rejects with the OS error (e.g. EADDRINUSE). */
export async function listen(handler: RequestListener, host: string, port: number, tls?: ListenTls, limits: ConnectionLimits = {}): Promise<HttpServer> {
  const guarded = withWriteTimeout(handler, limits.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS);
  const server = tls === undefined ? createServer(guarded) : createHttpsServer({ cert: tls.cert, key: tls.key }, guarded);
  // Slow clients must not pin sockets forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.maxConnections = limits.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
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
    scheme: tls === undefined ? 'http' : 'https',
    close: (deadlineMs = 5000) => closeServer(server, deadlineMs),
  };
}

function closeServer(server: Server | HttpsServer, deadlineMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), deadlineMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** A failure to listen on `at`, said as a problem of the setting `flag` with its fix (exit 2). */
export function listenProblem(err: unknown, at: { host: string; port: number }, flag: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const where = joinHostPort(at.host, at.port);
  if (code === 'EADDRINUSE') return new ConfigError(flag, `${where} is already in use; choose another port (e.g. ${flag} 127.0.0.1:${at.port < MAX_PORT ? at.port + 1 : 1024}) or stop what holds it`, { cause: err });
  if (code === 'EACCES') return new ConfigError(flag, `${where}: permission denied (ports below 1024 need privileges); choose a port from 1024`, { cause: err });
  if (code === 'EADDRNOTAVAIL') return new ConfigError(flag, `${where}: no such address on this machine; use 127.0.0.1, 0.0.0.0, [::] or one of its addresses`, { cause: err });
  return new ConfigError(flag, `cannot listen on ${where}: ${errorMessage(err)}`, { cause: err });
}
