/**
 * What a registrant says about a node, checked before anything is written
 * (docs/registry-layout.md, "Node document"). Pure: no I/O.
 */
import { isIPv6 } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { isPort, joinHostPort } from '../net.js';
import { checkLabels, formatGoTime, formatNodeDocument, nodeKey, type NodeDocumentInput } from '../registry/index.js';
import { checkGroupName } from './options.js';

/** A node to register: one exporter of one machine. */
export interface NodeSpec {
  /** Group to join: a name the Go library accepts (`GROUP_NAME_RULE`), e.g. `web` or `web.prod`. */
  readonly group: string;
  /** Node id, e.g. the hostname. Non-empty, no `/` or whitespace. */
  readonly id: string;
  /** Exporter type, e.g. `node_exporter`. Non-empty, no `/` or whitespace. */
  readonly exporterType: string;
  /** Port the exporter listens on, 1-65535. */
  readonly port: number;
  /** Host to scrape; written as the `address` extension `host:port` (IPv6 in brackets). Not with `address`. */
  readonly host?: string;
  /** `host:port` to scrape, written as is in the `address` extension. Not with `host`. */
  readonly address?: string;
  /** Path of the metrics endpoint, starting with `/`. Default `/metrics`. */
  readonly metricsPath?: string;
  /** Node labels; names must be valid Prometheus label names not starting with `__`, values non-empty. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Node status. Default `healthy` (what the Go library writes); e.g. `maintenance`. */
  readonly status?: string;
}

/**
 * A checked node spec with defaults applied; what the document is built from:
 * the document's fields but `last_seen` (stamped at each put), plus the group.
 * `address` (the extension) is set only when `host` or `address` was given.
 */
export interface ValidNode extends Omit<NodeDocumentInput, 'lastSeen'> {
  readonly group: string;
  /**
   * The group's common labels when the node joined, copied into the
   * document's labels (only names the node does not set), as the Go
   * library's `RegisterNode` does: Go readers of the node see them.
   */
  readonly copiedLabels?: Readonly<Record<string, string>>;
}

/** Default `metrics_path`. */
export const DEFAULT_METRICS_PATH = '/metrics';
/** Default `status`, as the Go library writes it. */
export const DEFAULT_STATUS = 'healthy';

const NAME_PART = /^[^\s/]+$/;
const HOST_NAME = /^[^\s/:[\]@?#]+$/;
const ADDRESS = /^(\[[^\]\s]+\]|[^\s/:[\]@?#]+):(\d{1,5})$/;

/** A host name, IPv4 address, or IPv6 address with or without brackets. */
function isHost(host: string): boolean {
  if (host.startsWith('[') && host.endsWith(']')) return isIPv6(host.slice(1, -1));
  return host.includes(':') ? isIPv6(host) : HOST_NAME.test(host);
}

function checkName(field: string, value: unknown, example: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidArgumentError(field, value, `must be a non-empty string such as ${example}`);
  }
  if (!NAME_PART.test(value)) {
    throw new InvalidArgumentError(field, value, 'must not contain "/" or whitespace: it is part of the node key');
  }
  return value;
}

/** Checks `port` is an integer from 1 to 65535; `field` names it in the error. */
export function checkPort(field: string, value: unknown): number {
  if (typeof value !== 'number' || !isPort(value)) {
    throw new InvalidArgumentError(field, value, 'must be an integer from 1 to 65535');
  }
  return value;
}

export { joinHostPort };

function addressOf(spec: NodeSpec, port: number): string | undefined {
  if (spec.host !== undefined && spec.address !== undefined) {
    throw new InvalidArgumentError('address', spec.address, 'give host or address, not both');
  }
  if (spec.host !== undefined) {
    if (typeof spec.host !== 'string' || !isHost(spec.host)) {
      throw new InvalidArgumentError('host', spec.host, 'must be a host name or IP address without port or scheme');
    }
    return joinHostPort(spec.host, port);
  }
  if (spec.address === undefined) return undefined;
  const m = typeof spec.address === 'string' ? ADDRESS.exec(spec.address) : null;
  if (m === null || !isHost(m[1] ?? '')) {
    throw new InvalidArgumentError('address', spec.address, 'must be host:port (IPv6 as [addr]:port)');
  }
  checkPort('address', Number(m[2]));
  return spec.address;
}

function checkNodeLabels(labels: unknown): Readonly<Record<string, string>> {
  if (labels === undefined) return {};
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new InvalidArgumentError('labels', labels, 'must be an object of label names to string values');
  }
  const problem = checkLabels(labels as Record<string, string>)[0];
  if (problem !== undefined) {
    const value = (labels as Record<string, unknown>)[problem.name];
    throw new InvalidArgumentError(`labels.${problem.name}`, value, problem.problem);
  }
  return { ...(labels as Record<string, string>) };
}

