import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RespParser, RespProtocolError, DEFAULT_LIMITS, type ParserLimits } from '../../src/resp/parser.js';
import { prng } from '../helpers/prng.js';

/** Feeds `chunks` one by one, taking every complete command after each; returns them as latin1 strings. */
function parse(chunks: Array<string | Buffer>, limits?: Partial<ParserLimits>): { commands: string[][]; error: string | null; parser: RespParser } {
  const parser = new RespParser({ ...DEFAULT_LIMITS, ...limits });
  const commands: string[][] = [];
  for (const c of chunks) {
    parser.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
    for (let cmd = parser.next(); cmd !== undefined; cmd = parser.next()) commands.push(cmd.map((a) => a.toString('latin1')));
  }
  return { commands, error: parser.error?.reply ?? null, parser };
}

/** The commands of `text` as one chunk; fails the test on a protocol error. */
function commandsOf(text: string, limits?: Partial<ParserLimits>): string[][] {
  const r = parse([text], limits);
  assert.is(r.error, null, `unexpected protocol error for ${JSON.stringify(text)}`);
  return r.commands;
}

/** The protocol error `text` gets (as one chunk). */
function errorOf(text: string | Buffer, limits?: Partial<ParserLimits>): string | null {
  return parse([text], limits).error;
}

function mbulk(...args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('');
}

// ---------------------------------------------------------------------------------------------------

const forms = suite('RespParser request forms');

forms('reads a multibulk request, binary-safe: CR, LF and NUL inside a bulk are data', () => {
  assert.equal(commandsOf(mbulk('SET', 'k', 'a\r\nb\0c')), [['SET', 'k', 'a\r\nb\0c']]);
});

forms('reads an empty bulk ($0) as an empty argument', () => {
  assert.equal(commandsOf('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n'), [['SET', 'k', '']]);
});

forms('skips *0 and *-1 as empty requests and reads the command after them', () => {
  assert.equal(commandsOf('*0\r\n*-1\r\n' + mbulk('PING')), [['PING']]);
});

forms('skips empty inline lines: \\r\\n, \\n and lines of spaces and tabs', () => {
  assert.equal(commandsOf('\r\n\n   \r\n\t \t\n' + 'PING\r\n'), [['PING']]);
});

forms('reads inline requests ending in \\r\\n or a bare \\n', () => {
  assert.equal(commandsOf('PING\r\nECHO hi\nGET  k \r\n'), [['PING'], ['ECHO', 'hi'], ['GET', 'k']]);
});

forms('splits inline requests like sdssplitargs: double quotes with every escape', () => {
  assert.equal(commandsOf('SET k "a b\\n\\r\\t\\b\\a\\\\\\"\\x41\\x7a\\q"\r\n'), [['SET', 'k', 'a b\n\r\t\b\x07\\"Azq']]);
});

forms('splits inline requests like sdssplitargs: \\x with non-hex digits is a plain x', () => {
  assert.equal(commandsOf('ECHO "\\xZZ\\x4"\r\n'), [['ECHO', 'xZZx4']]);
});

forms("splits inline requests like sdssplitargs: single quotes keep backslashes except \\'", () => {
  assert.equal(commandsOf("ECHO 'it\\'s a\\n\\x41'\r\n"), [['ECHO', "it's a\\n\\x41"]]);
});

forms('splits inline requests like sdssplitargs: "" and \'\' are empty arguments', () => {
  assert.equal(commandsOf(`SET "" ''\r\n`), [['SET', '', '']]);
});

forms('splits inline requests like sdssplitargs: a quote inside a word opens a quoted part', () => {
  assert.equal(commandsOf('ECHO a"b c"\r\n'), [['ECHO', 'ab c']]);
  assert.equal(commandsOf("ECHO x'y z'\r\n"), [['ECHO', 'xy z']]);
});

forms('splits inline requests like sdssplitargs: only space, \\t, \\r and \\n end a word; \\v, \\f and 0xA0 do not', () => {
  assert.equal(commandsOf('ECHO a\vb\fc\xa0d\r\n'), [['ECHO', 'a\vb\fc\xa0d']]);
  // Between words every isspace() byte is skipped, \v and \f included.
  assert.equal(commandsOf('ECHO \v\f x\r\n'), [['ECHO', 'x']]);
});

