/**
 * HTTP for the harness's own requests: raw bodies (gzip left compressed),
 * and a keep-alive poller that watches `X-Etcd-Revision`.
 */
import { Agent, request } from 'node:http';
import { assertLoopbackUrl } from '../helpers/process.js';

/** A response, body as sent on the wire. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One request to a loopback URL; the body is not decoded. */
export function fetchRaw(url: string, opts: { method?: string; headers?: Record<string, string>; agent?: Agent; timeoutMs?: number } = {}): Promise<RawResponse> {
  const target = assertLoopbackUrl(url);
  return new Promise((resolve, reject) => {
    const req = request(target, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`${url}: no answer within ${opts.timeoutMs ?? 60_000} ms`)), opts.timeoutMs ?? 60_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}

/** Watches the revision a server reports for one path, over keep-alive connections. */
export class RevisionPoller {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  /** Round-trip time of every poll, ms. */
  readonly rttMs: number[] = [];

  constructor(private readonly url: string) {
    assertLoopbackUrl(url);
  }

  /** One HEAD: the served `X-Etcd-Revision` and `ETag`. */
  async head(): Promise<{ revision: number; etag: string }> {
    const t0 = performance.now();
    const res = await fetchRaw(this.url, { method: 'HEAD', agent: this.agent, timeoutMs: 10_000 });
    this.rttMs.push(performance.now() - t0);
    if (this.rttMs.length > 100_000) this.rttMs.splice(0, 50_000);
    if (res.status !== 200) throw new Error(`HEAD ${this.url}: status ${res.status}`);
    return { revision: Number(res.headers['x-etcd-revision']), etag: String(res.headers['etag']) };
  }

  /**
   * Polls back to back until the served revision is at least `revision`;
   * resolves with the `performance.now()` of the answer that showed it, or
   * undefined after `timeoutMs`.
   */
  async until(revision: number, timeoutMs: number): Promise<number | undefined> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const { revision: served } = await this.head();
      if (served >= revision) return performance.now();
    }
    return undefined;
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

/**
 * Polls `/readyz` back to back until the mirror's revision is at least
 * `revision`: it tells that the server applied the changes without making it
 * render anything (a targets request would build a snapshot). Resolves false
 * after `timeoutMs`.
 */
export async function waitForAppliedRevision(baseUrl: string, revision: number, timeoutMs: number): Promise<boolean> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const res = await fetchRaw(`${baseUrl}/readyz`, { agent, timeoutMs: 10_000 });
      const applied = Number((JSON.parse(res.body.toString()) as { revision?: unknown }).revision);
      if (applied >= revision) return true;
    }
    return false;
  } finally {
    agent.destroy();
  }
}
