/**
 * The range partitioner inside a running mesh: three embedded nodes, one hot key prefix. All the
 * `user:` keys start in one node's range; rebalance passes split the range at its median and move
 * halves to less loaded nodes, until the keys are spread — and none is lost on the way.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Cache, MeshCache } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';

const range = suite('range partitioner in a 3-node mesh');
const nodes: Array<MeshCache<string>> = [];

range.after(async () => {
  for (const n of nodes) await n.close();
});

range('splits a hot prefix of 1,500 keys until no node holds more than 60% of them, losing none', async () => {
  const mesh = (nodeId: string, join: string[]) => ({
    nodeId, port: 0, join, preset: 'local' as const, partitioner: 'range' as const,
    rangesPerNode: 1, maxRangeKeys: 200, statsIntervalMs: 100, sweepIntervalMs: 300,
  });
  const first = await MeshCache.join<string>({ maxMemory: '16mb', mesh: mesh('r1', []) });
  nodes.push(first);
  nodes.push(await MeshCache.join<string>({ maxMemory: '16mb', mesh: mesh('r2', [first.node.address]) }));
  nodes.push(await MeshCache.join<string>({ maxMemory: '16mb', mesh: mesh('r3', [first.node.address]) }));
  await waitFor(() => nodes.every((n) => n.nodes().filter((m) => m.state === 'alive').length === 3), { timeoutMs: 5000, intervalMs: 50, what: '3 alive members' });
  await waitFor(() => new Set(nodes.map((n) => n.node.info().find(([k]) => k === 'mesh_version')?.[1])).size === 1, { timeoutMs: 5000, intervalMs: 50, what: 'one range table' });

  const keys = Array.from({ length: 1500 }, (_, i) => `user:${String(i).padStart(5, '0')}`);
  // Every key starts in the same initial range ('u' falls in one of three first-byte ranges).
  const owners = new Set(keys.map((k) => first.ownerOf(k)));
  assert.is(owners.size, 1, `initial owners ${[...owners]}`);
  for (let i = 0; i < keys.length; i++) await nodes[i % 3].set(keys[i], `v${i}`);

  const share = () => nodes.map((n) => n.local.stats().entries / keys.length);
  await waitFor(() => Math.max(...share()) <= 0.6 && Math.min(...share()) >= 0.1, { timeoutMs: 15_000, intervalMs: 50, what: () => `keys to spread (shares ${share().map((x) => x.toFixed(2))})` });
  const splits = nodes.map((n) => Number(n.node.info().find(([k]) => k === 'mesh_splits')?.[1] ?? 0));
  assert.ok(splits.reduce((a, b) => a + b, 0) >= 2, `splits made: ${splits}`);
  // Every node routes every key to the same owner once the last split has spread (splits go on
  // while a range is over the limit, so a table may be in flight), and reads it back.
  const sample = keys.filter((_, i) => i % 10 === 0);
  await waitFor(() => sample.every((k) => new Set(nodes.map((n) => n.ownerOf(k))).size === 1), { timeoutMs: 5000, intervalMs: 50, what: 'every node to agree on the owners' });
  let lost = 0;
  for (let i = 0; i < keys.length; i++) if (await nodes[(i + 1) % 3].get(keys[i]) !== `v${i}`) lost++;
  assert.is(lost, 0);
  console.log(`  range mesh: shares ${share().map((x) => x.toFixed(2)).join(' / ')}, splits ${splits.join('+')}`);
});

range.run();
