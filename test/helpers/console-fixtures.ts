/**
 * A small registry for the console and explanation tests: two groups (one
 * with scrape credentials), nodes using each address rule, and documents the
 * server must skip, each for a different reason.
 */
import type { Etcd3 } from 'etcd3';

/** The group password: must never appear in any console or explanation answer. */
export const CONSOLE_GROUP_PASSWORD = 'Console-Group-Secret-H4vB8';
export const PREFIX = '/services';

const node = (id: string, exporterType: string, extra: Record<string, unknown> = {}): string => JSON.stringify({
  id, exporter_type: exporterType, port: 9100, metrics_path: '/metrics', labels: {}, status: 'healthy', last_seen: '2026-12-01T14:44:25.87494476-05:00', ...extra,
});

/** Key → value, in write order. */
export const CONSOLE_FIXTURES: readonly (readonly [string, string])[] = [
  [`${PREFIX}/web`, JSON.stringify({ name: 'web', spec: { username: 'scraper', password: CONSOLE_GROUP_PASSWORD, common_labels: { environment: 'production', region: 'us-east' } }, created: '2026-12-01T14:44:25.864722776-05:00' })],
  [`${PREFIX}/web/nodes/web-1_node_exporter`, node('web-1', 'node_exporter', { labels: { instance: 'i-1234567', region: 'eu-west', 'app.kubernetes.io/name': 'web', __scheme__: 'https' } })],
  [`${PREFIX}/web/nodes/web-2_node_exporter`, node('web-2', 'node_exporter', { address: '127.0.0.1:9101' })],
  [`${PREFIX}/akash`, JSON.stringify({ name: 'akash', spec: { username: '', password: 'pw-akash-Q1', common_labels: { provider: 'akash' } } })],
  [`${PREFIX}/akash/nodes/abc_metrics_exporter`, node('abc', 'metrics_exporter', { port: 31080, labels: { ingress_host: 'abc.ingress.example.net', exporter_type: 'node_exporter' } })],
  [`${PREFIX}/akash/nodes/broken`, '{"id":"broken","exporter_type":'],
  [`${PREFIX}/akash/nodes/noport_x`, node('noport', 'x', { port: 0 })],
];

/** Writes the fixtures (no lease); returns the revision after the last put. */
export async function putConsoleFixtures(client: Etcd3): Promise<number> {
  let revision = 0;
  for (const [key, value] of CONSOLE_FIXTURES) revision = Number((await client.put(key).value(value).exec()).header.revision);
  return revision;
}

/** A node document for nodes a test adds while watching. */
export function consoleNode(id: string, exporterType = 'node_exporter', port = 9100): string {
  return node(id, exporterType, { port });
}
