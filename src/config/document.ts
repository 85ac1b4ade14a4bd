/**
 * The YAML configuration file, parsed with positions kept, so every error
 * about it, including a bad value found later by validation, can say
 * `file:line:column`; and the check that it holds only known keys.
 */
import { LineCounter, isMap, isScalar, parseDocument, type Document, type YAMLMap } from 'yaml';
import { ConfigError } from '../errors.js';

/** A parsed configuration file that can locate its keys. */
export interface ConfigDocument {
  /** The file name as the user gave it. */
  readonly fileName: string;
  /** The top-level mapping as plain data. */
  readonly values: Readonly<Record<string, unknown>>;
  /** The value at `path`, e.g. `['etcd', 'prefix']`; `undefined` if absent or `null`. */
  get(path: readonly string[]): unknown;
  /** `file:line:column` of the key at `path` (of its nearest present parent if absent). */
  locate(path: readonly string[]): string;
  /** How error messages name a key: `file:line:column: etcd.prefix`. */
  label(path: readonly string[]): string;
  /**
   * Throws a `ConfigError` at the first key not among `allowed` (paths of
   * leaf keys), listing the keys allowed at that level; and when a section
   * such as `etcd` is not a mapping.
   */
  checkKeys(allowed: readonly (readonly string[])[]): void;
}

/**
 * Parses a YAML configuration file whose top level must be a mapping.
 * Syntax errors and duplicate keys throw a `ConfigError` naming
 * `fileName:line:column` and the problem.
 */
export function parseConfigFile(text: string, fileName: string): Record<string, unknown> {
  return { ...parseConfigDocument(text, fileName).values };
}

/** Like `parseConfigFile`, but keeps the positions of keys for later messages. */
export function parseConfigDocument(text: string, fileName: string): ConfigDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = first.linePos?.[0];
    const where = pos === undefined ? fileName : `${fileName}:${pos.line}:${pos.col}`;
    // prettyErrors appends " at line L, column C:" and a code excerpt; we say where ourselves.
    const cut = first.message.indexOf(' at line ');
    throw new ConfigError(where, `invalid YAML: ${cut === -1 ? first.message : first.message.slice(0, cut)}`);
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    const at = at1(lineCounter, doc.contents.range[0]);
    throw new ConfigError(`${fileName}:${at}`, 'the top level must be a mapping of settings (key: value)');
  }
  const values = (doc.toJS() ?? {}) as Record<string, unknown>;
  return makeDocument(fileName, doc, values, lineCounter);
}

function makeDocument(
  fileName: string,
  doc: Document,
  values: Record<string, unknown>,
  lineCounter: LineCounter,
): ConfigDocument {
  const locate = (path: readonly string[]): string => {
    const offset = keyOffset(doc.contents, path);
    return `${fileName}:${at1(lineCounter, offset)}`;
  };
  const label = (path: readonly string[]): string => `${locate(path)}: ${path.join('.')}`;
  return {
    fileName,
    values,
    get: (path) => valueAt(values, path),
    locate,
    label,
    checkKeys: (allowed) => checkMap(doc.contents, [], toTree(allowed), label),
  };
}

function at1(lineCounter: LineCounter, offset: number | undefined): string {
  const { line, col } = lineCounter.linePos(offset ?? 0);
  // linePos gives line 0 when the text has no newline at all.
  return `${Math.max(line, 1)}:${col}`;
}

function valueAt(values: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = values;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node ?? undefined;
}

/** Offset of the deepest key of `path` present in the document. */
function keyOffset(root: unknown, path: readonly string[]): number | undefined {
  let node = root;
  let offset: number | undefined;
  for (const key of path) {
    if (!isMap(node)) break;
    const pair = findPair(node, key);
    if (pair === undefined) break;
    offset = isScalar(pair.key) ? pair.key.range?.[0] : offset;
    node = pair.value;
  }
  return offset;
}

function findPair(map: YAMLMap, key: string): YAMLMap['items'][number] | undefined {
  return map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
}

/** Allowed keys as a tree: a leaf is `null`, a section maps its keys. */
type KeyTree = Map<string, KeyTree | null>;

function toTree(paths: readonly (readonly string[])[]): KeyTree {
  const root: KeyTree = new Map();
  for (const path of paths) {
    let level = root;
    path.forEach((key, i) => {
      if (i === path.length - 1) {
        if (!level.has(key)) level.set(key, null);
        return;
      }
      const next = level.get(key) ?? new Map<string, KeyTree | null>();
      level.set(key, next);
      level = next;
    });
  }
  return root;
}

function checkMap(
  node: unknown,
  path: readonly string[],
  tree: KeyTree,
  label: (path: readonly string[]) => string,
): void {
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) return;
  const allowed = [...tree.keys()].join(', ');
  if (!isMap(node)) {
    throw new ConfigError(label(path), `must be a mapping with the keys ${allowed}`);
  }
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : JSON.stringify(pair.key);
    const where = [...path, key];
    if (!tree.has(key)) {
      const parent = path.length === 0 ? 'at the top level' : `in ${path.join('.')}`;
      throw new ConfigError(label(where), `unknown key; the keys allowed ${parent} are ${allowed}`);
    }
    const sub = tree.get(key);
    if (sub) checkMap(pair.value, where, sub, label);
  }
}
