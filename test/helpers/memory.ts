/**
 * What a test process keeps alive. RSS also counts garbage the collector has
 * not reached yet and pages V8 keeps for reuse, so a bound on RSS passes or
 * fails with the collector's timing; live bytes after full collections do not.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use plus Buffers (rendered bodies are Buffers), after full collections. */
export function liveBytes(): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
