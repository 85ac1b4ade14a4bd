/** A minimal Server-Sent Events reader for tests: parses frames as they arrive. */
import { request, type ClientRequest } from 'node:http';

/** One SSE message. */
export interface SseMessage {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: string;
}

/** An open stream. */
export interface SseStream {
  readonly status: number;
  readonly messages: SseMessage[];
  /** Resolves with the first message (from the start of the stream) matching `pred`. */
  next(pred: (m: SseMessage) => boolean, what: string, timeoutMs?: number): Promise<SseMessage>;
  close(): void;
}

function parse(block: string): SseMessage | undefined {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 ? undefined : { event, id, data: data.join('\n') };
}

/** Opens `url` as an event stream. */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const messages: SseMessage[] = [];
    const waiters: (() => void)[] = [];
    const req: ClientRequest = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const m = parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (m !== undefined) messages.push(m);
        }
        for (const w of waiters.splice(0)) w();
      });
      res.on('error', () => {});
      resolve({
        status: res.statusCode ?? 0,
        messages,
        next: (pred, what, timeoutMs = 10_000) => new Promise((ok, fail) => {
          const timer = setTimeout(() => fail(new Error(`no SSE message: ${what}; got ${JSON.stringify(messages)}`)), timeoutMs);
          const check = (): void => {
            const m = messages.find(pred);
            if (m !== undefined) {
              clearTimeout(timer);
              ok(m);
            } else waiters.push(check);
          };
          check();
        }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
