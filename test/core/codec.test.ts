/**
 * LZ4 block / frame codec and xxh32 of the WebAssembly core: round trips, byte-for-byte interop
 * with lz4-napi (native, lz4_flex), lz4js (pure JS) and the reference `lz4` CLI, and the exact
 * status of each kind of bad input. Every call is guard-checked by the harness.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as napi from 'lz4-napi';
// @ts-expect-error: lz4js ships no types
import lz4js from 'lz4js';
// @ts-expect-error: lz4js ships no types
import lz4jsXxh from 'lz4js/xxh32.js';
import { englishText, jsonText, lz4Harness } from './lz4-harness.js';
import { prng, randomBytes } from '../helpers/prng.js';

const h = lz4Harness();
const e = h.exports;
const S = {
  MALFORMED: h.constant('LZ4_ERR_MALFORMED'),
  OUTPUT_TOO_SMALL: h.constant('LZ4_ERR_OUTPUT_TOO_SMALL'),
  CHECKSUM: h.constant('LZ4_ERR_CHECKSUM'),
  UNSUPPORTED: h.constant('LZ4_ERR_UNSUPPORTED'),
  BAD_OFFSET: h.constant('LZ4_ERR_BAD_OFFSET'),
  BAD_MAGIC: h.constant('LZ4_ERR_BAD_MAGIC'),
  BAD_ARGUMENT: h.constant('LZ4_ERR_BAD_ARGUMENT'),
  TRUNCATED: h.constant('LZ4_ERR_TRUNCATED'),
};
const F = {
  CONTENT_CHECKSUM: h.constant('LZ4_FRAME_CONTENT_CHECKSUM'),
  CONTENT_SIZE: h.constant('LZ4_FRAME_CONTENT_SIZE'),
  BLOCK_4MIB: h.constant('LZ4_FRAME_BLOCK_4MIB'),
  BLOCK_CHECKSUM: h.constant("LZ4_FRAME_BLOCK_CHECKSUM"),
};

const LZ4_CLI = '/usr/bin/lz4';
const HAS_CLI = existsSync(LZ4_CLI);
if (!HAS_CLI) console.log(`lz4.test: ${LZ4_CLI} not found, skipping the CLI interop cases`);

/**
 * Runs the lz4 CLI with `input` on stdin (or as a file when `asFile`) and returns stdout, or null
 * for a known CLI bug: lz4 1.9.4 with -B4 fails with ERROR_dstMaxSize_tooSmall on inputs just
 * under 64 KiB (e.g. 65535 B).
 */
