/**
 * Builds etcd3 clients from our connection options. The only place that
 * knows etcd3's option shape; everything else passes `EtcdConnection`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { circuitBreaker, ConsecutiveBreaker, handleWhen, retry, type IDefaultPolicyContext, type IPolicy } from 'cockatiel';
import { Etcd3, GRPCDeadlineExceededError, isRecoverableError, type IOptions } from 'etcd3';

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
 * How long an endpoint's circuit stays open after 3 failed calls in a row
 * before one call may try it again. etcd3's default is 5000 ms, which kept
 * the server away from an etcd that was back for up to 10 s after a restart
 * (reliability fault run): every call in that time failed with "circuit
 * breaker is open" without reaching etcd.
 */
export const BREAKER_HALF_OPEN_MS = 1000;

/**
 * etcd3 retries a failed call up to three times, each attempt with a fresh
 * deadline: a call to an etcd that never answers took 4 x --etcd-call-timeout.
 * An attempt that ran out of time has spent the call's budget, so it is not
 * retried; fast failures (refused, unavailable) still are.
 */
export function retryWithinBudget(err: Error): boolean {
  return isRecoverableError(err) && !(err instanceof GRPCDeadlineExceededError);
}

/**
 * etcd3 1.1.2 retries a call refused for an expired auth token by calling
 * itself from inside the host policy's `execute`. When the refused call was
 * the circuit breaker's half-open trial, the retry waits for the trial to end
 * and the trial waits for the retry: the call hangs for good, without a
 * deadline (seen after an etcd restart with auth on, when the breaker had
 * opened during the outage; microsoft/etcd3 issue 177). A call made from
 * inside this policy's own execution therefore runs straight through it: it
 * is part of the call the breaker is already judging.
 */
export function reentrySafe(policy: IPolicy): IPolicy {
  const inside = new AsyncLocalStorage<true>();
  return {
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- part of the interface, never read
    _altReturn: policy._altReturn,
    onSuccess: policy.onSuccess,
    onFailure: policy.onFailure,
    execute<T>(fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
      if (inside.getStore() === true) return Promise.resolve().then(() => fn({ signal: signal ?? new AbortController().signal }));
      return inside.run(true, () => policy.execute(fn, signal));
    },
  };
}

/** etcd3's per-endpoint breaker, with a shorter open period (see BREAKER_HALF_OPEN_MS), safe for etcd3's nested calls. */
export function hostPolicy(): IPolicy {
  return reentrySafe(circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: BREAKER_HALF_OPEN_MS, breaker: new ConsecutiveBreaker(3) }));
}

/**
 * Largest gRPC message we accept from etcd: etcd's own send limit
 * (`math.MaxInt32`), so nothing etcd can send is refused. grpc-js's default
 * of 4 MiB wedged the mirror: one revision deleting 100,000 nodes is a
 * 4.3 MB watch message, and a catch-up after a cut or a range page of large
 * documents is more. Listings size their pages by bytes (etcd-source.ts),
 * so this limit only matters for watch messages, which etcd cannot split.
 */
export const MAX_RECEIVE_MESSAGE_BYTES = 2 ** 31 - 1;

/**
 * gRPC keepalive: a ping every 10 s on a busy channel, and a channel whose
 * ping is not answered within 5 s is closed. A frozen etcd (SIGSTOP, a dead
 * host without a RST) otherwise kept the watch "connected" forever. etcd
 * refuses pings more often than every 5 s (`--grpc-keepalive-min-time`).
 */
export const KEEPALIVE_TIME_MS = 10_000;
export const KEEPALIVE_TIMEOUT_MS = 5_000;

/**
 * Creates an etcd3 client. Unary calls get a deadline (etcd3 never reads
 * `dialTimeout`); streams get none, or a watch would be cut off.
 */
export function createEtcdClient(conn: EtcdConnection): Etcd3 {
  const timeout = conn.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const options: IOptions = {
    hosts: [...conn.endpoints],
    grpcOptions: {
      'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    faultHandling: {
      global: retry(handleWhen(retryWithinBudget), { maxAttempts: 3 }),
      host: hostPolicy,
    },
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
    const byte = end[i] ?? 0xff;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
