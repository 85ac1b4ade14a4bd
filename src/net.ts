/** How host and port are written together: the one place IPv6 brackets are added. */

/**
 * `host:port`, with an IPv6 host in brackets (`[::1]:9100`), as Go's
 * `net.JoinHostPort` writes it. A host already in brackets is kept as is.
 */
export function joinHostPort(host: string, port: number | string): string {
  const bare = host.startsWith('[') ? host : host.includes(':') ? `[${host}]` : host;
  return `${bare}:${port}`;
}

/** `scheme://host:port` (e.g. `http://[::1]:9911`), without a trailing `/`. */
export function hostUrl(scheme: string, host: string, port: number): string {
  return `${scheme}://${joinHostPort(host, port)}`;
}
