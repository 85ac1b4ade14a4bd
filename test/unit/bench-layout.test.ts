// The benchmark's layouts (groups of N, optionally one large group first): every node index is one
// node of one group, and the groups hold exactly the nodes asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutOf, nodeAt, nodesInGroup } from '../bench/dataset.js';

test('every node index names one node of one group, and the groups hold every node once', () => {
  for (const [nodes, groupSize, big] of [[1000, 100, 0], [1001, 100, 0], [1000, 100, 250], [1000, 100, 1000], [999, 7, 13], [5, 100, 0]] as const) {
    const layout = layoutOf(nodes, groupSize, big);
    const seen = new Set<string>();
    for (let i = 0; i < nodes; i++) {
      const { g, n } = nodeAt(layout, i);
      assert.ok(g < layout.groups && n < nodesInGroup(layout, g), `${nodes}/${groupSize}/${big}: node ${i} is ${g}.${n}`);
      seen.add(`${g}.${n}`);
    }
    assert.equal(seen.size, nodes);
    let total = 0;
    for (let g = 0; g < layout.groups; g++) total += nodesInGroup(layout, g);
    assert.equal(total, nodes, `${nodes}/${groupSize}/${big}`);
    if (big > 0) assert.equal(nodesInGroup(layout, 0), big);
  }
});
