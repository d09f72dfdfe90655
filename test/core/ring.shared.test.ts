import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { Cache } from '../../src/index.js';
import { HashRing, SharedRing, SHARED_RING_MAX_POINTS } from '../../src/core/ring.js';
import { kTable } from '../../src/core/handle.js';
import { ST_BAD_ARGUMENT, ST_MISS, ST_SCRATCH, ST_STALE } from '../../src/core/wasm.js';
import { askWorker, startTsWorker } from '../helpers/ts-worker.js';
import { waitFor } from '../helpers/wait.js';

const WORKER = new URL('./fixtures/shared-ring-worker.ts', import.meta.url);

const enc = new TextEncoder();
const keys = (n: number, prefix = 'user:') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(15, '0')}`);
const nodeNames = (n: number) => Array.from({ length: n }, (_, i) => `10.0.${i >> 8}.${i & 255}:7000`);

function hashRing(nodes: Array<string | { name: string; weight?: number }>, options: { vnodes?: number; seed?: number | bigint } = {}): HashRing {
  const r = new HashRing(options);
  for (const n of nodes) typeof n === 'string' ? r.add(n) : r.add(n.name, n.weight);
  return r;
}

const startWorker = (handle: unknown): Promise<Worker> => startTsWorker(WORKER, { handle });
const ask = askWorker;

/** Waits (without blocking the event loop for long) until flag[1] says the worker is running. */
async function started(flag: Int32Array): Promise<void> {
  await waitFor(() => Atomics.load(flag, 1) !== 0, { timeoutMs: 10_000, intervalMs: 1, what: 'the worker to start' });
}

const shared = suite('SharedRing');

shared('lookups agree with HashRing for 10,000 keys on 3, 5 and 16 nodes (string and byte keys)', () => {
  const cache = new Cache({ maxMemory: '4mb' });
  try {
    const ring = SharedRing.of(cache);
    const ks = keys(10_000);
    for (const n of [3, 5, 16]) {
      const nodes = nodeNames(n);
      ring.setNodes(nodes);
      const ref = hashRing(nodes);
      assert.equal(ring.nodes, ref.nodes);
      assert.is(ring.size, ref.size);
      for (let i = 0; i < ks.length; i++) {
        assert.is(ring.lookup(ks[i]), ref.lookup(ks[i]), ks[i]);
        if (i % 13 === 0) assert.is(ring.lookup(enc.encode(ks[i])), ref.lookup(ks[i]));
      }
    }
  } finally {
    cache.close();
  }
});

shared('agrees with HashRing with a 64-bit seed, weights, 40 vnodes and non-ASCII names', () => {
  const cache = new Cache({ maxMemory: '4mb' });
  try {
    const ring = SharedRing.of(cache);
    const nodes = [{ name: 'ünïcode-ñode', weight: 2 }, 'b', { name: 'c', weight: 0.5 }, '日本'];
    const seed = 0x1234567890abcdefn;
    ring.setNodes(nodes, { vnodes: 40, seed });
    const ref = hashRing(nodes, { vnodes: 40, seed });
    assert.equal(ring.nodes, ref.nodes);
    assert.is(ring.size, ref.size);
    assert.is(ring.seed, seed);
    for (const k of keys(5000, 'k:')) assert.is(ring.lookup(k), ref.lookup(k));
    for (const k of keys(5000, 'k:')) assert.is(ring.nodes[ring.lookupIndex(k)], ref.lookup(k));
  } finally {
    cache.close();
  }
});

shared('is empty before the first publish and after publishing no nodes; epochs count publishes', () => {
  const cache = new Cache({ maxMemory: '4mb' });
  try {
    const ring = SharedRing.of(cache);
    assert.is(SharedRing.of(cache), ring);
    assert.is(ring.epoch, 0);
    assert.is(ring.lookup('k'), undefined);
    assert.is(ring.lookupIndex('k'), -1);
    assert.equal(ring.nodes, []);
    assert.is(ring.size, 0);
    assert.is(ring.setNodes(['a', 'b']), 1);
    assert.is(ring.lookup('k') === 'a' || ring.lookup('k') === 'b', true);
    assert.is(ring.setNodes([]), 2);
    assert.is(ring.epoch, 2);
    assert.is(ring.lookup('k'), undefined);
    assert.equal(ring.nodes, []);
    assert.is(ring.setNodes(['only']), 3);
    assert.is(ring.lookup('k'), 'only');
    assert.is(ring.size, 160);
  } finally {
    cache.close();
  }
});

shared('a second Cache object over the same memory in the same thread sees the same ring', () => {
  const cache = new Cache({ maxMemory: '4mb' });
  const other = Cache.attach(cache.handle);
  try {
    SharedRing.of(cache).setNodes(nodeNames(4));
    const view = SharedRing.of(other);
    assert.is.not(view, SharedRing.of(cache));
    assert.is(view.epoch, 1);
    assert.equal(view.nodes, nodeNames(4).sort());
    const ref = hashRing(nodeNames(4));
    for (const k of keys(1000)) assert.is(view.lookup(k), ref.lookup(k));
  } finally {
    other.close();
    cache.close();
  }
});

shared('a worker attached to the cache looks up the same owners, and follows a new publish', async () => {
  const cache = new Cache({ maxMemory: '4mb' });
  const ring = SharedRing.of(cache);
  ring.setNodes(nodeNames(5));
  const w = await startWorker(cache.handle);
  try {
    const ks = keys(2000);
    type Reply = { epoch: number; nodes: string[]; size: number; owners: Array<string | undefined> };
    let r = await ask<Reply>(w, { kind: 'lookup', keys: ks });
    assert.is(r.epoch, 1);
    assert.equal(r.nodes, ring.nodes);
    assert.is(r.size, 800);
    assert.equal(r.owners, ks.map((k) => ring.lookup(k)));

    const epoch = ring.setNodes(nodeNames(16), { vnodes: 100 });
    assert.is(epoch, 2);
    r = await ask<Reply>(w, { kind: 'lookup', keys: ks });
    assert.is(r.epoch, 2);
    assert.is(r.size, 1600);
    const ref = hashRing(nodeNames(16), { vnodes: 100 });
    assert.equal(r.owners, ks.map((k) => ref.lookup(k)));
    assert.ok(r.owners.some((o) => !nodeNames(5).includes(o!)), 'some keys moved to the new nodes');
  } finally {
    await w.terminate();
    cache.close();
  }
});

shared('a worker hammering lookups while the main thread republishes 1000 times only ever sees a whole ring', async () => {
  const cache = new Cache({ maxMemory: '4mb' });
  const ring = SharedRing.of(cache);
  // Different sizes (480 and 5000 points), so buffers are reallocated and rewritten under the reader.
  const sets = [{ nodes: ['a1', 'a2', 'a3'], vnodes: 160 }, { nodes: ['b1', 'b2', 'b3', 'b4', 'shared'], vnodes: 1000 }];
  ring.setNodes(sets[0].nodes, { vnodes: sets[0].vnodes });
  const w = await startWorker(cache.handle);
  try {
    const flag = new Int32Array(new SharedArrayBuffer(8));
    const reply = ask<{ lookups: number; outside: number; wrong: number; errors: number; empty: number; firstError: string; epochs: number }>(
      w, { kind: 'hammer', keys: keys(500), sets, stop: flag.buffer });
    await started(flag);
    let last = 1;
    for (let i = 1; i <= 1000; i++) {
      const set = sets[i & 1];
      last = ring.setNodes(set.nodes, { vnodes: set.vnodes });
    }
    assert.is(last, 1001);
    Atomics.store(flag, 0, 1);
    const r = await reply;
    assert.is(r.errors, 0, r.firstError);
    assert.is(r.outside, 0);
    assert.is(r.wrong, 0);
    assert.is(r.empty, 0);
    assert.ok(r.lookups > 10_000, `only ${r.lookups} lookups`);
    assert.ok(r.epochs > 1, 'the reader saw republishes');
  } finally {
    await w.terminate();
    cache.close();
  }
});

shared('two threads publishing at once get distinct epochs and leave one whole ring', async () => {
  const cache = new Cache({ maxMemory: '4mb' });
  const ring = SharedRing.of(cache);
  const sets = [{ nodes: ['x1', 'x2', 'x3'], vnodes: 300 }, { nodes: ['y1', 'y2'], vnodes: 50 }];
  const w = await startWorker(cache.handle);
  try {
    const flag = new Int32Array(new SharedArrayBuffer(8));
    const reply = ask<{ epochs: number[] }>(w, { kind: 'publish', count: 300, sets, stop: flag.buffer });
    await started(flag);
    const mine: number[] = [];
    for (let i = 0; i < 300; i++) mine.push(ring.setNodes(sets[(i + 1) & 1].nodes, { vnodes: sets[(i + 1) & 1].vnodes }));
    const theirs = (await reply).epochs;
    const all = new Set([...mine, ...theirs]);
    assert.is(all.size, 600, 'every publish got its own epoch');
    assert.is(ring.epoch, 600);
    const now = ring.nodes;
    const set = sets.find((s) => s.nodes.join() === now.join())!;
    assert.ok(set !== undefined, `nodes ${now.join()}`);
    const ref = hashRing(set.nodes, { vnodes: set.vnodes });
    assert.is(ring.size, ref.size);
    for (const k of keys(2000)) assert.is(ring.lookup(k), ref.lookup(k));
  } finally {
    await w.terminate();
    cache.close();
  }
});

shared('cache get/set are intact after 600 republishes that grow, release and reuse ring buffers', () => {
  // 128 KiB chunks: ring buffers of that size, once given back, are exactly what a shard takes next.
  const cache = new Cache({ maxMemory: '2mb', shards: 16 });
  try {
    assert.is(cache.options.chunkBytes, 128 * 1024);
    const ring = SharedRing.of(cache);
    const value = (k: string, round: number) => `${k}|${round}|${'v'.repeat(40 + (k.length % 17))}`;
    const ks = keys(3000, 'entry:');
    for (let round = 0; round < 6; round++) {
      // Rings of 20 to ~14,000 points: 64, 128 and 256 KiB buffers, each growth giving one back.
      for (let i = 0; i < 100; i++) ring.setNodes(nodeNames(1 + ((round * 100 + i) % 64)), { vnodes: 20 + 20 * round + i });
      for (const k of ks) cache.set(k, value(k, round));
      let present = 0;
      for (const k of ks) {
        const v = cache.get(k);
        if (v !== undefined) { present++; assert.is(v, value(k, round), k); }
      }
      assert.ok(present > 1000, `only ${present} entries kept in round ${round}`);
    }
    // The table's writes did not touch the published ring, and republishing did not touch the table.
    const ref = hashRing(ring.nodes, { vnodes: 20 + 20 * 5 + 99 });
    assert.is(ring.size, ref.size);
    for (const k of keys(2000)) assert.is(ring.lookup(k), ref.lookup(k));
    const before = ks.map((k) => cache.get(k));
    for (let i = 0; i < 100; i++) ring.setNodes(nodeNames(64 - (i % 60)), { vnodes: 150 + i });
    assert.equal(ks.map((k) => cache.get(k)), before);
    const st = cache.stats();
    assert.ok(st.usedBytes <= 2 * 1024 * 1024);
  } finally {
    cache.close();
  }
});

shared('bad arguments throw TypeError or RangeError with the argument named', () => {
  const cache = new Cache({ maxMemory: '4mb', maxKeyBytes: 64 });
  try {
    const ring = SharedRing.of(cache);
    const throws = (fn: () => unknown, type: typeof TypeError | typeof RangeError, message: RegExp) =>
      assert.throws(fn, (e: unknown) => e instanceof type && message.test((e as Error).message) && (e as { code?: string }).code !== undefined);
    throws(() => SharedRing.of(null as never), TypeError, /SharedRing\.of: cache must be a Cache/);
    throws(() => SharedRing.of({} as never), TypeError, /cache must be a Cache/);
    throws(() => ring.setNodes('a' as never), TypeError, /nodes must be an array/);
    throws(() => ring.setNodes([1 as never]), TypeError, /nodes\[0\] must be a string or \{ name, weight\? \}/);
    throws(() => ring.setNodes(['a', null as never]), TypeError, /nodes\[1\] must be a string/);
    throws(() => ring.setNodes(['']), RangeError, /nodes\[0\] name must not be empty/);
    throws(() => ring.setNodes([{ name: 5 as never }]), TypeError, /nodes\[0\] name must be a string/);
    throws(() => ring.setNodes([{ name: 'a', weight: 0 }]), RangeError, /nodes\[0\] weight must be a positive finite number, got 0/);
    throws(() => ring.setNodes([{ name: 'a', weight: '2' as never }]), TypeError, /weight must be a number/);
    throws(() => ring.setNodes(['a', 'b', 'a']), RangeError, /node "a" is listed twice/);
    throws(() => ring.setNodes(['a'], { vnodes: 0 }), RangeError, /vnodes must be an integer in \[1, 1000000\], got 0/);
    throws(() => ring.setNodes(['a'], { vnodes: '8' as never }), TypeError, /vnodes must be a number/);
    throws(() => ring.setNodes(['a'], { seed: -1 }), RangeError, /seed must be in \[0, 2\^64\)/);
    throws(() => ring.setNodes(['a'], null as never), TypeError, /options must be an object/);
    throws(() => ring.setNodes(['a', 'b'], { vnodes: SHARED_RING_MAX_POINTS / 2 + 1 }), RangeError, /points exceed the shared ring's 1048576/);
    throws(() => ring.setNodes(['x'.repeat(70_000)]), RangeError, /node name takes 70000 bytes/);
    throws(() => ring.lookup(42 as never), TypeError, /key must be a string or a Uint8Array/);
    throws(() => ring.lookup('k'.repeat(65)), RangeError, /maxKeyBytes/);
    // Nothing was published by the failed calls.
    assert.is(ring.epoch, 0);
    ring.setNodes(['a']);
    assert.is(ring.epoch, 1);
  } finally {
    cache.close();
  }
  assert.throws(() => SharedRing.of(cache).lookup('k'), (e: unknown) => (e as { code?: string }).code === 'ERR_CACHE_CLOSED');
});

shared('core: the shared-ring exports refuse bad stages and regions with status codes', () => {
  const cache = new Cache({ maxMemory: '4mb' });
  try {
    const t = cache[kTable]();
    const x = t.x;
    const dv = new DataView(t.memory.buffer);
    const sp = t.sp;
    // A valid one-node stage: [1][len 1]['a'][points 3].
    const stage = (nodes: number, len: number, points: number) => {
      dv.setUint32(sp, nodes, true); dv.setUint16(sp + 4, len, true); t.u8[sp + 6] = 0x61; dv.setUint32(sp + 7, points, true);
    };
    stage(1, 1, 3);
    assert.is(x.sharedRingPublish(sp, 11, sp + 64, 0, 0), 1);
    const top = t.memory.buffer.byteLength; // after the publish, which may have grown the memory
    assert.is(x.sharedRingPublish(sp, 12, sp + 64, 0, 0), ST_BAD_ARGUMENT); // trailing byte
    assert.is(x.sharedRingPublish(sp, 3, sp + 64, 0, 0), ST_BAD_ARGUMENT); // too short
    stage(1, 1, 0);
    assert.is(x.sharedRingPublish(sp, 11, sp + 64, 0, 0), ST_BAD_ARGUMENT); // a node with no points
    stage(1, 0, 3);
    assert.is(x.sharedRingPublish(sp, 10, sp + 64, 0, 0), ST_BAD_ARGUMENT); // an empty name
    stage(2, 1, 3);
    assert.is(x.sharedRingPublish(sp, 11, sp + 64, 0, 0), ST_BAD_ARGUMENT); // more nodes than bytes
    stage(0xffffffff, 1, 3);
    assert.is(x.sharedRingPublish(sp, 11, sp + 64, 0, 0), ST_BAD_ARGUMENT);
    stage(1, 1, 1 << 21);
    assert.is(x.sharedRingPublish(sp, 11, sp + 64, 0, 0), ST_BAD_ARGUMENT); // over the point cap
    stage(1, 1, 3);
    assert.is(x.sharedRingPublish(top - 4, 11, sp + 64, 0, 0), ST_BAD_ARGUMENT); // stage past the end
    assert.is(x.sharedRingPublish(sp, 11, top - 2, 0, 0), ST_BAD_ARGUMENT); // work area past the end
    assert.is(x.sharedRingPublish(sp, 0xffffffff, sp + 64, 0, 0), ST_BAD_ARGUMENT);
    assert.is(x.ringFill(sp, 11, top - 16, sp + 64, 0, 0), -1); // ring past the end
    assert.is(x.ringFill(sp, 11, sp + 68, sp + 32, 0, 0), -1); // misaligned ring
    assert.is(x.sharedRingEpoch(), 1);
    // Lookups: a key past the end, a stale epoch, the right one.
    assert.is(x.sharedRingLookup(top - 2, 8, 1), ST_BAD_ARGUMENT);
    assert.is(x.sharedRingLookup(sp, 4, 7), ST_STALE);
    assert.is(x.sharedRingLookup(sp, 4, 1), 0);
    // Snapshots: too small (the size needed goes to the result word), past the end, then whole.
    assert.is(x.sharedRingSnapshot(sp, 8), ST_SCRATCH);
    assert.is(t.i32[t.resultIndex], 16 + 4 + 2 + 1);
    assert.is(x.sharedRingSnapshot(top - 8, 64), ST_BAD_ARGUMENT);
    assert.is(x.sharedRingSnapshot(sp, 64), 23);
    assert.is(dv.getUint32(sp, true), 1);
    assert.is(dv.getUint32(sp + 4, true), 3);
    // An empty stage publishes an empty ring.
    dv.setUint32(sp, 0, true);
    assert.is(x.sharedRingPublish(sp, 4, sp + 64, 0, 0), 2);
    assert.is(x.sharedRingLookup(sp, 4, 2), ST_MISS);
  } finally {
    cache.close();
  }
});

shared.run();
