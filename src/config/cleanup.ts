/**
 * Settings of empty-group cleanup: off unless
 * `--cleanup-empty-groups` is set; it needs an etcd user that may delete
 * group keys and campaign (docs/security.md), which serving alone does not.
 */
import { ConfigError } from '../errors.js';
import { need, num, row } from './checks.js';
import type { Resolved, SettingRow, Settings } from './file.js';

/** Validated cleanup settings (see `src/cleanup`). */
export interface CleanupConfig {
  /** How long a group document must be without nodes before it is deleted. Default 10 min. */
  readonly graceMs: number;
  /** How often the elected replica looks for groups past their grace. Default 30 s. */
  readonly intervalMs: number;
  /** Lease TTL of the election: how long a crashed leader delays its successor. Default 15 s. */
  readonly electionTtlSeconds: number;
}

/** The `--cleanup-*` rows of `serve`. */
export const CLEANUP_SETTINGS: readonly SettingRow[] = [
  row('cleanup-empty-groups', 'bool', '', 'cleanup.empty_groups', 'false',
    'Delete group documents that have had no nodes for --cleanup-grace; one replica, elected through etcd, does it. Needs write access (docs/security.md).'),
  row('cleanup-grace', 'duration', '', 'cleanup.grace', '10m', 'How long a group must be without nodes before cleanup deletes it (at least 1s).'),
  row('cleanup-interval', 'duration', '', 'cleanup.interval', '30s', 'How often the elected replica looks for empty groups (at least 100ms).'),
  row('cleanup-election-ttl', 'duration', '', 'cleanup.election_ttl', '15s',
    'Lease TTL of the cleanup election, whole seconds: how long a crashed leader delays the next.'),
];

function atLeast(r: Resolved, minMs: number, what: string): number {
  const ms = num(r);
  if (!(ms >= minMs)) throw new ConfigError(r.where, `must be at least ${what}, got ${ms} ms`);
  return ms;
}

/** The cleanup settings, or `undefined` when cleanup is off (then the other rows must be left unset). */
export function cleanupFrom(settings: Settings): CleanupConfig | undefined {
  const enabled = settings.get('cleanup-empty-groups')?.value === true;
  const rows = ['cleanup-grace', 'cleanup-interval', 'cleanup-election-ttl'].map((name) => need(settings, name));
  if (!enabled) {
    const stray = rows.find((r) => r.source !== 'default');
    if (stray !== undefined) throw new ConfigError(stray.where, 'has no effect without --cleanup-empty-groups: set that too, or drop this setting');
    return undefined;
  }
  const [grace, interval, ttl] = rows as [Resolved, Resolved, Resolved];
  const ttlMs = atLeast(ttl, 1000, '1s');
  if (ttlMs % 1000 !== 0) throw new ConfigError(ttl.where, `must be whole seconds (etcd leases count in seconds), got ${ttlMs} ms`);
  return { graceMs: atLeast(grace, 1000, '1s'), intervalMs: atLeast(interval, 100, '100ms'), electionTtlSeconds: ttlMs / 1000 };
}
