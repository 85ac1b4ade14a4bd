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
  // Nearly every name is valid already: then it is its own sanitised name, unless reserved.
  if (VALID_NAME.test(name)) return name.startsWith('__') ? undefined : name;
  if (name === '') return undefined;
  let out = name.replace(INVALID_CHAR, '_');
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out.startsWith('__') ? undefined : out;
}

/**
 * Label names no group or node document may set, on top of the reserved
 * `__*` names: Prometheus keeps a `job` (or any label) that service
 * discovery provides over its scrape config's `job_name`, so a writer
 * limited to its own group could otherwise file its series under another
 * job. Data, passed from the configuration to every renderer.
 */
export interface LabelPolicy {
  /** Names as served (after sanitising); never `__*`. */
  readonly protectedLabels: readonly string[];
  /** The setting that chose them, as the user wrote it, for explanations. */
  readonly setting: string;
}

/** The server's default: `job` is protected, `instance` is not (Prometheus defaults it to the address). */
export const DEFAULT_PROTECTED_LABELS: readonly string[] = Object.freeze(['job']);

export const DEFAULT_LABEL_POLICY: LabelPolicy = Object.freeze({
  protectedLabels: DEFAULT_PROTECTED_LABELS,
  setting: `--protected-labels (default ${DEFAULT_PROTECTED_LABELS.join(',')})`,
});

/** Whether `policy` keeps documents from setting the (sanitised) name `clean`. */
export function isProtectedLabel(clean: string, policy: LabelPolicy): boolean {
  return policy.protectedLabels.includes(clean);
}

/** Why a label name cannot be protected (a `--protected-labels` entry), if it cannot. */
export function protectedLabelProblem(name: string): string | undefined {
  if (name.startsWith('__')) return 'names starting with "__" are reserved and always dropped: leave them out';
  return isValidLabelName(name) ? undefined : 'must be a label name: [a-zA-Z_][a-zA-Z0-9_]*';
}

const lengthsOf = new WeakMap<LabelPolicy, ReadonlySet<number>>();

/**
 * The lengths a raw name may have to sanitise to a protected name:
 * sanitising keeps the length, or adds one leading `_`. Any other name is
 * skipped without looking at it (most labels of most documents).
 */
function candidateLengths(policy: LabelPolicy): ReadonlySet<number> {
  let lengths = lengthsOf.get(policy);
  if (lengths === undefined) {
    lengths = new Set(policy.protectedLabels.flatMap((p) => (p.startsWith('_') ? [p.length, p.length - 1] : [p.length])));
    lengthsOf.set(policy, lengths);
  }
  return lengths;
}

/**
 * The protected names a document's labels would set, each once, in
 * code-point order: what `sanitizeLabels` drops for `policy` (counted in
 * the metrics).
 */
export function protectedLabelsIn(raw: Readonly<Record<string, unknown>>, policy: LabelPolicy): string[] {
  const found: string[] = [];
  if (policy.protectedLabels.length === 0) return found;
  const lengths = candidateLengths(policy);
  for (const name of Object.keys(raw)) {
    if (!lengths.has(name.length)) continue;
    const value = raw[name];
    if (typeof value !== 'string' || value === '') continue;
    const clean = sanitizeLabelName(name);
    if (clean !== undefined && isProtectedLabel(clean, policy) && !found.includes(clean)) found.push(clean);
  }
  return found.sort();
}

function protectedStep(name: string, clean: string, policy: LabelPolicy): LabelStep {
  return { name, action: 'dropped', rule: `protected label: ${JSON.stringify(clean)} is listed in ${policy.setting}, so no document may set it` };
}

/** What sanitising did to one label of a document, for explanations. */
export interface LabelStep {
  /** The name as written in the document. */
  readonly name: string;
  readonly action: 'kept' | 'renamed' | 'dropped';
  /** The name served, when kept or renamed. */
  readonly to?: string;
  /** The rule that decided, in words. */
  readonly rule: string;
}

/** Receives one step per label; a later step for the same name replaces an earlier one. */
export type LabelStepSink = (step: LabelStep) => void;

