import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Handoffs, MAX_OPEN_WINDOWS, type HandoffHost } from '../../src/mesh/handoff.js';
import type { Member } from '../../src/mesh/membership.js';

const member = (nodeId: string, state: Member['state'] = 'alive', stateChangedAt = 0): Member =>
  ({ nodeId, address: `mem:${nodeId}`, incarnation: 1n, state, stateChangedAt }) as Member;

/** A host on a hand-driven wall clock: `held` is what each peer has, `stored` what was kept here. */
function setup(members: Member[], windowMs = 1000) {
  let now = 10_000;
  const held = new Map<string, Set<string>>();
  const asked: string[] = [];
  const stored = new Set<string>();
  let closedEarly = 0;
  let digest = 7n;
  const host: HandoffHost = {
    nodeId: 'me',
    windowMs,
    has: (key) => stored.has(key.toString()),
    member: (id) => members.find((m) => m.nodeId === id),
    members: () => members,
    fetch: async (from, key) => {
      asked.push(`${from}:${key}`);
      if (from === 'down') throw new Error('unreachable');
      if (!held.get(from)?.has(key.toString())) return false;
      stored.add(key.toString());
      return true;
    },
    digest: () => digest,
    onClosedEarly: () => closedEarly++,
    now: () => now,
  };
  return {
    h: new Handoffs(host), held, asked, stored,
    advance: (ms: number) => { now += ms; },
    closedEarly: () => closedEarly,
    setDigest: (d: bigint) => { digest = d; },
    now: () => now,
  };
}

const H = suite('Handoffs');

H('with no window open a miss asks no one (null)', () => {
  const { h, asked } = setup([member('a')]);
  assert.is(h.pullMoved([Buffer.from('k')]), null);
  assert.equal(asked, []);
  assert.is(h.until, 0);
});

H('asks the newest previous owner first, skips itself, the dead and repeats, and stops at the first that has the key', async () => {
  const s = setup([member('old'), member('newer'), member('dead', 'dead'), member('down')]);
  s.held.set('old', new Set(['k']));
  s.h.open(() => 'old');
  s.h.open(() => 'me');
  s.h.open(() => 'dead');
  s.h.open(() => 'down');
  s.h.open(() => 'newer');
  // 5 opened, MAX_OPEN_WINDOWS (4) kept: the oldest ('old') is dropped.
  assert.is(MAX_OPEN_WINDOWS, 4);
  assert.is(s.h.openCount, 4);
  await s.h.pullMoved([Buffer.from('k')]);
  assert.equal(s.asked, ['newer:k', 'down:k']);
  assert.is(s.stored.has('k'), false);
});

H('stores the key from the owner that has it; a key present here is never pulled; concurrent misses share one pull', async () => {
  const s = setup([member('a'), member('b')]);
  s.held.set('b', new Set(['k']));
  s.h.open(() => 'b');
  s.h.open(() => 'a');
  await Promise.all([s.h.pullMoved([Buffer.from('k')]), s.h.pullMoved([Buffer.from('k')])]);
  assert.equal(s.asked, ['a:k', 'b:k']);
  assert.ok(s.stored.has('k'));
  assert.is(s.h.pullMoved([Buffer.from('k')]), null);
  assert.equal(s.asked, ['a:k', 'b:k']);
});

H('a window closes after windowMs (1000 ms): until is its end, then 0, and misses ask no one', () => {
  const s = setup([member('a')], 1000);
  s.h.open(() => 'a');
  assert.is(s.h.until, s.now() + 1000);
  s.advance(999);
  assert.is(s.h.openCount, 1);
  s.advance(1);
  assert.is(s.h.until, 0);
  assert.is(s.h.openCount, 0);
  assert.is(s.h.pullMoved([Buffer.from('k')]), null);
  assert.equal(s.asked, []);
});

H('closes early once every other live member reported HandoffDone under this node\'s digest (a member left long ago does not count)', () => {
  const s = setup([member('me'), member('a'), member('b'), member('gone', 'dead'), member('left', 'left', 0)]);
  s.h.open(() => 'a');
  assert.is(s.h.check(), false);
  s.h.peerDone('a', 7n);
  assert.is(s.closedEarly(), 0);
  s.h.peerDone('b', 6n);
  assert.is(s.closedEarly(), 0, 'b is done under another ownership');
  s.h.peerDone('b', 7n);
  assert.is(s.closedEarly(), 1);
  assert.is(s.h.openCount, 0);
  assert.is(s.h.check(), false, 'nothing left to close');
});

H.run();
