/**
 * The RESP2/RESP3 reply reader the router merges split replies with: every reply type, nesting,
 * nulls, and bytes it must refuse (cut short at every position, garbage type bytes, huge or
 * negative lengths, nesting past the depth limit) with -1 / null, never an exception.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { arrayElements, integerReply, isErrorReply, skipReply } from '../../src/mesh/resp-reply.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const text = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('latin1');

/** One complete reply of every type, RESP2 and RESP3. */
const EVERY_TYPE: Array<[string, string]> = [
  ['simple string', '+OK\r\n'],
  ['empty simple string', '+\r\n'],
  ['error', '-ERR wrong type\r\n'],
  ['integer', ':42\r\n'],
  ['negative integer', ':-7\r\n'],
  ['bulk string', '$5\r\nhello\r\n'],
  ['empty bulk string', '$0\r\n\r\n'],
  ['bulk string holding CRLF', '$4\r\na\r\nb\r\n'],
  ['RESP2 null bulk', '$-1\r\n'],
  ['RESP2 null array', '*-1\r\n'],
  ['empty array', '*0\r\n'],
  ['flat array', '*3\r\n$1\r\na\r\n:2\r\n+c\r\n'],
  ['RESP3 null', '_\r\n'],
  ['RESP3 boolean true', '#t\r\n'],
  ['RESP3 boolean false', '#f\r\n'],
  ['RESP3 double', ',3.25\r\n'],
  ['RESP3 double inf', ',-inf\r\n'],
  ['RESP3 big number', '(3492890328409238509324850943850943825024385\r\n'],
  ['RESP3 verbatim string', '=15\r\ntxt:Some string\r\n'],
  ['RESP3 blob error', '!21\r\nSYNTAX invalid syntax\r\n'],
  ['RESP3 set', '~2\r\n+a\r\n+b\r\n'],
  ['RESP3 push', '>2\r\n+message\r\n$2\r\nhi\r\n'],
  ['RESP3 map', '%2\r\n+k1\r\n:1\r\n+k2\r\n_\r\n'],
  ['RESP3 empty map', '%0\r\n'],
  ['RESP3 attribute and the reply it prefixes', '|1\r\n+ttl\r\n:3600\r\n$2\r\nok\r\n'],
];

/** Replies that are cut at every byte position below. */
const TO_CUT = [
  '+OK\r\n',
  ':1234\r\n',
  '$5\r\nhello\r\n',
  '*3\r\n$3\r\nfoo\r\n$-1\r\n:7\r\n',
  '*2\r\n_\r\n%1\r\n+k\r\n~1\r\n,1.5\r\n',
  '=8\r\ntxt:abcd\r\n',
];

const nested = (depth: number) => '*1\r\n'.repeat(depth) + ':1\r\n';

// ---------------------------------------------------------------------------------------------

const skip = suite('skipReply');

for (const [name, reply] of EVERY_TYPE) {
  skip(`returns the full length (${reply.length} B) of a ${name}`, () => {
    assert.is(skipReply(b(reply), 0), reply.length);
  });
}

skip(`walks ${EVERY_TYPE.length} concatenated replies of every type one after the other`, () => {
  const all = b(EVERY_TYPE.map(([, r]) => r).join(''));
  let at = 0;
  for (const [name, reply] of EVERY_TYPE) {
    const next = skipReply(all, at);
    assert.is(next - at, reply.length, name);
    assert.is(text(all.subarray(at, next)), reply);
    at = next;
  }
  assert.is(at, all.length);
  assert.is(skipReply(all, at), -1, 'nothing past the end');
});

skip('stops at the end of the first reply when 2 more follow', () => {
  assert.is(skipReply(b(':1\r\n:2\r\n:3\r\n'), 0), 4);
  assert.is(skipReply(b('$2\r\nab\r\n+OK\r\n'), 0), 8);
});

