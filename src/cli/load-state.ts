/** Reads a registry prefix from etcd into a `RegistryState`, as the server's first load does. */
import type { EtcdConnectionConfig } from '../config/etcd.js';
import { createEtcdClient } from '../etcd/client.js';
import { EtcdUnavailableError, errorMessage } from '../errors.js';
import { EtcdSource } from '../mirror/etcd-source.js';
import { DEFAULT_LABEL_POLICY, RegistryState, type InvalidDocument, type LabelPolicy } from '../registry/index.js';
import { DEFAULT_CLIENT_ENDPOINT } from './register.js';

/** The state, the revision it reflects, and the documents skipped while loading. */
export interface LoadedState {
  readonly state: RegistryState;
  readonly revision: number;
  readonly skipped: readonly InvalidDocument[];
}

/** Lists the whole prefix at one revision, rendering under `policy`; a failure names the endpoints. */
export async function loadRegistryState(etcd: EtcdConnectionConfig, policy: LabelPolicy = DEFAULT_LABEL_POLICY): Promise<LoadedState> {
  const client = createEtcdClient({ ...etcd, endpoints: etcd.endpoints.length > 0 ? etcd.endpoints : [DEFAULT_CLIENT_ENDPOINT] });
  const fresh = (): RegistryState => new RegistryState(etcd.prefix, 0, new Map(), undefined, policy);
  let state = fresh();
  let skipped: InvalidDocument[] = [];
  try {
    const revision = await new EtcdSource(client, etcd.prefix).list(
      (kvs) => {
        for (const kv of kvs) {
          const r = state.apply({ type: 'put', key: kv.key, value: kv.value });
          if (r.invalid !== undefined) skipped.push(r.invalid);
        }
      },
      () => {
        state = fresh();
        skipped = [];
      },
    );
    return { state, revision, skipped };
  } catch (err) {
    const from = etcd.endpoints.join(',') || DEFAULT_CLIENT_ENDPOINT;
    throw new EtcdUnavailableError(`cannot read the registry from ${from}: list ${etcd.prefix}/: ${errorMessage(err)}`, { cause: err });
  } finally {
    client.close();
  }
}
