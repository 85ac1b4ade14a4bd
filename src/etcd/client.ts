/**
 * Builds etcd3 clients from our connection options. The only place that
 * knows etcd3's option shape; everything else passes `EtcdConnection`.
 */
import { Etcd3, type IOptions } from 'etcd3';

/** How to reach etcd; shared by the server, the register library and the CLI. */
export interface EtcdConnection {
  /** Endpoint URLs, e.g. `http://127.0.0.1:2379`. All http or all https. */
  readonly endpoints: readonly string[];
  /** Username for etcd auth; the password must come with it. */
  readonly username?: string;
  /** Password for etcd auth. Secret: never logged. */
  readonly password?: string;
  /** TLS material, already read from files. */
  readonly tls?: EtcdTls;
  /** Deadline for each unary call in milliseconds. Default 5000. */
  readonly callTimeoutMs?: number;
}

/** TLS material for etcd (PEM bytes). */
export interface EtcdTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** Default deadline of a unary etcd call. */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/**
 * Creates an etcd3 client. Unary calls get a deadline (etcd3 never reads
 * `dialTimeout`); streams get none, or a watch would be cut off.
 */
export function createEtcdClient(conn: EtcdConnection): Etcd3 {
  const timeout = conn.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const options: IOptions = {
    hosts: [...conn.endpoints],
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
  };
  if (conn.username !== undefined) {
    options.auth = { username: conn.username, password: conn.password ?? '' };
  }
  if (conn.tls?.ca !== undefined) {
    options.credentials = {
      rootCertificate: conn.tls.ca,
      ...(conn.tls.key !== undefined ? { privateKey: conn.tls.key } : {}),
      ...(conn.tls.cert !== undefined ? { certChain: conn.tls.cert } : {}),
    };
  }
  return new Etcd3(options);
}

/** The smallest key greater than every key that starts with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
