/**
 * Searching the served nodes, one bounded page at a time, so a registry of
 * 100,000 nodes never becomes a 100,000-row answer.
 */
import { resolveAddress, type Content } from '../registry/index.js';
import type { ExplainReader } from './explain.js';

/** The largest page any caller gets. */
export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 50;

/** Case-insensitive substring filters; absent fields match everything. */
export interface NodeQuery {
  readonly group?: string;
  readonly id?: string;
  readonly exporterType?: string;
  readonly address?: string;
  /** Matches any of the four. */
  readonly text?: string;
  /** 1-based. */
  readonly page: number;
  readonly pageSize: number;
}

/** One row of a node listing. */
export interface NodeRow {
  readonly group: string;
  readonly node: string;
  readonly id: string;
  readonly exporter_type: string;
  readonly address: string;
  readonly status: string;
}

/** A page of matches and how many there are in all. */
export interface NodePage {
  readonly total: number;
  readonly page: number;
  readonly page_size: number;
  readonly nodes: readonly NodeRow[];
}

function contains(value: string, needle: string | undefined): boolean {
  return needle === undefined || value.toLowerCase().includes(needle);
}

function lower(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v.toLowerCase();
}

function rowOf(state: ExplainReader, group: string, node: string): NodeRow | undefined {
  const doc = state.nodeDocument(group, node);
  if (doc === undefined) return undefined;
  const address = resolveAddress(doc);
  return { group, node, id: doc.id, exporter_type: doc.exporterType, address: address.ok ? address.value : '', status: doc.status };
}

function matches(row: NodeRow, q: Readonly<Record<'id' | 'exporterType' | 'address' | 'text', string | undefined>>): boolean {
  if (!contains(row.id, q.id) || !contains(row.exporter_type, q.exporterType) || !contains(row.address, q.address)) return false;
  const t = q.text;
  return t === undefined || [row.group, row.id, row.exporter_type, row.address].some((v) => v.toLowerCase().includes(t));
}

/**
 * The page of served nodes matching `query`, in group then key order.
 * Without node-level filters only the page's own rows are built, so the
 * first page of a large registry costs O(groups + page size).
 */
export function listNodes(content: Content, state: ExplainReader, query: NodeQuery): NodePage {
  const q = { group: lower(query.group), id: lower(query.id), exporterType: lower(query.exporterType), address: lower(query.address), text: lower(query.text) };
  const pageSize = Math.min(Math.max(1, query.pageSize), MAX_PAGE_SIZE);
  const from = (Math.max(1, query.page) - 1) * pageSize;
  const perNode = q.id !== undefined || q.exporterType !== undefined || q.address !== undefined || q.text !== undefined;
  const rows: NodeRow[] = [];
  let total = 0;
  for (const g of content.groups) {
    if (!contains(g.name, q.group)) continue;
    if (!perNode) {
      // Whole groups skipped by count; only rows on the page are built.
      for (let i = Math.max(0, from - total); i < g.nodes.length && total + i < from + pageSize; i++) {
        const key = g.nodes[i]?.key;
        const row = key === undefined ? undefined : rowOf(state, g.name, key);
        if (row !== undefined) rows.push(row);
      }
      total += g.nodes.length;
      continue;
    }
    for (const n of g.nodes) {
      const row = rowOf(state, g.name, n.key);
      if (row === undefined || !matches(row, q)) continue;
      if (total >= from && total < from + pageSize) rows.push(row);
      total++;
    }
  }
  return { total, page: Math.max(1, query.page), page_size: pageSize, nodes: rows };
}
