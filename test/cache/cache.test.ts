import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Cache, CacheError } from '../../src/index.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const basic = suite('Cache get/set/has/delete');

basic('stores and returns Buffers, strings and serialized values with their types', () => {
  const c = new Cache({ maxMemory: '4mb', seed: 7 });
  c.set('bytes', Buffer.from([1, 2, 3]));
  c.set('u8', new Uint8Array([9, 8]));
  c.set('text', 'héllo wörld ✓ 𝄞');
  c.set('empty', '');
  c.set('obj', { a: 1, b: [true, null, 'x'], n: 1.5 });
  c.set('num', 42);
  const b = c.get('bytes');
  assert.ok(Buffer.isBuffer(b));
  assert.equal([...(b as Buffer)], [1, 2, 3]);
  const u = c.get('u8');
  assert.ok(Buffer.isBuffer(u));
  assert.equal([...(u as Buffer)], [9, 8]);
  assert.is(c.get('text'), 'héllo wörld ✓ 𝄞');
  assert.is(c.get('empty'), '');
  assert.equal(c.get('obj'), { a: 1, b: [true, null, 'x'], n: 1.5 });
  assert.is(c.get('num'), 42);
  assert.is(c.get('missing'), undefined);
  c.close();
});

basic('a returned Buffer is a copy: later writes to the cache do not change it', () => {
  const c = new Cache({ maxMemory: '4mb' });
  c.set('k', Buffer.from('first'));
  const v = c.get('k') as Buffer;
  c.set('k', Buffer.from('other'));
  c.get('k');
  assert.is(v.toString(), 'first');
  c.close();
});

basic("'a\\u0101' and 'a\\u0001' are different keys (exact UTF-8, never lossy)", () => {
  const c = new Cache({ maxMemory: '4mb' });
  c.set('a\u0101', 'wide');
  c.set('a\u0001', 'narrow');
  assert.is(c.get('a\u0101'), 'wide');
  assert.is(c.get('a\u0001'), 'narrow');
  assert.is(c.size, 2);
  c.close();
});

basic('string keys and byte keys with the same UTF-8 bytes are the same key', () => {
  const c = new Cache({ maxMemory: '4mb' });
  c.set(Buffer.from('ключ'), 'by bytes');
  assert.is(c.get('ключ'), 'by bytes');
  c.set(new Uint8Array([0, 255, 0]), 'binary');
  assert.is(c.get(Buffer.from([0, 255, 0])), 'binary');
  assert.is(c.get(Buffer.from([0, 255])), undefined);
  c.close();
});

basic('has, delete, clear and size', () => {
  const c = new Cache({ maxMemory: '4mb' });
  for (let i = 0; i < 100; i++) c.set(`k${i}`, `v${i}`);
  assert.is(c.size, 100);
  assert.ok(c.has('k5'));
  assert.not.ok(c.has('k500'));
  assert.ok(c.delete('k5'));
  assert.not.ok(c.delete('k5'));
  assert.not.ok(c.has('k5'));
  assert.is(c.get('k5'), undefined);
  assert.is(c.size, 99);
  c.clear();
  assert.is(c.size, 0);
  assert.is(c.get('k6'), undefined);
  c.set('again', 'yes');
  assert.is(c.get('again'), 'yes');
  c.close();
});

basic('set(key, undefined) deletes; add only adds; replace only replaces', () => {
  const c = new Cache({ maxMemory: '4mb' });
  c.set('k', 'v');
  c.set('k', undefined as never);
  assert.not.ok(c.has('k'));
  assert.ok(c.add('k', 'first'));
  assert.not.ok(c.add('k', 'second'));
  assert.is(c.get('k'), 'first');
  assert.ok(c.replace('k', 'third'));
  assert.not.ok(c.replace('absent', 'x'));
  assert.is(c.get('k'), 'third');
  assert.not.ok(c.has('absent'));
  c.close();
});

basic('overwrites keep working when values grow and shrink', () => {
  const c = new Cache({ maxMemory: '4mb' });
  for (const n of [10, 1000, 3, 50_000, 0, 200]) {
    c.set('k', Buffer.alloc(n, n & 255));
    const v = c.get('k') as Buffer;
    assert.is(v.length, n);
    if (n) assert.is(v[n - 1], n & 255);
  }
  assert.is(c.size, 1);
  c.close();
});

basic('getMany and setMany', () => {
  const c = new Cache({ maxMemory: '4mb' });
  c.setMany([['a', 'A'], ['b', Buffer.from('B')], ['c', { c: 3 }]]);
  c.setMany(new Map([['d', 'D']]));
  const got = c.getMany(['a', 'b', 'x', 'c', 'd']);
  assert.is(got[0], 'A');
  assert.is((got[1] as Buffer).toString(), 'B');
  assert.is(got[2], undefined);
  assert.equal(got[3], { c: 3 });
  assert.is(got[4], 'D');
  assert.is(code(() => c.getMany(5 as never)), 'ERR_INVALID_KEY');
  assert.is(code(() => c.setMany([['only-key']] as never)), 'ERR_INVALID_KEY');
  c.close();
});

basic('wrong key types throw TypeError with ERR_INVALID_KEY', () => {
  const c = new Cache({ maxMemory: '4mb' });
  for (const bad of [1, null, undefined, {}, ['k']]) {
    assert.throws(() => c.get(bad as never), (e: unknown) => e instanceof TypeError && (e as Error & { code?: string }).code === 'ERR_INVALID_KEY');
    assert.throws(() => c.set(bad as never, 'v'), TypeError);
  }
  c.close();
});

