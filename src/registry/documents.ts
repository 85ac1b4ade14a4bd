/**
 * Group and node documents: parsing what any writer put in etcd, and
 * formatting what we write, in the Go library's JSON shape
 * (docs/registry-layout.md, "Group document", "Node document", "Decoding").
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
  | 'invalid_group_name'
  | 'invalid_key_encoding'
  | 'document_too_large'
  | 'too_many_labels'
  | 'label_too_long';

/** Every reason, for pre-initialising metrics. */
export const INVALID_REASONS: readonly InvalidReason[] = [
  'invalid_json', 'not_an_object', 'missing_id', 'missing_exporter_type',
  'invalid_port', 'invalid_address', 'invalid_field', 'invalid_group_name',
  'invalid_key_encoding', 'document_too_large', 'too_many_labels', 'label_too_long',
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
  readonly commonLabels: Readonly<Record<string, string>>;
  readonly created?: string;
}

/** A node document as read. */
export interface NodeDocument {
  readonly id: string;
  readonly exporterType: string;
  readonly port: number;
  readonly metricsPath: string;
  readonly labels: Readonly<Record<string, string>>;
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
 * and the detail is logged, while a group document holds a password.
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
    return fail('not_an_object', `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * Go's `encoding/json` matches a field name case-insensitively (`"ID"`,
 * `"Port"` are read) and the last matching key wins; we read the same way,
 * so a document means to us what it means to every Go reader.
 */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (obj === lowerCaseOnly || hasOnlyLowerCaseKeys(obj)) {
    // No key folds to `name` but `name` itself: what the search below would find.
    lowerCaseOnly = obj;
    return Object.hasOwn(obj, name) ? obj[name] : undefined;
  }
  if (Object.hasOwn(obj, name) && !hasFoldedTwin(obj, name)) return obj[name];
  let found: unknown;
  for (const key of Object.keys(obj)) if (key.toLowerCase() === name) found = obj[key];
  return found;
}

/**
 * The last object read whose keys are all lower case, as every writer we know
 * spells them: each field of it is then one lookup, not a scan of its keys
 * (a node heartbeat reads nine fields). Parsed objects are never mutated.
 */
let lowerCaseOnly: object | undefined;

function hasOnlyLowerCaseKeys(obj: Record<string, unknown>): boolean {
  for (const key of Object.keys(obj)) if (key.toLowerCase() !== key) return false;
  return true;
}

function hasFoldedTwin(obj: Record<string, unknown>, name: string): boolean {
  for (const key of Object.keys(obj)) if (key !== name && key.toLowerCase() === name) return true;
  return false;
}

/** A Go `string` field: a string, or absent/null (Go leaves it ""). Anything else fails the document. */
function stringField(obj: Record<string, unknown>, name: string): Parsed<string> {
  const v = field(obj, name);
  if (v === undefined || v === null) return { ok: true, value: '' };
  return typeof v === 'string' ? { ok: true, value: v } : fail('invalid_field', `"${name}" must be a string`);
}

/** A Go `map[string]string` field: an object of strings (null elements are ""), or absent/null. */
function labelsField(obj: Record<string, unknown>, name: string): Parsed<Record<string, string>> {
  const v = field(obj, name);
  if (v === undefined || v === null) return { ok: true, value: {} };
  if (typeof v !== 'object' || Array.isArray(v)) return fail('invalid_field', `"${name}" must be an object of strings`);
  const labels = v as Record<string, unknown>;
  let hasNull = false;
  for (const k of Object.keys(labels)) {
    const value = labels[k];
    if (value === null) hasNull = true;
    else if (typeof value !== 'string') return fail('invalid_field', `"${name}" must be an object of strings (a value is a ${Array.isArray(value) ? 'array' : typeof value})`);
  }
  // Parsed objects are never mutated: one of strings only is the labels as they stand, no copy.
  if (!hasNull) return { ok: true, value: labels as Record<string, string> };
  // Defined, not assigned: a "__proto__" label stays a label, as JSON.parse made it.
  return { ok: true, value: Object.fromEntries(Object.keys(labels).map((k) => [k, labels[k] === null ? '' : (labels[k] as string)])) };
}

/** A Go `time.Time` field: strict RFC 3339, or absent/null (Go's zero time, kept as ""). */
function timeField(obj: Record<string, unknown>, name: string): Parsed<string> {
  const v = stringField(obj, name);
  if (!v.ok) return fail('invalid_field', `"${name}" must be an RFC 3339 time string`);
  // v.value is the field's string ("" only when it is absent, null, or itself "", which fails).
  if (typeof field(obj, name) === 'string' && !isRfc3339(v.value)) return fail('invalid_field', `"${name}" is not an RFC 3339 time`);
  return v;
}

/**
 * Whether `s` is a time Go's JSON decoder reads: RFC 3339
 * (`YYYY-MM-DDTHH:MM:SS[.digits](Z|±HH:MM)`), fields in range, any fraction,
 * any offset. Read by hand: every heartbeat carries one.
 */
export function isRfc3339(s: string): boolean {
  return isRfc3339At(s, 0, s.length);
}

/** {@link isRfc3339} of `s[from, to)`, read in place: a heartbeat checks its time without cutting it out. */
function isRfc3339At(s: string, from: number, to: number): boolean {
  if (to - from < 20 || s.charCodeAt(from + 4) !== DASH || s.charCodeAt(from + 7) !== DASH || s.charCodeAt(from + 10) !== 0x54
    || s.charCodeAt(from + 13) !== COLON || s.charCodeAt(from + 16) !== COLON) return false;
  const century = twoDigitsAt(s, from);
  const yearOf = twoDigitsAt(s, from + 2);
  const month = twoDigitsAt(s, from + 5);
  const day = twoDigitsAt(s, from + 8);
  const hour = twoDigitsAt(s, from + 11);
  const minute = twoDigitsAt(s, from + 14);
  const second = twoDigitsAt(s, from + 17);
  if (century < 0 || yearOf < 0) return false;
  const year = century * 100 + yearOf;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  let i = from + 19;
  if (i < to && s.charCodeAt(i) === 0x2e) {
    const first = ++i;
    while (i < to && isDigit(s.charCodeAt(i))) i++;
    if (i === first) return false;
  }
  if (i >= to) return false;
  const zone = s.charCodeAt(i);
  if (zone === 0x5a) return i + 1 === to;
  if ((zone !== 0x2b && zone !== DASH) || i + 6 !== to || s.charCodeAt(i + 3) !== COLON) return false;
  const offsetHour = twoDigitsAt(s, i + 1);
  const offsetMinute = twoDigitsAt(s, i + 4);
  return offsetHour >= 0 && offsetHour <= 23 && offsetMinute >= 0 && offsetMinute <= 59;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The number in the two ASCII digits of `s` at `at`, or -1 if one is not a digit. */
function twoDigitsAt(s: string, at: number): number {
  const a = s.charCodeAt(at);
  const b = s.charCodeAt(at + 1);
  return isDigit(a) && isDigit(b) ? (a - 0x30) * 10 + (b - 0x30) : -1;
}

const DASH = 0x2d;
const COLON = 0x3a;

/**
 * Days of `month` (1-12) as `Date.UTC` counts them, which this check has
 * always used: it reads years 0-99 as 1900-1999, so year 0000 has no 29 February.
 */
function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  const y = year < 100 ? year + 1900 : year;
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28;
}

/** Parses a group document with Go's decoding rules: any type error fails the whole document. */
export function parseGroupDocument(text: string): Parsed<GroupDocument> {
  const parsed = parseObject(text);
  if (!parsed.ok) return parsed;
  const doc = parsed.value;
  const spec = field(doc, 'spec') ?? {};
  if (typeof spec !== 'object' || Array.isArray(spec)) return fail('invalid_field', '"spec" must be an object');
  const s = spec as Record<string, unknown>;
  const name = stringField(doc, 'name');
  const username = stringField(s, 'username');
  const password = stringField(s, 'password');
  const labels = labelsField(s, 'common_labels');
  const created = timeField(doc, 'created');
  for (const p of [name, username, password, labels, created]) if (!p.ok) return p;
  const out: { -readonly [K in keyof GroupDocument]: GroupDocument[K] } = { commonLabels: labels.ok ? labels.value : {} };
  if (name.ok && name.value !== '') out.name = name.value;
  if (username.ok && username.value !== '') out.username = username.value;
  if (password.ok && password.value !== '') out.password = password.value;
  if (created.ok && created.value !== '') out.created = created.value;
  return { ok: true, value: out };
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

/**
 * The number literal of a top-level key folding to `name`, when it has a
 * fraction or exponent (`9100.0`, `9.1e3`): Go refuses those for an `int`,
 * though `JSON.parse` gives the same number as `9100`. Only called when a
 * cheap test says such a literal may exist.
 */
function fractionalLiteral(text: string, name: string): boolean {
  let depth = 0;
  let key = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1) key = text.slice(i, j + 1);
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (depth === 1 && (c === '-' || (c >= '0' && c <= '9'))) {
      const m = /^-?\d+([.eE][-+.\deE]*)?/.exec(text.slice(i, i + 40));
      if (m === null) continue; // a '-' not starting a number: not in valid JSON
      if (m[1] !== undefined && (JSON.parse(key) as string).toLowerCase() === name) return true;
      i += m[0].length - 1;
    }
  }
  return false;
}

const MAYBE_FRACTIONAL_PORT = /port"\s*:\s*-?\d+[.eE]/i;

/** A Go `int` port, and our range: 1-65535 (Go decodes any int; we cannot scrape the rest). */
function portField(text: string, doc: Record<string, unknown>): Parsed<number> {
  const port = field(doc, 'port');
  if (!isPort(port) || (MAYBE_FRACTIONAL_PORT.test(text) && fractionalLiteral(text, 'port'))) {
    return fail('invalid_port', '"port" must be an integer literal from 1 to 65535');
  }
  return { ok: true, value: port };
}

/**
 * One string per exporter type: each parse makes a new one, and every
 * rendered node holds its type for its life (about 40 bytes each at a
 * million nodes, of a handful of distinct values). Bounded, so a registry
 * of made-up types only stops sharing.
 */
const exporterTypes = new Map<string, string>();
const MAX_SHARED_EXPORTER_TYPES = 1024;

function sharedExporterType(type: string): string {
  const shared = exporterTypes.get(type);
  if (shared !== undefined) return shared;
  if (exporterTypes.size < MAX_SHARED_EXPORTER_TYPES) exporterTypes.set(type, type);
  return type;
}

/**
 * Parses a node document with Go's decoding rules (field names matched
 * case-insensitively; any type error, a non-string label value or a
 * `last_seen` that is not RFC 3339 fails the whole node, as it fails Go's
 * `GetNodes`). Id, exporter type and a port 1-65535 are required.
 */
export function parseNodeDocument(text: string): Parsed<NodeDocument> {
  const parsed = parseObject(text);
  if (!parsed.ok) return parsed;
  const doc = parsed.value;
  const id = field(doc, 'id');
  if (typeof id !== 'string' || id === '') return fail('missing_id', '"id" must be a non-empty string');
  const exporterType = field(doc, 'exporter_type');
  if (typeof exporterType !== 'string' || exporterType === '') {
    return fail('missing_exporter_type', '"exporter_type" must be a non-empty string');
  }
  const port = portField(text, doc);
  if (!port.ok) return port;
  const metricsPath = stringField(doc, 'metrics_path');
  const labels = labelsField(doc, 'labels');
  const status = stringField(doc, 'status');
  const lastSeen = timeField(doc, 'last_seen');
  const address = stringField(doc, 'address');
  for (const p of [metricsPath, labels, status, lastSeen, address]) if (!p.ok) return p;
  const out: { -readonly [K in keyof NodeDocument]: NodeDocument[K] } = {
    id,
    exporterType: sharedExporterType(exporterType),
    port: port.value,
    metricsPath: metricsPath.ok ? metricsPath.value : '',
    labels: labels.ok ? labels.value : {},
    status: status.ok ? status.value : '',
  };
  if (lastSeen.ok && lastSeen.value !== '') out.lastSeen = lastSeen.value;
  if (address.ok && address.value !== '') out.address = address.value;
  return { ok: true, value: out };
}

/**
 * RFC 3339 with nanoseconds, as Go formats `time.Time` in JSON
 * (`2025-03-01T10:00:05.987654321Z`). Sub-millisecond digits come from
 * `nanos` when given (0-999999); trailing zeros of the fraction are trimmed, as Go does.
 */
export function formatGoTime(date: Date, nanos = 0): string {
  const iso = date.toISOString();
  // Go's RFC3339Nano trims trailing zeros of the fraction (and the dot with them): a Go
  // reader that re-writes the document must give back the very same bytes.
  const fraction = `${iso.slice(20, 23)}${String(nanos % 1_000_000).padStart(6, '0')}`.replace(/0+$/, '');
  return `${iso.slice(0, 19)}${fraction === '' ? '' : `.${fraction}`}Z`;
}

const LAST_SEEN_AT = '"last_seen":"';
const ADDRESS_AT = '","address":"';

/**
 * Whether `next` is `previous`, a node document stored as valid, with only
 * its top-level `last_seen` moved to another RFC 3339 time: a heartbeat.
 * Parsing `next` then gives `previous`'s fields, so a caller holding
 * `previous` as valid may skip parsing and validating it. Both must end the
 * way the Go library writes a node (`"last_seen":"…"}`, or with the
 * `address` after it), which makes the matched key a top-level one: a
 * `"last_seen":"` inside a label would be followed by the labels' `}`.
 * The key cannot occur inside a JSON string (its quotes would be escaped).
 * Compares the two texts part by part: a heartbeat allocates nothing lasting.
 */
export function isHeartbeatText(next: string, previous: string): boolean {
  const at = next.lastIndexOf(LAST_SEEN_AT);
  if (at < 0) return false;
  const from = at + LAST_SEEN_AT.length;
  const end = next.indexOf('"', from);
  if (end < 0 || !isGoNodeTail(next, end)) return false;
  // The old value ends where `previous` has the same tail and holds no quote. (That quote is
  // not an escaped one: the string would then run on into the tail, and `previous` is valid.)
  const previousEnd = previous.length - (next.length - end);
  if (previousEnd < from || previous.indexOf('"', from) !== previousEnd) return false;
  // Substrings compared whole: V8 compares them natively, several times faster than a loop over chars.
  return next.substring(0, from) === previous.substring(0, from) && next.substring(end) === previous.substring(previousEnd)
    && isRfc3339At(next, from, end);
}

/** Whether `text` from `quote` (the closing quote of `last_seen`) is `"}` or `","address":"…"}` with a plain address. */
function isGoNodeTail(text: string, quote: number): boolean {
  if (text.charCodeAt(text.length - 1) !== 0x7d || text.charCodeAt(text.length - 2) !== 0x22) return false;
  if (text.length - quote === 2) return true;
  if (!text.startsWith(ADDRESS_AT, quote)) return false;
  const value = quote + ADDRESS_AT.length;
  return text.indexOf('"', value) === text.length - 2 && !text.includes('\\', value);
}

/** Fields of a node document to write: those read, with `last_seen` always written. */
export interface NodeDocumentInput extends Omit<NodeDocument, 'lastSeen'> {
  readonly lastSeen: string;
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

/** Fields of a group document to write: every field read, none left out. */
export type GroupDocumentInput = Required<GroupDocument>;

/** Serialises a group document as Go does (`common_labels` omitted when empty). */
export function formatGroupDocument(g: GroupDocumentInput): string {
  const spec: Record<string, unknown> = { username: g.username, password: g.password };
  if (Object.keys(g.commonLabels).length > 0) spec['common_labels'] = g.commonLabels;
  return JSON.stringify({ name: g.name, spec, created: g.created });
}
