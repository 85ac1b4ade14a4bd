/** Small statistics over measured samples: nothing here invents a number. */

/** Nearest-rank percentile (`p` in 0..100) of `values`; undefined when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** Median (the 50th nearest-rank percentile for even counts: a measured value, not an average of two). */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)];
}

/** p50/p99/max and count of latency samples (ms). */
export interface LatencySummary {
  readonly samples: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  readonly maxMs: number | undefined;
}

/** Summarises latency samples in milliseconds. */
export function summarize(valuesMs: readonly number[]): LatencySummary {
  return {
    samples: valuesMs.length,
    p50Ms: percentile(valuesMs, 50),
    p99Ms: percentile(valuesMs, 99),
    maxMs: valuesMs.length === 0 ? undefined : Math.max(...valuesMs),
  };
}

/** `a / b`, undefined when either is missing or `b` is 0. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
