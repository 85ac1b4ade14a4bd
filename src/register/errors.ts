/**
 * Errors of the register library. Foreign (gRPC/etcd3) errors are converted
 * here, once, at the boundary; callers switch on `code`.
 */
import { EtcdAuthenticationFailedError, EtcdLeaseInvalidError, EtcdPermissionDeniedError } from 'etcd3';
import { EtcdHttpSdError, EtcdUnavailableError, errorMessage } from '../errors.js';

/** A group the caller named does not exist (`code` `NOT_FOUND`). */
export class GroupNotFoundError extends EtcdHttpSdError {
  /** The group name as given. */
  readonly group: string;

  constructor(group: string) {
    super('NOT_FOUND', `group ${JSON.stringify(group)} does not exist`);
    this.group = group;
  }
}

/**
 * A write lost a race it could not win (`code` `CONFLICT`): a group update
 * kept failing its compare-and-swap, a node is registered twice by one
 * client, or a stored document is not one we can safely rewrite.
 */
export class ConflictError extends EtcdHttpSdError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFLICT', message, options);
  }
}

/**
 * A node key is held by another registrant's live lease (`code`
 * `COLLISION`): two registrants share group, id and exporter type. Nothing
 * was written; the holder keeps its key.
 */
export class CollisionError extends EtcdHttpSdError {
  /** The node key. */
  readonly key: string;
  /** The lease holding it (decimal). */
  readonly holderLeaseId: string;

  constructor(key: string, holderLeaseId: string) {
    super(
      'COLLISION',
      `node key ${key} is held by another registrant (lease ${holderLeaseId}); give this registrant its own --id, or take the key over with --takeover`,
    );
    this.key = key;
    this.holderLeaseId = holderLeaseId;
  }
}

/** The registry client (or a node handle) was used after `close()` (`code` `CLOSED`). */
export class RegistryClosedError extends EtcdHttpSdError {
  constructor(what: string) {
    super('CLOSED', `${what}: the registry client is closed`);
  }
}

/**
 * The lease is gone (`code` `LEASE_EXPIRED`): etcd answered a keep-alive
 * with TTL 0. etcd itself answered, so this is not `ETCD_UNAVAILABLE`.
 */
export class LeaseExpiredError extends EtcdHttpSdError {
  constructor(leaseId: string, options?: { cause?: unknown }) {
    super('LEASE_EXPIRED', `lease ${leaseId} no longer exists in etcd (revoked or expired)`, options);
  }
}

/** Whether `err` says the lease we used no longer exists in etcd. */
export function isLeaseInvalid(err: unknown): boolean {
  return err instanceof EtcdLeaseInvalidError || /requested lease not found/i.test(errorMessage(err));
}

/**
 * Converts anything an etcd call threw into one of our errors: ours pass
 * through, the rest become `EtcdUnavailableError` saying what failed.
 */
export function etcdFailure(what: string, err: unknown): EtcdHttpSdError {
  if (err instanceof EtcdHttpSdError) return err;
  return new EtcdUnavailableError(`${what}: ${errorMessage(err)}`, { cause: err });
}

/** Whether etcd refused for a reason retrying cannot fix: a role without the permission, a wrong login. */
export function isPermanentRefusal(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof EtcdPermissionDeniedError || e instanceof EtcdAuthenticationFailedError) return true;
  }
  return false;
}
