import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Awareness } from '../../src/mesh/awareness.js';

const test = suite('Awareness');

test('starts healthy: score 0, timeouts unscaled (400 ms stays 400 ms)', () => {
  const a = new Awareness(8);
  assert.is(a.score, 0);
  assert.is(a.scale(400), 400);
});

test('the score never exceeds maxMultiplier − 1 (7 for 8), so 400 ms scales to at most 3200 ms', () => {
  const a = new Awareness(8);
  a.applyDelta(3);
  assert.is(a.score, 3);
  assert.is(a.scale(400), 1600);
  a.applyDelta(100);
  assert.is(a.score, 7);
  assert.is(a.scale(400), 3200);
});

test('successes lower the score, never below 0', () => {
  const a = new Awareness(4);
  a.applyDelta(2);
  a.applyDelta(-1);
  assert.is(a.score, 1);
  a.applyDelta(-5);
  assert.is(a.score, 0);
  assert.is(a.scale(150), 150);
});

test('maxMultiplier 1 disables awareness: the score stays 0', () => {
  const a = new Awareness(1);
  a.applyDelta(5);
  assert.is(a.score, 0);
});

test('a maxMultiplier below 1 or fractional is a RangeError', () => {
  assert.throws(() => new Awareness(0), (e: Error) => e instanceof RangeError && /positive integer/.test(e.message));
  assert.throws(() => new Awareness(2.5), (e: Error) => e instanceof RangeError);
});

test.run();
