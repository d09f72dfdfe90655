import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { Cache } from '../../src/index.js';

function rows(n: number): Array<{ id: number; name: string; active: boolean; tags: string[] }> {
  return Array.from({ length: n }, (_, i) => ({ id: i, name: `user ${i}`, active: i % 3 === 0, tags: ['a', 'b'] }));
}

/** About `n` bytes of JSON text. */
function json(n: number): string {
  return JSON.stringify(rows(Math.ceil(n / 50))).slice(0, n);
}

const compression = suite('Cache compression');

compression('large compressible values are stored compressed and read back unchanged, mixed with raw ones', () => {
  const c = new Cache({ maxMemory: '8mb', shards: 2 });
  const text = json(10_000);
  const bytes = Buffer.from(json(50_000));
  const random = randomBytes(8_000);
  c.set('text', text);
  c.set('bytes', bytes);
  c.set('random', random);
  c.set('small', 'tiny value');
  c.set('object', { rows: rows(100) });
  assert.is(c.get('text'), text);
  assert.ok(bytes.equals(c.get('bytes') as Buffer));
  assert.ok(random.equals(c.get('random') as Buffer));
  assert.is(c.get('small'), 'tiny value');
  assert.equal(c.get('object'), { rows: rows(100) });
  const s = c.stats();
  assert.is(s.compressedEntries, 3, 'text, bytes and the serialized object; random and small stay raw');
  assert.ok(s.bytesSaved > 40_000, `saved ${s.bytesSaved}`);
  assert.ok(s.compressMs > 0 && s.decompressMs > 0);
  c.close();
});

compression('the threshold is honoured: one byte under it stays raw', () => {
  const c = new Cache({ maxMemory: '8mb', compression: { threshold: 2000 } });
  c.set('under', 'a'.repeat(1999));
  assert.is(c.stats().compressedEntries, 0);
  c.set('at', 'a'.repeat(2000));
  assert.is(c.stats().compressedEntries, 1);
  assert.is(c.get('under'), 'a'.repeat(1999));
  assert.is(c.get('at'), 'a'.repeat(2000));
  c.close();
});

compression('incompressible data is stored raw; minSavings decides borderline data', () => {
  const c = new Cache({ maxMemory: '8mb', compression: { threshold: 1024, minSavings: 0.6 } });
  c.set('random', randomBytes(4096));
  assert.is(c.stats().compressedEntries, 0);
  // Half random, half zeros: compresses to a little over half its size (saves ~49%).
  const half = Buffer.concat([randomBytes(4096), Buffer.alloc(4096)]);
  c.set('half', half);
  assert.is(c.stats().compressedEntries, 0, 'saves less than 60%: kept raw');
  const loose = new Cache({ maxMemory: '8mb', compression: { threshold: 1024, minSavings: 0.4 } });
  loose.set('half', half);
  assert.is(loose.stats().compressedEntries, 1, 'saves more than 40%: kept compressed');
  assert.ok(half.equals(loose.get('half') as Buffer));
  assert.ok(half.equals(c.get('half') as Buffer));
  c.close();
  loose.close();
});

compression('the byte budget counts the stored (compressed) size', () => {
  const c = new Cache({ maxMemory: '1mb', shards: 1 });
  const value = Buffer.from(json(64 * 1024));
  for (let i = 0; i < 48; i++) c.set(`k${i}`, value); // 3 MiB raw into a 1 MiB budget
  const s = c.stats();
  assert.is(s.evictions, 0);
  assert.is(s.entries, 48);
  assert.ok(s.usedBytes <= 1024 * 1024);
  assert.ok(s.bytesSaved > 2 * 1024 * 1024, `saved ${s.bytesSaved}`);
  for (let i = 0; i < 48; i += 7) assert.ok(value.equals(c.get(`k${i}`) as Buffer));
  c.close();
});

compression('overwrites, deletes and clear keep the compression counters right', () => {
  const c = new Cache({ maxMemory: '8mb' });
  c.set('k', 'x'.repeat(5000));
  c.set('k', 'y'.repeat(6000)); // compressed over compressed
  assert.is(c.stats().compressedEntries, 1);
  c.set('k', 'short');
  assert.is(c.stats().compressedEntries, 0);
  assert.is(c.stats().bytesSaved, 0);
  c.set('a', 'z'.repeat(3000));
  c.set('b', 'w'.repeat(3000));
  c.delete('a');
  assert.is(c.stats().compressedEntries, 1);
  c.clear();
  assert.is(c.stats().compressedEntries, 0);
  assert.is(c.stats().bytesSaved, 0);
  c.close();
});

compression('compression: false stores everything raw', () => {
  const c = new Cache({ maxMemory: '8mb', compression: false });
  c.set('k', 'x'.repeat(100_000));
  assert.is(c.stats().compressedEntries, 0);
  assert.is(c.get('k'), 'x'.repeat(100_000));
  c.close();
});

compression('a compressed value with a stale-while-revalidate prefix round-trips through getOrLoad', async () => {
  const c = new Cache({ maxMemory: '8mb' });
  const big = json(20_000);
  assert.is(await c.getOrLoad('k', () => big, { ttl: 10_000, staleWhileRevalidate: 1000 }), big);
  assert.is(c.stats().compressedEntries, 1);
  assert.is(await c.getOrLoad('k', () => 'other', { ttl: 10_000, staleWhileRevalidate: 1000 }), big);
  assert.is(c.get('k'), big);
  c.close();
});

compression('a large compressed value grows the scratch area on read (1 MiB of text)', () => {
  const c = new Cache({ maxMemory: '32mb', shards: 2 });
  const big = json(1 << 20);
  c.set('big', big);
  const reader = Cache.attach(c.handle); // a fresh thread slot with the default scratch size
  assert.is(reader.get('big'), big);
  reader.close();
  c.close();
});

compression('bad compression options throw with the option named', () => {
  assert.throws(() => new Cache({ compression: 1 as never }), (e: Error) => e instanceof TypeError && e.message === 'options.compression must be an object or false');
  assert.throws(() => new Cache({ compression: { threshold: 0 } }), (e: Error) => e instanceof RangeError && e.message === 'options.compression.threshold must be an integer from 1 to 2147483648');
  assert.throws(() => new Cache({ compression: { minSavings: 1 } }), (e: Error) => e instanceof RangeError && e.message === 'options.compression.minSavings must be a fraction from 0 (inclusive) to 1 (exclusive)');
  assert.throws(() => new Cache({ compression: { minSavings: '0.1' as never } }), (e: Error) => e instanceof TypeError && e.message === 'options.compression.minSavings must be a number');
});

compression.run();
