/**
 * Convergence checks: what the server serves must equal a fresh listing of
 * etcd rendered by the same code, byte for byte, at the same revision.
 */
import type { Etcd3 } from 'etcd3';
import { EtcdSource } from '../../src/mirror/etcd-source.js';
import { RegistryState } from '../../src/registry/index.js';
import { eventually, httpGet } from './server.js';

/** Lists `prefix` now and renders it; returns the body and the listing's revision. */
export async function renderFromEtcd(client: Etcd3, prefix = '/services'): Promise<{ body: string; revision: number }> {
  let state = new RegistryState(prefix);
  const revision = await new EtcdSource(client, prefix, 500).list(
    (kvs) => {
      for (const kv of kvs) state.apply({ type: 'put', key: kv.key, value: kv.value });
    },
    () => {
      state = new RegistryState(prefix);
    },
  );
  return { body: state.snapshot().body, revision };
}

/**
 * Waits until the server's `/v1/targets` is byte-identical to a fresh
 * rendering of etcd and reports a revision at least the listing's.
 */
export async function waitForConvergence(server: { url: string }, client: Etcd3, prefix = '/services', timeoutMs = 15_000): Promise<{ body: string; revision: number }> {
  return eventually('served targets to equal a fresh listing of etcd', async () => {
    const expected = await renderFromEtcd(client, prefix);
    const res = await httpGet(`${server.url}/v1/targets`);
    const served = Number(res.headers['x-etcd-revision']);
    return res.status === 200 && served >= expected.revision && res.text === expected.body ? expected : undefined;
  }, timeoutMs, 50);
}
