/**
 * Group and node documents: parsing what any writer put in etcd, and
 * formatting what we write, in the Go library's JSON shape
 * (registry-layout.md, "Group document", "Node document").
 */

/** Why a document was skipped; a label value of the invalid-documents metrics. */
export type InvalidReason =
  | 'invalid_json'
  | 'not_an_object'
  | 'missing_id'
  | 'missing_exporter_type'
  | 'invalid_port'
  | 'invalid_address'
  | 'invalid_field'
  | 'invalid_group_name';

/** Every reason, for pre-initialising metrics. */
export const INVALID_REASONS: readonly InvalidReason[] = [
  'invalid_json', 'not_an_object', 'missing_id', 'missing_exporter_type',
  'invalid_port', 'invalid_address', 'invalid_field', 'invalid_group_name',
];

/** A parse outcome: the value, or why the document is skipped. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: InvalidReason; readonly detail: string };

/** A group document as read. Labels are raw: sanitising happens at render time. */
export interface GroupDocument {
  readonly name?: string;
  readonly username?: string;
  /** Secret: never served unauthenticated, never logged. */
  readonly password?: string;
  readonly commonLabels: Readonly<Record<string, unknown>>;
  readonly created?: string;
}

/** A node document as read. */
export interface NodeDocument {
  readonly id: string;
  readonly exporterType: string;
  readonly port: number;
  readonly metricsPath: string;
  readonly labels: Readonly<Record<string, unknown>>;
  readonly status: string;
  readonly lastSeen?: string;
  /** Extension: `host:port` to scrape. */
  readonly address?: string;
}

function fail(reason: InvalidReason, detail: string): Parsed<never> {
  return { ok: false, reason, detail };
}

/**
 * Why `JSON.parse` refused a document, without its text: V8's messages quote
 * up to ten characters of the input (`Unexpected token 's', "sekret-gro"...`),
 * and the detail is logged, while a group document holds a password (issue #6).
 */
function jsonProblem(err: unknown, length: number): string {
  const at = /at position (\d+)/.exec(err instanceof Error ? err.message : '');
  return `not valid JSON (${length} characters${at === null ? '' : `, error at position ${at[1]}`})`;
}

function parseObject(text: string): Parsed<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail('invalid_json', jsonProblem(err, text.length));
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('not_an_object', `expected a JSON object, got ${Array.isArray(value) ? 'an array' : String(value === null ? 'null' : typeof value)}`);
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function optionalString(obj: Record<string, unknown>, field: string): string | undefined {
  const v = obj[field];
  return typeof v === 'string' ? v : undefined;
}

function labelsOf(v: unknown): Readonly<Record<string, unknown>> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Parses a group document. A document whose `spec` is not an object is invalid. */
export function parseGroupDocument(text: string): Parsed<GroupDocument> {
  const parsed = parseObject(text);
  if (!parsed.ok) return parsed;
  const doc = parsed.value;
  const spec = doc['spec'] ?? {};
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    return fail('invalid_field', '"spec" must be an object');
  }
  const s = spec as Record<string, unknown>;
  const out: { -readonly [K in keyof GroupDocument]: GroupDocument[K] } = { commonLabels: labelsOf(s['common_labels']) };
  const name = optionalString(doc, 'name');
  if (name !== undefined) out.name = name;
  const username = optionalString(s, 'username');
  if (username !== undefined && username !== '') out.username = username;
  const password = optionalString(s, 'password');
  if (password !== undefined && password !== '') out.password = password;
  const created = optionalString(doc, 'created');
  if (created !== undefined) out.created = created;
  return { ok: true, value: out };
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

/** Parses a node document; id, exporter_type and a port 1-65535 are required. */
export function parseNodeDocument(text: string): Parsed<NodeDocument> {
  const parsed = parseObject(text);
  if (!parsed.ok) return parsed;
  const doc = parsed.value;
  const id = doc['id'];
  if (typeof id !== 'string' || id === '') return fail('missing_id', '"id" must be a non-empty string');
  const exporterType = doc['exporter_type'];
  if (typeof exporterType !== 'string' || exporterType === '') {
    return fail('missing_exporter_type', '"exporter_type" must be a non-empty string');
  }
  const port = doc['port'];
  if (!isPort(port)) return fail('invalid_port', '"port" must be an integer from 1 to 65535');
  const out: { -readonly [K in keyof NodeDocument]: NodeDocument[K] } = {
    id,
    exporterType,
    port,
    metricsPath: optionalString(doc, 'metrics_path') ?? '',
    labels: labelsOf(doc['labels']),
    status: optionalString(doc, 'status') ?? '',
  };
  const lastSeen = optionalString(doc, 'last_seen');
  if (lastSeen !== undefined) out.lastSeen = lastSeen;
  const address = optionalString(doc, 'address');
  if (address !== undefined && address !== '') out.address = address;
  return { ok: true, value: out };
}

/**
 * RFC 3339 with nanoseconds, as Go formats `time.Time` in JSON
 * (`2025-03-01T10:00:05.987654321Z`). Sub-millisecond digits come from
 * `nanos` when given (0-999999), else zeros.
 */
export function formatGoTime(date: Date, nanos = 0): string {
  const iso = date.toISOString();
  const ms = iso.slice(20, 23);
  return `${iso.slice(0, 19)}.${ms}${String(nanos % 1_000_000).padStart(6, '0')}Z`;
}

/** Fields of a node document to write. */
export interface NodeDocumentInput {
  readonly id: string;
  readonly exporterType: string;
  readonly port: number;
  readonly metricsPath: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly status: string;
  readonly lastSeen: string;
  readonly address?: string;
}

/** Serialises a node document with the Go library's field names and order. */
export function formatNodeDocument(n: NodeDocumentInput): string {
  return JSON.stringify({
    id: n.id,
    exporter_type: n.exporterType,
    port: n.port,
    metrics_path: n.metricsPath,
    labels: n.labels,
    status: n.status,
    last_seen: n.lastSeen,
    ...(n.address !== undefined ? { address: n.address } : {}),
  });
}

/** Fields of a group document to write. */
export interface GroupDocumentInput {
  readonly name: string;
  readonly username: string;
  readonly password: string;
  readonly commonLabels: Readonly<Record<string, string>>;
  readonly created: string;
}

/** Serialises a group document as Go does (`common_labels` omitted when empty). */
export function formatGroupDocument(g: GroupDocumentInput): string {
  const spec: Record<string, unknown> = { username: g.username, password: g.password };
  if (Object.keys(g.commonLabels).length > 0) spec['common_labels'] = g.commonLabels;
  return JSON.stringify({ name: g.name, spec, created: g.created });
}
