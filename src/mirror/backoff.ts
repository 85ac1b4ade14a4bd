/** Capped exponential backoff with jitter, and a sleep that `close()` can cut short. */

/** Exponential backoff: initial, doubling, capped, ±20 % jitter. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  /** The next delay. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  /** Back to the initial delay after a success. */
  reset(): void {
    this.attempt = 0;
  }
}

/** A set of sleeps that can all be woken at once (on close). */
export class Sleeper {
  private readonly wakers = new Set<() => void>();

  /** Resolves after `ms`, or at once when `wakeAll()` is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  /** Ends every pending sleep. */
  wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }
}
