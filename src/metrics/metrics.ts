/**
 * The server's own metrics, all registered on an injected Registry (never
 * prom-client's global one), so tests and embedders can own theirs.
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import { INVALID_REASONS, RENDER_FAILURE_REASONS, type InvalidReason } from '../registry/index.js';
import { TargetCounts } from './target-counts.js';
import { MIRROR_ERROR_REASONS, type Mirror, type MirrorMetrics, type ReloadReason } from '../mirror/mirror.js';

const P = 'etcd_http_sd_';

/** HTTP request observations, recorded by the HTTP layer. */
export interface HttpMetrics {
  observe(route: string, code: number, seconds: number): void;
}

/** What the state gauges read at scrape time. */
export type MirrorReader = Pick<Mirror, 'content' | 'status' | 'invalidCounts' | 'protectedLabelCounts' | 'labelPolicy'>;

/**
 * Registers the server's metrics on `registry`: default process metrics and
 * the counters the mirror and HTTP layer feed. The gauges that read the
 * mirror are added by `registerStateGauges` once it exists.
 */
export function createServerMetrics(registry: Registry): { readonly mirror: MirrorMetrics; readonly http: HttpMetrics } {
  collectProcessMetrics(registry);
  return { mirror: mirrorCounters(registry), http: httpMetrics(registry) };
}

const EVENT_LOOP_SAMPLE_MS = 100;

/** prom-client's default `process_*` and `nodejs_*` metrics on `registry`, lint clean. */
export function collectProcessMetrics(registry: Registry): void {
  // The lag histogram samples the loop with a timer: prom-client's 10 ms wakes the process
  // 100 times a second, about 6 ms of CPU per second at rest; 100 ms costs under 1 ms and
  // still records every block of 100 ms or more (shorter ones in proportion to their length).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  lintCleanDefaults(registry);
}

/**
 * prom-client names three gauges `*_total`, which promtool's linter (rightly)
 * flags: that suffix means a counter. They go; `nodejs_active_resources{type}`
 * (also prom-client's) has the same counts, and the handle and request counts
 * come from APIs Node deprecated.
 */
function lintCleanDefaults(registry: Registry): void {
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
}

/** Registers the gauges computed from `mirror` at scrape time. */
export function registerStateGauges(registry: Registry, mirror: MirrorReader): void {
  const registers = [registry];
  let counts: TargetCounts | undefined;
  new Gauge({
    name: `${P}targets`, help: 'Targets served, per group and exporter type.', labelNames: ['group', 'exporter_type'], registers,
    collect() {
      (counts ??= new TargetCounts(this)).update(mirror.content()?.groups ?? []);
    },
  });
  const scalar = (name: string, help: string, read: () => number | undefined): void => {
    new Gauge({
      name: `${P}${name}`, help, registers,
      collect() {
        const v = read();
        if (v === undefined) this.reset();
        else this.set(v);
      },
    });
  };
  scalar('groups', 'Groups in the registry.', () => mirror.content()?.groups.length ?? 0);
  scalar('ready', '1 once the first full load is in memory.', () => (mirror.status().ready ? 1 : 0));
  scalar('etcd_connected', '1 while the watch on etcd is connected.', () => (mirror.status().connected ? 1 : 0));
  scalar('mirror_revision', 'etcd revision the served state reflects.', () => mirror.status().revision);
  scalar('last_contact_age_seconds', 'Seconds since etcd last answered (watch or probe).', () => seconds(mirror.status().lastContactAgeMs));
  scalar('staleness_seconds', 'Seconds since the served state was last known to hold everything etcd had under the prefix.', () => seconds(mirror.status().stalenessMs));
  scalar('last_event_age_seconds', 'Seconds since the last watch event was applied.', () => seconds(mirror.status().lastEventAgeMs));
  new Gauge({
    name: `${P}invalid_documents`, help: 'Documents in etcd currently skipped as invalid, by reason.', labelNames: ['reason'], registers,
    collect() {
      const counts = mirror.invalidCounts();
      for (const reason of INVALID_REASONS) this.set({ reason }, counts.get(reason) ?? 0);
    },
  });
  new Gauge({
    name: `${P}protected_labels_dropped`, registers, labelNames: ['label', 'source'],
    help: 'Documents in force setting a label that --protected-labels lists, which is not served; by label and document kind (group, node).',
    collect() {
      this.reset();
      // Every protected name at 0 first, so an alert on a rise sees the series from the start.
      for (const label of mirror.labelPolicy.protectedLabels) for (const source of ['group', 'node']) this.set({ label, source }, 0);
      for (const c of mirror.protectedLabelCounts()) this.set({ label: c.label, source: c.source }, c.documents);
    },
  });
}

function seconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : ms / 1000;
}

function mirrorCounters(registry: Registry): MirrorMetrics {
  const registers = [registry];
  // Counted in plain numbers, folded in when read (both types, so both show from the first
  // read): a heartbeat is one watch message, and a counter's inc() per message was a tenth
  // of the server's cost of one.
  const pending = { put: 0, delete: 0 };
  new Counter({
    name: `${P}watch_events_total`, help: 'Watch events applied, by type.', labelNames: ['type'], registers,
    collect() {
      for (const type of ['put', 'delete'] as const) {
        this.inc({ type }, pending[type]);
        pending[type] = 0;
      }
    },
  });
  const invalid = new Counter({ name: `${P}invalid_documents_skipped_total`, help: 'Invalid documents skipped (on load and on watch), by reason.', labelNames: ['reason'], registers });
  const reloads = new Counter({ name: `${P}reloads_total`, help: 'Full listings of the prefix, by reason.', labelNames: ['reason'], registers });
  const renders = new Counter({
    name: `${P}render_failures_total`, help: 'Group views that could not be built (the group kept serving its last good view), by reason.', labelNames: ['reason'], registers,
  });
  for (const reason of RENDER_FAILURE_REASONS) renders.inc({ reason }, 0);
  const errors = new Counter({ name: `${P}mirror_errors_total`, help: 'Failures to follow etcd (probe, watch, reload), by reason.', labelNames: ['reason'], registers });
  // Pre-initialise every series so rate() works from the first scrape.
  for (const reason of MIRROR_ERROR_REASONS) errors.inc({ reason }, 0);
  for (const reason of INVALID_REASONS) invalid.inc({ reason }, 0);
  for (const reason of ['initial', 'compacted', 'watch_error'] satisfies ReloadReason[]) reloads.inc({ reason }, 0);
  return {
    eventsApplied: (type, count) => {
      pending[type] += count;
    },
    invalidDocument: (reason: InvalidReason) => invalid.inc({ reason }),
    reload: (reason) => reloads.inc({ reason }),
    mirrorError: (reason) => errors.inc({ reason }),
    renderFailure: (reason) => renders.inc({ reason }),
  };
}

/** What the response budget (http/budget.ts) reports. */
export interface BudgetReader {
  readonly bytes: number;
  readonly refused: number;
  readonly maxBytes: number;
}

/** Registers the pending-response-bytes gauges and the refusals counter, read at scrape time. */
export function registerBudgetMetrics(registry: Registry, budget: BudgetReader): void {
  const registers = [registry];
  new Gauge({
    name: `${P}http_pending_response_bytes`, help: 'Bytes of response bodies held by responses not fully written (a body shared by several counts once).', registers,
    collect() {
      this.set(budget.bytes);
    },
  });
  new Gauge({
    name: `${P}http_pending_response_bytes_limit`, help: 'Bound of http_pending_response_bytes; over it, requests are refused with 503.', registers,
    collect() {
      this.set(budget.maxBytes);
    },
  });
  new Counter({
    name: `${P}http_pending_bytes_refusals_total`, help: 'Requests refused with 503 because pending response bytes were at their bound.', registers,
    collect() {
      this.reset();
      this.inc(budget.refused);
    },
  });
}

function httpMetrics(registry: Registry): HttpMetrics {
  const registers = [registry];
  const requests = new Counter({ name: `${P}http_requests_total`, help: 'HTTP requests, by route and status code.', labelNames: ['route', 'code'], registers });
  const duration = new Histogram({
    name: `${P}http_request_duration_seconds`, help: 'HTTP request duration, by route.', labelNames: ['route'], registers,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });
  return {
    observe(route, code, secs) {
      requests.inc({ route, code: String(code) });
      duration.observe({ route }, secs);
    },
  };
}
