import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Cache } from '../../src/index.js';
import { sleep } from '../helpers/wait.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** A realistic Unix time to start the fake clock at, so expiry arithmetic looks as in production. */
const UNIX_MS = 1_750_000_000_000;

const load = suite('Cache.getOrLoad');

load('50 concurrent misses for one key call the loader once and all get its value', async () => {
  const c = new Cache({ maxMemory: '4mb' });
  let calls = 0;
  const loader = async (k: unknown) => {
    calls++;
    await sleep(20);
    return { loaded: String(k) };
  };
  const results = await Promise.all(Array.from({ length: 50 }, () => c.getOrLoad('user:1', loader)));
  assert.is(calls, 1);
  for (const r of results) assert.equal(r, { loaded: 'user:1' });
  assert.equal(c.get('user:1'), { loaded: 'user:1' });
  assert.equal(await c.getOrLoad('user:1', loader), { loaded: 'user:1' });
  assert.is(calls, 1);
  c.close();
});

load('different keys load independently; byte keys coalesce too', async () => {
  const c = new Cache({ maxMemory: '4mb' });
  const seen: string[] = [];
  const loader = async (k: unknown) => {
    seen.push(Buffer.isBuffer(k) ? 'buf' : String(k));
    await sleep(5);
    return 'v';
  };
  await Promise.all([c.getOrLoad('a', loader), c.getOrLoad('b', loader), c.getOrLoad('a', loader),
    c.getOrLoad(Buffer.from([1]), loader), c.getOrLoad(Buffer.from([1]), loader)]);
  assert.equal(seen.sort(), ['a', 'b', 'buf']);
  c.close();
});

load('a loader error reaches every waiter and nothing is cached', async () => {
  const c = new Cache({ maxMemory: '4mb' });
  let calls = 0;
  const failing = async () => {
    calls++;
    await sleep(10);
    throw new Error('backend down');
  };
  const settled = await Promise.allSettled(Array.from({ length: 20 }, () => c.getOrLoad('k', failing)));
  assert.is(calls, 1);
  for (const s of settled) {
    assert.is(s.status, 'rejected');
    assert.is((s as PromiseRejectedResult).reason.message, 'backend down');
  }
  assert.not.ok(c.has('k'));
  assert.is(await c.getOrLoad('k', async () => 'recovered'), 'recovered');
  c.close();
});

load('a synchronous loader and a synchronous throw work too', async () => {
  const c = new Cache({ maxMemory: '4mb' });
  assert.is(await c.getOrLoad('s', () => 'sync'), 'sync');
  await assert.not.ok(c.get('t'));
  const r = await c.getOrLoad('t', () => { throw new Error('sync boom'); }).catch((e: Error) => e.message);
  assert.is(r, 'sync boom');
  c.close();
});

load('the ttl option applies to loaded values', async () => {
  const clock = new FakeClock(UNIX_MS);
  const c = new Cache({ maxMemory: '4mb', ttlResolution: 0, clock });
  await c.getOrLoad('k', () => 'v', { ttl: 30 });
  assert.is(c.ttl('k'), 30);
  clock.advance(30);
  assert.is(c.get('k'), undefined);
  c.close();
});

load('within the stale window the stale value returns at once while one refresh runs', async () => {
  const clock = new FakeClock(UNIX_MS);
  const c = new Cache({ maxMemory: '4mb', ttlResolution: 0, clock });
  let version = 0;
  let calls = 0;
  let finish: () => void = () => assert.unreachable('no load is running');
  // The loader ends only when the test says so: "returns at once" means "before the loader ends".
  const loader = () => {
    calls++;
    return new Promise<string>((resolve) => { finish = () => resolve(`v${++version}`); });
  };
  const opts = { ttl: 40, staleWhileRevalidate: 500 };
  const first = c.getOrLoad('k', loader, opts);
  finish();
  assert.is(await first, 'v1');
  assert.is(await c.getOrLoad('k', loader, opts), 'v1');
  assert.is(calls, 1);
  clock.advance(60); // now stale, inside the window
  const stale = await Promise.all([c.getOrLoad('k', loader, opts), c.getOrLoad('k', loader, opts), c.getOrLoad('k', loader, opts)]);
  assert.equal(stale, ['v1', 'v1', 'v1'], 'stale values come back while the refresh is still running');
  assert.is(calls, 2); // one refresh for three stale reads
  finish();
  await new Promise((resolve) => setImmediate(resolve)); // the refresh stores v2
  assert.is(await c.getOrLoad('k', loader, opts), 'v2');
  assert.is(calls, 2);
  clock.advance(39);
  assert.is(await c.getOrLoad('k', loader, opts), 'v2', 'the refreshed value is fresh for its whole ttl');
  assert.is(calls, 2);
  c.close();
});

load('after the stale window the entry is gone and the loader runs in the foreground', async () => {
  const clock = new FakeClock(UNIX_MS);
  const c = new Cache({ maxMemory: '4mb', ttlResolution: 0, clock });
  let n = 0;
  const loader = () => `v${++n}`;
  const opts = { ttl: 20, staleWhileRevalidate: 20 };
  assert.is(await c.getOrLoad('k', loader, opts), 'v1');
  clock.advance(40);
  assert.is(c.get('k'), undefined);
  assert.is(await c.getOrLoad('k', loader, opts), 'v2');
  c.close();
});

load('bad arguments reject with TypeError / RangeError', async () => {
  const c = new Cache({ maxMemory: '4mb' });
  const e1 = await c.getOrLoad('k', 'nope' as never).catch((e) => e);
  assert.instance(e1, TypeError);
  const e2 = await c.getOrLoad('k', () => 'v', { ttl: -1 }).catch((e) => e);
  assert.instance(e2, RangeError);
  const e3 = await c.getOrLoad('k', () => 'v', { staleWhileRevalidate: 100 }).catch((e) => e);
  assert.instance(e3, RangeError);
  assert.is((e3 as Error).message, 'options.staleWhileRevalidate needs a ttl > 0');
  const e4 = await c.getOrLoad(42 as never, () => 'v').catch((e) => e);
  assert.instance(e4, TypeError);
  c.close();
});

load.run();
