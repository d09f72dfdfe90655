import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Cache } from '../../src/index.js';
import { sleep } from '../helpers/wait.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** A realistic Unix time to start the fake clock at, so expiry arithmetic looks as in production. */
const UNIX_MS = 1_750_000_000_000;

const ttl = suite('Cache TTL');

ttl('an entry with a 40 ms TTL is there until 40 ms have passed and gone after', () => {
  const clock = new FakeClock(UNIX_MS);
  const c = new Cache({ maxMemory: '4mb', ttlResolution: 0, clock });
  c.set('short', 'v', { ttl: 40 });
  c.set('forever', 'v');
  assert.is(c.get('short'), 'v');
  assert.is(c.ttl('short'), 40);
  assert.is(c.ttl('forever'), Infinity);
  assert.is(c.ttl('absent'), undefined);
  clock.advance(39);
  assert.is(c.get('short'), 'v');
  assert.is(c.ttl('short'), 1);
  clock.advance(1);
  assert.is(c.get('short'), undefined);
  assert.not.ok(c.has('short'));
  assert.is(c.ttl('short'), undefined);
  assert.is(c.get('forever'), 'v');
  assert.is(c.stats().expirations, 1);
  c.close();
});

ttl('the default ttl option applies when set is given none; ttl: 0 means never', () => {
  const clock = new FakeClock(UNIX_MS);
  const c = new Cache({ maxMemory: '4mb', ttl: 30, ttlResolution: 0, clock });
  c.set('default', 'v');
  c.set('never', 'v', { ttl: 0 });
  c.set('longer', 'v', { ttl: 10_000 });
  assert.is(c.ttl('default'), 30);
  clock.advance(30);
  assert.is(c.get('default'), undefined);
  assert.is(c.get('never'), 'v');
  assert.is(c.get('longer'), 'v');
  assert.is(c.ttl('longer'), 9_970);
  c.close();
});

ttl('expire sets, extends, removes and deletes', () => {
  const clock = new FakeClock(UNIX_MS);
  const c = new Cache({ maxMemory: '4mb', ttlResolution: 0, clock });
  c.set('k', 'v');
  assert.ok(c.expire('k', 30));
  assert.is(c.ttl('k'), 30);
  assert.ok(c.expire('k', Infinity));
  assert.is(c.ttl('k'), Infinity);
  assert.ok(c.expire('k', 20));
  clock.advance(20);
  assert.is(c.get('k'), undefined);
  assert.not.ok(c.expire('k', 100));
  c.set('d', 'v');
  assert.ok(c.expire('d', 0));
  assert.not.ok(c.has('d'));
  assert.throws(() => c.expire('d', NaN), TypeError);
  c.close();
});

ttl('expiresAt and expireAt read and set absolute Unix-ms expiry times', () => {
  const clock = new FakeClock(1_000_000);
  const c = new Cache({ maxMemory: '4mb', ttlResolution: 0, clock });
  c.set('k', 'v', { ttl: 500 });
  c.set('p', 'v');
  assert.is(c.expiresAt('k'), 1_000_500);
  assert.is(c.expiresAt('p'), Infinity);
  assert.is(c.expiresAt('absent'), undefined);
  assert.ok(c.expireAt('p', 1_000_250));
  assert.is(c.ttl('p'), 250);
  assert.ok(c.expireAt('k', Infinity));
  assert.is(c.expiresAt('k'), Infinity);
  assert.not.ok(c.expireAt('absent', 2_000_000));
  assert.ok(c.expireAt('k', 999_999), 'a time already past still finds the key');
  assert.is(c.get('k'), undefined, 'and it reads as absent from then on');
  assert.throws(() => c.expireAt('p', 0), (e: unknown) => e instanceof RangeError && (e as Error & { code?: string }).code === 'ERR_INVALID_TTL');
  assert.throws(() => c.expireAt('p', NaN), TypeError);
  assert.throws(() => c.expireAt('p', '5' as never), TypeError);
  c.close();
});

ttl('an overwrite replaces the TTL; bad per-call ttl values throw', () => {
  const c = new Cache({ maxMemory: '4mb', ttlResolution: 0 });
  c.set('k', 'v', { ttl: 10 });
  c.set('k', 'v2');
  assert.is(c.ttl('k'), Infinity);
  assert.throws(() => c.set('k', 'v', { ttl: -1 }), (e: unknown) => e instanceof RangeError && (e as Error & { code?: string }).code === 'ERR_INVALID_TTL');
  assert.throws(() => c.set('k', 'v', { ttl: 'soon' as never }), TypeError);
  assert.throws(() => c.set('k', 'v', 5 as never), TypeError);
  c.close();
});

ttl('a clock option without now() is refused with a TypeError naming it', () => {
  for (const clock of [null, 5, {}, { now: 1 }]) {
    assert.throws(() => new Cache({ maxMemory: '4mb', clock: clock as never }),
      (e: unknown) => e instanceof TypeError && /options\.clock must be an object with a now\(\) function/.test((e as Error).message));
  }
  const c = new Cache({ maxMemory: '4mb' });
  assert.throws(() => Cache.attach(c.handle, { clock: {} as never }), TypeError);
  c.close();
});

ttl('expired entries are reclaimed by writes without being read (bounded incremental sweep)', () => {
  const clock = new FakeClock(UNIX_MS);
  const c = new Cache({ maxMemory: '4mb', shards: 1, ttlResolution: 0, clock });
  for (let i = 0; i < 2000; i++) c.set(`old${i}`, 'x'.repeat(50), { ttl: 300 });
  clock.advance(350);
  const before = c.stats();
  assert.is(before.entries, 2000);
  for (let i = 0; i < 3000; i++) c.set(`new${i}`, 'y');
  const after = c.stats();
  assert.ok(after.expirations >= 1500, `only ${after.expirations} expired entries reclaimed`);
  assert.ok(after.entries < 3000 + 500, `entries ${after.entries}`);
  c.close();
});

ttl('with the default ttlResolution the cached clock is dropped by a timer, so entries still expire', async () => {
  const clock = new FakeClock(UNIX_MS);
  const c = new Cache({ maxMemory: '4mb', clock });
  c.set('k', 'v', { ttl: 20 });
  assert.is(c.get('k'), 'v');
  clock.advance(40);
  await sleep(20); // lets the 1 ms timer that drops the cached clock run (any delay past it will do)
  assert.is(c.get('k'), undefined);
  c.close();
});

ttl('a TTL set after a long synchronous loop counts from the current time, not the cached clock', () => {
  const clock = new FakeClock(UNIX_MS);
  const c = new Cache({ maxMemory: '4mb', clock });
  c.get('warm the cached clock');
  clock.advance(120); // no timer can run in this synchronous test: the cached clock stays 120 ms behind
  c.set('k', 'v', { ttl: 1000 });
  assert.is(c.expiresAt('k'), clock.now() + 1000);
  c.close();
});

ttl('inside a synchronous loop the cached expiry clock is re-read every 1024 operations', () => {
  const clock = new FakeClock(UNIX_MS);
  const c = new Cache({ maxMemory: '4mb', clock });
  c.set('short', 'v', { ttl: 30 });
  c.has('warm');
  clock.advance(80);
  assert.is(c.get('short'), 'v', 'the cached clock is still the old one');
  for (let i = 0; i < 1024; i++) c.has('other');
  assert.is(c.get('short'), undefined, 'expired although the loop never yielded');
  c.close();
});

ttl.run();
