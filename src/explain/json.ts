/** Explanations in the API's JSON shape: snake_case, document fields as the Go library names them. */
import type { InvalidDocument, NodeDocument } from '../registry/index.js';
import type { GroupExplanation, NodeExplanation } from './explain.js';

function documentJson(d: NodeDocument): Record<string, unknown> {
  return {
    id: d.id, exporter_type: d.exporterType, port: d.port, metrics_path: d.metricsPath, labels: d.labels, status: d.status,
    ...(d.lastSeen === undefined ? {} : { last_seen: d.lastSeen }),
    ...(d.address === undefined ? {} : { address: d.address }),
  };
}

function problemJson(p: InvalidDocument | undefined): Record<string, unknown> {
  return p === undefined ? {} : { problem: { key: p.key, reason: p.reason, detail: p.detail } };
}

/** A group document's explanation; credentials only as whether they are set. */
export function groupExplanationJson(g: GroupExplanation): Record<string, unknown> {
  return {
    group: g.group, key: g.key, document: g.document, ...problemJson(g.problem),
    credentials: g.credentials, common_labels: g.commonLabels, labels: g.labels,
  };
}

/** A node's explanation. */
export function nodeExplanationJson(n: NodeExplanation): Record<string, unknown> {
  return {
    group: n.group, node: n.node, key: n.key, served: n.served, ...problemJson(n.problem),
    ...(n.document === undefined ? {} : { document: documentJson(n.document) }),
    ...(n.address === undefined ? {} : { address: n.address }),
    labels: n.labels,
    ...(n.target === undefined ? {} : { target: n.target }),
    group_document: groupExplanationJson(n.groupDocument),
  };
}
