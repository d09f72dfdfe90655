import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { Cache } from '../../src/index.js';
import { mixedWorkload } from './fixtures/checksummed.js';
import { askWorker, startTsWorker } from '../helpers/ts-worker.js';

const WORKER = new URL('./fixtures/stress-worker.ts', import.meta.url);

const startWorker = (handle: unknown): Promise<Worker> => startTsWorker(WORKER, { handle });
const ask = askWorker;

const threads = suite('Cache across threads');

threads('a set on one thread is visible to a get on another at once, both ways', async () => {
  const c = new Cache({ maxMemory: '8mb' });
  const w = await startWorker(c.handle);
  try {
    for (let i = 0; i < 50; i++) {
      c.set(`main:${i}`, `from main ${i}`);
      const r = await ask<{ value: string }>(w, { kind: 'read', key: `main:${i}` });
      assert.is(r.value, `from main ${i}`);
      await ask(w, { kind: 'write', key: `worker:${i}`, value: `from worker ${i}` });
      assert.is(c.get(`worker:${i}`), `from worker ${i}`);
    }
    c.delete('main:3');
    assert.is((await ask<{ value: unknown }>(w, { kind: 'read', key: 'main:3' })).value, null);
  } finally {
    await w.terminate();
    c.close();
  }
});

threads('main thread and two workers mixing set/get/delete on overlapping keys: 0 corrupt reads', async () => {
  // Small budget and 4 shards: constant eviction, index growth and memory growth under contention.
  const c = new Cache({ maxMemory: '6mb', shards: 4, seed: 11 });
  const workers = await Promise.all([startWorker(c.handle), startWorker(c.handle)]);
  const ms = 3000;
  try {
    const replies = workers.map((w, i) => ask<{ stats: ReturnType<typeof mixedWorkload> }>(w, { kind: 'stress', ms, writer: i + 1, keys: 6000 }));
    // The main thread works in slices so that the workers' replies can arrive.
    const mine = { ops: 0, reads: 0, hits: 0, corrupt: 0, sets: 0, deletes: 0 };
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const s = mixedWorkload(c, 0, 6000, 50, Date.now());
      for (const k of Object.keys(mine) as Array<keyof typeof mine>) mine[k] += s[k];
      await new Promise((r) => setImmediate(r));
    }
    const all = [mine, ...(await Promise.all(replies)).map((r) => r.stats)];
    const total = all.reduce((a, s) => ({ ops: a.ops + s.ops, hits: a.hits + s.hits, corrupt: a.corrupt + s.corrupt }), { ops: 0, hits: 0, corrupt: 0 });
    assert.is(total.corrupt, 0, `corrupt reads: ${JSON.stringify(all)}`);
    assert.ok(total.hits > 1000, `too few hits to prove anything: ${JSON.stringify(all)}`);
    for (const s of all) assert.ok(s.ops > 1000, `a thread barely ran: ${JSON.stringify(all)}`);
    const st = c.stats();
    assert.ok(st.usedBytes <= 6 * 1024 * 1024);
    assert.ok(st.evictions > 0);
    assert.is(st.sets, all.reduce((a, s) => a + s.sets, 0));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    c.close();
  }
});

threads('attach rejects what is not a handle', () => {
  const c = new Cache({ maxMemory: '4mb' });
  for (const bad of [null, 1, {}, { kind: 'meshcache.Cache' }, { ...c.handle, memory: {} }]) {
    assert.throws(() => Cache.attach(bad as never), (e: unknown) => e instanceof TypeError && (e as Error & { code?: string }).code === 'ERR_INVALID_HANDLE');
  }
  assert.throws(() => Cache.attach({ ...c.handle, version: 2 } as never), RangeError);
  const same = Cache.attach(c.handle);
  c.set('x', 'y');
  assert.is(same.get('x'), 'y');
  same.close();
  c.close();
});

threads.run();
