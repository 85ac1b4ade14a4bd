/** Options of `RegistryClient`, checked once in its constructor. */
import type { Etcd3 } from 'etcd3';
import { createEtcdClient, type EtcdConnection } from '../etcd/client.js';
import { InvalidArgumentError } from '../errors.js';
import { cleanPrefix, GROUP_NAME_RULE, isValidGroupName } from '../registry/keys.js';
import type { Logger } from '../log.js';

/** Options of `RegistryClient`: the server's connection options plus the lease's. */
export interface RegistryClientOptions extends Partial<EtcdConnection> {
  /** Registry key prefix, as the server's `--etcd-prefix`. Default `/services`. */
  readonly prefix?: string;
  /** TTL of the client's lease in whole seconds, at least 1. Default 30. */
  readonly ttlSeconds?: number;
  /** Bound of `close()`. Default 5000 ms. */
  readonly closeTimeoutMs?: number;
  /** Renewal period. Default TTL/3. */
  readonly checkIntervalMs?: number;
  /** Receives state changes. Default: none. */
  readonly logger?: Logger;
  /**
   * Take a node key over when another registrant's live lease holds it
   * (default false: `register()` rejects with `CollisionError`). Per call,
   * `RegisterOptions.takeover` wins.
   */
  readonly takeover?: boolean;
  /** Use this etcd3 client instead of creating one from `endpoints`; it is never closed by us. */
  readonly client?: Etcd3;
}

/** Default prefix of the registry. */
export const DEFAULT_PREFIX = '/services';
/** Default lease TTL in seconds. */
export const DEFAULT_TTL_SECONDS = 30;
/** Default bound of `close()`. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5000;

/** Throws `InvalidArgumentError` unless `name` is a group name the layout allows. */
export function checkGroupName(name: unknown): string {
  if (typeof name !== 'string' || !isValidGroupName(name)) {
    throw new InvalidArgumentError('group', name, GROUP_NAME_RULE);
  }
  return name;
}

/** Checks a lease TTL: whole seconds, at least 1. */
export function checkTtl(ttl: unknown): number {
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1) {
    throw new InvalidArgumentError('ttlSeconds', ttl, 'must be a whole number of seconds, at least 1');
  }
  return ttl;
}

/** Checks a key prefix and cleans it as the Go library's `path.Join` does (`services/`, `//services` are fine). */
export function checkPrefix(prefix: unknown): string {
  const cleaned = typeof prefix === 'string' ? cleanPrefix(prefix) : undefined;
  if (!cleaned?.ok) {
    throw new InvalidArgumentError('prefix', prefix, `${cleaned?.problem ?? 'must be a string'}: give a key prefix such as /services`);
  }
  return cleaned.prefix;
}

/**
 * The etcd3 client the registry uses. A client we created from connection
 * options is replaced by a fresh one before each attempt to recover a lost
 * lease: etcd3's per-host circuit breaker blocks every call for 5 s after
 * three failures, which alone can outlast a short TTL after etcd returns
 * (measured: 5 s from the breaker opening to the first grant that got
 * through). A client given by the caller is used as is.
 */
export class EtcdHandle {
  private client: Etcd3;
  private closed = false;

  private constructor(
    client: Etcd3,
    private readonly factory: (() => Etcd3) | undefined,
  ) {
    this.client = client;
  }

  /** The handle for `opts`: the given client, or one created from `endpoints` (required then). */
  static from(opts: RegistryClientOptions): EtcdHandle {
    if (opts.client !== undefined) return new EtcdHandle(opts.client, undefined);
    const endpoints = opts.endpoints;
    if (endpoints === undefined || endpoints.length === 0) {
      throw new InvalidArgumentError('endpoints', endpoints, 'give at least one etcd endpoint, e.g. http://127.0.0.1:2379');
    }
    const factory = (): Etcd3 => createEtcdClient({ ...opts, endpoints });
    return new EtcdHandle(factory(), factory);
  }

  /** The client to use now; read it for each call, it may be replaced. */
  get current(): Etcd3 {
    return this.client;
  }

  /**
   * Replaces a client we own with a fresh one (new channels, closed
   * breakers) and closes the old one once `released` settles (its watchers
   * cancelled: etcd3 re-dials a closed client's watch stream forever).
   * Returns whether the client was replaced.
   */
  refresh(released: (old: Etcd3) => Promise<unknown> = () => Promise.resolve()): boolean {
    if (this.factory === undefined || this.closed) return false;
    const old = this.client;
    this.client = this.factory();
    void released(old).catch(() => undefined).finally(() => old.close());
    return true;
  }

  /** Closes the client if we created it. Idempotent. */
  close(): void {
    if (this.factory !== undefined && !this.closed) this.client.close();
    this.closed = true;
  }
}
