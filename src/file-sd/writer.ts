/**
 * Keeps file_sd files in step with the mirror: on every visible change the
 * selection is rendered and each file whose text moved is replaced
 * atomically. Writes are serialised and coalesced (a burst of changes gives
 * one write of the newest state), failed writes retried with backoff.
 */
import { readFile, rm } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TargetFilter } from '../http/rendered.js';
import { ViewCache } from '../http/rendered.js';
import type { Logger } from '../log.js';
import type { Content } from '../registry/index.js';
import { writeFileAtomic } from './atomic.js';
import { renderFiles, type FileTarget } from './render.js';

/** What the writer reads. */
export interface ContentFeed {
  content(): Content | undefined;
  on(event: 'change', listener: () => void): unknown;
  off(event: 'change', listener: () => void): unknown;
}

/** Options of `FileSdWriter`. */
export interface FileSdWriterOptions {
  readonly feed: ContentFeed;
  readonly target: FileTarget;
  readonly filter: TargetFilter;
  readonly logger: Logger;
  readonly registry: Registry;
  /** First retry delay after a failed write; doubles to 30 s. Default 1000. */
  readonly retryMs?: number;
}

const P = 'etcd_http_sd_file_sd_';

/** The writer; `start()` after the feed exists, `close()` to stop. */
export class FileSdWriter {
  private readonly written = new Map<string, string>();
  private readonly cache = new ViewCache(64 * 1024 * 1024);
  private running: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private version: number | undefined;
  private readonly onChange = (): void => this.kick();
  private readonly writes: Counter;
  private readonly failures: Counter;
  private readonly lastWrite: Gauge;
  private readonly inStep: Gauge;

  constructor(private readonly opts: FileSdWriterOptions) {
    this.retryMs = opts.retryMs ?? 1000;
    const registers = [opts.registry];
    this.writes = new Counter({ name: `${P}writes_total`, help: 'Files replaced because their content changed.', registers });
    this.failures = new Counter({ name: `${P}write_failures_total`, help: 'Failed attempts to bring the files in step.', registers });
    this.lastWrite = new Gauge({ name: `${P}last_sync_timestamp_seconds`, help: 'When the files were last found or made in step.', registers });
    this.inStep = new Gauge({ name: `${P}in_step`, help: '1 when the files hold the current state.', registers });
  }

  /** Whether the files hold the state last seen. */
  get ready(): boolean {
    return this.version !== undefined && !this.dirty && this.running === undefined && this.retryTimer === undefined;
  }

  /** Version of the state the files hold, once written. */
  get writtenVersion(): number | undefined {
    return this.version;
  }

  start(): void {
    this.opts.feed.on('change', this.onChange);
    this.kick();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.opts.feed.off('change', this.onChange);
    clearTimeout(this.retryTimer);
    await this.running;
  }

  private changedSinceDrainStarted(): boolean {
    return this.dirty;
  }

  private kick(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.dirty = true;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (this.dirty && !this.closed) {
      this.dirty = false;
      const content = this.opts.feed.content();
      if (content === undefined) return; // before the first full load: never a partial file
      try {
        await this.sync(content);
        this.retryMs = this.opts.retryMs ?? 1000;
        this.version = content.version;
        // A change may have arrived while the file was being written.
        this.inStep.set(this.changedSinceDrainStarted() ? 0 : 1);
        this.lastWrite.set(Date.now() / 1000);
      } catch (err) {
        this.failures.inc();
        this.inStep.set(0);
        this.opts.logger.error('cannot write the file_sd files; retrying', { error: err instanceof Error ? err.message : String(err), retryMs: this.retryMs });
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 30_000);
        return;
      }
    }
  }

  private async sync(content: Content): Promise<void> {
    const files = renderFiles(content, this.cache, this.opts.filter, this.opts.target);
    for (const [path, text] of files) {
      if (this.written.get(path) === text) continue;
      // After a restart the file may already hold this text: leave it (and its mtime) alone.
      if (!this.written.has(path) && (await readFile(path, 'utf8').catch(() => undefined)) === text) {
        this.written.set(path, text);
        continue;
      }
      await writeFileAtomic(path, text);
      this.written.set(path, text);
      this.writes.inc();
    }
    // Only files this process wrote are removed when their group goes: never a stranger's.
    for (const path of [...this.written.keys()]) {
      if (files.has(path)) continue;
      await rm(path, { force: true });
      this.written.delete(path);
      this.writes.inc();
    }
  }
}
