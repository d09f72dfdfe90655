import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RespParser, ARG_OVERHEAD_BYTES, COMPACT_MIN_BYTES, DEFAULT_LIMITS } from '../../src/resp/parser.js';
import { prng } from '../helpers/prng.js';

function mbulk(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Every complete command the parser has now, as latin1 strings. */
function drain(p: RespParser): string[][] {
  const out: string[][] = [];
  for (let cmd = p.next(); cmd !== undefined; cmd = p.next()) out.push(cmd.map((a) => a.toString('latin1')));
  return out;
}

const held = suite('RespParser.heldBytes');

held('is 0 once every request received has been returned, and after discard()', () => {
  const p = new RespParser();
  p.push(Buffer.from('PING\r\n*1\r\n$4\r\nPING\r\n'));
  assert.equal(drain(p), [['PING'], ['PING']]);
  assert.is(p.heldBytes, 0);
  p.push(Buffer.from('*2\r\n$3\r\nGET\r\n$1\r'));
  assert.equal(drain(p), []);
  assert.ok(p.heldBytes > 0);
  p.discard();
  assert.is(p.heldBytes, 0);
  assert.is(p.partial, false);
});

held('counts a partial 1 MiB bulk chunk by chunk as its bytes arrive (64 KiB chunks)', () => {
  const p = new RespParser({ ...DEFAULT_LIMITS, maxBulkBytes: 8 * 1024 * 1024 });
  const head = Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n');
  p.push(head);
  assert.equal(drain(p), []);
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let i = 0; i < 8; i++) {
    p.push(Buffer.from(chunk));
    sent += chunk.length;
    assert.equal(drain(p), []);
    // Every byte received is held, plus the bookkeeping of 2 arguments and the waiting chunks.
    assert.ok(p.heldBytes >= head.length + sent, `${p.heldBytes} < ${head.length + sent}`);
    assert.ok(p.heldBytes <= head.length + sent + (2 + i + 1) * ARG_OVERHEAD_BYTES, `${p.heldBytes} too high`);
    assert.is(p.partial, true);
  }
  p.push(Buffer.concat([Buffer.alloc(1024 * 1024 - sent, 0x61), Buffer.from('\r\n')]));
  const cmds = drain(p);
  assert.is(cmds.length, 1);
  assert.is(cmds[0][2].length, 1024 * 1024);
  assert.is(p.heldBytes, 0);
  assert.is(p.partial, false);
});

held('counts ARG_OVERHEAD_BYTES for each of 1,048,575 pending arguments of a 1,048,576-argument request', () => {
  const n = 1024 * 1024;
  const p = new RespParser();
  const arg = Buffer.from('$1\r\nx\r\n');
  const wire = Buffer.alloc(arg.length * (n - 1));
  for (let i = 0; i < n - 1; i++) arg.copy(wire, i * arg.length);
  p.push(Buffer.from(`*${n}\r\n`));
  // In socket-sized chunks, each fully parsed before the next arrives.
  for (let off = 0; off < wire.length; off += 65_536) {
    p.push(wire.subarray(off, Math.min(wire.length, off + 65_536)));
    assert.is(p.next(), undefined);
  }
  const expected = (n - 1) * ARG_OVERHEAD_BYTES + wire.length;
  console.log(`  1,048,575 pending arguments: heldBytes ${(p.heldBytes / 1e6).toFixed(1)} MB (wire ${(wire.length / 1e6).toFixed(1)} MB)`);
  // The chunks the arguments point into stay counted after they were parsed to the end.
  assert.ok(p.heldBytes >= expected, `${p.heldBytes} < ${expected}`);
  assert.ok(p.heldBytes < expected + 2 * 65_536);
  assert.is(p.partial, true);
  p.push(arg);
  const cmd = p.next()!;
  assert.is(cmd.length, n);
  assert.is(cmd[n - 1].toString(), 'x');
  assert.is(p.next(), undefined);
  assert.is(p.heldBytes, 0);
});

held('completed grows with each request and partial is false while complete requests wait unread', () => {
  const p = new RespParser();
  p.push(Buffer.from('PING\r\nPING\r\n'));
  assert.is(p.partial, false);
  p.next();
  assert.is(p.completed, 1);
  assert.is(p.partial, false); // a request is returned, the next not asked for yet
  p.next();
  assert.is(p.next(), undefined);
  assert.is(p.completed, 2);
  p.push(Buffer.from('PI'));
  assert.is(p.next(), undefined);
  assert.is(p.partial, true);
  assert.is(p.completed, 2);
});

