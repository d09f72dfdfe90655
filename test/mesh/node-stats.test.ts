import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Member } from '../../src/mesh/membership.js';
import { PeerStats, balanceOf } from '../../src/mesh/node-stats.js';

const member = (nodeId: string, state: Member['state'] = 'alive') => ({ nodeId, address: `${nodeId}:1`, state, incarnation: 1n }) as Member;

const S = suite('PeerStats');

S('rows: this node its own figures, a peer its last report, an unreported peer null; sorted by id', () => {
  const stats = new PeerStats();
  stats.record('b', { keys: 10n, bytes: 100n, epoch: 1n });
  stats.record('b', { keys: 20n, bytes: 200n, epoch: 2n });
  const rows = stats.rows([member('c'), member('a'), member('b')], { nodeId: 'a', keys: 5, bytes: 50, leaving: true });
  assert.equal(rows.map((r) => [r.nodeId, r.self, r.state, r.keys, r.bytes]), [
    ['a', true, 'left', 5, 50], ['b', false, 'alive', 20, 200], ['c', false, 'alive', null, null],
  ]);
});

S('a forgotten peer reports null again', () => {
  const stats = new PeerStats();
  stats.record('b', { keys: 1n, bytes: 2n, epoch: 0n });
  stats.forget('b');
  assert.equal(stats.rows([member('b')], { nodeId: 'a', keys: 0, bytes: 0, leaving: false }).map((r) => r.keys), [null]);
});

const B = suite('balanceOf');

B('keys 10 / 30 over 2 owners give max/mean 1.5; a non-owner and an unreported owner are left out', () => {
  const stats = new PeerStats();
  stats.record('b', { keys: 30n, bytes: 100n, epoch: 0n });
  stats.record('x', { keys: 1000n, bytes: 1000n, epoch: 0n });
  const rows = stats.rows([member('a'), member('b'), member('c'), member('x')], { nodeId: 'a', keys: 10, bytes: 100, leaving: false });
  assert.equal(balanceOf(rows, new Set(['a', 'b', 'c'])), { nodes: 2, keysMaxOverMean: 1.5, bytesMaxOverMean: 1, keys: 40, bytes: 200 });
});

B('no keys anywhere counts as perfectly balanced (1)', () => {
  assert.equal(balanceOf([], new Set(['a'])), { nodes: 0, keysMaxOverMean: 1, bytesMaxOverMean: 1, keys: 0, bytes: 0 });
});

S.run();
B.run();
