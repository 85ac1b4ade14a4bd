/** Metrics of empty-group cleanup, registered on an injected Registry. */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What a deletion attempt came to. */
export type CleanupOutcome = 'deleted' | 'kept' | 'error';

/** Counters the cleaner feeds. */
export interface CleanupMetrics {
  attempt(outcome: CleanupOutcome): void;
}

/** What the gauges read at scrape time. */
export interface CleanupReader {
  /** Whether this replica currently leads the cleanup election. */
  readonly leading: boolean;
  /** Groups this replica has seen without nodes (deleted once past the grace, by the leader). */
  readonly emptyGroups: number;
}

/**
 * Registers `etcd_http_sd_cleanup_attempts_total{outcome}`,
 * `etcd_http_sd_cleanup_leader` and `etcd_http_sd_cleanup_empty_groups`.
 */
export function createCleanupMetrics(registry: Registry, reader: CleanupReader): CleanupMetrics {
  const registers = [registry];
  const attempts = new Counter({
    name: 'etcd_http_sd_cleanup_attempts_total',
    help: 'Deletions of empty group documents tried by this replica, by outcome (kept: a node, a change or lost leadership won).',
    labelNames: ['outcome'], registers,
  });
  for (const outcome of ['deleted', 'kept', 'error'] as const) attempts.inc({ outcome }, 0);
  new Gauge({
    name: 'etcd_http_sd_cleanup_leader', help: '1 while this replica is the elected one that deletes empty groups.', registers,
    collect() {
      this.set(reader.leading ? 1 : 0);
    },
  });
  new Gauge({
    name: 'etcd_http_sd_cleanup_empty_groups', help: 'Group documents this replica sees without nodes.', registers,
    collect() {
      this.set(reader.emptyGroups);
    },
  });
  return { attempt: (outcome) => attempts.inc({ outcome }) };
}
