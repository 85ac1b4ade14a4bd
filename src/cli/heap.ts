/**
 * V8 tuning for the commands that mirror the registry (`serve`, `file-sd`).
 *
 * Loading applies each listing page for a while after it was decoded, so
 * objects that live about as long as a page look long-lived to V8, which
 * then allocates everything from their allocation sites straight into the
 * old heap ("allocation-site pretenuring"), where it dies. At 1,000,000
 * nodes about half of the starts ended that way, with ~350 MiB of old space
 * committed for garbage (RSS at ready ~1,720 MiB against ~1,370 MiB); with
 * pretenuring off, every start measured 1,353-1,385 MiB and loaded no
 * slower. The flag only steers where new objects are first allocated; set
 * at start-up, before the load, it takes effect (measured so, in process
 * and in the server).
 */
import { setFlagsFromString } from 'node:v8';

/** Lets every object start young: what survives is promoted by the collector, not guessed at allocation. */
export function disablePretenuring(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
