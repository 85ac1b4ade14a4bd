/**
 * The registry a Go deployment writes (groups with username+password,
 * password-only and none; common labels; names Go allows and we did not;
 * labels with & < >; the akash registrar/exporter shapes), as the Go
 * program's `register` input, and how our targets and promster's jobs are
 * compared.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { sanitizeLabelName } from '../../src/registry/index.js';
import type { GoJob } from './go-program.js';

export const GO_SCENARIO = {
  groups: [
    { name: 'web', configure: { username: 'scraper', password: 's3cret', common_labels: { environment: 'production', region: 'us-east' } } },
    { name: 'akash', configure: { username: '', password: 'pw', common_labels: { exporter_type: 'node_exporter', provider: 'akash' } } },
    { name: 'empty', configure: null },
    { name: 'web.prod', configure: { username: '', password: '', common_labels: { tier: 'prod' } } },
    { name: 'a:b', configure: null },
    { name: '\u00e9t\u00e9', configure: null },
  ],
  nodes: [
    { group: 'web', node: { id: 'web-1', exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: { instance: 'i-1234567', note: 'a&b<c>', region: 'eu-west' } } },
    { group: 'web', node: { id: 'web-3', exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: { instance: 'i-3' } } },
    { group: 'web', node: { id: 'web-2', exporter_type: 'nginx_exporter', port: 9113, metrics_path: '/prometheus', labels: { 'app.kubernetes.io/name': 'nginx' } } },
    // akash exporter: address label (new registrars), ingress_host, external port as port.
    { group: 'akash', node: { id: 'abc', exporter_type: 'metrics_exporter', port: 31080, metrics_path: '/metrics', labels: { address: 'abc.ingress.example.net:31080', hash_id: 'abc', ingress_host: 'abc.ingress.example.net' } } },
    // akash registrar before 2024-12-29: the external port only in the address label, the metrics port in port.
    { group: 'akash', node: { id: 'old', exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: { address: 'old.ingress.example.net:31999', ingress_host: 'old.ingress.example.net' } } },
    // akash registrar: ingress_host only.
    { group: 'akash', node: { id: 'def', exporter_type: 'node_exporter', port: 8080, metrics_path: '/metrics', labels: { ingress_host: 'def.ingress.example.net' } } },
    { group: 'web.prod', node: { id: 'p1', exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: {} } },
    { group: 'a:b', node: { id: 'n1', exporter_type: 'app', port: 3000, metrics_path: '/metrics', labels: {} } },
    { group: '\u00e9t\u00e9', node: { id: 'e1', exporter_type: 'node_exporter', port: 9100, metrics_path: '/metrics', labels: {} } },
  ],
};

/** Writes a `register` input file into `dir`. */
export function writeSpec(dir: string, spec: unknown, name = 'spec.json'): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

export interface Served {
  readonly targets: string[];
  readonly labels: Record<string, string>;
}

/**
 * Where we differ from promster on purpose, by name (README "Go
 * compatibility"): we sanitise label names, force `exporter_type` to the
 * node's, and give each target its own labels and metrics path (promster
 * gives a job's every target its first node's), and scrape the `address`
 * label when there is one (older akash registrars put the external port only
 * there; promster never reads it and scrapes `ingress_host:port`).
 */
export const NAMED_DIFFERENCES = ['label names sanitised', 'exporter_type is the node\'s', 'per-node labels', 'address label first'] as const;

/**
 * Checks promster's jobs against our targets: the same set of (group,
 * exporter type, address), and the job's first node's labels equal ours for
 * that node but for the named differences. Returns the differences met.
 */
export function comparePromster(jobs: readonly GoJob[], served: readonly Served[]): Set<string> {
  const met = new Set<string>();
  const jobOf = (s: Served): string => `${s.labels['__meta_etcd_group']}-${s.labels['__meta_etcd_exporter_type']}`;
  const ours = served.map((s) => `${jobOf(s)} ${s.targets[0]}`).sort();
  // Where the address label differs from ingress_host:port, promster scrapes the latter: map it to ours.
  const ourAddress = (job: string, a: string): string => {
    const viaLabel = served.find((s) => jobOf(s) === job && s.labels['address'] === s.targets[0] && a.startsWith(`${s.labels['ingress_host']}:`) && a !== s.targets[0]);
    if (viaLabel === undefined) return a;
    met.add('address label first');
    return viaLabel.targets[0]!;
  };
  const theirs = jobs.flatMap((j) => j.targets.map((a) => `${j.job_name} ${ourAddress(j.job_name, a)}`)).sort();
  assert.deepEqual(theirs, ours, 'every address promster scrapes is served, under the same group and exporter type, and no other');
  for (const job of jobs) {
    const first = served.find((s) => jobOf(s) === job.job_name && s.targets[0] === ourAddress(job.job_name, job.targets[0]!));
    assert.ok(first, job.job_name);
    for (const [name, value] of Object.entries(job.labels)) {
      const clean = sanitizeLabelName(name);
      if (clean !== name) {
        met.add('label names sanitised');
        assert.equal(first.labels[clean ?? ''], value, `${job.job_name}: ${name} served as ${String(clean)}`);
      } else if (name === 'exporter_type' && value !== first.labels['exporter_type']) {
        met.add('exporter_type is the node\'s');
        assert.equal(first.labels['exporter_type'], first.labels['__meta_etcd_exporter_type']);
      } else {
        assert.equal(first.labels[name], value, `${job.job_name}: label ${name} of its first node`);
      }
    }
    assert.equal(first.labels['__metrics_path__'], job.metrics_path, `${job.job_name}: metrics path of its first node`);
    for (const address of job.targets.slice(1)) {
      const other = served.find((s) => s.targets[0] === ourAddress(job.job_name, address) && jobOf(s) === job.job_name)!;
      if (Object.entries(job.labels).some(([n, v]) => sanitizeLabelName(n) === n && n !== 'exporter_type' && other.labels[n] !== v)) met.add('per-node labels');
    }
  }
  return met;
}
