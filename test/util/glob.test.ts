/**
 * compileGlob: every construct of Redis's KEYS documentation, Redis's reading of the odd cases
 * (unbalanced `[`, `]` as a range's end, reversed ranges, a trailing `\`), bytes that are not
 * UTF-8, and the nested-star pattern that froze the RegExp version, timed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGlob } from '../../src/util/glob.js';

const glob = suite('compileGlob');

/** Whether `pattern` matches `key` (strings as UTF-8 bytes, as cache.scan reads them). */
const m = (pattern: string | Uint8Array, key: string | Uint8Array): boolean =>
  compileGlob(pattern)(typeof key === 'string' ? Buffer.from(key, 'utf8') : key);

/** The keys of `keys` that `pattern` matches. */
const filter = (pattern: string, keys: string[]): string[] => {
  const match = compileGlob(pattern);
  return keys.filter((k) => match(Buffer.from(k)));
};

const DOC_KEYS = ['hello', 'hallo', 'hxllo', 'hllo', 'heeeello', 'h*llo', 'hbllo', 'other'];

glob('every construct of the KEYS documentation: h?llo, h*llo, h[ae]llo, h[^e]llo, h[a-b]llo, h\\*llo', () => {
  assert.equal(filter('h?llo', DOC_KEYS), ['hello', 'hallo', 'hxllo', 'h*llo', 'hbllo']);
  assert.equal(filter('h*llo', DOC_KEYS), ['hello', 'hallo', 'hxllo', 'hllo', 'heeeello', 'h*llo', 'hbllo']);
  assert.equal(filter('h[ae]llo', DOC_KEYS), ['hello', 'hallo']);
  assert.equal(filter('h[^e]llo', DOC_KEYS), ['hallo', 'hxllo', 'h*llo', 'hbllo']);
  assert.equal(filter('h[a-b]llo', DOC_KEYS), ['hallo', 'hbllo']);
  assert.equal(filter('h\\*llo', DOC_KEYS), ['h*llo']);
  assert.equal(filter('*', DOC_KEYS), DOC_KEYS);
  assert.equal(filter('nomatch*', DOC_KEYS), []);
});

glob('- ^ ] and a lone ] outside a class are ordinary bytes: user-* matches user-1, not user:1', () => {
  assert.equal(filter('user-*', ['user-1', 'user-', 'user:1', 'user', 'xuser-1']), ['user-1', 'user-']);
  assert.ok(m('a^b', 'a^b'));
  assert.ok(m('a]b', 'a]b'));
  assert.ok(m('a-b', 'a-b'));
  assert.not.ok(m('a-c', 'b'), '- outside a class is no range');
  assert.ok(m('(.+)|$', '(.+)|$'), 'RegExp syntax means nothing to a glob');
  assert.not.ok(m('(.+)|$', 'x'));
});

glob('ranges: [a-c] and reversed [c-a] both take a, b, c; [^a-c] the rest; ranges mix with members', () => {
  for (const p of ['[a-c]', '[c-a]']) assert.equal(filter(p, ['a', 'b', 'c', 'd', '`']), ['a', 'b', 'c'], p);
  assert.equal(filter('[^a-c]', ['a', 'b', 'c', 'd', '`']), ['d', '`']);
  assert.equal(filter('[x0-2a]', ['x', '0', '1', '2', '3', 'a', 'b']), ['x', '0', '1', '2', 'a']);
  assert.equal(filter('[a-a]', ['a', 'b']), ['a']);
  assert.equal(filter('[-a]', ['-', 'a', 'b']), ['-', 'a'], 'a - first is a member');
  assert.equal(filter('[^-]', ['-', 'a']), ['a']);
  assert.equal(filter('[--0]', ['-', '.', '/', '0', '1']), ['-', '.', '/', '0'], '- can start a range');
});

glob('a range can end in ] or \\, and then the class goes on: [a-]x] is the range ]..a plus x', () => {
  // `]` (0x5d) to `a` (0x61): ] ^ _ ` a; the `]` is taken as the range's end, so `x]` follow in the class.
  assert.equal(filter('[a-]x]', [']', '^', '_', '`', 'a', 'b', 'x', '\\']), [']', '^', '_', '`', 'a', 'x']);
  assert.not.ok(m('[a-]x]', 'ax'), 'one class, one byte');
  // `\` (0x5c) to `a`: \ ] ^ _ ` a.
  assert.equal(filter('[a-\\]', ['[', '\\', ']', 'a', 'b']), ['\\', ']', 'a']);
});

glob('\\ escapes inside a class: [\\]] [\\-] [\\^a] [a\\-c] take the escaped byte itself', () => {
  assert.equal(filter('[\\]]', [']', '\\', 'a']), [']']);
  assert.equal(filter('[\\-]', ['-', '\\']), ['-']);
  assert.equal(filter('[\\^a]', ['^', 'a', 'b']), ['^', 'a'], 'an escaped ^ does not negate');
  assert.equal(filter('[a\\-c]', ['a', '-', 'b', 'c']), ['a', '-', 'c'], 'an escaped - makes no range');
  assert.equal(filter('[\\\\]', ['\\', 'a']), ['\\']);
  assert.equal(filter('[^\\]]', [']', 'a']), ['a']);
});

