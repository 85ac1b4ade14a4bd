/**
 * The limit: a bare `node:http` server answering pre-rendered bytes, no
 * framework, no logic beyond picking the file for the path and, when the
 * client asks for gzip, its pre-compressed twin. Run as its own process:
 *
 *   node limit-server.js <port> <manifest.json>
 *
 * The manifest maps request paths (with query) to `{ identity, gzip? }`
 * file names; the files hold the exact bytes our server sent for that path.
 */
import { readFileSync } from 'node:fs';
import { loadedAsTestFile } from './entry.js';
import { createServer } from 'node:http';

/** The manifest file's shape. */
export interface LimitManifest {
  readonly routes: Readonly<Record<string, { readonly identity: string; readonly gzip?: string }>>;
}

function main(): void {
  const [portArg, manifestPath] = process.argv.slice(2);
  if (portArg === undefined || manifestPath === undefined) throw new Error('usage: limit-server.js <port> <manifest.json>');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as LimitManifest;
  const routes = new Map<string, { identity: Buffer; gzip: Buffer | undefined }>();
  for (const [path, files] of Object.entries(manifest.routes)) {
    routes.set(path, { identity: readFileSync(files.identity), gzip: files.gzip === undefined ? undefined : readFileSync(files.gzip) });
  }
  routes.set('/healthz', { identity: Buffer.from('ok'), gzip: undefined });
  const server = createServer((req, res) => {
    const route = routes.get(req.url ?? '');
    if (route === undefined) {
      res.writeHead(404).end();
      return;
    }
    const gz = route.gzip !== undefined && (req.headers['accept-encoding'] ?? '').includes('gzip');
    const body = gz ? route.gzip! : route.identity;
    res.writeHead(200, gz
      ? { 'content-type': 'application/json', 'content-length': body.length, 'content-encoding': 'gzip' }
      : { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.listen(Number(portArg), '127.0.0.1');
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (!loadedAsTestFile()) main();
