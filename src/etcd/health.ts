/** Waiting for an etcd member's `/health` to say it is healthy. */
import { get as httpGet } from 'node:http';
import { TimeoutError } from '../errors.js';

/**
 * Polls `GET <endpoint>/health` every 100 ms until etcd answers
 * `{"health":"true"}`. Rejects with {@link TimeoutError} after `timeoutMs`,
 * or with the abort reason when `signal` fires.
 */
export async function waitForHealthy(endpoint: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    if (await isHealthy(`${endpoint}/health`, Math.min(1000, Math.max(1, deadline - Date.now())))) return;
    if (Date.now() >= deadline) throw new TimeoutError(`etcd health check on ${endpoint}`, timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function isHealthy(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    // agent: false: no pooled keep-alive socket outlives the check.
    const req = httpGet(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve((JSON.parse(body) as { health?: unknown }).health === 'true');
        } catch {
          resolve(false);
        }
      });
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}
