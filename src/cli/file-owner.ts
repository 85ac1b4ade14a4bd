/**
 * Owner and mode of the secret files `scrape-configs` writes, so that
 * Prometheus running as its own user (Debian: `prometheus`) can read them:
 * `--file-owner USER[:GROUP]` (names from /etc/passwd and /etc/group, or
 * numeric ids) and `--file-mode MODE` (octal, never readable by others).
 */
import { chmod, chown } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import type { ReadFile } from '../config/file.js';

/** Who owns written files and with which permissions. */
export interface FileAccess {
  readonly uid?: number;
  readonly gid?: number;
  readonly mode: number;
}

/** Secret files default to owner-only. */
export const DEFAULT_FILE_MODE = 0o600;

function lookup(readFile: ReadFile, table: '/etc/passwd' | '/etc/group', name: string, setting: string): number {
  if (/^[0-9]+$/.test(name)) return Number(name);
  let text: string;
  try {
    text = readFile(table).toString('utf8');
  } catch {
    throw new ConfigError(setting, `cannot read ${table} to look up ${JSON.stringify(name)}: give a numeric id`);
  }
  const entry = text.split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
  if (entry?.[2] === undefined) throw new ConfigError(setting, `no ${table === '/etc/passwd' ? 'user' : 'group'} ${JSON.stringify(name)} on this machine`);
  return Number(entry[2]);
}

/** Parses `--file-owner` and `--file-mode`. */
export function fileAccessFrom(owner: string | undefined, mode: string | undefined, readFile: ReadFile): FileAccess {
  let m = DEFAULT_FILE_MODE;
  if (mode !== undefined) {
    if (!/^0?[0-7]{3}$/.test(mode)) throw new ConfigError('--file-mode', `${JSON.stringify(mode)} is not an octal mode like 0640`);
    m = parseInt(mode, 8);
    if ((m & 0o007) !== 0) throw new ConfigError('--file-mode', `${mode} lets every user read the passwords; use 0600 or 0640 (with --file-owner :prometheus)`);
    if ((m & 0o400) === 0) throw new ConfigError('--file-mode', `${mode} does not let the owner read the file`);
  }
  if (owner === undefined || owner === '') return { mode: m };
  const [user, group] = owner.split(':', 2);
  return {
    mode: m,
    ...(user === undefined || user === '' ? {} : { uid: lookup(readFile, '/etc/passwd', user, '--file-owner') }),
    ...(group === undefined || group === '' ? {} : { gid: lookup(readFile, '/etc/group', group, '--file-owner') }),
  };
}

/** A directory's mode for files of `mode`: x wherever r is. */
export function directoryMode(mode: number): number {
  return mode | ((mode & 0o444) >> 2);
}

/** Applies owner and mode to `path` (before it is renamed into place). */
export async function applyFileAccess(path: string, access: FileAccess, mode = access.mode): Promise<void> {
  if (access.uid !== undefined || access.gid !== undefined) {
    try {
      await chown(path, access.uid ?? -1, access.gid ?? -1);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      throw new ConfigError('--file-owner', `cannot give ${path} that owner (${code}): run as root, or name only a group you are in`, { cause: err });
    }
  }
  await chmod(path, mode);
}
