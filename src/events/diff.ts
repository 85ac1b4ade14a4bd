/**
 * Target changes between two registry snapshots. Pure. Groups whose view
 * is the same object did not change, nor did chunks that are (state.ts
 * re-renders only changed chunks), so a change costs O(groups + chunks of
 * the groups it touched) plus the nodes of the chunks it touched.
 */
import type { Content, GroupView, RenderedChunk, RenderedNode } from '../registry/index.js';

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

const firstKey = (c: RenderedChunk): string => c.nodes[0]?.key ?? '';

/**
 * The nodes of the chunks `before` and `after` do not share: only those can
 * differ. Both lists are in key order and a shared chunk covers the same keys
 * in both, so one merge walk by first key pairs the shared ones.
 */
function unshared(before: readonly RenderedChunk[], after: readonly RenderedChunk[]): [RenderedNode[], RenderedNode[]] {
  const gone: RenderedChunk[] = [];
  const come: RenderedChunk[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const b = before[i];
    const a = after[j];
    if (b !== undefined && b === a) {
      i++;
      j++;
    } else if (a === undefined || (b !== undefined && firstKey(b) <= firstKey(a))) {
      if (b !== undefined) gone.push(b);
      if (a !== undefined && b !== undefined && firstKey(b) === firstKey(a)) {
        come.push(a);
        j++;
      }
      i++;
    } else {
      come.push(a);
      j++;
    }
  }
  return [gone.flatMap((c) => c.nodes), come.flatMap((c) => c.nodes)];
}

/**
 * Every target added, changed or removed from `before` to `after`. Both
 * list their groups sorted by name, so one merge walk pairs them: pointer
 * comparisons for the groups that did not change, no look-up per group.
 */
export function diffContent(before: Content, after: Content): TargetChange[] {
  const out: TargetChange[] = [];
  const b = before.groups;
  const a = after.groups;
  let i = 0;
  let j = 0;
  while (i < b.length || j < a.length) {
    const was = b[i];
    const now = a[j];
    // A chunk held by both views is the same object, its nodes unchanged (node-chunks.ts).
    if (was !== undefined && was === now) {
      i++;
      j++;
    } else if (was !== undefined && (now === undefined || was.name < now.name)) {
      diffGroup(was.name, was.nodes, NO_NODES, out);
      i++;
    } else if (now !== undefined && (was === undefined || now.name < was.name)) {
      diffGroup(now.name, NO_NODES, now.nodes, out);
      j++;
    } else if (was !== undefined && now !== undefined) {
      const [gone, come] = unshared(was.chunks, now.chunks);
      diffGroup(now.name, gone, come, out);
      i++;
      j++;
    }
  }
  return out;
}