skip('skips a nested 3-level array with a map inside', () => {
  const reply = '*2\r\n*2\r\n%1\r\n$1\r\nk\r\n*1\r\n:1\r\n_\r\n$-1\r\n';
  assert.is(skipReply(b(reply), 0), reply.length);
});

skip('counts a map of 2 entries as 4 replies, not 2', () => {
  // With only 2 of the 4 items present, the map is incomplete.
  assert.is(skipReply(b('%2\r\n+k1\r\n:1\r\n'), 0), -1);
  assert.is(skipReply(b('%2\r\n+k1\r\n:1\r\n+k2\r\n:2\r\n'), 0), 22);
});

skip('follows arrays nested 8 deep and refuses 9 deep (the depth limit)', () => {
  assert.is(skipReply(b(nested(8)), 0), nested(8).length);
  assert.is(skipReply(b(nested(9)), 0), -1);
  assert.is(skipReply(b(nested(40)), 0), -1);
  // Maps and sets count against the same limit.
  const mixed9 = '%1\r\n+k\r\n'.repeat(4) + '~1\r\n'.repeat(5) + ':1\r\n';
  assert.is(skipReply(b(mixed9), 0), -1);
});

skip('reads a reply starting 9 bytes into a Uint8Array view at a non-zero byteOffset', () => {
  const backing = new Uint8Array(64);
  backing.set(b('garbage!!$3\r\nabc\r\n'), 3);
  const view = backing.subarray(3, 3 + 18);
  assert.is(skipReply(view, 9), 18);
  assert.is(skipReply(view.subarray(0, 17), 9), -1, 'cut one byte short');
});

skip('returns -1 at or past the end of the buffer and for an empty buffer', () => {
  assert.is(skipReply(new Uint8Array(0), 0), -1);
  assert.is(skipReply(b('+OK\r\n'), 5), -1);
  assert.is(skipReply(b('+OK\r\n'), 100), -1);
});

for (const reply of TO_CUT) {
  skip(`returns -1 for every one of the ${reply.length} proper prefixes of ${JSON.stringify(reply)}`, () => {
    const full = b(reply);
    assert.is(skipReply(full, 0), full.length);
    for (let cut = 0; cut < full.length; cut++) {
      assert.is(skipReply(full.subarray(0, cut), 0), -1, `cut at ${cut}`);
    }
  });
}

skip('returns -1 for 8 garbage type bytes', () => {
  for (const type of ['X', '?', ' ', '\0', '\xff', 'a', '0', '\r']) {
    assert.is(skipReply(b(`${type}12\r\n`), 0), -1, JSON.stringify(type));
  }
});

skip('returns -1 for a line with no CRLF (bare LF, bare CR)', () => {
  assert.is(skipReply(b('+OK\n'), 0), -1);
  assert.is(skipReply(b('+OK\r'), 0), -1);
  assert.is(skipReply(b(':1\n:2\n'), 0), -1);
});

skip('returns -1 for bulk and aggregate lengths that are not decimal numbers', () => {
  for (const len of ['', 'abc', '+3', ' 3', '3 ', '0x10', '1e3', '--1', '3.0']) {
    assert.is(skipReply(b(`$${len}\r\nabc\r\n`), 0), -1, `$${len}`);
    assert.is(skipReply(b(`*${len}\r\n:1\r\n:2\r\n:3\r\n`), 0), -1, `*${len}`);
  }
});

skip('returns -1 for huge declared lengths: a 10^17 B bulk, a 19-digit length, 10^17 elements', () => {
  assert.is(skipReply(b('$99999999999999999\r\nab\r\n'), 0), -1);
  assert.is(skipReply(b('$1234567890123456789\r\nab\r\n'), 0), -1);
  assert.is(skipReply(b('*99999999999999999\r\n:1\r\n'), 0), -1);
  assert.is(skipReply(b('%99999999999999999\r\n:1\r\n:2\r\n'), 0), -1);
  assert.is(skipReply(b('=4294967296\r\ntxt:\r\n'), 0), -1);
});

