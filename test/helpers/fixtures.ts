/**
 * Loads the registry fixtures (`test/fixtures/registry-go.json`: the keys and
 * documents the Go library writes, with the edge cases beside them) and
 * writes them into etcd.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Etcd3, Lease } from 'etcd3';

/** One etcd key/value of the fixture file; `lease: true` keys are written under a lease. */
export interface FixtureEntry {
  readonly key: string;
  readonly value: string;
  readonly lease: boolean;
}

/** The fixture file's content. */
export interface FixtureFile {
  readonly prefix: string;
  readonly entries: readonly FixtureEntry[];
}

/** What {@link putFixtures} wrote. */
export interface PutFixturesResult {
  /** Store revision after the last put. */
  readonly revision: number;
  /** The lease holding every `lease: true` entry (absent when there is none); revoke or release it. */
  readonly lease?: Lease;
  /** That lease's id (decimal string). */
  readonly leaseId?: string;
}

/** The repository root: the nearest directory above this file holding a package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Absolute path of `test/fixtures/registry-go.json`. */
export function fixtureFilePath(): string {
  return resolve(repoRoot(), 'test', 'fixtures', 'registry-go.json');
}

/** Reads and shape-checks the fixture file. */
export function loadFixtureFile(path: string = fixtureFilePath()): FixtureFile {
  const raw: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof raw !== 'object' || raw === null) throw new Error(`${path}: not a JSON object`);
  const { prefix, entries } = raw as { prefix?: unknown; entries?: unknown };
  if (typeof prefix !== 'string') throw new Error(`${path}: "prefix" must be a string`);
  if (!Array.isArray(entries)) throw new Error(`${path}: "entries" must be an array`);
  const checked = entries.map((e: unknown, i): FixtureEntry => {
    const { key, value, lease } = (e ?? {}) as { key?: unknown; value?: unknown; lease?: unknown };
    if (typeof key !== 'string' || typeof value !== 'string' || typeof lease !== 'boolean') {
      throw new Error(`${path}: entries[${i}] needs string key, string value, boolean lease`);
    }
    return { key, value, lease };
  });
  return { prefix, entries: checked };
}

/**
 * Puts every entry, in order. Entries with `lease: true` share one new lease
 * of `leaseTtlSeconds` (default 60), kept alive until the caller revokes or
 * releases it.
 */
export async function putFixtures(
  client: Etcd3,
  entries: readonly FixtureEntry[],
  leaseTtlSeconds = 60,
): Promise<PutFixturesResult> {
  let lease: Lease | undefined;
  let leaseId: string | undefined;
  if (entries.some((e) => e.lease)) {
    lease = client.lease(leaseTtlSeconds);
    lease.on('lost', () => {}); // the test decides what a lost lease means
    leaseId = await lease.grant();
  }
  let revision = 0;
  try {
    for (const entry of entries) {
      const put = client.put(entry.key).value(entry.value);
      if (entry.lease && leaseId !== undefined) put.lease(leaseId);
      const res = await put.exec();
      revision = Number(res.header.revision);
    }
  } catch (err) {
    lease?.release(); // stop its keep-alive so nothing keeps the test process running
    throw err;
  }
  return lease !== undefined && leaseId !== undefined ? { revision, lease, leaseId } : { revision };
}
