/**
 * `GET /v1/events`: Server-Sent Events of target changes. Each message's id
 * is the etcd revision it belongs to; a client sending `Last-Event-ID`
 * gets what it missed when that revision is still held, else a `reset`
 * event (refetch, then follow). After any replay comes `sync`, whose id is
 * the current revision, so even a quiet stream is resumable.
 */
import type { RequestHandler } from 'express';
import { HttpError } from '../http/errors.js';
import { sseFrame, type EventClient, type EventHub } from './hub.js';

/** How often a comment keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

function lastEventId(header: string | string[] | undefined, query: unknown): number | undefined {
  const raw = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined;
  if (raw === undefined || raw === '') return undefined;
  if (!/^[0-9]{1,15}$/.test(raw)) throw new HttpError(400, 'Last-Event-ID must be an etcd revision (a decimal integer)');
  return Number(raw);
}

/** The handler; one hub per server. */
export function eventsHandler(hub: EventHub): RequestHandler {
  return (req, res) => {
    const since = lastEventId(req.headers['last-event-id'], req.query['last_event_id']);
    if (hub.clientCount >= hub.maxClients) throw new HttpError(503, 'too many event-stream clients');
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    const client: EventClient = {
      write: (frame) => {
        res.write(frame);
        return res.writableLength;
      },
      drop: () => res.destroy(),
    };
    hub.add(client);
    const timer = setInterval(() => hub.send(client, ': keep-alive\n\n'), HEARTBEAT_MS);
    timer.unref();
    res.on('close', () => {
      clearInterval(timer);
      hub.remove(client);
    });
    const revision = hub.revision;
    const resume = since === undefined ? undefined : hub.resume(since);
    const replay = resume?.kind === 'replay' ? resume.frames.join('') : '';
    const head = resume?.kind === 'reset' ? 'reset' : 'sync';
    // Replay and the current revision in one tick: nothing can slip between them.
    hub.send(client, `retry: 2000\n${replay}${sseFrame(head, revision, `{"revision":${revision}}`)}`);
  };
}