skip('returns -1 when a bulk declares 6 bytes but only 5 follow', () => {
  assert.is(skipReply(b('$6\r\nhello\r\n'), 0), -1);
});

skip('returns -1 for negative lengths other than -1 (-2, -100) on bulks and aggregates', () => {
  for (const t of ['$', '=', '!', '*', '~', '>', '%', '|']) {
    assert.is(skipReply(b(`${t}-2\r\n`), 0), -1, `${t}-2`);
    assert.is(skipReply(b(`${t}-100\r\n`), 0), -1, `${t}-100`);
  }
});

skip('returns -1 when one element of a 3-element array is garbage', () => {
  assert.is(skipReply(b('*3\r\n:1\r\n?x\r\n:3\r\n'), 0), -1);
  assert.is(skipReply(b('*3\r\n:1\r\n:2\r\n$-5\r\n'), 0), -1);
});

// ---------------------------------------------------------------------------------------------

const isErr = suite('isErrorReply');

isErr('is true for -ERR, -WRONGTYPE and -CROSSSLOT error replies', () => {
  assert.is(isErrorReply(b('-ERR no such key\r\n')), true);
  assert.is(isErrorReply(b('-WRONGTYPE Operation against a key holding the wrong kind of value\r\n')), true);
  assert.is(isErrorReply(b("-CROSSSLOT Keys in request don't hash to the same node\r\n")), true);
});

isErr(`is false for the other ${EVERY_TYPE.length - 1} reply types and an empty buffer`, () => {
  for (const [name, reply] of EVERY_TYPE) {
    if (name === 'error') continue;
    // RESP3 blob errors (`!`) included: our peers' writers never send them, only `-` counts.
    assert.is(isErrorReply(b(reply)), false, name);
  }
  assert.is(isErrorReply(new Uint8Array(0)), false);
});

isErr('looks at the first byte only: a 1-byte "-" is an error, ":-1" is not', () => {
  assert.is(isErrorReply(b('-')), true);
  assert.is(isErrorReply(b(':-1\r\n')), false);
});

// ---------------------------------------------------------------------------------------------

const int = suite('integerReply');

int('reads 0, 1, 42, -7 and 999999999999999 (15 digits), and refuses 16 digits (not exact in a double)', () => {
  assert.is(integerReply(b(':0\r\n')), 0);
  assert.is(integerReply(b(':1\r\n')), 1);
  assert.is(integerReply(b(':42\r\n')), 42);
  assert.is(integerReply(b(':-7\r\n')), -7);
  assert.is(integerReply(b(':999999999999999\r\n')), 999999999999999);
  assert.is(integerReply(b(':9007199254740991\r\n')), null);
});

int('a lone attribute is not a whole reply, and a bulk without its CRLF is refused', () => {
  assert.is(skipReply(b('|1\r\n+ttl\r\n:3600\r\n'), 0), -1);
  assert.is(skipReply(b('$3\r\nabcXY'), 0), -1);
});

int('reads an integer reply from a Uint8Array view at byteOffset 5', () => {
  const backing = new Uint8Array(32);
  backing.set(b('xxxxx:123\r\n'), 0);
  assert.is(integerReply(backing.subarray(5, 11)), 123);
});

int('is null for every other reply type', () => {
  for (const [name, reply] of EVERY_TYPE) {
    if (name.endsWith('integer')) continue;
    assert.is(integerReply(b(reply)), null, name);
  }
});

int('is null when an integer is followed by 4 more bytes', () => {
  assert.is(integerReply(b(':1\r\n:2\r\n')), null);
});

int('is null for every proper prefix of ":1234\\r\\n"', () => {
  const full = b(':1234\r\n');
  for (let cut = 0; cut < full.length; cut++) assert.is(integerReply(full.subarray(0, cut)), null, `cut at ${cut}`);
});

