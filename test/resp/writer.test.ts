import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RespWriter, formatDouble } from '../../src/resp/writer.js';

/** What `write` produces for a writer speaking `protocol`, as a latin1 string. */
function bytes(protocol: 2 | 3, write: (w: RespWriter) => void): string {
  const w = new RespWriter();
  w.protocol = protocol;
  write(w);
  return w.take().toString('latin1');
}

/** Asserts the RESP2 and RESP3 encodings of `write`. */
function both(write: (w: RespWriter) => void, resp2: string, resp3: string): void {
  assert.is(bytes(2, write), resp2, 'RESP2');
  assert.is(bytes(3, write), resp3, 'RESP3');
}

const writer = suite('RespWriter');

writer('a new writer speaks RESP2', () => {
  assert.is(new RespWriter().protocol, 2);
});

writer('simple string: +OK\\r\\n in both protocols', () => {
  both((w) => w.simple('OK'), '+OK\r\n', '+OK\r\n');
});

writer('error: -ERR text\\r\\n in both protocols', () => {
  both((w) => w.error('ERR unknown command'), '-ERR unknown command\r\n', '-ERR unknown command\r\n');
});

writer('error: each CR and LF inside the message becomes a space and those at the ends go, as in Redis', () => {
  assert.is(bytes(2, (w) => w.error("ERR bad 'a\r\nb'")), "-ERR bad 'a  b'\r\n");
  assert.is(bytes(3, (w) => w.error('ERR x\ny')), '-ERR x y\r\n');
  assert.is(bytes(2, (w) => w.error('\r\nERR edge\n')), '-ERR edge\r\n');
});

writer('integer: numbers, negatives, zero and bigints beyond 2^53', () => {
  both((w) => { w.integer(42); w.integer(-7); w.integer(0); }, ':42\r\n:-7\r\n:0\r\n', ':42\r\n:-7\r\n:0\r\n');
  both((w) => w.integer(9223372036854775807n), ':9223372036854775807\r\n', ':9223372036854775807\r\n');
});

writer('bulk string from bytes: $<len>\\r\\n<bytes>\\r\\n, binary-safe', () => {
  const v = Buffer.from([0, 13, 10, 255, 0x41]);
  both((w) => w.bulk(v), '$5\r\n\0\r\n\xffA\r\n', '$5\r\n\0\r\n\xffA\r\n');
});

writer('bulk string from a string: the length counts UTF-8 bytes', () => {
  const w = new RespWriter();
  w.bulk('héllo €');
  assert.ok(w.take().equals(Buffer.concat([Buffer.from('$10\r\n'), Buffer.from('héllo €', 'utf8'), Buffer.from('\r\n')])));
});

writer('empty bulk string: $0\\r\\n\\r\\n', () => {
  both((w) => { w.bulk(''); w.bulk(Buffer.alloc(0)); }, '$0\r\n\r\n$0\r\n\r\n', '$0\r\n\r\n$0\r\n\r\n');
});

writer('nil: $-1 in RESP2, _ in RESP3', () => {
  both((w) => w.nil(), '$-1\r\n', '_\r\n');
});

writer('null array: *-1 in RESP2, _ in RESP3', () => {
  both((w) => w.nilArray(), '*-1\r\n', '_\r\n');
});

writer('array header then elements: *2 in both protocols', () => {
  both((w) => { w.array(2); w.bulk('a'); w.integer(1); }, '*2\r\n$1\r\na\r\n:1\r\n', '*2\r\n$1\r\na\r\n:1\r\n');
  both((w) => w.array(0), '*0\r\n', '*0\r\n');
});

writer('map of 2 pairs: a flat *4 array in RESP2, %2 in RESP3', () => {
  const write = (w: RespWriter) => { w.map(2); w.bulk('a'); w.integer(1); w.bulk('b'); w.integer(2); };
  both(write, '*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n', '%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n');
});

writer('set: an array in RESP2, ~ in RESP3', () => {
  both((w) => { w.set(1); w.bulk('m'); }, '*1\r\n$1\r\nm\r\n', '~1\r\n$1\r\nm\r\n');
});

writer('double: a bulk string in RESP2, , in RESP3; inf, -inf and nan as Redis writes them', () => {
  both((w) => w.double(1.5), '$3\r\n1.5\r\n', ',1.5\r\n');
  both((w) => w.double(-0.25), '$5\r\n-0.25\r\n', ',-0.25\r\n');
  both((w) => w.double(3), '$1\r\n3\r\n', ',3\r\n');
  both((w) => w.double(Infinity), '$3\r\ninf\r\n', ',inf\r\n');
  both((w) => w.double(-Infinity), '$4\r\n-inf\r\n', ',-inf\r\n');
  both((w) => w.double(NaN), '$3\r\nnan\r\n', ',nan\r\n');
});

writer('formatDouble gives the shortest round-trip text', () => {
  assert.is(formatDouble(0.1), '0.1');
  assert.is(formatDouble(1 / 3), '0.3333333333333333');
  assert.is(Number(formatDouble(1 / 3)), 1 / 3);
});

writer('boolean: :1 / :0 in RESP2, #t / #f in RESP3', () => {
  both((w) => { w.boolean(true); w.boolean(false); }, ':1\r\n:0\r\n', '#t\r\n#f\r\n');
});

