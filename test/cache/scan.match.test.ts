/**
 * `cache.scan({ match })` on an in-process cache: the glob is matched on the UTF-8 bytes of
 * pattern and key, `-` outside a class is an ordinary byte, and a pattern that froze the old
 * RegExp matcher returns at once.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Cache } from '../../src/index.js';

const scan = suite('cache.scan({ match })');

/** Every key `cache.scan(options)` yields, sorted. */
async function scanAll(cache: Cache, options: Parameters<Cache['scan']>[0]): Promise<string[]> {
  const out: string[] = [];
  for await (const k of cache.scan(options)) out.push(typeof k === 'string' ? k : Buffer.from(k).toString('hex'));
  return out.sort();
}

scan("match: 'user-*' yields user-1 and user-22, not user:1 (no RegExp SyntaxError)", async () => {
  const c = new Cache({ maxMemory: '4mb', shards: 4 });
  try {
    for (const k of ['user-1', 'user-22', 'user:1', 'user', 'xuser-1']) c.set(k, 'v');
    assert.equal(await scanAll(c, { match: 'user-*' }), ['user-1', 'user-22']);
    assert.equal(await scanAll(c, { match: 'user[-:]1' }), ['user-1', 'user:1']);
    assert.equal(await scanAll(c, { match: '[u' }), [], 'an unbalanced [ is a class, never an error');
  } finally {
    await c.close();
  }
});

scan('match is read as UTF-8 bytes: h?llo misses héllo, h??llo finds it; a Buffer key of invalid UTF-8 is matched by its bytes', async () => {
  const c = new Cache({ maxMemory: '4mb', shards: 2 });
  try {
    c.set('héllo', 'v');
    c.set('hallo', 'v');
    c.set(Buffer.from([0x68, 0xff, 0x00]), 'v');
    assert.equal(await scanAll(c, { match: 'h?llo' }), ['hallo']);
    assert.equal(await scanAll(c, { match: 'h??llo' }), ['héllo']);
    assert.equal(await scanAll(c, { match: 'h??', keys: 'buffer' }), ['68ff00']);
  } finally {
    await c.close();
  }
});

scan('match: a*a*…*b (16 stars) against keys of 40 and 10,000 a\'s returns at once', async () => {
  const c = new Cache({ maxMemory: '4mb', shards: 2, maxKeyBytes: 10_000 });
  try {
    c.set('a'.repeat(40), 'v');
    c.set('a'.repeat(10_000), 'v');
    c.set('a'.repeat(39) + 'b', 'v');
    const t0 = performance.now();
    const found = await scanAll(c, { match: 'a*'.repeat(16) + 'b' });
    const ms = performance.now() - t0;
    console.log(`  cache.scan with the nested-star pattern over 3 keys: ${ms.toFixed(2)} ms`);
    assert.equal(found, ['a'.repeat(39) + 'b']);
    assert.ok(ms < 2000, `${ms} ms`);
  } finally {
    await c.close();
  }
});

scan('match must be a string', async () => {
  const c = new Cache({ maxMemory: '4mb' });
  try {
    const err = await scanAll(c, { match: 42 as unknown as string }).catch((e: Error) => e);
    assert.instance(err, TypeError);
    assert.match((err as Error).message, 'options.match must be a string');
  } finally {
    await c.close();
  }
});

scan.run();
