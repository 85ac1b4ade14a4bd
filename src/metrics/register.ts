/**
 * The metrics of one `register` process, on an injected Registry (never
 * prom-client's global one): what the registrant had to repair, which
 * collisions it met, how often its lease went, and whether its node is in
 * etcd now. Label values are the library's event values with `_` for `-`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { collectProcessMetrics } from './metrics.js';

const P = 'etcd_http_sd_register_';

/** Why the registrant put its node back: key deleted, overwritten by another writer, or its group deleted. */
export const REPAIR_CAUSES = ['deleted', 'overwritten', 'group_deleted'] as const;
export type RepairCause = (typeof REPAIR_CAUSES)[number];

/** What came of a collision: registration refused, key taken over from the holder, or key yielded to a taker. */
export const COLLISION_ACTIONS = ['refused', 'taken_over', 'yielded'] as const;
export type CollisionAction = (typeof COLLISION_ACTIONS)[number];

/** How the health gate withdrew the node: key removed, or status marked. */
export const WITHDRAW_ACTIONS = ['removed', 'marked'] as const;
export type WithdrawAction = (typeof WITHDRAW_ACTIONS)[number];

/** What the gauges read at scrape time. */
export interface RegistrantReader {
  /** Nodes whose key this process means to be in etcd now (under a live lease, not withdrawn). */
  readonly nodes: () => number;
}

/** Counters the register command feeds from the client's events. */
export interface RegisterMetrics {
  repaired(cause: string): void;
  collision(action: string): void;
  withdrawn(action: WithdrawAction): void;
  leaseLost(): void;
  leaseRestored(): void;
}

/** `group-deleted` → `group_deleted`; `undefined` for a value not in `allowed` (a newer library's). */
function labelValue<T extends string>(raw: string, allowed: readonly T[]): T | undefined {
  const v = raw.replaceAll('-', '_');
  return allowed.find((a) => a === v);
}

/**
 * Registers the process metrics and `etcd_http_sd_register_*` on
 * `registry`; every labelled series starts at 0, so `increase()` sees the first.
 */
export function createRegisterMetrics(registry: Registry, reader: RegistrantReader): RegisterMetrics {
  collectProcessMetrics(registry);
  const registers = [registry];
  const repairs = new Counter({
    name: `${P}repairs_total`, help: 'Node keys put back after someone else deleted or overwrote them, or deleted their group, by cause.',
    labelNames: ['cause'], registers,
  });
  const collisions = new Counter({
    name: `${P}collisions_total`, help: 'Node keys found held by another registrant\'s lease, by what this one did.', labelNames: ['action'], registers,
  });
  const withdrawals = new Counter({ name: `${P}withdrawals_total`, help: 'Nodes withdrawn after failed health checks, by action.', labelNames: ['action'], registers });
  const lost = new Counter({ name: `${P}lease_losses_total`, help: 'Leases lost (revoked, expired, or not renewed for a whole TTL).', registers });
  const restored = new Counter({ name: `${P}lease_restores_total`, help: 'Nodes put again under a new lease after a loss.', registers });
  for (const cause of REPAIR_CAUSES) repairs.inc({ cause }, 0);
  for (const action of COLLISION_ACTIONS) collisions.inc({ action }, 0);
  for (const action of WITHDRAW_ACTIONS) withdrawals.inc({ action }, 0);
  new Gauge({
    name: `${P}nodes`, help: 'Nodes this process keeps registered now (under a live lease, not withdrawn).', registers,
    collect() {
      this.set(reader.nodes());
    },
  });
  return {
    repaired: (raw) => {
      const cause = labelValue(raw, REPAIR_CAUSES);
      if (cause !== undefined) repairs.inc({ cause });
    },
    collision: (raw) => {
      const action = labelValue(raw, COLLISION_ACTIONS);
      if (action !== undefined) collisions.inc({ action });
    },
    withdrawn: (action) => withdrawals.inc({ action }),
    leaseLost: () => lost.inc(),
    leaseRestored: () => restored.inc(),
  };
}