basic('a key or value over its limit throws RangeError with a stable code and stores nothing', () => {
  const c = new Cache({ maxMemory: '4mb', maxKeyBytes: 16, maxValueBytes: 1000 });
  assert.is(code(() => c.set('k'.repeat(17), 'v')), 'ERR_KEY_TOO_LARGE');
  assert.is(code(() => c.set('é'.repeat(9), 'v')), 'ERR_KEY_TOO_LARGE'); // 18 bytes of UTF-8
  assert.is(code(() => c.get(Buffer.alloc(17))), 'ERR_KEY_TOO_LARGE');
  c.set('k'.repeat(16), 'fits');
  assert.is(c.get('k'.repeat(16)), 'fits');
  assert.is(code(() => c.set('big', Buffer.alloc(1001))), 'ERR_VALUE_TOO_LARGE');
  assert.is(code(() => c.set('big', 'x'.repeat(1001))), 'ERR_VALUE_TOO_LARGE');
  assert.is(code(() => c.set('big', '€'.repeat(334))), 'ERR_VALUE_TOO_LARGE'); // 1002 bytes
  assert.is(code(() => c.set('big', { s: 'x'.repeat(1000) })), 'ERR_VALUE_TOO_LARGE');
  assert.not.ok(c.has('big'));
  c.set('big', Buffer.alloc(1000, 1));
  assert.is((c.get('big') as Buffer).length, 1000);
  const err = (() => { try { c.set('big', Buffer.alloc(2000)); } catch (e) { return e; } })();
  assert.instance(err, RangeError);
  c.close();
});

basic('values larger than the scratch area grow it (a 1.5 MiB value round-trips)', () => {
  const c = new Cache({ maxMemory: '16mb', shards: 2 });
  const big = Buffer.alloc(1_500_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
  c.set('big', big);
  assert.ok(big.equals(c.get('big') as Buffer));
  const text = 'ü'.repeat(600_000);
  c.set('text', text);
  assert.is(c.get('text'), text);
  c.close();
});

basic('a closed cache throws ERR_CACHE_CLOSED', () => {
  const c = new Cache({ maxMemory: '4mb' });
  c.close();
  c.close();
  try {
    c.get('k');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, CacheError);
    assert.is((err as CacheError).code, 'ERR_CACHE_CLOSED');
  }
});

basic.run();

const serializer = suite('Cache serializer');

serializer('msgpackr round-trips objects, arrays, Dates, Maps, Sets, typed arrays, bigints and nulls', () => {
  const c = new Cache({ maxMemory: '4mb' });
  const date = new Date(1_700_000_000_000);
  const value = {
    nested: { deep: [1, 'two', { three: 3 }] },
    when: date,
    map: new Map<string, number>([['x', 1]]),
    set: new Set(['a', 'b']),
    floats: new Float64Array([1.5, -2.25]),
    big: 2n ** 70n,
    nothing: null,
    flag: false,
  };
  c.set('v', value);
  const got = c.get('v') as typeof value;
  assert.equal(got.nested, value.nested);
  assert.instance(got.when, Date);
  assert.is(got.when.getTime(), date.getTime());
  assert.instance(got.map, Map);
  assert.is(got.map.get('x'), 1);
  assert.instance(got.set, Set);
  assert.ok(got.set.has('b'));
  assert.instance(got.floats, Float64Array);
  assert.equal([...got.floats], [1.5, -2.25]);
  assert.is(got.big, 2n ** 70n);
  assert.is(got.nothing, null);
  assert.is(got.flag, false);
  c.set('arr', [1, 2, 3]);
  assert.equal(c.get('arr'), [1, 2, 3]);
  c.set('null', null);
  assert.is(c.get('null'), null);
  c.set('bool', true);
  assert.is(c.get('bool'), true);
  c.close();
});

serializer('objects written by one msgpackr instance decode in another (as in another thread)', async () => {
  const { Packr } = await import('msgpackr');
  const writer = new Packr({ structuredClone: true });
  const messages = [1, 2, 3].map((i) => writer.pack({ id: i, tags: new Set([`t${i}`]), at: { x: i } }));
  const reader = new Packr({ structuredClone: true });
  const read = messages.map((m) => reader.unpack(m) as { id: number; tags: Set<string>; at: { x: number } });
  assert.equal(read.map((r) => r.id), [1, 2, 3]);
  assert.ok(read[2].tags.has('t3'));
  assert.is(read[1].at.x, 2);
});

serializer('a custom serializer is used for non-byte, non-string values only', () => {
  const calls: string[] = [];
  const json = {
    serialize(v: unknown) { calls.push('s'); return Buffer.from(JSON.stringify(v)); },
    deserialize(b: Uint8Array) { calls.push('d'); return JSON.parse(Buffer.from(b).toString()); },
  };
  const c = new Cache({ maxMemory: '4mb', serializer: json });
  c.set('o', { ok: 1 });
  c.set('s', 'plain');
  c.set('b', Buffer.from('raw'));
  assert.equal(c.get('o'), { ok: 1 });
  assert.is(c.get('s'), 'plain');
  assert.is((c.get('b') as Buffer).toString(), 'raw');
  assert.equal(calls, ['s', 'd']);
  c.close();
});

serializer.run();