forms('splits inline requests like sdssplitargs: the line ends at a NUL byte, as a C string does', () => {
  assert.equal(commandsOf('ECHO abc\0def ghi\r\nPING\r\n'), [['ECHO', 'abc'], ['PING']]);
});

forms('keeps every byte 0x01-0xFF of an inline argument (latin1 in, bytes out)', () => {
  let all = '';
  for (let b = 1; b < 256; b++) if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x22 && b !== 0x27) all += String.fromCharCode(b);
  const r = parse([Buffer.concat([Buffer.from('ECHO '), Buffer.from(all, 'latin1'), Buffer.from('\r\n')])]);
  assert.is(r.error, null);
  assert.is(r.commands[0][1], all);
});

forms('mixes multibulk and inline requests in one stream', () => {
  assert.equal(commandsOf(mbulk('SET', 'a', '1') + 'GET a\r\n' + mbulk('GET', 'a')), [['SET', 'a', '1'], ['GET', 'a'], ['GET', 'a']]);
});

forms('accepts a count line ended by a bare \\n', () => {
  assert.equal(commandsOf('*1\n$4\nPING\r\n'), [['PING']]);
});

forms('returns bulk arguments as Buffers without copying the bytes of a large bulk', () => {
  const value = Buffer.alloc(100_000, 7);
  const p = new RespParser();
  p.push(Buffer.concat([Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n'), value, Buffer.from('\r\n')]));
  const cmd = p.next()!;
  assert.ok(Buffer.isBuffer(cmd[2]));
  assert.ok(cmd[2].equals(value));
  assert.is(p.next(), undefined);
  assert.is(p.buffered, 0);
});

// ---------------------------------------------------------------------------------------------------

const resume = suite('RespParser resumability');

const STREAM = [
  mbulk('SET', 'key:1', 'hello\r\nworld'),
  'GET key:1\r\n',
  '*0\r\n',
  mbulk('ECHO', ''),
  '\r\n',
  `SET k "quoted \\x41 \\"v\\"" 'single'\r\n`,
  mbulk('PING'),
  '*-1\r\n',
  mbulk('DBSIZE'),
  'PING\n',
  mbulk('SET', 'x'.repeat(300), 'y'.repeat(1000)),
].join('');

const EXPECTED = [
  ['SET', 'key:1', 'hello\r\nworld'], ['GET', 'key:1'], ['ECHO', ''], ['SET', 'k', 'quoted A "v"', 'single'],
  ['PING'], ['DBSIZE'], ['PING'], ['SET', 'x'.repeat(300), 'y'.repeat(1000)],
];

resume('the reference stream of 11 requests parses to the 8 expected commands in one chunk', () => {
  assert.equal(commandsOf(STREAM), EXPECTED);
});

resume('gives the same commands when the stream is split in two at every byte boundary', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    const r = parse([STREAM.slice(0, i), STREAM.slice(i)]);
    assert.is(r.error, null, `split at ${i}`);
    assert.equal(r.commands, EXPECTED, `split at ${i}`);
    assert.is(r.parser.buffered, 0, `split at ${i}`);
  }
});

resume('gives the same commands when the stream arrives one byte at a time', () => {
  const r = parse([...STREAM].map((ch) => ch));
  assert.is(r.error, null);
  assert.equal(r.commands, EXPECTED);
});

resume('gives the same commands for 2,000 random splits into 2-8 chunks', () => {
  const rnd = prng(12345);
  for (let t = 0; t < 2000; t++) {
    const cuts = Array.from({ length: 1 + Math.floor(rnd() * 7) }, () => Math.floor(rnd() * (STREAM.length + 1))).sort((a, b) => a - b);
    const chunks: string[] = [];
    let at = 0;
    for (const c of [...cuts, STREAM.length]) {
      chunks.push(STREAM.slice(at, c));
      at = c;
    }
    assert.equal(parse(chunks).commands, EXPECTED, `cuts ${cuts}`);
  }
});

resume('returns a command only when it is complete: next() is undefined while 1 byte is missing', () => {
  const one = mbulk('SET', 'k', 'v');
  const p = new RespParser();
  p.push(Buffer.from(one.slice(0, -1)));
  assert.is(p.next(), undefined);
  assert.is(p.error, null);
  p.push(Buffer.from(one.slice(-1)));
  assert.equal(p.next()!.map(String), ['SET', 'k', 'v']);
});

resume('reads 10,000 pipelined commands from one chunk, in order', () => {
  let text = '';
  for (let i = 0; i < 10_000; i++) text += i % 2 === 0 ? mbulk('SET', `k${i}`, `v${i}`) : `GET k${i}\r\n`;
  const cmds = commandsOf(text);
  assert.is(cmds.length, 10_000);
  for (let i = 0; i < 10_000; i++) assert.equal(cmds[i], i % 2 === 0 ? ['SET', `k${i}`, `v${i}`] : ['GET', `k${i}`]);
});

resume('assembles a 32 MiB bulk from 512 chunks of 64 KiB in linear time (well under 5 s)', () => {
  const size = 32 * 1024 * 1024;
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) payload[i] = (i >>> 12) & 0xff;
  const stream = Buffer.concat([Buffer.from(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${size}\r\n`), payload, Buffer.from('\r\n' + mbulk('PING'))]);
  const p = new RespParser({ ...DEFAULT_LIMITS, maxBulkBytes: 64 * 1024 * 1024 });
  const started = performance.now();
  const got: Buffer[][] = [];
  for (let at = 0; at < stream.length; at += 64 * 1024) {
    p.push(stream.subarray(at, Math.min(stream.length, at + 64 * 1024)));
    for (let c = p.next(); c !== undefined; c = p.next()) got.push(c);
  }
  const ms = performance.now() - started;
  assert.is(got.length, 2);
  assert.is(got[0][2].length, size);
  assert.ok(got[0][2].equals(payload));
  assert.equal(got[1].map(String), ['PING']);
  assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
});

resume('reads a 60 KiB inline line arriving one byte at a time without rescanning it (well under 2 s)', () => {
  const line = 'ECHO ' + 'x'.repeat(60 * 1024 - 10) + '\r\n';
  const p = new RespParser();
  const buf = Buffer.from(line);
  const started = performance.now();
  let got: Buffer[] | undefined;
  for (let i = 0; i < buf.length; i++) {
    p.push(buf.subarray(i, i + 1));
    got = p.next() ?? got;
  }
  const ms = performance.now() - started;
  assert.is(got?.[1].length, 60 * 1024 - 10);
  assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
});

resume('reads a bulk count line arriving one byte at a time, then 1 MiB of bulk in 1 KiB chunks', () => {
  const size = 1024 * 1024;
  const stream = Buffer.concat([Buffer.from(`*2\r\n$4\r\nECHO\r\n$${size}\r\n`), Buffer.alloc(size, 0x61), Buffer.from('\r\n')]);
  const p = new RespParser();
  const headerEnd = stream.indexOf(`$${size}\r\n`) + `$${size}\r\n`.length;
  const got: Buffer[][] = [];
  const take = () => { for (let c = p.next(); c !== undefined; c = p.next()) got.push(c); };
  for (let i = 0; i < headerEnd; i++) { p.push(stream.subarray(i, i + 1)); take(); }
  for (let i = headerEnd; i < stream.length; i += 1024) { p.push(stream.subarray(i, i + 1024)); take(); }
  assert.is(got.length, 1);
  assert.is(got[0][1].length, size);
  assert.is(p.buffered, 0);
});

// ---------------------------------------------------------------------------------------------------

const caps = suite('RespParser caps and protocol errors (Redis reply texts)');

caps('a non-numeric multibulk count: "ERR Protocol error: invalid multibulk length"', () => {
  for (const bad of ['*abc\r\n', '*\r\n', '*-\r\n', '*1x\r\n', '*+1\r\n', '* 1\r\n', '*01\r\n', '*1\r\r\n']) {
    assert.is(errorOf(bad), 'ERR Protocol error: invalid multibulk length', JSON.stringify(bad));
  }
});

caps('a multibulk count over maxArgs (3 here) is refused; 3 is accepted', () => {
  assert.is(errorOf('*4\r\n', { maxArgs: 3 }), 'ERR Protocol error: invalid multibulk length');
  assert.equal(commandsOf(mbulk('SET', 'k', 'v'), { maxArgs: 3 }), [['SET', 'k', 'v']]);
});

caps('the default maxArgs is 1,048,576: *1048577 is refused at once', () => {
  assert.is(errorOf('*1048577\r\n'), 'ERR Protocol error: invalid multibulk length');
  assert.is(errorOf('*1048576\r\n'), null);
});

caps('a negative, non-numeric or malformed bulk length: "ERR Protocol error: invalid bulk length"', () => {
  for (const bad of ['$-1', '$-5', '$abc', '$', '$1.5', '$+3', '$03', '$-0', '$ 3']) {
    assert.is(errorOf(`*2\r\n$4\r\nECHO\r\n${bad}\r\n`), 'ERR Protocol error: invalid bulk length', bad);
  }
});

caps('a bulk length over maxBulkBytes (1024 here) is refused before any of its bytes arrive', () => {
  const r = parse(['*2\r\n$4\r\nECHO\r\n$1025\r\n'], { maxBulkBytes: 1024 });
  assert.is(r.error, 'ERR Protocol error: invalid bulk length');
  assert.is(r.parser.buffered, 0);
  assert.equal(commandsOf(`*2\r\n$4\r\nECHO\r\n$1024\r\n${'x'.repeat(1024)}\r\n`, { maxBulkBytes: 1024 }), [['ECHO', 'x'.repeat(1024)]]);
});

caps('$999999999999 is refused at once, without waiting for (or buffering) a byte of data', () => {
  const p = new RespParser();
  p.push(Buffer.from('*1\r\n$999999999999\r\n'));
  assert.is(p.next(), undefined);
  assert.instance(p.error, RespProtocolError);
  assert.is(p.error!.reply, 'ERR Protocol error: invalid bulk length');
  assert.is(p.error!.code, 'ERR_PROTOCOL');
  assert.is(p.buffered, 0);
});

caps('a count of 21+ digits is refused rather than overflowing', () => {
  assert.is(errorOf('*123456789012345678901\r\n'), 'ERR Protocol error: invalid multibulk length');
  assert.is(errorOf('*1\r\n$123456789012345678901\r\n'), 'ERR Protocol error: invalid bulk length');
});

caps("a multibulk element that does not start with $: \"ERR Protocol error: expected '$', got 'x'\"", () => {
  assert.is(errorOf('*1\r\nx\r\n'), "ERR Protocol error: expected '$', got 'x'");
  assert.is(errorOf('*2\r\n$4\r\nECHO\r\n:1\r\n'), "ERR Protocol error: expected '$', got ':'");
});

caps("the expected '$' error is raised on the first byte, before the rest of the line arrives", () => {
  const p = new RespParser();
  p.push(Buffer.from('*1\r\n+'));
  assert.is(p.next(), undefined);
  assert.is(p.error?.reply, "ERR Protocol error: expected '$', got '+'");
});

caps('an inline request over maxInlineBytes without a newline: "ERR Protocol error: too big inline request"', () => {
  const r = parse(['PING ' + 'x'.repeat(64 * 1024)]);
  assert.is(r.error, 'ERR Protocol error: too big inline request');
  assert.is(r.parser.buffered, 0);
  // Exactly at the cap it still waits for the newline.
  assert.is(errorOf('x'.repeat(64 * 1024)), null);
});

caps('the inline cap holds across chunks: 17 chunks of 4 KiB (68 KiB) without a newline', () => {
  const chunks = Array.from({ length: 17 }, () => 'y'.repeat(4096));
  assert.is(parse(chunks).error, 'ERR Protocol error: too big inline request');
  assert.is(parse(chunks.slice(0, 16)).error, null);
});

caps('an inline line longer than maxInlineBytes (100 here) is refused even with its newline', () => {
  assert.is(errorOf('ECHO ' + 'z'.repeat(200) + '\r\n', { maxInlineBytes: 100 }), 'ERR Protocol error: too big inline request');
});

caps('a multibulk count line over maxInlineBytes: "ERR Protocol error: too big mbulk count string"', () => {
  assert.is(errorOf('*' + '1'.repeat(70_000)), 'ERR Protocol error: too big mbulk count string');
  assert.is(errorOf('*1', { maxInlineBytes: 1 }), 'ERR Protocol error: too big mbulk count string');
});

caps('a bulk count line over maxInlineBytes: "ERR Protocol error: too big bulk count string"', () => {
  assert.is(errorOf('*1\r\n$' + '1'.repeat(70_000)), 'ERR Protocol error: too big bulk count string');
});

caps('unbalanced quotes in an inline request: "ERR Protocol error: unbalanced quotes in request"', () => {
  for (const bad of ['SET k "abc\r\n', "SET k 'abc\r\n", 'SET k "abc"def\r\n', "SET k 'a'b\r\n", 'ECHO "abc\\"\r\n', 'ECHO a"b\r\n']) {
    assert.is(errorOf(bad), 'ERR Protocol error: unbalanced quotes in request', JSON.stringify(bad));
  }
});

caps('before AUTH (unauthenticated), more than 10 arguments: "ERR Protocol error: unauthenticated multibulk length"', () => {
  const p = new RespParser();
  p.unauthenticated = true;
  p.push(Buffer.from(mbulk(...Array.from({ length: 10 }, () => 'a')) + '*11\r\n'));
  assert.is(p.next()!.length, 10);
  assert.is(p.next(), undefined);
  assert.is(p.error?.reply, 'ERR Protocol error: unauthenticated multibulk length');
  // A malformed count is still "invalid", as in Redis.
  const q = new RespParser();
  q.unauthenticated = true;
  q.push(Buffer.from('*x\r\n'));
  q.next();
  assert.is(q.error?.reply, 'ERR Protocol error: invalid multibulk length');
});

caps('before AUTH, a bulk over 16 KiB: "ERR Protocol error: unauthenticated bulk length", at once', () => {
  const p = new RespParser();
  p.unauthenticated = true;
  p.push(Buffer.from(`*2\r\n$4\r\nAUTH\r\n$16384\r\n${'p'.repeat(16384)}\r\n` + '*2\r\n$4\r\nAUTH\r\n$16385\r\n'));
  assert.is(p.next()![1].length, 16384);
  assert.is(p.next(), undefined);
  assert.is(p.error?.reply, 'ERR Protocol error: unauthenticated bulk length');
  assert.is(p.buffered, 0);
});

caps('the unauthenticated caps stop applying once the flag is cleared (after AUTH)', () => {
  const p = new RespParser();
  p.unauthenticated = true;
  p.push(Buffer.from(mbulk('AUTH', 'pw')));
  assert.equal(p.next()!.map(String), ['AUTH', 'pw']);
  p.unauthenticated = false;
  const big = mbulk('SET', 'k', 'v'.repeat(20_000));
  const many = mbulk(...Array.from({ length: 20 }, (_, i) => `a${i}`));
  p.push(Buffer.from(big + many));
  assert.is(p.next()![2].length, 20_000);
  assert.is(p.next()!.length, 20);
  assert.is(p.error, null);
});

caps('the commands before a protocol error are returned; nothing after it, and later pushes are ignored', () => {
  const p = new RespParser();
  p.push(Buffer.from(mbulk('PING') + 'ECHO a\r\n' + '*x\r\n' + mbulk('PING')));
  assert.equal(p.next()!.map(String), ['PING']);
  assert.equal(p.next()!.map(String), ['ECHO', 'a']);
  assert.is(p.next(), undefined);
  assert.is(p.error?.reply, 'ERR Protocol error: invalid multibulk length');
  p.push(Buffer.from(mbulk('PING')));
  assert.is(p.next(), undefined);
  assert.is(p.buffered, 0);
});

caps('never throws on 20,000 random byte strings, and every error is one of the Redis texts', () => {
  const known = new Set([
    'ERR Protocol error: invalid multibulk length', 'ERR Protocol error: invalid bulk length',
    'ERR Protocol error: too big inline request', 'ERR Protocol error: too big mbulk count string',
    'ERR Protocol error: too big bulk count string', 'ERR Protocol error: unbalanced quotes in request',
  ]);
  const rnd = prng(99);
  const alphabet = Buffer.from('*$\r\n0123456789-"\' \\xaA\0');
  for (let t = 0; t < 20_000; t++) {
    const len = Math.floor(rnd() * 64);
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = rnd() < 0.7 ? alphabet[Math.floor(rnd() * alphabet.length)] : Math.floor(rnd() * 256);
    const r = parse([b.subarray(0, len >> 1), b.subarray(len >> 1)], { maxInlineBytes: 32, maxBulkBytes: 16, maxArgs: 8 });
    if (r.error !== null) assert.ok(known.has(r.error) || r.error.startsWith("ERR Protocol error: expected '$', got '"), r.error);
  }
});

caps.run();
forms.run();
resume.run();
