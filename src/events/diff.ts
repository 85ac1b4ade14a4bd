/**
 * Target changes between two registry snapshots. Pure. Groups whose view
 * is the same object did not change (state.ts rebuilds only changed groups),
 * so a change costs O(groups) plus the nodes of the groups it touched.
 */
import type { Content, GroupView } from '../registry/index.js';

/** One target change. `target` is the served target group's JSON (absent on removal). */
export interface TargetChange {
  readonly type: 'added' | 'changed' | 'removed';
  readonly group: string;
  readonly node: string;
  readonly target?: string;
}

const NO_NODES: GroupView['nodes'] = [];

function diffGroup(name: string, before: GroupView['nodes'], after: GroupView['nodes'], out: TargetChange[]): void {
  const old = new Map(before.map((n) => [n.key, n.json]));
  for (const n of after) {
    const was = old.get(n.key);
    if (was === undefined) out.push({ type: 'added', group: name, node: n.key, target: n.json });
    else if (was !== n.json) out.push({ type: 'changed', group: name, node: n.key, target: n.json });
    old.delete(n.key);
  }
  for (const key of old.keys()) out.push({ type: 'removed', group: name, node: key });
}

/** Every target added, changed or removed from `before` to `after`. */
export function diffContent(before: Content, after: Content): TargetChange[] {
  const out: TargetChange[] = [];
  for (const g of after.groups) {
    const was = before.group(g.name);
    if (was !== g) diffGroup(g.name, was?.nodes ?? NO_NODES, g.nodes, out);
  }
  for (const g of before.groups) {
    if (after.group(g.name) === undefined) diffGroup(g.name, g.nodes, NO_NODES, out);
  }
  return out;
}
