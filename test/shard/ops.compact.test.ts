import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomFillSync } from 'node:crypto';
import { Cache } from '../../src/index.js';
import { prng } from '../helpers/prng.js';
import { pollUntil } from '../helpers/wait.js';


/** Fills with mixed sizes, deletes most of it at random, and returns the keys kept with their values. */
function churn(c: Cache, seed: number): Map<string, Buffer> {
  const rand = prng(seed);
  const kept = new Map<string, Buffer>();
  for (let i = 0; i < 12_000; i++) {
    const len = rand() < 0.8 ? 50 + Math.floor(rand() * 400) : 1000 + Math.floor(rand() * 7000);
    const v = randomFillSync(Buffer.allocUnsafe(len));
    c.set(`k${i}`, v);
    kept.set(`k${i}`, v);
  }
  for (const key of [...kept.keys()]) {
    if (rand() < 0.85) {
      c.delete(key);
      kept.delete(key);
    }
  }
  return kept;
}

const compact = suite('arena compaction');

for (const workers of [0, 2]) {
  compact(`after a churn that deletes 85% of 12k mixed-size entries, compaction gives back most of the arena (${workers} workers)`, async () => {
    const c = new Cache({ maxMemory: '64mb', shards: 4, workers, sweepInterval: 0, compression: false });
    await c.ready();
    const kept = churn(c, 11);
    const before = c.stats();
    assert.ok(before.reservedBytes > before.usedBytes * 3, `not fragmented enough to prove anything: ${before.reservedBytes} vs ${before.usedBytes}`);
    let released = 0;
    for (let pass = 0; pass < 10; pass++) {
      const r = await c.compact();
      released += r;
      if (r === 0) break;
    }
    const after = c.stats();
    assert.ok(released > 0);
    assert.is(after.reservedBytes, before.reservedBytes - released);
    assert.is(after.freeChunkBytes, released);
    // Near the live size: at most the live bytes plus about one chunk per shard of slack.
    assert.ok(after.reservedBytes <= after.usedBytes * 1.5 + 4 * 1024 * 1024, `reserved ${after.reservedBytes}, used ${after.usedBytes}`);
    assert.is(after.entries, kept.size);
    for (const [key, v] of kept) if (!v.equals(c.get(key) as Buffer)) assert.unreachable(`${key} changed by compaction`);
    // The chunks given back are reused before the memory grows.
    const memory = after.memoryBytes;
    for (let i = 0; i < 3000; i++) c.set(`new${i}`, Buffer.alloc(1000, 1));
    assert.is(c.stats().memoryBytes, memory);
    assert.ok(c.stats().freeChunkBytes < released);
    await c.close();
  });
}

compact('a compact, unfragmented cache gives nothing back and stays intact', async () => {
  const c = new Cache({ maxMemory: '16mb', shards: 2 });
  for (let i = 0; i < 5000; i++) c.set(`k${i}`, `v${i}`);
  assert.is(await c.compact(), 0);
  for (let i = 0; i < 5000; i += 7) assert.is(c.get(`k${i}`), `v${i}`);
  await c.close();
});

compact('owners compact in the background after sweeps', async () => {
  const c = new Cache({ maxMemory: '64mb', shards: 4, workers: 2, sweepInterval: 20, compression: false });
  await c.ready();
  const kept = churn(c, 5);
  const before = c.stats().reservedBytes;
  await pollUntil(() => c.stats().workers!.compactedBytes !== 0, { timeoutMs: 3000, intervalMs: 50 });
  const s = c.stats();
  assert.ok(s.workers!.compactedBytes > 0, 'no background compaction within 3 s');
  assert.ok(s.reservedBytes < before);
  for (const [key, v] of kept) if (!v.equals(c.get(key) as Buffer)) assert.unreachable(`${key} changed`);
  await c.close();
});

compact.run();