// Describes what sanitizeLabelName decided, from its outcome: the rules themselves live there only.
function nameStep(name: string, clean: string | undefined): LabelStep {
  if (clean === undefined) {
    return { name, action: 'dropped', rule: name === '' ? 'empty names are dropped' : 'names starting with "__" are reserved for Prometheus' };
  }
  if (clean === name) return { name, action: 'kept', to: clean, rule: 'valid label name' };
  const rule = clean === `_${name}` ? 'a leading digit gets "_" in front' : 'characters outside [a-zA-Z0-9_] become "_"';
  return { name, action: 'renamed', to: clean, rule };
}

/**
 * The object's own keys in code-unit order (as `<` compares). Go writes map
 * keys sorted, and sanitised labels nearly always stay so: the sort is
 * nearly always skipped.
 */
export function namesInOrder(labels: Readonly<Record<string, unknown>>): string[] {
  const names = Object.keys(labels);
  for (let i = 1; i < names.length; i++) {
    if (!((names[i - 1] ?? '') < (names[i] ?? ''))) return names.sort();
  }
  return names;
}

/**
 * Whether sanitising gives `labels` back unchanged, in the same key order:
 * names sorted, each valid, neither reserved nor protected, every value a
 * non-empty string. The Go library writes nearly every label map so, and
 * the map is then its own result, not copied (parsed documents are never
 * mutated). With the pairs target.ts no longer makes of them, the copies
 * were 5-8% of loading a large registry's documents (test/bench).
 */
function keptAsIs(labels: Readonly<Record<string, unknown>>, policy: LabelPolicy): boolean {
  let previous = '';
  let first = true;
  for (const name of Object.keys(labels)) {
    const value = labels[name];
    if (typeof value !== 'string' || value === '' || (!first && !(previous < name))) return false;
    if (sanitizeLabelName(name) !== name || isProtectedLabel(name, policy)) return false;
    previous = name;
    first = false;
  }
  return true;
}

/**
 * Sanitises a label map from a document. Non-objects give `{}`; entries with
 * non-string or empty values, or names that `sanitizeLabelName` drops, are
 * dropped. When two names sanitise to one (`a-b`, `a.b`), a name that was
 * already valid wins, else the first in code-point order: the result never
 * depends on JSON key order. Names `policy` protects are dropped (after
 * sanitising: `jo.b` would be `jo_b`). `onStep`, when given, hears why each
 * label was kept, renamed or dropped (the console's explanations).
 */
export function sanitizeLabels(raw: unknown, onStep?: LabelStepSink, policy: LabelPolicy = DEFAULT_LABEL_POLICY): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return out;
  const labels = raw as Record<string, unknown>;
  // A plain object only: the result is always one, whatever was passed in.
  if (onStep === undefined && Object.getPrototypeOf(labels) === Object.prototype && keptAsIs(labels, policy)) return labels as Record<string, string>;
  const origin = onStep === undefined ? undefined : new Map<string, string>();
  for (const name of namesInOrder(labels)) {
    const value = labels[name];
    if (typeof value !== 'string' || value === '') {
      onStep?.({ name, action: 'dropped', rule: typeof value === 'string' ? 'empty values are dropped' : 'label values must be strings' });
      continue;
    }
    const clean = sanitizeLabelName(name);
    if (clean === undefined) {
      onStep?.(nameStep(name, clean));
      continue;
    }
    if (isProtectedLabel(clean, policy)) {
      onStep?.(protectedStep(name, clean, policy));
      continue;
    }
    // An exact name overwrites a sanitised twin; a sanitised one never overwrites.
    const taken = Object.hasOwn(out, clean);
    if (clean === name || !taken) {
      if (origin !== undefined && onStep !== undefined) {
        const loser = origin.get(clean);
        if (taken && loser !== undefined) onStep({ name: loser, action: 'dropped', rule: `collision: ${JSON.stringify(name)} is already the valid name ${JSON.stringify(clean)}` });
        origin.set(clean, name);
        onStep(nameStep(name, clean));
      }
      out[clean] = value;
    } else {
      onStep?.({ name, action: 'dropped', rule: `collision: ${JSON.stringify(origin?.get(clean) ?? clean)} also becomes ${JSON.stringify(clean)} and wins` });
    }
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
