/**
 * Convergence checks: what the server serves must equal a fresh listing of
 * etcd rendered by the same code, byte for byte, at the same revision.
 */
import type { Etcd3 } from 'etcd3';
import { EtcdSource } from '../../src/mirror/etcd-source.js';
import { RegistryState, type GroupDocument } from '../../src/registry/index.js';
import { eventually, httpGet } from './server.js';

/**
 * Lists `prefix` now and renders it; returns the body and the listing's
 * revision. `lastGood`: the group documents in force that a reload keeps
 * when the stored one does not decode (stale over partial).
 */
export async function renderFromEtcd(client: Etcd3, prefix = '/services', lastGood?: ReadonlyMap<string, GroupDocument>): Promise<{ body: string; revision: number }> {
  let state = new RegistryState(prefix, 0, lastGood);
  const revision = await new EtcdSource(client, prefix, 500).list(
    (kvs) => {
      for (const kv of kvs) state.apply({ type: 'put', key: kv.key, value: kv.value });
    },
    () => {
      state = new RegistryState(prefix, 0, lastGood);
    },
  );
  return { body: state.snapshot().body, revision };
}

/** What the convergence check needs of a server: its URL and, in process, its mirror. */
export interface ConvergingServer {
  readonly url: string;
  readonly mirror?: { registryState(): { lastGoodGroups(): ReadonlyMap<string, GroupDocument> } | undefined };
}

/**
 * Waits until the server's `/v1/targets` is byte-identical to a fresh
 * rendering of etcd (seeded, as a reload is, with the group documents the
 * server keeps in force) and reports a revision at least the listing's.
 */
export async function waitForConvergence(server: ConvergingServer, client: Etcd3, prefix = '/services', timeoutMs = 15_000): Promise<{ body: string; revision: number }> {
  return eventually('served targets to equal a fresh listing of etcd', async () => {
    const expected = await renderFromEtcd(client, prefix, server.mirror?.registryState()?.lastGoodGroups());
    const res = await httpGet(`${server.url}/v1/targets`);
    const served = Number(res.headers['x-etcd-revision']);
    return res.status === 200 && served >= expected.revision && res.text === expected.body ? expected : undefined;
  }, timeoutMs, 50);
}
