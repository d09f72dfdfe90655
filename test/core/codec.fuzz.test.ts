/**
 * Fuzzing the LZ4 decoders (and the compressors' output limits) with 100,000+ random and mutated
 * blocks and frames. Every call must return a byte count or a known negative status, never throw
 * or trap, never write outside its output (the harness checks 4 KiB guards of 0xA5 on both sides
 * and the input after every call) and never read past its input (half the calls place the input
 * flush against the end of linear memory, where an over-read traps).
 *
 * Reproducible: the seed is printed; rerun one with LZ4_FUZZ_SEED=<seed>.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as napi from 'lz4-napi';
// @ts-expect-error: lz4js ships no types
import lz4js from 'lz4js';
import { englishText, jsonText, lz4Harness } from './lz4-harness.js';
import { prng, randomBytes } from '../helpers/prng.js';

const SEED = Number(process.env.LZ4_FUZZ_SEED ?? 0xc0dec) >>> 0;
const BLOCK_CASES = 50_000;
const FRAME_CASES = 50_000;
const COMPRESS_CASES = 5_000;
console.log(`lz4-fuzz: seed ${SEED} (rerun with LZ4_FUZZ_SEED=${SEED})`);

const h = lz4Harness();
const e = h.exports;
const KNOWN = new Set(h.statusCodes());
const OUTPUT_TOO_SMALL = h.constant('LZ4_ERR_OUTPUT_TOO_SMALL');
const F_CONTENT_SIZE = h.constant('LZ4_FRAME_CONTENT_SIZE');
const F_BLOCK_4MIB = h.constant('LZ4_FRAME_BLOCK_4MIB');

const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: T[]): T => xs[int(xs.length)];

/** Data with short periods exercises overlapping matches (offsets 1..7). */
function periodic(n: number): Uint8Array {
  const period = 1 + int(9);
  const unit = randomBytes(rand, period);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = unit[i % period];
  for (let k = int(4); k > 0 && n > 0; k--) out[int(n)] = int(256); // a few breaks
  return out;
}

function makeInput(): Uint8Array {
  const n = pick([0, 1, 5, 12, 13, 20, 64, 300, 1000, 4000, 9000]) + int(50);
  const kind = rand();
  if (kind < 0.25) return englishText(rand, n);
  if (kind < 0.5) return jsonText(rand, n);
  if (kind < 0.7) return randomBytes(rand, n);
  if (kind < 0.9) return periodic(n);
  return new Uint8Array(n);
}

interface Sample {
  original: Uint8Array;
  encoded: Uint8Array;
}

// Valid blocks: ours and lz4-napi's.
const blocks: Sample[] = [];
for (let i = 0; i < 80; i++) {
  const original = makeInput();
  blocks.push({ original, encoded: h.compressBlock(original).output! });
  if (original.length > 0) blocks.push({ original, encoded: napi.compressSync(Buffer.from(original)).subarray(4) });
}

// Valid frames: ours under random flags, lz4-napi's, lz4js's (linked blocks), the CLI's.
const frames: Sample[] = [];
for (let i = 0; i < 60; i++) {
  const original = makeInput();
  // Checksums stop mutated data early, so most samples go without them.
  const flags = rand() < 0.25 ? int(16) : int(16) & (F_CONTENT_SIZE | F_BLOCK_4MIB);
  frames.push({ original, encoded: h.compressFrame(original, flags).output! });
  frames.push({ original, encoded: napi.compressFrameSync(Buffer.from(original)) });
  frames.push({ original, encoded: lz4js.compress(original) });
}
const multiBlock = englishText(rand, 140_000); // 3 blocks of up to 64 KiB
frames.push({ original: multiBlock, encoded: h.compressFrame(multiBlock, F_CONTENT_SIZE).output! });
if (existsSync('/usr/bin/lz4')) {
  for (const args of [['-c', '-B4', '-BD'], ['-c', '-B4', '-BD', '--no-frame-crc'], ['-c', '-BX'], ['-c', '-9', '-B4']]) {
    const r = spawnSync('/usr/bin/lz4', args, { input: multiBlock, maxBuffer: 16 << 20 });
    if (r.status === 0) frames.push({ original: multiBlock, encoded: r.stdout });
  }
} else {
  console.log('lz4-fuzz: /usr/bin/lz4 not found, no CLI frames in the pool');
}

/** One random mutation of valid compressed data (or of nothing: plain random bytes). */
function mutate(sample: Uint8Array, isFrame: boolean): Uint8Array {
  const b = Buffer.from(sample);
  // Frames: mostly leave the 7+ header bytes alone so the block decoder gets exercised.
  const from = isFrame && rand() < 0.8 ? Math.min(b.length, 7) : 0;
  const at = () => from + int(Math.max(1, b.length - from));
  switch (int(8)) {
    case 0: // bit flips
      for (let k = 1 + int(4); k > 0 && b.length > 0; k--) {
        const i = Math.min(at(), b.length - 1);
        b[i] ^= 1 << int(8);
      }
      return b;
    case 1: // random bytes
      for (let k = 1 + int(4); k > 0 && b.length > 0; k--) b[Math.min(at(), b.length - 1)] = int(256);
      return b;
    case 2: // truncate
      return b.subarray(0, int(b.length + 1));
    case 3: // extend with garbage
      return Buffer.concat([b, randomBytes(rand, 1 + int(64))]);
    case 4: { // huge lengths: a run of 0xFF (length extensions, block sizes)
      const i = Math.min(at(), Math.max(0, b.length - 1));
      b.fill(0xff, i, Math.min(b.length, i + 1 + int(8)));
      return b;
    }
    case 5: { // splice a piece of another sample in
      const other = pick(isFrame ? frames : blocks).encoded;
      const start = int(other.length + 1);
      const piece = other.subarray(start, start + int(200));
      const i = Math.min(at(), b.length);
      return Buffer.concat([b.subarray(0, i), piece, b.subarray(i + int(50))]);
    }
    case 6: // zero offsets / small values
      for (let k = 1 + int(3); k > 0 && b.length > 0; k--) b[Math.min(at(), b.length - 1)] = int(3);
      return b;
    default: // plain random input
      return randomBytes(rand, int(400));
  }
}

