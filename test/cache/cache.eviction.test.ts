import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomFillSync } from 'node:crypto';
import { Cache } from '../../src/index.js';
import { prng } from '../helpers/prng.js';


const evict = suite('Cache eviction and byte budget');

evict('bytes never exceed maxMemory while random 1 B - 64 KiB values overfill it tenfold', () => {
  const maxMemory = 8 * 1024 * 1024;
  const c = new Cache({ maxMemory, shards: 4, maxValueBytes: 65536, seed: 1 });
  const rand = prng(42);
  const latest = new Map<string, number>();
  let written = 0;
  let i = 0;
  while (written < 10 * maxMemory) {
    const key = `k${Math.floor(rand() * 4000)}`;
    const len = 1 + Math.floor(rand() * 65536);
    const v = randomFillSync(Buffer.allocUnsafe(len)); // incompressible: the budget sees full sizes
    v[0] = v[len - 1] = i & 255;
    c.set(key, v);
    latest.set(key, i);
    written += len;
    i++;
    const s = c.stats();
    if (s.usedBytes > maxMemory || s.reservedBytes > maxMemory) {
      assert.unreachable(`after ${i} sets: used ${s.usedBytes}, reserved ${s.reservedBytes} > ${maxMemory}`);
    }
    for (const shard of s.shards) assert.ok(shard.reservedBytes <= maxMemory / 4);
  }
  const s = c.stats();
  assert.ok(s.evictions > 100, `evictions ${s.evictions}`);
  assert.ok(s.bytes > maxMemory * 0.6, `the cache should stay mostly full, has ${s.bytes}`);
  // The WebAssembly memory holds the arenas, the fixed headers and the scratch areas only.
  assert.ok(s.memoryBytes <= maxMemory + 2 * 1024 * 1024, `memory ${s.memoryBytes}`);
  // Every entry still present holds the last value written for its key.
  let present = 0;
  for (const [key, n] of latest) {
    const v = c.get(key) as Buffer | undefined;
    if (v === undefined) continue;
    present++;
    assert.is(v[0], n & 255, key);
    assert.is(v[v.length - 1], n & 255, key);
  }
  assert.ok(present > 50, `present ${present}`);
  c.close();
});

evict('freed space is reused: long churn of mixed sizes stays inside a fixed arena', () => {
  const maxMemory = 4 * 1024 * 1024;
  const c = new Cache({ maxMemory, shards: 2, seed: 3, compression: false });
  const rand = prng(7);
  for (let i = 0; i < 60_000; i++) {
    const len = rand() < 0.9 ? 1 + Math.floor(rand() * 300) : 1 + Math.floor(rand() * 20_000);
    c.set(`key:${Math.floor(rand() * 20_000)}`, Buffer.alloc(len, 1));
    if (rand() < 0.2) c.delete(`key:${Math.floor(rand() * 20_000)}`);
  }
  const s = c.stats();
  assert.ok(s.reservedBytes <= maxMemory);
  assert.ok(s.memoryBytes <= maxMemory + 2 * 1024 * 1024, `memory ${s.memoryBytes}`);
  assert.ok(s.entries > 1000, `entries ${s.entries}`);
  c.close();
});

evict('maxEntries bounds the entry count', () => {
  const c = new Cache({ maxMemory: '8mb', maxEntries: 100, shards: 1 });
  for (let i = 0; i < 1000; i++) c.set(`k${i}`, i);
  assert.is(c.size, 100);
  assert.is(c.stats().evictions, 900);
  assert.is(c.get('k999'), 999);
  c.close();
});

evict('maxEntries is split across shards (ceil(maxEntries / shards) each)', () => {
  const c = new Cache({ maxMemory: '8mb', maxEntries: 64, shards: 4 });
  for (let i = 0; i < 2000; i++) c.set(`k${i}`, i);
  const s = c.stats();
  assert.ok(s.entries <= 64);
  for (const shard of s.shards) assert.ok(shard.entries <= 16);
  c.close();
});

evict('frequently read keys survive a one-pass scan that would flush an LRU', () => {
  const c = new Cache({ maxMemory: '16mb', maxEntries: 1000, shards: 1 });
  const hot = Array.from({ length: 400 }, (_, i) => `hot${i}`);
  for (const k of hot) c.set(k, k);
  for (let round = 0; round < 3; round++) for (const k of hot) c.get(k);
  for (let i = 0; i < 20_000; i++) c.set(`scan${i}`, 'x');
  const survivors = hot.filter((k) => c.get(k) === k).length;
  assert.ok(survivors >= 380, `only ${survivors} of 400 hot keys survived`);
  c.close();
});

evict('a value that cannot fit one shard throws ERR_VALUE_TOO_LARGE and the cache keeps working', () => {
  const c = new Cache({ maxMemory: '256kb', shards: 2, maxValueBytes: 100_000 });
  c.set('ok', Buffer.alloc(100_000, 2));
  assert.is((c.get('ok') as Buffer).length, 100_000);
  c.set('small', 's');
  assert.is(c.get('small'), 's');
  c.close();
});

evict('stats report hits, misses, ratio, sets, deletes and per-shard balance', () => {
  const c = new Cache({ maxMemory: '8mb', shards: 4 });
  for (let i = 0; i < 400; i++) c.set(`k${i}`, 'v');
  for (let i = 0; i < 300; i++) c.get(`k${i}`);
  for (let i = 0; i < 100; i++) c.get(`absent${i}`);
  c.delete('k1');
  const s = c.stats();
  assert.is(s.hits, 300);
  assert.is(s.misses, 100);
  assert.is(s.hitRatio, 0.75);
  assert.is(s.sets, 400);
  assert.is(s.deletes, 1);
  assert.is(s.entries, 399);
  assert.is(s.shards.length, 4);
  assert.is(s.shards.reduce((a, b) => a + b.entries, 0), 399);
  assert.ok(s.balance >= 1 && s.balance < 1.5, `balance ${s.balance}`);
  assert.is(s.budget, 8 * 1024 * 1024);
  assert.ok(s.bytes > 400 * 28);
  c.close();
});

evict.run();
