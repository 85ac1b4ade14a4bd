/**
 * Bounds the server enforces on what a registrant may store, so that no
 * tenant's document can blow up a group's rendering, a response or the
 * process: a document over a bound is skipped and counted like any invalid
 * one, with the bound in its detail.
 */
import type { Parsed } from './documents.js';

/** Bounds on one stored document. */
export interface DocumentLimits {
  /** Largest document, in bytes. Default: etcd's own request limit, 1.5 MiB. */
  readonly maxDocumentBytes: number;
  /** Most labels (node `labels`, group `common_labels`) in one document. */
  readonly maxLabels: number;
  /** Longest label name or value, in UTF-8 bytes. */
  readonly maxLabelBytes: number;
}

export const DEFAULT_DOCUMENT_LIMITS: DocumentLimits = Object.freeze({
  maxDocumentBytes: 1_572_864,
  maxLabels: 128,
  maxLabelBytes: 4096,
});

function tooLong(s: string, max: number): boolean {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most strings are decided without counting.
  return s.length > max || (s.length * 3 > max && Buffer.byteLength(s, 'utf8') > max);
}

/** Whether `text` is within the document size bound (the first check of {@link parseWithinLimits}). */
export function fitsDocumentBytes(text: string, limits: DocumentLimits): boolean {
  return !tooLong(text, limits.maxDocumentBytes);
}

/** Parses `text` with `parse`, then applies `limits` to its size and to the labels `labelsOf` names. */
export function parseWithinLimits<T>(
  text: string,
  parse: (text: string) => Parsed<T>,
  labelsOf: (doc: T) => Readonly<Record<string, unknown>>,
  limits: DocumentLimits,
): Parsed<T> {
  if (!fitsDocumentBytes(text, limits)) {
    return { ok: false, reason: 'document_too_large', detail: `document is over ${limits.maxDocumentBytes} bytes (--max-document-bytes)` };
  }
  const parsed = parse(text);
  if (!parsed.ok) return parsed;
  const labels = labelsOf(parsed.value);
  const names = Object.keys(labels);
  if (names.length > limits.maxLabels) {
    return { ok: false, reason: 'too_many_labels', detail: `${names.length} labels, more than ${limits.maxLabels} (--max-labels)` };
  }
  for (const name of names) {
    const value = labels[name];
    if (tooLong(name, limits.maxLabelBytes) || (typeof value === 'string' && tooLong(value, limits.maxLabelBytes))) {
      return { ok: false, reason: 'label_too_long', detail: `a label name or value is over ${limits.maxLabelBytes} bytes (--max-label-bytes)` };
    }
  }
  return parsed;
}
