/**
 * The target-change stream behind `GET /v1/events`: changes recorded per
 * etcd revision in a bounded ring (so a client can resume from any revision
 * still held), and fanned out to clients whose unsent bytes are bounded (a
 * client that does not read is dropped, never buffered without bound).
 */
import type { Content, ServedSource } from '../registry/index.js';
import { diffContent, type TargetChange } from './diff.js';

/** What the hub watches: the mirror. */
export interface ChangeSource extends ServedSource {
  on(event: 'change', listener: () => void): unknown;
  off(event: 'change', listener: () => void): unknown;
}

/** One recorded change, already in SSE wire form. */
interface Recorded {
  readonly revision: number;
  readonly frame: string;
}

/** A connected client: where frames go. */
export interface EventClient {
  /** Writes a frame; returns the bytes still waiting to be sent to this client. */
  write(frame: string): number;
  /** Ends the client's stream (it fell behind, or we stop). */
  drop(why: 'slow' | 'closing'): void;
}

/** Bounds. */
export interface HubOptions {
  /** Changes kept for resuming. Default 10,000. */
  readonly ringSize?: number;
  /** Unsent bytes at which a client is dropped. Default 1 MiB. */
  readonly clientMaxBufferedBytes?: number;
  /** Clients at once. Default 100. */
  readonly maxClients?: number;
  /**
   * Changes within this many ms become one batch, diffed once. Default 100.
   * Diffing needs a snapshot, which the server otherwise builds only when
   * asked: per watch event that was ~600 µs of CPU at 100,000 nodes, 20x
   * the cost of applying the change. 0: diff at once (tests).
   */
  readonly coalesceMs?: number;
}

/** Formats one SSE message. `data` is one line of JSON. */
export function sseFrame(event: string, id: number | undefined, data: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

function frameOf(revision: number, c: TargetChange): string {
  const target = c.target === undefined ? '' : `,"target":${c.target}`;
  return sseFrame(c.type, revision, `{"revision":${revision},"group":${JSON.stringify(c.group)},"node":${JSON.stringify(c.node)}${target}}`);
}

/** Where a resuming client starts: the frames to replay, or a reset when its revision is gone. */
export type Resume = { readonly kind: 'replay'; readonly frames: readonly string[] } | { readonly kind: 'reset' };

/** Records changes and fans them out. */
export class EventHub {
  private readonly ring: Recorded[] = [];
  /** Every change after this revision is in the ring. */
  private floor = 0;
  private last: Content | undefined;
  private readonly clients = new Set<EventClient>();
  private readonly ringSize: number;
  readonly clientMaxBufferedBytes: number;
  readonly maxClients: number;
  private readonly listener = (): void => this.schedule();
  private readonly coalesceMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** Clients dropped for not reading. */
  droppedSlow = 0;

  constructor(private readonly source: ChangeSource, opts: HubOptions = {}) {
    this.ringSize = opts.ringSize ?? 10_000;
    this.clientMaxBufferedBytes = opts.clientMaxBufferedBytes ?? 1024 * 1024;
    this.maxClients = opts.maxClients ?? 100;
    this.coalesceMs = opts.coalesceMs ?? 100;
    this.last = source.content();
    this.floor = source.revision;
    source.on('change', this.listener);
  }

  /** The revision the stream is at. */
  get revision(): number {
    return this.source.revision;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** What a client that saw everything up to `revision` missed. */
  resume(revision: number): Resume {
    if (revision < this.floor || revision > this.source.revision) return { kind: 'reset' };
    return { kind: 'replay', frames: this.ring.filter((r) => r.revision > revision).map((r) => r.frame) };
  }

  /** Adds a client; false when the hub is full (callers check `clientCount` first to answer 503). */
  add(client: EventClient): boolean {
    if (this.clients.size >= this.maxClients) return false;
    this.clients.add(client);
    return true;
  }

  remove(client: EventClient): void {
    this.clients.delete(client);
  }

  /** Sends `frame` to every client (heartbeats); drops the ones that fell behind. */
  broadcast(frame: string): void {
    for (const c of this.clients) this.send(c, frame);
  }

  /** Sends one frame, dropping the client when its unsent bytes exceed the bound. */
  send(client: EventClient, frame: string): void {
    if (client.write(frame) > this.clientMaxBufferedBytes) {
      this.clients.delete(client);
      this.droppedSlow++;
      client.drop('slow');
    }
  }

  /** Stops listening and ends every stream. */
  close(): void {
    this.source.off('change', this.listener);
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const c of this.clients) c.drop('closing');
    this.clients.clear();
  }

  private schedule(): void {
    // The baseline is taken at once: a change coalesced into it would be lost.
    if (this.coalesceMs === 0 || this.last === undefined) {
      this.onChange();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.onChange();
    }, this.coalesceMs);
    this.timer.unref();
  }

  private onChange(): void {
    const next = this.source.content();
    const revision = this.source.revision;
    const before = this.last;
    this.last = next;
    if (before === undefined || next === undefined) {
      // The first load is the baseline: clients fetch it, the stream tells what follows.
      this.floor = revision;
      return;
    }
    const changes = diffContent(before, next);
    if (changes.length === 0) return;
    const frames = changes.map((c) => frameOf(revision, c));
    for (const frame of frames) this.ring.push({ revision, frame });
    this.trim();
    // One write per client and revision: a batch arrives whole or not at all.
    this.broadcast(frames.join(''));
  }

  private trim(): void {
    if (this.ring.length <= this.ringSize) return;
    let cut = this.ring.length - this.ringSize;
    // Never keep part of a revision: a resume from before it would miss the rest.
    const edge = this.ring[cut - 1]?.revision ?? this.floor;
    while (cut < this.ring.length && this.ring[cut]?.revision === edge) cut++;
    this.ring.splice(0, cut);
    this.floor = edge;
  }
}