function lz4Cli(args: string[], input: Uint8Array, asFile = false): Buffer | null {
  let dir: string | undefined;
  const argv = [...args];
  if (asFile) {
    dir = mkdtempSync(join(tmpdir(), 'meshcache-lz4-'));
    writeFileSync(join(dir, 'in'), input);
    argv.push(join(dir, 'in'));
  }
  try {
    const r = spawnSync(LZ4_CLI, argv, { input: asFile ? undefined : input, maxBuffer: 64 << 20 });
    if (r.status !== 0 && args.includes('-B4') && /dstMaxSize_tooSmall/.test(String(r.stderr))) {
      console.log(`  lz4 ${args.join(' ')} failed on ${input.length} B (CLI bug), case skipped`);
      return null;
    }
    if (r.status !== 0) throw new Error(`lz4 ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** A status as its name, so failures read well. */
const named = (status: number) => (status < 0 ? h.statusName(status) : status);

function eqBytes(actual: Uint8Array | null, expected: Uint8Array, what: string) {
  assert.ok(actual, `${what}: no output`);
  assert.is(actual!.length, expected.length, `${what}: length`);
  assert.ok(Buffer.compare(actual!, expected) === 0, `${what}: bytes differ`);
}

const rand = prng(0x5eed_1234);
const mixed = (n: number) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4096) {
    const part = [englishText, jsonText, randomBytes][((i / 4096) | 0) % 3](rand, Math.min(4096, n - i));
    out.set(part, i);
  }
  return out;
};
/** The shared corpus: kinds of data and sizes around block edges. */
const CORPUS: Array<[string, Uint8Array]> = [
  ['0 B', new Uint8Array(0)],
  ['1 B', Uint8Array.of(0x41)],
  ['12 B (no match allowed)', new TextEncoder().encode('abcdabcdabcd')],
  ['13 B', new TextEncoder().encode('abcdabcdabcda')],
  ['100 B zeros', new Uint8Array(100)],
  ['4 KiB JSON', jsonText(rand, 4096)],
  ['64 KiB random', randomBytes(rand, 65536)],
  ['64 KiB English', englishText(rand, 65536)],
  ['64 KiB JSON', jsonText(rand, 65536)],
  ['64 KiB zeros', new Uint8Array(65536)],
  ['65535 B JSON', jsonText(rand, 65535)],
  ['65537 B English', englishText(rand, 65537)],
  ['131071 B mixed', mixed(131071)],
  ['131072 B JSON', jsonText(rand, 131072)],
  ['131073 B English', englishText(rand, 131073)],
  ['4 MiB JSON', jsonText(rand, 4 << 20)],
  ['4 MiB mixed', mixed(4 << 20)],
];

/** lz4-napi's block API prefixes the block with its decoded size (u32 LE). */
const withSizePrefix = (block: Uint8Array, size: number) => {
  const out = Buffer.alloc(block.length + 4);
  out.writeUInt32LE(size, 0);
  out.set(block, 4);
  return out;
};

// ─── xxh32 ──────────────────────────────────────────────────────────────────────────────

const Xxh32 = suite('xxh32');

Xxh32('hashes the empty input with seed 0 to 0x02CC5D05 and "abc" to 0x32D153FF', () => {
  assert.is(h.xxh32(new Uint8Array(0)), 0x02cc5d05);
  assert.is(h.xxh32(new TextEncoder().encode('abc')), 0x32d153ff);
});

Xxh32('agrees with lz4js on lengths 0..100 and 1 MiB, with seeds 0, 1 and 0x9E3779B1', () => {
  const r = prng(3);
  for (const seed of [0, 1, 0x9e3779b1]) {
    for (let n = 0; n <= 100; n++) {
      const data = randomBytes(r, n);
      assert.is(h.xxh32(data, seed), lz4jsXxh.hash(seed, data, 0, n) >>> 0, `len ${n} seed ${seed}`);
    }
  }
  const big = randomBytes(r, 1 << 20);
  assert.is(h.xxh32(big, 7), lz4jsXxh.hash(7, big, 0, big.length) >>> 0);
});

Xxh32.run();

// ─── statuses ───────────────────────────────────────────────────────────────────────────

const Statuses = suite('lz4 statuses');

Statuses('exports 8 distinct status codes within -20..-39, each with a name', () => {
  const codes = h.statusCodes();
  assert.is(codes.length, 8);
  assert.is(new Set(codes).size, codes.length);
  for (const c of codes) {
    assert.ok(c <= -20 && c >= -39, `${c} in range`);
    assert.match(h.statusName(c), /^LZ4_ERR_[A-Z_]+$/);
  }
  assert.is(h.statusName(S.CHECKSUM), 'LZ4_ERR_CHECKSUM');
});

Statuses('refuses ranges outside linear memory with LZ4_ERR_BAD_ARGUMENT instead of trapping', () => {
  const end = h.memory.buffer.byteLength;
  assert.is(e.lz4DecompressBlock(end - 4, 8, 1 << 24, 100), S.BAD_ARGUMENT);
  assert.is(e.lz4DecompressBlock(1 << 24, 8, end - 10, 100), S.BAD_ARGUMENT);
  assert.is(e.lz4CompressBlock(1 << 24, 100, 1 << 25, 1000, end - 100), S.BAD_ARGUMENT);
  assert.is(e.lz4DecompressFrame(0xfffffff0, 0x20, 1 << 24, 100), S.BAD_ARGUMENT);
  assert.is(e.lz4CompressFrame(1 << 24, 10, 1 << 25, 100, 1 << 26, 0x100), S.BAD_ARGUMENT);
  assert.is(e.lz4FrameContentSize(end, 1), S.BAD_ARGUMENT);
});

Statuses.run();

// ─── block ──────────────────────────────────────────────────────────────────────────────

const Block = suite('lz4 block');

Block('bounds: lz4CompressBound(n) = n + n/255 + 16, 0 above LZ4_MAX_INPUT_BYTES; 16 KiB work area', () => {
  assert.is(e.lz4CompressBound(0), 16);
  assert.is(e.lz4CompressBound(65536), 65536 + 257 + 16);
  assert.is(e.lz4CompressBound(0x7e000000), 0x7e000000 + Math.floor(0x7e000000 / 255) + 16);
  assert.is(e.lz4CompressBound(0x7e000001), 0);
  assert.is(e.lz4WorkBytes(), 16384);
});

Block('round-trips every corpus input (0 B to 4 MiB) byte for byte', () => {
  for (const [name, data] of CORPUS) {
    const c = h.compressBlock(data);
    assert.ok(c.status > 0, `${name}: compress ${named(c.status)}`);
    assert.ok(c.status <= e.lz4CompressBound(data.length), `${name}: within bound`);
    const d = h.decompressBlock(c.output!, data.length, { srcAtEnd: true });
    eqBytes(d.output, data, name);
  }
});

Block('compresses 0 B to the single token 0x00 and 64 KiB of zeros to under 300 B', () => {
  eqBytes(h.compressBlock(new Uint8Array(0)).output, Uint8Array.of(0), '0 B');
  const z = h.compressBlock(new Uint8Array(65536));
  assert.ok(z.status > 0 && z.status < 300, `zeros ${z.status}`);
});

Block('writes blocks that lz4-napi and lz4js decode byte for byte', () => {
  for (const [name, data] of CORPUS) {
    const c = h.compressBlock(data).output!;
    eqBytes(napi.uncompressSync(withSizePrefix(c, data.length)), data, `${name} via lz4-napi`);
    const out = new Uint8Array(data.length);
    const n = lz4js.decompressBlock(c, out, 0, c.length, 0);
    assert.is(n, data.length, `${name} via lz4js: size`);
    eqBytes(out, data, `${name} via lz4js`);
  }
});

Block('decodes blocks written by lz4-napi and lz4js byte for byte', () => {
  for (const [name, data] of CORPUS) {
    if (data.length === 0) continue; // lz4js writes nothing at all for 0 B
    const theirs = napi.compressSync(Buffer.from(data)).subarray(4);
    eqBytes(h.decompressBlock(theirs, data.length).output, data, `${name} from lz4-napi`);
    const js = new Uint8Array(lz4js.compressBound(data.length));
    const n = lz4js.compressBlock(data, js, 0, data.length, new Uint32Array(1 << 16));
    if (n === 0) continue; // lz4js gives up on incompressible input
    eqBytes(h.decompressBlock(js.subarray(0, n), data.length).output, data, `${name} from lz4js`);
  }
});

Block('compresses JSON and zeros within 5% of lz4-napi\'s size', () => {
  for (const [name, data] of CORPUS.filter(([n]) => /JSON|zeros/.test(n))) {
    const ours = h.compressBlock(data).status;
    const theirs = napi.compressSync(Buffer.from(data)).length - 4;
    assert.ok(ours <= theirs * 1.05, `${name}: ${ours} vs lz4-napi ${theirs}`);
  }
});

Block('reports LZ4_ERR_OUTPUT_TOO_SMALL for every dstCap below the size, writing nothing past it', () => {
  for (const data of [jsonText(prng(9), 700), randomBytes(prng(10), 300), new Uint8Array(200)]) {
    const full = h.compressBlock(data);
    for (let cap = 0; cap < full.status; cap++) {
      assert.is(named(h.compressBlock(data, cap).status), named(S.OUTPUT_TOO_SMALL), `cap ${cap}`);
    }
    eqBytes(h.compressBlock(data, full.status).output, full.output!, 'exact cap');
  }
});

Block('decodes overlapping matches for offsets 1..19 and lengths 4..70, with and without output slack', () => {
  for (let offset = 1; offset < 20; offset++) {
    for (let len = 4; len <= 70; len++) {
      // literals: `offset` distinct bytes; one match; then 5 trailing literals.
      const lits = Uint8Array.from({ length: offset }, (_, i) => 0x30 + i);
      const block: number[] = [];
      const lit = Math.min(offset, 15);
      const ml = len - 4;
      block.push((lit << 4) | Math.min(ml, 15));
      if (lit === 15) block.push(offset - 15);
      block.push(...lits, offset & 0xff, offset >> 8);
      if (ml >= 15) block.push(ml - 15);
      block.push(0x50, 1, 2, 3, 4, 5);
      const expected: number[] = [...lits];
      for (let i = 0; i < len; i++) expected.push(expected[expected.length - offset]);
      expected.push(1, 2, 3, 4, 5);
      for (const slack of [0, 1, 7, 64]) {
        const d = h.decompressBlock(Uint8Array.from(block), expected.length + slack);
        eqBytes(d.output, Uint8Array.from(expected), `offset ${offset} len ${len} slack ${slack}`);
      }
    }
  }
});

Block('rejects bad blocks with their exact status', () => {
  const cases: Array<[string, number[], number, number]> = [
    ['empty input', [], 100, S.MALFORMED],
    ['offset 0', [0x10, 0x41, 0, 0, 0x00], 100, S.BAD_OFFSET],
    ['offset before the output start', [0x10, 0x41, 2, 0, 0x00], 100, S.BAD_OFFSET],
    ['literals past the input end', [0x50, 1, 2, 3], 100, S.MALFORMED],
    ['literal length extension cut off', [0xf0, 255], 1000, S.MALFORMED],
    ['block ending with a match', [0x10, 0x41, 1, 0], 100, S.MALFORMED],
    ['offset cut off', [0x10, 0x41, 1], 100, S.MALFORMED],
    ['match length extension cut off', [0x1f, 0x41, 1, 0, 255], 1000, S.MALFORMED],
    ['literals over dstCap', [0x50, 1, 2, 3, 4, 5], 4, S.OUTPUT_TOO_SMALL],
    ['match over dstCap', [0x14, 0x41, 1, 0, 0x00], 8, S.OUTPUT_TOO_SMALL],
    ['huge match length', [0x1f, 0x41, 1, 0, ...new Array(40).fill(255), 0, 0x00], 5000, S.OUTPUT_TOO_SMALL],
  ];
  for (const [what, bytes, cap, status] of cases) {
    assert.is(named(h.decompressBlock(Uint8Array.from(bytes), cap, { srcAtEnd: true }).status), named(status), what);
  }
  // Valid at exactly the decoded size, too small one byte below it.
  const data = jsonText(prng(4), 5000);
  const c = h.compressBlock(data).output!;
  assert.is(h.decompressBlock(c, data.length).status, data.length);
  assert.is(named(h.decompressBlock(c, data.length - 1).status), named(S.OUTPUT_TOO_SMALL));
});

Block.run();

// ─── frame ──────────────────────────────────────────────────────────────────────────────

const Frame = suite('lz4 frame');

const FLAG_SETS = [
  0,
  F.CONTENT_CHECKSUM,
  F.CONTENT_SIZE,
  F.CONTENT_CHECKSUM | F.CONTENT_SIZE | F.BLOCK_CHECKSUM,
  F.BLOCK_4MIB | F.CONTENT_CHECKSUM,
  F.BLOCK_4MIB | F.CONTENT_SIZE | F.BLOCK_CHECKSUM,
];

Frame('lz4FrameBound covers header, 8 B per block, end mark and checksum', () => {
  assert.is(e.lz4FrameBlockMaxBytes(0), 65536);
  assert.is(e.lz4FrameBlockMaxBytes(F.BLOCK_4MIB), 4 << 20);
  assert.is(e.lz4FrameBound(0, 65536), 4 + 15 + 8);
  assert.is(e.lz4FrameBound(65537, 65536), 4 + 15 + 65537 + 2 * 8 + 8);
  assert.is(e.lz4FrameBound(65537, 100), e.lz4FrameBound(65537, 65536));
  assert.is(e.lz4FrameBound(0xffffffff, 65536) >>> 0, 0xffffffff);
});

Frame('round-trips every corpus input under every flag set, and declares the content size', () => {
  for (const [name, data] of CORPUS) {
    for (const flags of FLAG_SETS) {
      const c = h.compressFrame(data, flags);
      assert.ok(c.status > 0, `${name} flags ${flags}: ${named(c.status)}`);
      const d = h.decompressFrame(c.output!, data.length, { srcAtEnd: true });
      eqBytes(d.output, data, `${name} flags ${flags}`);
      assert.is(h.frameContentSize(c.output!), flags & F.CONTENT_SIZE ? data.length : -1, `${name} size`);
    }
  }
});

Frame('writes the same blocks, end mark and checksum as `lz4 -1 -c` byte for byte (inputs up to 4 MiB)', () => {
  if (!HAS_CLI) return console.log('  skipped: no lz4 CLI');
  const HEADER = 7; // magic, FLG, BD, HC: the CLI shrinks BD to the smallest size that fits the input
  for (const [name, data] of CORPUS) {
    const ours = h.compressFrame(data, F.BLOCK_4MIB | F.CONTENT_CHECKSUM).output!;
    const ref = lz4Cli(['-1', '-c'], data)!;
    assert.is(ours[4], ref[4], `${name}: FLG`);
    eqBytes(ours.subarray(HEADER), ref.subarray(HEADER), name);
  }
});

Frame('writes frames that `lz4 -dc`, lz4-napi and lz4js decode, under every flag set', () => {
  for (const [name, data] of CORPUS) {
    for (const flags of data.length > BIG_INPUT ? [FLAG_SETS[1], FLAG_SETS[5]] : FLAG_SETS) {
      const frame = h.compressFrame(data, flags).output!;
      const what = `${name} flags ${flags}`;
      if (HAS_CLI) eqBytes(lz4Cli(['-dc'], frame)!, data, `${what} via lz4 -dc`);
      eqBytes(napi.decompressFrameSync(Buffer.from(frame)), data, `${what} via lz4-napi`);
      if (!(flags & F.BLOCK_CHECKSUM)) eqBytes(lz4js.decompress(frame), data, `${what} via lz4js`);
    }
  }
});

/** [CLI arguments, input as a file (for --content-size), also run on the 4 MiB inputs]. */
const CLI_VARIANTS: Array<[string[], boolean, boolean]> = [
  [['-c'], false, true],
  [['-c', '--content-size'], true, true],
  [['-c', '-B4', '-BD'], false, true], // linked blocks: matches reach into the previous block
  [['-c', '-B4'], false, false],
  [['-c', '-B5'], false, false],
  [['-c', '-B6'], false, false],
  [['-c', '-B7'], false, false],
  [['-c', '--no-frame-crc'], false, false],
  [['-c', '-BX'], false, true], // block checksums
  [['-c', '-9', '-B4', '-BD', '--content-size', '-BX'], true, false], // HC: long matches and offsets
];
/** Inputs over this size get fewer variants, to keep the suite within seconds. */
const BIG_INPUT = 131073;

Frame('decodes frames from the lz4 CLI: content size, linked blocks, -B4..-B7, no crc, block crc, -9', () => {
  if (!HAS_CLI) return console.log('  skipped: no lz4 CLI');
  for (const [name, data] of CORPUS) {
    for (const [args, asFile, onBig] of CLI_VARIANTS) {
      if (data.length > BIG_INPUT && !onBig) continue;
      const frame = lz4Cli(args, data, asFile);
      if (!frame) continue;
      const what = `${name}: lz4 ${args.join(' ')}`;
      if (args.includes('-BD') && data.length > 65536) assert.is(frame[4] & 0x20, 0, `${what}: linked blocks`);
      eqBytes(h.decompressFrame(frame, data.length, { srcAtEnd: true }).output, data, what);
      if (args.includes('--content-size')) {
        // The CLI leaves the size out of a frame of 0 B.
        assert.is(h.frameContentSize(frame), data.length || -1, `${what}: size`);
      }
    }
  }
});

Frame('decodes frames from lz4-napi (with checksums) and lz4js (linked 4 MiB blocks)', () => {
  for (const [name, data] of CORPUS) {
    const a = napi.compressFrameSync(Buffer.from(data), { contentChecksum: true, blockChecksums: true });
    eqBytes(h.decompressFrame(a, data.length).output, data, `${name} from lz4-napi`);
    const b = lz4js.compress(data);
    eqBytes(h.decompressFrame(b, data.length).output, data, `${name} from lz4js`);
  }
});

Frame('decodes concatenated and skippable frames into one output and sums their sizes', () => {
  const a = jsonText(prng(11), 70000);
  const b = englishText(prng(12), 3000);
  const skippable = Buffer.alloc(8 + 5);
  skippable.writeUInt32LE(0x184d2a5a, 0);
  skippable.writeUInt32LE(5, 4);
  const fa = h.compressFrame(a, F.CONTENT_SIZE | F.CONTENT_CHECKSUM).output!;
  const fb = h.compressFrame(b, F.CONTENT_SIZE).output!;
  const all = Buffer.concat([skippable, fa, skippable, fb, skippable]);
  eqBytes(h.decompressFrame(all, a.length + b.length).output, Buffer.concat([a, b]), 'concatenation');
  assert.is(h.frameContentSize(all), a.length + b.length);
  const noSize = h.compressFrame(b, 0).output!;
  assert.is(h.frameContentSize(Buffer.concat([fa, noSize])), -1);
  if (HAS_CLI) eqBytes(lz4Cli(['-dc'], all)!, Buffer.concat([a, b]), 'lz4 -dc of the concatenation');
});

Frame('rejects bad frames with their exact status', () => {
  const data = jsonText(prng(13), 100000);
  const frame = Buffer.from(h.compressFrame(data, F.CONTENT_CHECKSUM | F.CONTENT_SIZE | F.BLOCK_CHECKSUM).output!);
  const cap = data.length;
  const mutate = (fn: (b: Buffer) => void) => {
    const b = Buffer.from(frame);
    fn(b);
    return b;
  };
  const headerLen = 4 + 2 + 8 + 1;
  const cases: Array<[string, Uint8Array, number, number]> = [
    ['empty input', new Uint8Array(0), cap, S.TRUNCATED],
    ['bad magic', mutate((b) => (b[0] ^= 1)), cap, S.BAD_MAGIC],
    ['legacy magic', Buffer.from([0x02, 0x21, 0x4c, 0x18, 0, 0, 0, 0]), cap, S.UNSUPPORTED],
    ['version 10', mutate((b) => (b[4] = (b[4] & 0x3f) | 0x80)), cap, S.UNSUPPORTED],
    ['reserved FLG bit', mutate((b) => (b[4] |= 0x02)), cap, S.MALFORMED],
    ['block max size 3', mutate((b) => (b[5] = 0x30)), cap, S.MALFORMED],
    ['header checksum', mutate((b) => (b[headerLen - 1] ^= 0x40)), cap, S.CHECKSUM],
    ['content size byte', mutate((b) => (b[6] ^= 1)), cap, S.CHECKSUM],
    ['block checksum', mutate((b) => (b[headerLen + 10] ^= 1)), cap, S.CHECKSUM],
    ['content checksum', mutate((b) => (b[b.length - 1] ^= 1)), cap, S.CHECKSUM],
    ['cut inside a block', frame.subarray(0, headerLen + 100), cap, S.TRUNCATED],
    ['cut before the content checksum', frame.subarray(0, frame.length - 2), cap, S.TRUNCATED],
    ['trailing garbage', Buffer.concat([frame, Buffer.from([1, 2, 3, 4, 5])]), cap, S.BAD_MAGIC],
    ['output one byte short', frame, cap - 1, S.OUTPUT_TOO_SMALL],
  ];
  for (const [what, bytes, dstCap, status] of cases) {
    assert.is(named(h.decompressFrame(bytes, dstCap, { srcAtEnd: true }).status), named(status), what);
  }
  if (HAS_CLI) {
    const legacy = lz4Cli(['-c', '-l'], data)!;
    assert.is(named(h.decompressFrame(legacy, cap).status), named(S.UNSUPPORTED), 'lz4 -l');
  }
});

Frame('fails every truncation of a 3-block frame without a false success', () => {
  const data = englishText(prng(14), 150000);
  const frame = h.compressFrame(data, F.CONTENT_CHECKSUM).output!;
  for (let n = 0; n < frame.length; n += n < 64 || frame.length - n < 64 ? 1 : 97) {
    const r = h.decompressFrame(frame.subarray(0, n), data.length, { srcAtEnd: true });
    assert.ok(r.status < 0, `prefix ${n} of ${frame.length}: ${r.status}`);
  }
});

Frame('reports LZ4_ERR_OUTPUT_TOO_SMALL for every frame dstCap below the size; unknown flags are refused', () => {
  const data = jsonText(prng(15), 3000);
  const full = h.compressFrame(data, F.CONTENT_CHECKSUM | F.CONTENT_SIZE);
  for (let cap = 0; cap < full.status; cap++) {
    const r = h.compressFrame(data, F.CONTENT_CHECKSUM | F.CONTENT_SIZE, cap);
    assert.is(named(r.status), named(S.OUTPUT_TOO_SMALL), `cap ${cap}`);
  }
  assert.is(named(h.compressFrame(data, 0x10).status), named(S.BAD_ARGUMENT));
});

Frame('stores an incompressible 64 KiB block uncompressed (high bit set) within lz4FrameBound', () => {
  const data = randomBytes(prng(16), 65536);
  const c = h.compressFrame(data, 0);
  const frame = Buffer.from(c.output!);
  assert.is(frame.readUInt32LE(7), (0x80000000 | 65536) >>> 0);
  assert.is(c.status, 7 + 4 + 65536 + 4);
  assert.ok(c.status <= e.lz4FrameBound(data.length, 65536));
});

Frame.run();