glob('\\ escapes outside a class: \\? \\[ \\\\ are literal; \\a is a', () => {
  assert.equal(filter('a\\?', ['a?', 'ab']), ['a?']);
  assert.equal(filter('\\[a]', ['[a]', 'a']), ['[a]']);
  assert.equal(filter('a\\\\*', ['a\\', 'a\\bc', 'ab']), ['a\\', 'a\\bc'], 'an escaped \\ then a star');
  assert.equal(filter('\\a', ['a', '\\a']), ['a']);
});

glob('a \\ that ends the pattern is a literal \\, outside and inside a class', () => {
  assert.ok(m('ab\\', 'ab\\'));
  assert.not.ok(m('ab\\', 'ab'));
  assert.ok(m('\\', '\\'));
  assert.ok(m('*\\', 'x\\'));
  assert.equal(filter('[a\\', ['a', '\\', 'b']), ['a', '\\'], 'unclosed class ending in \\');
});

glob('an unbalanced [ takes the rest of the pattern as the class: h[ab matches ha and hb only', () => {
  assert.equal(filter('h[ab', ['ha', 'hb', 'hc', 'h[ab', 'hab', 'h']), ['ha', 'hb']);
  assert.equal(filter('h[a-', ['ha', 'h-', 'hb', 'h[a-']), ['ha', 'h-'], 'a - with nothing after it is a member');
  assert.equal(filter('h[^a', ['ha', 'hb', 'h', 'hbb']), ['hb']);
  assert.equal(filter('*[x*', ['x', 'abx', 'ab*', 'ab']), ['x', 'abx', 'ab*'], 'a * inside the class is a member');
});

glob('a [ that ends the pattern is an empty class (matches nothing); [^ matches any one byte', () => {
  assert.equal(filter('a[', ['a', 'a[', 'ab', 'a[]']), []);
  assert.equal(filter('[', ['', '[', 'x']), []);
  assert.equal(filter('[^', ['', 'x', '^', 'xy']), ['x', '^']);
  assert.equal(filter('[]', ['', ']', 'x']), [], '[] is an empty class');
  assert.equal(filter('[^]', ['', ']', 'x', 'xy']), [']', 'x'], '[^] is any one byte');
  assert.equal(filter('[]]', [']', ']]', 'x]']), [], '[]] is an empty class, then a literal ]');
  assert.equal(filter('[^]]', [']', ']]', 'x]', 'x']), [']]', 'x]'], '[^]] is any byte, then a literal ]');
});

glob('the empty pattern matches only the empty key; stars match the empty key', () => {
  assert.ok(m('', ''));
  assert.not.ok(m('', 'a'));
  assert.ok(m('*', ''));
  assert.ok(m('**', ''), 'Redis says no (redis/redis#15643); a star matches the empty run');
  assert.not.ok(m('?', ''));
  assert.not.ok(m('a*', ''));
  assert.not.ok(m('*a', ''));
  assert.not.ok(m('[a-z]', ''));
});

glob('stars: a*, *a, a*b, a*b*c, runs of stars, a segment used once only', () => {
  assert.equal(filter('a*', ['a', 'ab', 'ba', '']), ['a', 'ab']);
  assert.equal(filter('*a', ['a', 'ba', 'ab', '']), ['a', 'ba']);
  assert.equal(filter('a*b', ['ab', 'axxb', 'a', 'b', 'aba', 'abab']), ['ab', 'axxb', 'abab']);
  assert.equal(filter('a*b*c', ['abc', 'axbxc', 'acb', 'abcabc', 'ac']), ['abc', 'axbxc', 'abcabc']);
  assert.equal(filter('a***b', ['ab', 'axb']), ['ab', 'axb']);
  assert.equal(filter('*ab*ab*', ['abab', 'aab', 'ab', 'xabyabz', 'aabb']), ['abab', 'xabyabz']);
  assert.equal(filter('ab*ba', ['aba', 'abba', 'abxba']), ['abba', 'abxba'], 'head and tail may not overlap');
  assert.equal(filter('*?*?*', ['', 'a', 'ab', 'abc']), ['ab', 'abc']);
});