function checkMetricsPath(value: unknown): string {
  if (value === undefined) return DEFAULT_METRICS_PATH;
  if (typeof value !== 'string' || !value.startsWith('/') || /\s/.test(value)) {
    throw new InvalidArgumentError('metricsPath', value, 'must be a URL path starting with "/", such as /metrics');
  }
  return value;
}

/** Checks a status value: a non-empty string without whitespace. */
export function checkStatus(value: unknown): string {
  if (value === undefined) return DEFAULT_STATUS;
  if (typeof value !== 'string' || value === '' || /\s/.test(value)) {
    throw new InvalidArgumentError('status', value, 'must be a non-empty word such as healthy or maintenance');
  }
  return value;
}

/**
 * Checks every field of `spec` and applies defaults. Throws
 * `InvalidArgumentError` naming the first bad field and its value: the
 * registry would otherwise skip the node or drop the label silently.
 */
export function validateNode(spec: NodeSpec): ValidNode {
  const group = checkGroupName(spec.group);
  const id = checkName('id', spec.id, '"web-1"');
  const exporterType = checkName('exporterType', spec.exporterType, '"node_exporter"');
  const port = checkPort('port', spec.port);
  const address = addressOf(spec, port);
  return {
    group,
    id,
    exporterType,
    port,
    metricsPath: checkMetricsPath(spec.metricsPath),
    labels: checkNodeLabels(spec.labels),
    status: checkStatus(spec.status),
    ...(address === undefined ? {} : { address }),
  };
}

/** The node's key: `{prefix}/{group}/nodes/{id}_{exporter_type}`. */
export function keyOfNode(prefix: string, node: ValidNode): string {
  return nodeKey(prefix, node.group, node.id, node.exporterType);
}

/** The current time as Go writes `time.Time`: RFC 3339 with nanoseconds. */
export function goNow(): string {
  const t = performance.timeOrigin + performance.now();
  const ms = Math.floor(t);
  return formatGoTime(new Date(ms), Math.floor((t - ms) * 1e6));
}

/** `node` with the group's common labels to copy at registration (see `ValidNode.copiedLabels`). */
export function withCopiedLabels(node: ValidNode, common: Readonly<Record<string, string>> | undefined): ValidNode {
  return common === undefined || Object.keys(common).length === 0 ? node : { ...node, copiedLabels: { ...common } };
}

/** The host of a `host:port` address as promster joins it with the port: IPv6 keeps its brackets. */
function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(':'));
}

/**
 * The labels the document carries: the node's own, then what Go readers
 * need and the node does not set: `ingress_host` (promster scrapes
 * `ingress_host:port`, else `id:port`, and never reads our `address`) and
 * the copied common labels.
 */
export function documentLabels(node: ValidNode): Record<string, string> {
  const labels: Record<string, string> = { ...node.labels };
  if (node.address !== undefined && !Object.hasOwn(labels, 'ingress_host')) labels['ingress_host'] = hostOf(node.address);
  for (const [name, value] of Object.entries(node.copiedLabels ?? {})) if (!Object.hasOwn(labels, name)) labels[name] = value;
  return labels;
}

/** The node document in the Go library's shape, `last_seen` = `lastSeen` (default now). */
export function nodeDocument(node: ValidNode, lastSeen: string = goNow()): string {
  return formatNodeDocument({ ...node, labels: documentLabels(node), lastSeen });
}
