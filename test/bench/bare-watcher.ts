/**
 * The floor for the heartbeat cost: an `etcd3` watcher on the prefix that
 * only counts watch messages and their events. Prints `{"started":..}` once
 * watching and `{"result":{messages,events}}` on SIGTERM.
 *
 *   node bare-watcher.js ENDPOINT PREFIX
 */
import { Etcd3 } from 'etcd3';
import { loadedAsTestFile } from './entry.js';

async function main(endpoint: string, prefix: string): Promise<void> {
  const client = new Etcd3({ hosts: [endpoint] });
  let messages = 0;
  let events = 0;
  const watcher = await client.watch().prefix(prefix).create();
  watcher.on('data', (res: { events: unknown[] }) => {
    messages += 1;
    events += res.events.length;
  });
  process.stdout.write(`${JSON.stringify({ started: Date.now() })}\n`);
  process.once('SIGTERM', () => {
    process.stdout.write(`${JSON.stringify({ result: { messages, events } })}\n`);
    void watcher.cancel().finally(() => {
      client.close();
      process.exit(0);
    });
  });
}

if (!loadedAsTestFile()) {
  const [endpoint, prefix] = process.argv.slice(2);
  main(endpoint ?? 'http://127.0.0.1:2379', prefix ?? '/services').catch((err: unknown) => {
    process.stderr.write(`bare-watcher: ${String(err)}\n`);
    process.exit(1);
  });
}
