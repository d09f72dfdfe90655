import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { MEMBERSHIP_PRESETS, type MembershipConfig } from '../../src/mesh/presets.js';
import { suspicionMinTimeoutMs, suspicionTimeoutMs } from '../../src/mesh/suspicion.js';

const test = suite('MEMBERSHIP_PRESETS');
const KEYS = Object.keys(MEMBERSHIP_PRESETS.lan).sort() as (keyof MembershipConfig)[];

test('lan holds the values designed for loopback and LAN meshes', () => {
  assert.equal({ ...MEMBERSHIP_PRESETS.lan }, {
    probeIntervalMs: 500, probeTimeoutMs: 400, indirectChecks: 3, suspicionMult: 3, suspicionMaxTimeoutMult: 4,
    gossipIntervalMs: 100, gossipNodes: 3, retransmitMult: 4, pushPullIntervalMs: 15_000, pushPullTimeoutMs: 2_000,
    awarenessMaxMultiplier: 8, deadReclaimMs: 30_000,
  });
});

test('local sets the same 12 parameters as lan, each a positive integer (0 allowed only where documented)', () => {
  assert.equal(Object.keys(MEMBERSHIP_PRESETS.local).sort(), KEYS);
  assert.is(KEYS.length, 12);
  for (const preset of [MEMBERSHIP_PRESETS.lan, MEMBERSHIP_PRESETS.local]) {
    for (const k of KEYS) assert.ok(Number.isInteger(preset[k]) && preset[k] > 0, k);
  }
});

test('presets are frozen', () => {
  assert.ok(Object.isFrozen(MEMBERSHIP_PRESETS));
  assert.ok(Object.isFrozen(MEMBERSHIP_PRESETS.lan));
  assert.ok(Object.isFrozen(MEMBERSHIP_PRESETS.local));
});

test('lan: a crash confirmed by one other node is dead after 1.5 s (under the 3 s target), 6 s unconfirmed', () => {
  const { suspicionMult, suspicionMaxTimeoutMult, probeIntervalMs } = MEMBERSHIP_PRESETS.lan;
  const min = suspicionMinTimeoutMs(suspicionMult, 5, probeIntervalMs);
  assert.is(min, 1500);
  assert.is(suspicionTimeoutMs(1, suspicionMult - 2, min, suspicionMaxTimeoutMult * min), 1500);
  assert.is(suspicionTimeoutMs(0, suspicionMult - 2, min, suspicionMaxTimeoutMult * min), 6000);
});

test('lan: the 400 ms probe timeout outlasts a 300 ms peer stall and stays under the 500 ms probe interval', () => {
  assert.ok(MEMBERSHIP_PRESETS.lan.probeTimeoutMs > 300);
  assert.ok(MEMBERSHIP_PRESETS.lan.probeTimeoutMs < MEMBERSHIP_PRESETS.lan.probeIntervalMs);
});

test('local is faster than lan on every timer', () => {
  for (const k of ['probeIntervalMs', 'probeTimeoutMs', 'gossipIntervalMs', 'pushPullIntervalMs', 'deadReclaimMs'] as const) {
    assert.ok(MEMBERSHIP_PRESETS.local[k] < MEMBERSHIP_PRESETS.lan[k], k);
  }
});

test('docs/mesh-config.md has a row for every parameter with both presets\' values', () => {
  const doc = readFileSync(new URL('../../docs/mesh-config.md', import.meta.url), 'utf8');
  for (const k of KEYS) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${k}\` |`));
    assert.ok(row !== undefined, `no row for ${k}`);
    const cells = row!.split('|').map((c) => c.trim());
    assert.is(Number(cells[2]), MEMBERSHIP_PRESETS.lan[k], `${k} lan`);
    assert.is(Number(cells[3]), MEMBERSHIP_PRESETS.local[k], `${k} local`);
  }
});

test.run();
