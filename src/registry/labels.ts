/**
 * Label names and values as Prometheus accepts them
 * (registry-layout.md, "From documents to a scrape target", rule 3).
 */

const VALID_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const INVALID_CHAR = /[^a-zA-Z0-9_]/g;

/** Whether `name` is a valid Prometheus label name. */
export function isValidLabelName(name: string): boolean {
  return VALID_NAME.test(name);
}

/**
 * The label name a registrant's `name` becomes, or `undefined` when it must
 * be dropped: empty, or reserved (`__*`, before or after sanitising), so no
 * registrant can set `__address__`, `__scheme__` or `__param_*`.
 */
export function sanitizeLabelName(name: string): string | undefined {
  if (name === '') return undefined;
  let out = name.replace(INVALID_CHAR, '_');
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out.startsWith('__') ? undefined : out;
}

/**
 * Sanitises a label map from a document. Non-objects give `{}`; entries with
 * non-string or empty values, or names that `sanitizeLabelName` drops, are
 * dropped. When two names sanitise to one (`a-b`, `a.b`), a name that was
 * already valid wins, else the first in code-point order: the result never
 * depends on JSON key order.
 */
export function sanitizeLabels(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return out;
  const entries = Object.entries(raw as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of entries) {
    if (typeof value !== 'string' || value === '') continue;
    const clean = sanitizeLabelName(name);
    if (clean === undefined) continue;
    // An exact name overwrites a sanitised twin; a sanitised one never overwrites.
    if (clean === name || !Object.hasOwn(out, clean)) out[clean] = value;
  }
  return out;
}

/** Problems `checkLabels` finds: names or values the renderer would drop. */
export interface LabelProblem {
  readonly name: string;
  readonly problem: string;
}

/**
 * Reports every label a writer should not write: the register module
 * refuses these instead of letting the reader drop them silently.
 */
export function checkLabels(labels: Readonly<Record<string, string>>): LabelProblem[] {
  const problems: LabelProblem[] = [];
  for (const [name, value] of Object.entries(labels)) {
    if (name.startsWith('__')) problems.push({ name, problem: 'names starting with "__" are reserved' });
    else if (!isValidLabelName(name)) problems.push({ name, problem: 'must match [a-zA-Z_][a-zA-Z0-9_]*' });
    else if (typeof value !== 'string' || value === '') problems.push({ name, problem: 'value must be a non-empty string' });
  }
  return problems;
}
