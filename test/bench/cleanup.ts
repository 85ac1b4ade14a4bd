/**
 * A cleanup collector for the harness (the `after(fn)` shape of node:test's
 * context, so the test helpers accept it): everything started registers its
 * stop here, and `run()` stops it all, newest first, also on Ctrl-C.
 */
import type { CleanupContext } from '../helpers/etcd.js';

/** Collects stop functions; `run()` calls them newest first, each once. */
export class Cleanup implements CleanupContext {
  private readonly fns: (() => unknown)[] = [];

  /** Registers `fn` to run at cleanup. */
  after(fn: () => unknown): void {
    this.fns.push(fn);
  }

  /** Runs every registered function, newest first; errors are reported, never thrown. */
  async run(): Promise<void> {
    while (this.fns.length > 0) {
      const fn = this.fns.pop()!;
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`bench: cleanup step failed: ${String(err)}\n`);
      }
    }
  }

  /** A child collector whose `run()` the caller owns; it is also run by this one's. */
  scope(): Cleanup {
    const inner = new Cleanup();
    this.after(() => inner.run());
    return inner;
  }
}

/** Runs `cleanup` on SIGINT/SIGTERM and exits 130/143; returns a function removing the handlers. */
export function cleanupOnSignals(cleanup: Cleanup): () => void {
  const handler = (sig: NodeJS.Signals): void => {
    process.stderr.write(`bench: ${sig}: stopping everything started\n`);
    void cleanup.run().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