const compact = suite('RespParser compaction');

compact('does not pin a 1 MiB buffer for the few bytes of the next request behind it', () => {
  const p = new RespParser({ ...DEFAULT_LIMITS, maxBulkBytes: 8 * 1024 * 1024 });
  const value = Buffer.alloc(1024 * 1024, 0x62);
  const set = mbulk('SET', 'k', value);
  const next = mbulk('GET', 'k');
  const cut = next.length - 3; // the GET request up to the middle of its last argument
  // The SET arrives in 64 KiB chunks, the last one carrying the start of the GET.
  const stream = Buffer.concat([set, next.subarray(0, cut)]);
  const cmds: string[][] = [];
  for (let off = 0; off < stream.length; off += 65_536) {
    p.push(Buffer.from(stream.subarray(off, Math.min(stream.length, off + 65_536))));
    cmds.push(...drain(p));
  }
  assert.is(cmds.length, 1);
  assert.ok(COMPACT_MIN_BYTES < set.length);
  // Held: the GET's few bytes and its one pending argument, not the SET's buffer.
  assert.ok(p.heldBytes < 1024, `heldBytes ${p.heldBytes}`);
  p.push(next.subarray(cut));
  assert.equal(drain(p), [['GET', 'k']]);
  assert.is(p.heldBytes, 0);
});

compact('copies out pending arguments taken from a large buffer, and they keep their bytes', () => {
  const p = new RespParser({ ...DEFAULT_LIMITS, maxBulkBytes: 8 * 1024 * 1024 });
  const big = mbulk('SET', 'k', Buffer.alloc(512 * 1024, 0x63));
  const partial = Buffer.from('*3\r\n$3\r\nSET\r\n$2\r\nk2\r\n$3\r\nv');
  // One merged buffer: the big SET completes only with the last chunk, which holds the partial.
  p.push(big.subarray(0, 100));
  assert.equal(drain(p), []);
  p.push(Buffer.concat([big.subarray(100), partial]));
  const first = p.next()!;
  assert.is(first[2].length, 512 * 1024);
  assert.is(p.next(), undefined);
  assert.ok(p.heldBytes < 2 * ARG_OVERHEAD_BYTES + 64, `heldBytes ${p.heldBytes}`);
  p.push(Buffer.from('al\r\n'));
  const second = p.next()!;
  assert.equal(second.map((a) => a.toString()), ['SET', 'k2', 'val']);
  // The copied arguments no longer point into the 512 KiB allocation.
  for (const a of second) assert.ok(a.buffer.byteLength < COMPACT_MIN_BYTES, `arg in a ${a.buffer.byteLength}-byte allocation`);
});

compact('returns the same commands as a whole-stream parse for random splits of large and small requests (seeded)', () => {
  const rand = prng(11);
  const requests: Buffer[] = [];
  const expected: string[][] = [];
  for (let i = 0; i < 60; i++) {
    const size = rand() < 0.3 ? Math.floor(rand() * 300_000) : Math.floor(rand() * 40);
    const value = Buffer.alloc(size, 0x61 + (i % 26));
    requests.push(mbulk('SET', `key:${i}`, value));
    expected.push(['SET', `key:${i}`, value.toString('latin1')]);
  }
  const stream = Buffer.concat(requests);
  const p = new RespParser({ ...DEFAULT_LIMITS, maxBulkBytes: 8 * 1024 * 1024 });
  const got: string[][] = [];
  let maxHeld = 0;
  for (let off = 0; off < stream.length;) {
    const n = 1 + Math.floor(rand() * 100_000);
    p.push(Buffer.from(stream.subarray(off, off + n)));
    off += n;
    got.push(...drain(p));
    maxHeld = Math.max(maxHeld, p.heldBytes);
    assert.ok(p.heldBytes >= 0);
  }
  assert.is(got.length, expected.length);
  for (let i = 0; i < got.length; i++) assert.equal(got[i], expected[i], `request ${i}`);
  assert.is(p.heldBytes, 0);
  assert.ok(maxHeld < 2 * 400_000, `held at most ${maxHeld}`);
});

held.run();
compact.run();