writer('verbatim string: a bulk string in RESP2, =<len>\\r\\ntxt:<text> in RESP3 (length counts the prefix)', () => {
  both((w) => w.verbatim('Some string'), '$11\r\nSome string\r\n', '=15\r\ntxt:Some string\r\n');
  both((w) => w.verbatim('# x', 'mkd'), '$3\r\n# x\r\n', '=7\r\nmkd:# x\r\n');
});

writer('verbatim string: the length counts UTF-8 bytes', () => {
  const w = new RespWriter();
  w.protocol = 3;
  w.verbatim('é');
  assert.ok(w.take().equals(Buffer.concat([Buffer.from('=6\r\ntxt:'), Buffer.from('é'), Buffer.from('\r\n')])));
});

writer('length counts the bytes written and not yet taken; take() empties the writer', () => {
  const w = new RespWriter();
  assert.is(w.length, 0);
  w.simple('OK');
  w.integer(12);
  assert.is(w.length, 5 + 5);
  assert.is(w.take().toString(), '+OK\r\n:12\r\n');
  assert.is(w.length, 0);
  assert.is(w.take().length, 0);
});

writer('grows past its 16 KiB start for a 3 MiB bulk and keeps earlier replies intact', () => {
  const w = new RespWriter();
  w.simple('first');
  const big = Buffer.alloc(3 * 1024 * 1024, 0x62);
  w.bulk(big);
  w.simple('last');
  const out = w.take();
  const head = '+first\r\n$3145728\r\n';
  assert.is(out.length, head.length + big.length + 2 + 7);
  assert.is(out.subarray(0, head.length).toString(), head);
  assert.ok(out.subarray(head.length, head.length + big.length).equals(big));
  assert.is(out.subarray(out.length - 9).toString(), '\r\n+last\r\n');
});

writer('take() returns a copy: later writes do not change bytes already taken', () => {
  const w = new RespWriter();
  w.bulk('aaaa');
  const first = w.take();
  w.bulk('bbbb');
  assert.is(first.toString(), '$4\r\naaaa\r\n');
  assert.is(w.take().toString(), '$4\r\nbbbb\r\n');
});

writer('switching protocol mid-stream changes only later replies (HELLO 3 answers in RESP3)', () => {
  const w = new RespWriter();
  w.nil();
  w.protocol = 3;
  w.nil();
  assert.is(w.take().toString(), '$-1\r\n_\r\n');
});

writer.run();

const memory = suite('RespWriter memory');
const MiB = 1024 * 1024;

memory('one 8 MiB bulk grows the buffer to about its size, not to the next power of two', () => {
  const w = new RespWriter();
  w.bulk(Buffer.alloc(8 * MiB, 0x61));
  assert.ok(w.capacity >= 8 * MiB + 12 && w.capacity <= 8 * MiB + 64 * 1024, `capacity ${w.capacity}`);
});

memory('take() of a 2 MiB reply hands the buffer over without a copy and the writer goes back to 16 KiB', () => {
  const w = new RespWriter();
  const value = Buffer.alloc(2 * MiB, 0x62);
  w.bulk(value);
  const out = w.take();
  assert.is(out.length, 2 * MiB + 12);
  assert.is(out.toString('latin1', 0, 11), '$2097152\r\nb');
  assert.is(w.capacity, 16 * 1024);
  assert.is(w.length, 0);
  // Writing again does not touch the bytes handed over.
  w.bulk(Buffer.alloc(3 * MiB, 0x63));
  assert.is(out[11], 0x62);
});

memory('take() of a small reply copies it and keeps the 16 KiB buffer', () => {
  const w = new RespWriter();
  w.simple('OK');
  const out = w.take();
  w.simple('NO');
  assert.is(out.toString('latin1'), '+OK\r\n');
  assert.is(w.capacity, 16 * 1024);
});

memory('a recycled 4 MiB part is reused by the next part of that size; release() drops it', () => {
  const w = new RespWriter();
  w.bulk(Buffer.alloc(4 * MiB, 0x64));
  const first = w.take();
  w.recycle(first);
  assert.is(w.capacity, 16 * 1024 + first.buffer.byteLength);
  w.bulk(Buffer.alloc(4 * MiB, 0x65));
  const second = w.take();
  assert.is(second.buffer, first.buffer, 'the same memory was reused');
  assert.is(second[10], 0x65);
  w.recycle(second);
  w.release();
  assert.is(w.capacity, 16 * 1024);
});

memory('recycle() ignores buffers it did not hand over, and a buffer given back twice', () => {
  const w = new RespWriter();
  w.recycle(Buffer.alloc(4 * MiB));
  assert.is(w.capacity, 16 * 1024);
  w.bulk(Buffer.alloc(2 * MiB));
  const out = w.take();
  w.recycle(out);
  w.recycle(out);
  assert.is(w.capacity, 16 * 1024 + out.buffer.byteLength);
});

memory('raw() appends bytes as they are', () => {
  const w = new RespWriter();
  w.array(1);
  w.raw(Buffer.from('$1\r\nx\r\n'));
  assert.is(w.take().toString('latin1'), '*1\r\n$1\r\nx\r\n');
});

memory.run();