int('is null for non-decimal integer lines and a 19-digit number', () => {
  for (const line of [':\r\n', ':abc\r\n', ':+1\r\n', ': 1\r\n', ':1.5\r\n', ':1e3\r\n', ':1234567890123456789\r\n', ':1\n\r\n']) {
    assert.is(integerReply(b(line)), null, JSON.stringify(line));
  }
});

// ---------------------------------------------------------------------------------------------

const arr = suite('arrayElements');

arr('cuts a 4-element MGET reply into its elements, RESP2 null bulk included', () => {
  const els = arrayElements(b('*4\r\n$1\r\na\r\n$-1\r\n$0\r\n\r\n$3\r\nxyz\r\n'));
  assert.ok(els !== null);
  assert.equal(els!.map(text), ['$1\r\na\r\n', '$-1\r\n', '$0\r\n\r\n', '$3\r\nxyz\r\n']);
});

arr('cuts a RESP3 reply with a `_` null and a nested map element', () => {
  const els = arrayElements(b('*3\r\n_\r\n%1\r\n+k\r\n:1\r\n,2.5\r\n'));
  assert.equal(els!.map(text), ['_\r\n', '%1\r\n+k\r\n:1\r\n', ',2.5\r\n']);
});

arr('returns views into the reply, not copies', () => {
  const reply = b('*2\r\n:1\r\n:2\r\n');
  const els = arrayElements(reply)!;
  assert.is(els[0].buffer, reply.buffer);
  assert.is(els[0].byteOffset, reply.byteOffset + 4);
  assert.is(els[1].byteOffset, reply.byteOffset + 8);
});

arr('returns [] for an empty array', () => {
  assert.equal(arrayElements(b('*0\r\n')), []);
});

arr('is null for a null array, a set, a push, a map and a bulk string', () => {
  assert.is(arrayElements(b('*-1\r\n')), null);
  assert.is(arrayElements(b('~1\r\n:1\r\n')), null);
  assert.is(arrayElements(b('>1\r\n:1\r\n')), null);
  assert.is(arrayElements(b('%1\r\n:1\r\n:2\r\n')), null);
  assert.is(arrayElements(b('$4\r\n*1\r\n\r\n')), null);
  assert.is(arrayElements(new Uint8Array(0)), null);
});

arr('is null when 1 stray byte follows a complete 1-element array', () => {
  assert.is(arrayElements(b('*1\r\n:1\r\nX')), null);
});

arr('is null when the array declares 3 elements and holds 2', () => {
  assert.is(arrayElements(b('*3\r\n:1\r\n:2\r\n')), null);
});

for (const reply of ['*3\r\n$3\r\nfoo\r\n$-1\r\n:7\r\n', '*2\r\n_\r\n%1\r\n+k\r\n~1\r\n,1.5\r\n']) {
  arr(`is null for every one of the ${reply.length} proper prefixes of ${JSON.stringify(reply)}`, () => {
    const full = b(reply);
    assert.is(arrayElements(full)!.length, Number(reply[1]));
    for (let cut = 0; cut < full.length; cut++) assert.is(arrayElements(full.subarray(0, cut)), null, `cut at ${cut}`);
  });
}

arr('is null for a bad count (-2, "x", 10^17) and for a garbage element', () => {
  assert.is(arrayElements(b('*-2\r\n')), null);
  assert.is(arrayElements(b('*x\r\n:1\r\n')), null);
  assert.is(arrayElements(b('*99999999999999999\r\n:1\r\n')), null);
  assert.is(arrayElements(b('*2\r\n:1\r\n?2\r\n')), null);
});

arr('follows elements nested 7 deep and refuses 8 deep (elements start at depth 1)', () => {
  assert.is(arrayElements(b('*1\r\n' + nested(7)))!.length, 1);
  assert.is(arrayElements(b('*1\r\n' + nested(8))), null);
});

skip.run();
isErr.run();
int.run();
arr.run();
