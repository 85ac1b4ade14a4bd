/** How host and port are written together: the one place IPv6 brackets are added. */

/**
 * `host:port`, with an IPv6 host in brackets (`[::1]:9100`), as Go's
 * `net.JoinHostPort` writes it. A host already in brackets is kept as is.
 */
export function joinHostPort(host: string, port: number | string): string {
  const bare = host.startsWith('[') ? host : host.includes(':') ? `[${host}]` : host;
  return `${bare}:${port}`;
}

/** The highest TCP port. */
export const MAX_PORT = 65535;

/** Whether `value` is a whole TCP port from `min` (1, or 0 where "any free port" is meant) to {@link MAX_PORT}. */
export function isPort(value: number, min = 1): boolean {
  return Number.isInteger(value) && value >= min && value <= MAX_PORT;
}

/** `scheme://host:port` (e.g. `http://[::1]:9911`), without a trailing `/`. */
export function hostUrl(scheme: string, host: string, port: number): string {
  return `${scheme}://${joinHostPort(host, port)}`;
}