glob('binary keys: bytes 0x00 and 0xff, invalid UTF-8, and a Uint8Array pattern are matched byte for byte', () => {
  const key = Uint8Array.of(0x00, 0xff, 0xc3, 0x28, 0x80);
  assert.ok(compileGlob('?????')(key));
  assert.not.ok(compileGlob('????')(key));
  assert.ok(compileGlob(Uint8Array.of(0x00, 0x2a))(key), '\\x00*');
  assert.ok(compileGlob(Uint8Array.of(0x2a, 0x80))(key), '*\\x80');
  assert.ok(compileGlob(Uint8Array.of(0x3f, 0x5b, 0xf0, 0x2d, 0xff, 0x5d, 0x2a))(key), '?[\\xf0-\\xff]*');
  assert.not.ok(compileGlob(Uint8Array.of(0x5b, 0x01, 0x2d, 0x7f, 0x5d, 0x2a))(key), '[\\x01-\\x7f]* misses \\x00');
  assert.ok(compileGlob(Uint8Array.of(0x5b, 0x00, 0x2d, 0x7f, 0x5d, 0x2a))(key), '[\\x00-\\x7f]*');
  assert.ok(compileGlob(Uint8Array.of(0x5b, 0x5e, 0x00, 0x5d, 0x2a))(Uint8Array.of(0xff)), '[^\\x00]* takes \\xff');
  assert.ok(compileGlob(Uint8Array.of(0x2a, 0xc3, 0x28, 0x2a))(key), 'invalid UTF-8 found in the middle');
  assert.ok(compileGlob(Uint8Array.of(0x5b, 0x61, 0x2d, 0xff, 0x5d))(Uint8Array.of(0xff)), 'ranges compare unsigned bytes');
  assert.not.ok(compileGlob(Uint8Array.of(0x5b, 0x61, 0x2d, 0xff, 0x5d))(Uint8Array.of(0x00)));
  const buf = Buffer.from([0x10, 0x00, 0x20]);
  assert.ok(compileGlob('?\u0000?')(buf.subarray(0, 3)), 'a Buffer key, NUL in a string pattern');
  assert.ok(compileGlob('\u0000')(buf.subarray(1, 2)), 'a key that is a view into a larger buffer');
});

glob('a string pattern is UTF-8: h?llo does not match héllo (é is 2 bytes), h??llo and h*llo do', () => {
  assert.not.ok(m('h?llo', 'héllo'));
  assert.ok(m('h??llo', 'héllo'));
  assert.ok(m('h*llo', 'héllo'));
  assert.ok(m('héllo', 'héllo'));
  assert.ok(m('[é]', Uint8Array.of(0xc3)), 'a class of é is its two bytes');
});

glob('a pattern that is neither a string nor a Uint8Array is a TypeError', () => {
  assert.throws(() => compileGlob(42 as unknown as string), (e: Error) => e instanceof TypeError && /pattern must be a string or a Uint8Array/.test(e.message));
  assert.throws(() => compileGlob(null as unknown as string), TypeError);
});

/** Milliseconds one `match(key)` takes, best of 3 (the first call also warms the function up). */
function timeMatch(match: (k: Uint8Array) => boolean, key: Uint8Array): { ms: number; result: boolean } {
  let best = Infinity;
  let result = false;
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    result = match(key);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: best, result };
}

/** Bound on one match in the timing tests: generous (the measured times are microseconds) so it cannot flake. */
const MATCH_BOUND_MS = 50;

glob('the nested-star regression pattern a*a*…a*b (16 stars) against 40 a\'s and 10,000 a\'s returns in well under 50 ms', () => {
  const pattern = 'a*'.repeat(16) + 'b';
  const match = compileGlob(pattern);
  for (const len of [40, 10_000]) {
    const { ms, result } = timeMatch(match, Buffer.alloc(len, 'a'));
    console.log(`  ${pattern} against ${len} a's: ${ms.toFixed(4)} ms`);
    assert.is(result, false);
    assert.ok(ms < MATCH_BOUND_MS, `${ms} ms`);
    const hit = Buffer.alloc(len, 'a');
    hit[len - 1] = 0x62;
    assert.is(match(hit), true);
  }
  // With a trailing star the final b is searched for, not checked at the end: every segment is looked at.
  for (const p of ['a*'.repeat(16) + 'b*', 'a' + '*a'.repeat(1000) + '*b*']) {
    const { ms, result } = timeMatch(compileGlob(p), Buffer.alloc(10_000, 'a'));
    console.log(`  ${p.length > 40 ? 'a(*a)x1000*b*' : p} against 10000 a's: ${ms.toFixed(4)} ms`);
    assert.is(result, false);
    assert.ok(ms < MATCH_BOUND_MS, `${ms} ms`);
  }
});

glob('a long middle segment with near misses stays within pattern x key: *a{100}b* against 10,000 a\'s', () => {
  const match = compileGlob('*' + 'a'.repeat(100) + 'b*');
  const { ms, result } = timeMatch(match, Buffer.alloc(10_000, 'a'));
  console.log(`  *a{100}b* against 10,000 a's (about 10^6 byte tests): ${ms.toFixed(4)} ms`);
  assert.is(result, false);
  assert.ok(ms < MATCH_BOUND_MS, `${ms} ms`);
});

glob.run();
