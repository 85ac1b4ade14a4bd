/**
 * Atomic file replacement, as Prometheus's file_sd needs it: it re-reads a
 * file on every inotify event, so it must never see a half-written one.
 * Temp file in the same directory (same file system, so rename is atomic),
 * fsync, rename over the target, fsync the directory (so the rename itself
 * survives a crash).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `data` to `path` atomically, mode `mode`. `prepare` runs on the
 * complete temp file before the rename (e.g. to set its owner), so the file
 * at `path` never has other attributes.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644, prepare?: (tmp: string) => Promise<void>): Promise<void> {
  const dir = dirname(path);
  // A dot name: Prometheus's file_sd globs (*.json, *.yml) never pick up a temp file.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await prepare?.(tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
