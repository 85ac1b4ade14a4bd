/**
 * Throwaway TLS material made with openssl in a temp dir: a CA, an etcd
 * server certificate for 127.0.0.1 signed by it, a client certificate
 * signed by it, and an unrelated second CA (the "wrong CA"). P-256 keys,
 * valid for two days. Removed when the test ends.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CleanupContext } from './etcd.js';
import { runCommand } from './process.js';

/** openssl binary; override with env `OPENSSL_BIN`. */
export const OPENSSL_BIN = process.env['OPENSSL_BIN'] ?? 'openssl';

/** Paths of the generated PEM files. */
export interface TestCerts {
  readonly dir: string;
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** A CA that signed nothing here: trusting it instead of `caFile` must fail. */
  readonly otherCaFile: string;
}

async function openssl(args: readonly string[]): Promise<void> {
  const r = await runCommand(OPENSSL_BIN, args, { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed (${String(r.code)}): ${r.stderr}`);
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string, cn: string): Promise<{ crt: string; key: string }> {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await openssl(['req', '-x509', ...KEY, '-keyout', key, '-out', crt, '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { crt, key };
}

async function makeLeaf(dir: string, name: string, ca: { crt: string; key: string }, cn: string, ext: string): Promise<{ crt: string; key: string }> {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  await writeFile(extFile, ext);
  await openssl(['req', ...KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-out', crt, '-days', '2', '-extfile', extFile]);
  return { crt, key };
}

/** Generates the certificates in a new temp dir. */
export async function makeTestCerts(): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-http-sd-certs-'));
  try {
    const ca = await makeCa(dir, 'ca', 'etcd-http-sd test CA');
    const other = await makeCa(dir, 'other-ca', 'etcd-http-sd unrelated CA');
    // The server certificate also serves as a client one: etcd dials itself with it (gRPC gateway).
    const server = await makeLeaf(dir, 'server', ca, 'etcd test server',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
    const client = await makeLeaf(dir, 'client', ca, 'etcd-http-sd client',
      'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
    return {
      dir, caFile: ca.crt, serverCertFile: server.crt, serverKeyFile: server.key,
      clientCertFile: client.crt, clientKeyFile: client.key, otherCaFile: other.crt,
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Generates the certificates and removes them when the test ends. */
export async function useTestCerts(t: CleanupContext): Promise<TestCerts> {
  const certs = await makeTestCerts();
  t.after(() => rm(certs.dir, { recursive: true, force: true }));
  return certs;
}

/** A self-signed P-256 certificate for 127.0.0.1 (and `localhost`), valid one day, written into `dir`. */
export async function makeSelfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await openssl(['req', '-x509', ...KEY, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert]);
  return { cert, key };
}

/** An RSA-2048 key pair (PEM) written into `dir`, e.g. for etcd's JWT auth tokens. */
export async function makeRsaKeyPair(dir: string, name: string): Promise<{ priv: string; pub: string }> {
  const priv = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub`);
  await openssl(['genrsa', '-out', priv, '2048']);
  await openssl(['rsa', '-in', priv, '-pubout', '-out', pub]);
  return { priv, pub };
}