/** Rewrites the header checksum byte so that a mutated descriptor still parses. */
function fixHeaderChecksum(frame: Uint8Array): void {
  if (frame.length < 7 || Buffer.from(frame.subarray(0, 4)).readUInt32LE(0) !== 0x184d2204) return;
  const flg = frame[4];
  const descLen = 2 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0);
  if (frame.length < 4 + descLen + 1) return;
  frame[4 + descLen] = (h.xxh32(frame.subarray(4, 4 + descLen)) >>> 8) & 0xff;
}

function pickCap(original: Uint8Array): number {
  switch (int(5)) {
    case 0: return original.length;
    case 1: return original.length + int(100);
    case 2: return int(original.length + 1);
    case 3: return 0;
    default: return 70_000;
  }
}

function checkStatus(status: number, what: string): void {
  assert.ok(Number.isInteger(status), `${what}: non-integer ${status}`);
  if (status < 0) assert.ok(KNOWN.has(status), `${what}: unknown status ${status}`);
}

const Fuzz = suite('lz4 fuzz');

Fuzz(`decodes ${BLOCK_CASES} random and mutated blocks to data or a known status, guards intact`, () => {
  let ok = 0;
  for (let i = 0; i < BLOCK_CASES; i++) {
    const sample = pick(blocks);
    const intact = rand() < 0.05;
    const input = intact ? sample.encoded : mutate(sample.encoded, false);
    const cap = pickCap(sample.original);
    const what = `block case ${i} (seed ${SEED})`;
    const r = h.decompressBlock(input, cap, { srcAtEnd: rand() < 0.5 });
    checkStatus(r.status, what);
    if (r.status >= 0) ok++;
    if (intact) {
      if (cap >= sample.original.length) {
        assert.is(r.status, sample.original.length, what);
        assert.ok(Buffer.compare(r.output!, sample.original) === 0, `${what}: bytes`);
      } else {
        assert.is(r.status, OUTPUT_TOO_SMALL, what);
      }
    }
  }
  console.log(`  blocks: ${ok} of ${BLOCK_CASES} decoded to some data`);
});

Fuzz(`decodes ${FRAME_CASES} random and mutated frames to data or a known status, guards intact`, () => {
  let ok = 0;
  for (let i = 0; i < FRAME_CASES; i++) {
    const sample = pick(frames);
    const intact = rand() < 0.05;
    const input = intact ? sample.encoded : mutate(sample.encoded, true);
    if (!intact && rand() < 0.5) fixHeaderChecksum(input);
    const cap = pickCap(sample.original);
    const what = `frame case ${i} (seed ${SEED})`;
    const r = h.decompressFrame(input, cap, { srcAtEnd: rand() < 0.5 });
    checkStatus(r.status, what);
    if (r.status >= 0) ok++;
    const size = h.frameContentSize(input);
    assert.ok(size === -1 || size >= 0 || KNOWN.has(size), `${what}: content size ${size}`);
    if (intact) {
      if (cap >= sample.original.length) {
        assert.is(r.status, sample.original.length, what);
        assert.ok(Buffer.compare(r.output!, sample.original) === 0, `${what}: bytes`);
      } else {
        assert.is(r.status, OUTPUT_TOO_SMALL, what);
      }
    }
  }
  console.log(`  frames: ${ok} of ${FRAME_CASES} decoded to some data`);
});

Fuzz(`compresses ${COMPRESS_CASES} inputs into random capacities: a fit round-trips, else OUTPUT_TOO_SMALL`, () => {
  for (let i = 0; i < COMPRESS_CASES; i++) {
    const original = makeInput();
    const what = `compress case ${i} (seed ${SEED})`;
    const frame = rand() < 0.5;
    const flags = int(16) & ~F_BLOCK_4MIB;
    const full = frame ? h.compressFrame(original, flags) : h.compressBlock(original);
    assert.ok(full.status > 0, `${what}: ${full.status}`);
    const cap = int(full.status + 8);
    const r = frame ? h.compressFrame(original, flags, cap) : h.compressBlock(original, cap);
    if (cap >= full.status) {
      assert.is(r.status, full.status, `${what}: same size at cap ${cap}`);
      const d = frame
        ? h.decompressFrame(r.output!, original.length)
        : h.decompressBlock(r.output!, original.length);
      assert.ok(d.output && Buffer.compare(d.output, original) === 0, `${what}: round trip`);
    } else {
      assert.is(r.status, OUTPUT_TOO_SMALL, `${what}: cap ${cap} < ${full.status}`);
    }
  }
});

Fuzz.run();
