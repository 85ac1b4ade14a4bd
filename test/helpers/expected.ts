/** What the fixtures (test/fixtures/registry-go.json) must be served as, by the layout in docs/registry-layout.md. */

function meta(group: string, id: string, type: string, status = 'healthy'): Record<string, string> {
  return {
    __meta_etcd_group: group,
    __meta_etcd_node_id: id,
    __meta_etcd_exporter_type: type,
    ...(status ? { __meta_etcd_node_status: status } : {}),
    exporter_type: type,
  };
}

/** The expected `/v1/targets` for the fixtures, in served order. */
export const EXPECTED_FIXTURE_TARGETS = [
  { targets: ['abc.ingress.example.net:31080'], labels: { ...meta('akash', 'deploy-abc', 'node_exporter'), __metrics_path__: '/metrics', address: 'abc.ingress.example.net:31080', ingress_host: 'abc.ingress.example.net', provider: 'akash' } },
  { targets: ['def.ingress.example.net:8080'], labels: { ...meta('akash', 'deploy-def', 'node_exporter'), __metrics_path__: '/metrics', ingress_host: 'def.ingress.example.net', provider: 'akash' } },
  // badgroup's document never decoded: its node ok-1 is withheld (stale over partial; promster skips it too).
  { targets: ['db-2:9187'], labels: { ...meta('db', 'db-2', 'postgres_exporter') } },
  { targets: ['db_1:9187'], labels: { ...meta('db', 'db_1', 'postgres_exporter'), __metrics_path__: '/metrics', _9lives: 'yes', app_kubernetes_io_name: 'postgres', no_cleanup: 'true' } },
  { targets: ['10.1.2.3:3000'], labels: { ...meta('ext', 'ext-1', 'app'), __metrics_path__: '/metrics', team: 'api' } },
  // Its `job` is dropped: the default --protected-labels (Prometheus would keep it over job_name).
  { targets: ['evil:9100'], labels: { ...meta('hostile', 'evil', 'node_exporter'), __metrics_path__: '/metrics' } },
  { targets: ['maint:9100'], labels: { ...meta('hostile', 'maint', 'node_exporter', 'maintenance'), __metrics_path__: '/metrics', team: 'infra' } },
  { targets: ['lonely:9100'], labels: { ...meta('orphans', 'lonely', 'node_exporter'), __metrics_path__: '/metrics', team: 'infra' } },
  { targets: ['web-1:9113'], labels: { ...meta('web', 'web-1', 'nginx_exporter'), __metrics_path__: '/prometheus', environment: 'production', region: 'us-east' } },
  { targets: ['web-1:9100'], labels: { ...meta('web', 'web-1', 'node_exporter'), __metrics_path__: '/metrics', environment: 'production', instance: 'i-1234567', region: 'us-east' } },
  { targets: ['web-2:9100'], labels: { ...meta('web', 'web-2', 'node_exporter'), __metrics_path__: '/metrics', environment: 'production', region: 'eu-west' } },
  { targets: ['canary-1:9100'], labels: { ...meta('web-canary', 'canary-1', 'node_exporter'), __metrics_path__: '/metrics', environment: 'canary' } },
];

