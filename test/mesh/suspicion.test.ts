import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Suspicion, suspicionMinTimeoutMs, suspicionTimeoutMs } from '../../src/mesh/suspicion.js';
import { FakeClock } from '../helpers/fake-clock.js';

const formula = suite('suspicion timeout formula');

formula('min is suspicionMult × probeIntervalMs up to 10 members (log10 term floored at 1)', () => {
  assert.is(suspicionMinTimeoutMs(3, 1, 500), 1500);
  assert.is(suspicionMinTimeoutMs(3, 5, 500), 1500);
  assert.is(suspicionMinTimeoutMs(3, 10, 500), 1500);
  assert.is(suspicionMinTimeoutMs(3, 0, 500), 1500);
});

formula('min grows with log10(n): 100 members wait 2×, 1000 members 3×', () => {
  assert.is(suspicionMinTimeoutMs(3, 100, 500), 3000);
  assert.is(suspicionMinTimeoutMs(4, 1000, 1000), 12000);
});

formula('with k = 3 expected confirmations, max 6000 and min 1500 shrink as log(c+1)/log(4)', () => {
  assert.is(suspicionTimeoutMs(0, 3, 1500, 6000), 6000);
  // 6000 − 4500 × ln 2 / ln 4 = 6000 − 2250
  assert.is(suspicionTimeoutMs(1, 3, 1500, 6000), 3750);
  // 6000 − 4500 × ln 3 / ln 4 = 6000 − 3566.2…, floored
  assert.is(suspicionTimeoutMs(2, 3, 1500, 6000), 2433);
  assert.is(suspicionTimeoutMs(3, 3, 1500, 6000), 1500);
});

formula('more confirmations than expected never go below min', () => {
  assert.is(suspicionTimeoutMs(10, 3, 1500, 6000), 1500);
});

formula('k = 1 (lan: suspicionMult 3): one confirmation goes straight from 6000 to 1500', () => {
  assert.is(suspicionTimeoutMs(0, 1, 1500, 6000), 6000);
  assert.is(suspicionTimeoutMs(1, 1, 1500, 6000), 1500);
});

formula('k < 1 (no confirmations expected) starts at min', () => {
  assert.is(suspicionTimeoutMs(0, 0, 1500, 6000), 1500);
  assert.is(suspicionTimeoutMs(0, -1, 1500, 6000), 1500);
});

formula.run();

const timer = suite('Suspicion');

timer('fires at exactly max (300 ms) with no confirmation, reporting 0 confirmations', () => {
  const clock = new FakeClock();
  const fired: Array<[number, number]> = [];
  const s = new Suspicion({ from: 'a', k: 2, minMs: 60, maxMs: 300, clock, onTimeout: (c) => fired.push([c, clock.now()]) });
  assert.is(s.timeoutMs, 300);
  clock.advance(299);
  assert.equal(fired, []);
  assert.is(s.remainingMs(), 1);
  clock.advance(1);
  assert.equal(fired, [[0, 300]]);
  assert.is(s.remainingMs(), 0);
  clock.advance(10_000);
  assert.equal(fired, [[0, 300]], 'fires once');
});

timer('two confirmations of k = 2 bring a 1000 ms timeout down to 406 ms, then 60 ms', () => {
  const clock = new FakeClock();
  const fired: Array<[number, number]> = [];
  const s = new Suspicion({ from: 'a', k: 2, minMs: 60, maxMs: 1000, clock, onTimeout: (c) => fired.push([c, clock.now()]) });
  clock.advance(10);
  assert.ok(s.confirm('b'));
  // 1000 − 940 × ln 2 / ln 3 = 406
  assert.is(s.timeoutMs, 406);
  assert.is(s.remainingMs(), 396);
  clock.advance(20);
  assert.ok(s.confirm('c'));
  assert.is(s.timeoutMs, 60);
  assert.is(s.confirmations, 2);
  assert.is(s.remainingMs(), 30, 'the deadline counts from the start of the suspicion: 60 − 30');
  clock.advance(29);
  assert.equal(fired, []);
  clock.advance(1);
  assert.equal(fired, [[2, 60]]);
  assert.is(clock.pending, 0, 'the earlier deadlines were cleared');
});

timer('the suspector, repeats and confirmations beyond k do not count', () => {
  const s = new Suspicion({ from: 'a', k: 1, minMs: 50, maxMs: 500, clock: new FakeClock(), onTimeout: () => {} });
  assert.is(s.confirm('a'), false);
  assert.is(s.confirm('b'), true);
  assert.is(s.confirm('b'), false);
  assert.is(s.confirm('c'), false);
  assert.is(s.confirmations, 1);
  s.cancel();
});

timer('a confirmation after the shrunk deadline has passed fires at once (a 0 ms timer)', () => {
  const clock = new FakeClock(1000);
  const fired: Array<[number, number]> = [];
  const s = new Suspicion({ from: 'a', k: 1, minMs: 100, maxMs: 10_000, clock, onTimeout: (c) => fired.push([c, clock.now()]) });
  clock.advance(500); // beyond min
  assert.ok(s.confirm('b'));
  assert.is(s.remainingMs(), 0);
  assert.equal(fired, []);
  clock.advance(0);
  assert.equal(fired, [[1, 1500]]);
});

timer('cancel stops the timer: onTimeout is never called', () => {
  const clock = new FakeClock();
  let fired = 0;
  const s = new Suspicion({ from: 'a', k: 0, minMs: 30, maxMs: 30, clock, onTimeout: () => fired++ });
  s.cancel();
  assert.is(clock.pending, 0);
  clock.advance(60);
  assert.is(fired, 0);
  assert.is(s.remainingMs(), 0);
  assert.is(s.confirm('b'), false);
});

timer('without a clock it runs on real timers: a 20 ms suspicion fires once', async () => {
  let fired = 0;
  const s = new Suspicion({ from: 'a', k: 0, minMs: 20, maxMs: 20, onTimeout: () => fired++ });
  assert.is(s.timeoutMs, 20);
  await new Promise((r) => setTimeout(r, 60));
  assert.is(fired, 1);
});

timer.run();
