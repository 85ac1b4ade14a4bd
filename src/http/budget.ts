/**
 * A byte budget for response bodies that are not fully written yet. A client
 * that does not read keeps its response's body alive until the write
 * deadline; distinct filters make distinct bodies, so without a bound a few
 * hundred such clients pinned gigabytes. A body shared by several responses
 * (the same view) counts once: it is held once. Over the budget, new
 * responses are refused (503, Retry-After) rather than started. A body
 * written from the registry's own chunks counts in full too: a state that
 * moves on leaves the old chunks pinned by such a response alone.
 */
import type { ServerResponse } from 'node:http';

/** A body a response keeps alive: a Buffer, or a view that writes one; counted by identity. */
export interface HeldBody {
  readonly byteLength: number;
}

export const DEFAULT_MAX_PENDING_RESPONSE_BYTES = 256 * 1024 * 1024;

export class ResponseBudget {
  private pending = 0;
  /** Unfinished responses per body. */
  private readonly holders = new Map<HeldBody, number>();
  /** Responses refused for want of budget, ever. */
  refused = 0;

  constructor(readonly maxBytes: number = DEFAULT_MAX_PENDING_RESPONSE_BYTES) {}

  /** Bytes of distinct bodies held by unfinished responses. */
  get bytes(): number {
    return this.pending;
  }

  /** Whether there is budget left to start a response (checked before rendering one). */
  hasRoom(): boolean {
    return this.pending < this.maxBytes;
  }

  /**
   * Holds `body` until `res` closes (written in full, or its connection
   * gone). False, counted, when a body not held yet would overrun the budget;
   * a body larger than the whole budget is still served when nothing else is
   * pending, so the bound is `maxBytes` or one body, whichever is larger.
   */
  hold(res: ServerResponse, body: HeldBody): boolean {
    const count = this.holders.get(body);
    if (count === undefined) {
      if (this.pending > 0 && this.pending + body.byteLength > this.maxBytes) {
        this.refused++;
        return false;
      }
      this.pending += body.byteLength;
    }
    this.holders.set(body, (count ?? 0) + 1);
    res.once('close', () => this.release(body));
    return true;
  }

  /** Counts a response refused before it was rendered. */
  refuse(): void {
    this.refused++;
  }

  private release(body: HeldBody): void {
    const count = this.holders.get(body) ?? 0;
    if (count > 1) {
      this.holders.set(body, count - 1);
      return;
    }
    this.holders.delete(body);
    this.pending -= body.byteLength;
  }
}

/** The answer when the budget is spent: try again shortly. */
export function sendBusy(res: ServerResponse): void {
  res.statusCode = 503;
  res.setHeader('Retry-After', '1');
  res.setHeader('Content-Type', 'application/json');
  res.end('{"error":"too many response bytes pending for slow clients; retry shortly"}');
}
