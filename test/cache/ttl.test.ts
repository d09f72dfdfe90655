import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Cache } from '../../src/index.js';
import { sleep } from '../helpers/wait.js';

const ttl = suite('Cache TTL');

ttl('an entry with a 40 ms TTL is there before and gone after', async () => {
  const c = new Cache({ maxMemory: '4mb', ttlResolution: 0 });
  c.set('short', 'v', { ttl: 40 });
  c.set('forever', 'v');
  assert.is(c.get('short'), 'v');
  const left = c.ttl('short')!;
  assert.ok(left > 0 && left <= 40, `ttl ${left}`);
  assert.is(c.ttl('forever'), Infinity);
  assert.is(c.ttl('absent'), undefined);
  await sleep(60);
  assert.is(c.get('short'), undefined);
  assert.not.ok(c.has('short'));
  assert.is(c.ttl('short'), undefined);
  assert.is(c.get('forever'), 'v');
  assert.is(c.stats().expirations, 1);
  c.close();
});

ttl('the default ttl option applies when set is given none; ttl: 0 means never', async () => {
  const c = new Cache({ maxMemory: '4mb', ttl: 30, ttlResolution: 0 });
  c.set('default', 'v');
  c.set('never', 'v', { ttl: 0 });
  c.set('longer', 'v', { ttl: 10_000 });
  await sleep(50);
  assert.is(c.get('default'), undefined);
  assert.is(c.get('never'), 'v');
  assert.is(c.get('longer'), 'v');
  c.close();
});

ttl('expire sets, extends, removes and deletes', async () => {
  const c = new Cache({ maxMemory: '4mb', ttlResolution: 0 });
  c.set('k', 'v');
  assert.ok(c.expire('k', 30));
  assert.ok(c.ttl('k')! <= 30);
  assert.ok(c.expire('k', Infinity));
  assert.is(c.ttl('k'), Infinity);
  assert.ok(c.expire('k', 20));
  await sleep(40);
  assert.is(c.get('k'), undefined);
  assert.not.ok(c.expire('k', 100));
  c.set('d', 'v');
  assert.ok(c.expire('d', 0));
  assert.not.ok(c.has('d'));
  assert.throws(() => c.expire('d', NaN), TypeError);
  c.close();
});

ttl('an overwrite replaces the TTL; bad per-call ttl values throw', () => {
  const c = new Cache({ maxMemory: '4mb', ttlResolution: 0 });
  c.set('k', 'v', { ttl: 10 });
  c.set('k', 'v2');
  assert.is(c.ttl('k'), Infinity);
  assert.throws(() => c.set('k', 'v', { ttl: -1 }), (e: unknown) => e instanceof RangeError && (e as { code: string }).code === 'ERR_INVALID_TTL');
  assert.throws(() => c.set('k', 'v', { ttl: 'soon' as never }), TypeError);
  assert.throws(() => c.set('k', 'v', 5 as never), TypeError);
  c.close();
});

ttl('expired entries are reclaimed by writes without being read (bounded incremental sweep)', async () => {
  const c = new Cache({ maxMemory: '4mb', shards: 1, ttlResolution: 0 });
  for (let i = 0; i < 2000; i++) c.set(`old${i}`, 'x'.repeat(50), { ttl: 300 });
  await sleep(350);
  const before = c.stats();
  assert.is(before.entries, 2000);
  for (let i = 0; i < 3000; i++) c.set(`new${i}`, 'y');
  const after = c.stats();
  assert.ok(after.expirations >= 1500, `only ${after.expirations} expired entries reclaimed`);
  assert.ok(after.entries < 3000 + 500, `entries ${after.entries}`);
  c.close();
});

ttl('with the default ttlResolution the clock is read at most once per ms yet entries still expire', async () => {
  const c = new Cache({ maxMemory: '4mb' });
  c.set('k', 'v', { ttl: 20 });
  await sleep(40);
  assert.is(c.get('k'), undefined);
  c.close();
});

ttl('a TTL set after a long synchronous loop counts from the real time, not a stale clock', () => {
  const c = new Cache({ maxMemory: '4mb' });
  c.get('warm the cached clock');
  const spinUntil = Date.now() + 120;
  while (Date.now() < spinUntil) c.has('x'); // timers cannot run; under 1024 ops would keep the clock
  const before = Date.now();
  c.set('k', 'v', { ttl: 1000 });
  const left = c.ttl('k')!;
  assert.ok(Math.abs(before + 1000 - (Date.now() + left)) <= 5, `expires ${before + 1000 - (Date.now() + left)} ms early`);
  c.close();
});

ttl('inside a synchronous loop the expiry clock still moves (refreshed every 1024 operations)', () => {
  const c = new Cache({ maxMemory: '4mb' });
  c.set('short', 'v', { ttl: 30 });
  const until = Date.now() + 80;
  while (Date.now() < until) c.has('other');
  assert.is(c.get('short'), undefined, 'expired although the loop never yielded');
  c.close();
});

ttl.run();
