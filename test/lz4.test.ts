/**
 * The public `lz4` namespace (src/lz4.ts): round trips, interop with lz4-napi, lz4js and the
 * reference `lz4` CLI, one crafted input per Lz4Error code, every argument and option check, and
 * two worker threads using the API at once.
 *
 * This file is also the workers' entry: run through test/helpers/ts-worker.ts with
 * `workerData.role === WORKER_ROLE`, it runs the shared workload instead of defining suites.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as napi from 'lz4-napi';
// @ts-expect-error: lz4js ships no types
import lz4js from 'lz4js';
// @ts-expect-error: lz4js ships no types
import lz4jsXxh from 'lz4js/xxh32.js';
import { lz4, type CacheError } from '../src/index.js';
import { Lz4Error, type Lz4ErrorCode } from '../src/lz4.js';
import { englishText, jsonText } from './core/lz4-harness.js';
import { prng, randomBytes } from './helpers/prng.js';
import { tsWorker } from './helpers/ts-worker.js';

const WORKER_ROLE = 'lz4-concurrency';

/**
 * The workload the concurrency test runs on each thread: round trips of every API over inputs
 * of 1 B .. 1.5 MiB (so the codec memory grows mid-run), checked as it goes. Returns a digest of
 * every compressed output, which must equal the single-threaded run's.
 */
function workload(seed: number, rounds: number): string {
  const rand = prng(seed);
  const hash = createHash('sha256');
  for (let i = 0; i < rounds; i++) {
    const size = i === rounds - 1 ? 1536 << 10 : 1 + ((rand() * rand() * 300_000) | 0);
    const data = i % 2 === 0 ? jsonText(rand, size) : englishText(rand, size);
    const block = lz4.compress(data);
    const frame = lz4.compressFrame(data, { contentSize: i % 3 !== 0, blockChecksum: i % 4 === 0 });
    if (Buffer.compare(lz4.decompress(block, data.length), data) !== 0) throw new Error(`block round ${i} differs`);
    if (Buffer.compare(lz4.decompressFrame(frame), data) !== 0) throw new Error(`frame round ${i} differs`);
    hash.update(block).update(frame);
  }
  return hash.digest('hex');
}

if (!isMainThread && workerData?.role === WORKER_ROLE) {
  const { seed, rounds, go } = workerData as { seed: number; rounds: number; go: Int32Array };
  parentPort!.postMessage({ ready: true });
  Atomics.wait(go, 0, 0); // start together with the other worker
  parentPort!.postMessage({ digest: workload(seed, rounds) });
} else {
  defineSuites();
}

function defineSuites(): void {
  const LZ4_CLI = '/usr/bin/lz4';
  const HAS_CLI = existsSync(LZ4_CLI);
  if (!HAS_CLI) console.log(`lz4.test: ${LZ4_CLI} not found, skipping the lz4 CLI interop cases`);

  /** Runs the lz4 CLI on `input` (stdin, or a file when `asFile`) and returns stdout. */
  function lz4Cli(args: string[], input: Uint8Array, asFile = false): Buffer {
    let dir: string | undefined;
    const argv = [...args];
    if (asFile) {
      dir = mkdtempSync(join(tmpdir(), 'meshcache-lz4-'));
      writeFileSync(join(dir, 'in'), input);
      argv.push(join(dir, 'in'));
    }
    try {
      const r = spawnSync(LZ4_CLI, argv, { input: asFile ? undefined : input, maxBuffer: 64 << 20 });
      if (r.status !== 0) throw new Error(`lz4 ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
      return r.stdout;
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }

  function eqBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
    assert.is(actual.length, expected.length, `${what}: length`);
    assert.ok(Buffer.compare(actual, expected) === 0, `${what}: bytes differ`);
  }

  /** Asserts that `fn` throws an Lz4Error with `code`, and returns it. */
  function throwsLz4(fn: () => unknown, code: Lz4ErrorCode, what: string): Lz4Error {
    try {
      fn();
    } catch (err) {
      assert.instance(err, Lz4Error, `${what}: an Lz4Error (got ${String(err)})`);
      const e = err as Lz4Error;
      assert.is(e.code, code, `${what}: code (message: ${e.message})`);
      assert.ok(e.status <= -20 && e.status >= -27, `${what}: status ${e.status}`);
      assert.is(e.name, 'Lz4Error');
      return e;
    }
    assert.unreachable(`${what}: did not throw`);
    throw new Error('unreachable');
  }

  /** Asserts that `fn` throws `Type` with `code` and exactly `message`. */
  function throwsArg(fn: () => unknown, Type: typeof TypeError | typeof RangeError, code: string, message: string | RegExp): void {
    try {
      fn();
    } catch (err) {
      assert.instance(err, Type, `${String(message)}: ${String(err)}`);
      assert.is((err as CacheError).code, code, String(message));
      const text = (err as Error).message;
      if (typeof message === 'string') assert.is(text, message);
      else assert.match(text, message);
      return;
    }
    assert.unreachable(`did not throw ${String(message)}`);
  }

  const withSizePrefix = (block: Uint8Array, size: number) => {
    const out = Buffer.alloc(4 + block.length);
    out.writeUInt32LE(size, 0);
    out.set(block, 4);
    return out;
  };

  const rand = prng(0x1234_5678);
  const CORPUS: Array<[string, Uint8Array]> = [
    ['0 B', new Uint8Array(0)],
    ['1 B', Uint8Array.of(0x41)],
    ['random 100 KiB', randomBytes(rand, 100 << 10)],
    ['English text 200 KiB', englishText(rand, 200 << 10)],
    ['JSON 64 KiB', jsonText(rand, 64 << 10)],
    ['zeros 300 KiB', new Uint8Array(300 << 10)],
  ];
  const BIG = (() => {
    // 4 MiB: JSON with a random 64 KiB run in the middle, so blocks of both kinds appear.
    const big = new Uint8Array(4 << 20);
    const json = jsonText(prng(7), 1 << 20);
    for (let at = 0; at < big.length; at += json.length) big.set(json.subarray(0, big.length - at), at);
    big.set(randomBytes(prng(8), 64 << 10), 2 << 20);
    return big;
  })();

  // ─── compress / decompress (blocks) ─────────────────────────────────────────────────────

  const Block = suite('lz4.compress / lz4.decompress');

  Block('round-trips 0 B, 1 B, 100 KiB random, 200 KiB text, 64 KiB JSON and 300 KiB zeros', () => {
    for (const [name, data] of CORPUS) {
      const block = lz4.compress(data);
      assert.ok(Buffer.isBuffer(block), `${name}: a Buffer`);
      assert.ok(block.length <= lz4.compressBound(data.length), `${name}: within compressBound`);
      eqBytes(lz4.decompress(block, data.length), data, name);
    }
  });

  Block('round-trips 4 MiB of mixed JSON and random bytes, compressing it under 40 %', () => {
    const block = lz4.compress(BIG);
    assert.ok(block.length < BIG.length * 0.4, `ratio ${block.length / BIG.length}`);
    eqBytes(lz4.decompress(block, BIG.length), BIG, '4 MiB');
  });

  Block('accepts a Buffer and a Uint8Array view at an offset into a larger buffer', () => {
    const backing = new Uint8Array(1000).fill(7);
    const text = Buffer.from('abcdefgh'.repeat(40));
    backing.set(text, 100);
    const view = backing.subarray(100, 100 + text.length);
    eqBytes(lz4.compress(view), lz4.compress(text), 'same block');
    eqBytes(lz4.decompress(lz4.compress(view), 320), text, 'round trip');
  });

  Block('returns Buffers that own their memory (not views of the codec memory)', () => {
    const a = lz4.compress(Buffer.from('x'.repeat(100)));
    const copy = Buffer.from(a);
    lz4.compress(randomBytes(prng(3), 5000));
    eqBytes(a, copy, 'unchanged by the next call');
    assert.not.ok(a.buffer instanceof SharedArrayBuffer, 'not shared');
  });

  Block('decodes with maxOutputBytes 2^31 - 1, including 1 MiB of zeros at about 255:1 (the densest LZ4 gets)', () => {
    const data = jsonText(prng(4), 64 << 10);
    eqBytes(lz4.decompress(lz4.compress(data), 2 ** 31 - 1), data, 'generous bound');
    const zeros = new Uint8Array(1 << 20);
    const dense = lz4.compress(zeros);
    assert.ok(zeros.length / dense.length > 250, `ratio ${zeros.length / dense.length}`);
    eqBytes(lz4.decompress(dense, 2 ** 31 - 1), zeros, 'zeros, generous bound');
    eqBytes(lz4.decompressFrame(lz4.compressFrame(zeros, { contentSize: false, blockSize: '4mb' })), zeros, 'zeros, unsized frame');
  });

  Block('writes blocks lz4-napi and lz4js decode, and decodes theirs', () => {
    for (const [name, data] of CORPUS) {
      const ours = lz4.compress(data);
      eqBytes(napi.uncompressSync(withSizePrefix(ours, data.length)), data, `${name} via lz4-napi`);
      const out = new Uint8Array(data.length);
      assert.is(lz4js.decompressBlock(ours, out, 0, ours.length, 0), data.length, `${name} via lz4js: size`);
      eqBytes(out, data, `${name} via lz4js`);

      // lz4-napi's compressSync writes a u32 LE decoded-size prefix before the raw block.
      const prefixed = napi.compressSync(Buffer.from(data));
      eqBytes(lz4.decompress(prefixed.subarray(4), prefixed.readUInt32LE(0)), data, `${name} from lz4-napi`);
      if (data.length === 0) continue; // lz4js writes nothing for 0 B
      const js = new Uint8Array(lz4js.compressBound(data.length));
      const n = lz4js.compressBlock(data, js, 0, data.length, new Uint32Array(1 << 16));
      if (n > 0) eqBytes(lz4.decompress(js.subarray(0, n), data.length), data, `${name} from lz4js`);
    }
  });

  Block.run();

  // ─── compressFrame / decompressFrame ────────────────────────────────────────────────────

  const Frame = suite('lz4.compressFrame / lz4.decompressFrame');

  const FRAME_OPTIONS: lz4.CompressFrameOptions[] = [
    {},
    { contentChecksum: false, contentSize: false },
    { blockSize: '4mb', blockChecksum: true },
    { contentSize: false, blockChecksum: true },
  ];

  Frame('round-trips the corpus and 4 MiB under every option combination tried', () => {
    for (const options of FRAME_OPTIONS) {
      for (const [name, data] of [...CORPUS, ['4 MiB mixed', BIG] as [string, Uint8Array]]) {
        const frame = lz4.compressFrame(data, options);
        eqBytes(lz4.decompressFrame(frame), data, `${name} ${JSON.stringify(options)}`);
      }
    }
  });

  Frame('writes the header the options ask for: FLG, BD, content size and checksum', () => {
    const data = Buffer.from('hello, frame');
    const d = lz4.compressFrame(data);
    assert.is(d.readUInt32LE(0), 0x184d2204, 'magic');
    assert.is(d[4], 0x40 | 0x20 | 0x08 | 0x04, 'FLG: version 01, independent, content size, content checksum');
    assert.is(d[5], 4 << 4, 'BD: 64 KiB');
    assert.is(Number(d.readBigUInt64LE(6)), data.length, 'content size');
    assert.is(d.readUInt32LE(d.length - 4), lz4jsXxh.hash(0, data, 0, data.length) >>> 0, 'content checksum');
    const bare = lz4.compressFrame(data, { contentChecksum: false, contentSize: false, blockSize: '4mb', blockChecksum: true });
    assert.is(bare[4], 0x40 | 0x20 | 0x10, 'FLG: block checksum only');
    assert.is(bare[5], 7 << 4, 'BD: 4 MiB');
    assert.is(bare.length, 7 + 4 + data.length + 4 + 4, 'header, stored block + checksum, end mark');
  });

  Frame('grows the output for a 1 MiB-of-zeros frame without a content size (ratio far over 4×)', () => {
    const zeros = new Uint8Array(1 << 20);
    const frame = lz4.compressFrame(zeros, { contentSize: false });
    assert.ok(frame.length * 4 < zeros.length, 'the first guess is too small');
    eqBytes(lz4.decompressFrame(frame), zeros, 'grown');
    eqBytes(lz4.decompressFrame(frame, { maxOutputBytes: zeros.length }), zeros, 'exact bound');
  });

  Frame('decodes concatenated frames and skips skippable frames', () => {
    const a = Buffer.from('first frame '.repeat(10));
    const b = jsonText(prng(5), 3000);
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a53, 0);
    skippable.writeUInt32LE(5, 4);
    const both = Buffer.concat([lz4.compressFrame(a), skippable, lz4.compressFrame(b, { contentSize: false })]);
    eqBytes(lz4.decompressFrame(both), Buffer.concat([a, b]), 'a + b');
  });

  Frame('writes frames lz4-napi and lz4js decode, and decodes theirs', () => {
    for (const [name, data] of CORPUS) {
      for (const options of FRAME_OPTIONS) {
        const frame = lz4.compressFrame(data, options);
        const what = `${name} ${JSON.stringify(options)}`;
        eqBytes(napi.decompressFrameSync(frame), data, `${what} via lz4-napi`);
        if (!options.blockChecksum) eqBytes(lz4js.decompress(frame), data, `${what} via lz4js`);
      }
      const theirs = napi.compressFrameSync(Buffer.from(data), { contentChecksum: true, blockChecksums: true });
      eqBytes(lz4.decompressFrame(theirs), data, `${name} from lz4-napi`);
      eqBytes(lz4.decompressFrame(lz4js.compress(data)), data, `${name} from lz4js`);
    }
  });

  Frame('writes frames `lz4 -d` decodes and decodes what `lz4` writes (linked, 4 MiB, checksummed blocks)', () => {
    if (!HAS_CLI) {
      console.log('  skipped: no lz4 CLI');
      return;
    }
    const inputs: Array<[string, Uint8Array]> = [...CORPUS.slice(1), ['4 MiB mixed', BIG]];
    for (const [name, data] of inputs) {
      for (const options of FRAME_OPTIONS) {
        eqBytes(lz4Cli(['-d', '-c'], lz4.compressFrame(data, options)), data, `lz4 -d of ${name} ${JSON.stringify(options)}`);
      }
      for (const args of [['-c'], ['-c', '-BD'], ['-c', '-B7', '-BX'], ['-c', '-9']]) {
        eqBytes(lz4.decompressFrame(lz4Cli(args, data)), data, `lz4 ${args.join(' ')} of ${name}`);
      }
      const sized = lz4Cli(['-c', '--content-size'], data, true);
      assert.ok(sized[4] & 0x08, 'the CLI wrote a content size');
      eqBytes(lz4.decompressFrame(sized), data, `lz4 -c --content-size of ${name}`);
    }
  });

  Frame.run();

  // ─── Lz4Error: one crafted input per code ───────────────────────────────────────────────

  const Errors = suite('Lz4Error');

  /** A frame header (magic, FLG, BD, [content size], HC) with a correct header checksum. */
  function frameHeader(flg: number, bd: number, contentSize?: number): Buffer {
    const descriptor = Buffer.alloc(contentSize === undefined ? 2 : 10);
    descriptor[0] = flg;
    descriptor[1] = bd;
    if (contentSize !== undefined) descriptor.writeBigUInt64LE(BigInt(contentSize), 2);
    const magic = Buffer.alloc(4);
    magic.writeUInt32LE(0x184d2204, 0);
    const hc = (lz4jsXxh.hash(0, descriptor, 0, descriptor.length) >>> 8) & 0xff;
    return Buffer.concat([magic, descriptor, Buffer.of(hc)]);
  }
  const END_MARK = Buffer.alloc(4);
  const text = Buffer.from('the quick brown fox jumps over the lazy dog; '.repeat(30));

  Errors('ERR_LZ4_MALFORMED: a block whose token promises a literal that is missing, and a reserved FLG bit', () => {
    throwsLz4(() => lz4.decompress(Uint8Array.of(0x10), 100), 'ERR_LZ4_MALFORMED', 'missing literal');
    throwsLz4(() => lz4.decompress(lz4.compress(text).subarray(0, 20), text.length), 'ERR_LZ4_MALFORMED', 'cut block');
    throwsLz4(() => lz4.decompressFrame(Buffer.concat([frameHeader(0x60 | 0x02, 0x40), END_MARK])), 'ERR_LZ4_MALFORMED', 'FLG bit 1');
  });

  Errors('ERR_LZ4_MALFORMED: a frame holding more bytes than its header declares', () => {
    const honest = lz4.compressFrame(text, { contentChecksum: false });
    const liar = Buffer.concat([frameHeader(honest[4], honest[5], text.length - 1), honest.subarray(15)]);
    const e = throwsLz4(() => lz4.decompressFrame(liar), 'ERR_LZ4_MALFORMED', 'declared size too small');
    assert.match(e.message, /more bytes than it declares/);
  });

  Errors('ERR_LZ4_OUTPUT_TOO_SMALL: a 1000 B block with maxOutputBytes 999, and a frame over options.maxOutputBytes', () => {
    const block = lz4.compress(new Uint8Array(1000));
    const e = throwsLz4(() => lz4.decompress(block, 999), 'ERR_LZ4_OUTPUT_TOO_SMALL', 'block');
    assert.match(e.message, /maxOutputBytes \(999\)/);
    eqBytes(lz4.decompress(block, 1000), new Uint8Array(1000), 'exact bound');
    throwsLz4(() => lz4.decompressFrame(lz4.compressFrame(text), { maxOutputBytes: text.length - 1 }),
      'ERR_LZ4_OUTPUT_TOO_SMALL', 'sized frame');
    throwsLz4(() => lz4.decompressFrame(lz4.compressFrame(text, { contentSize: false }), { maxOutputBytes: text.length - 1 }),
      'ERR_LZ4_OUTPUT_TOO_SMALL', 'unsized frame');
    throwsLz4(() => lz4.decompressFrame(lz4.compressFrame(text), { maxOutputBytes: 0 }), 'ERR_LZ4_OUTPUT_TOO_SMALL', 'bound 0');
    eqBytes(lz4.decompressFrame(lz4.compressFrame(new Uint8Array(0)), { maxOutputBytes: 0 }), new Uint8Array(0), 'empty, bound 0');
  });

  Errors('ERR_LZ4_OUTPUT_TOO_SMALL: a 20 B frame declaring 1 TiB is refused before reserving anything', () => {
    const huge = Buffer.concat([frameHeader(0x60 | 0x08, 0x40, 2 ** 40), END_MARK]);
    const e = throwsLz4(() => lz4.decompressFrame(huge), 'ERR_LZ4_OUTPUT_TOO_SMALL', '1 TiB');
    assert.match(e.message, /declares 1099511627776 bytes, maxOutputBytes is 1073741824/);
  });

  Errors('ERR_LZ4_CHECKSUM: a flipped content checksum, block checksum or header checksum', () => {
    const frame = lz4.compressFrame(text, { blockChecksum: true });
    for (const [what, at] of [['content', frame.length - 1], ['block', frame.length - 9], ['header', 14]] as const) {
      const bad = Buffer.from(frame);
      bad[at] ^= 0x01;
      throwsLz4(() => lz4.decompressFrame(bad), 'ERR_LZ4_CHECKSUM', what);
    }
  });

  Errors('ERR_LZ4_UNSUPPORTED: a legacy frame, frame version 00 and a dictionary id', () => {
    const legacy = Buffer.alloc(12);
    legacy.writeUInt32LE(0x184c2102, 0);
    throwsLz4(() => lz4.decompressFrame(legacy), 'ERR_LZ4_UNSUPPORTED', 'legacy');
    throwsLz4(() => lz4.decompressFrame(Buffer.concat([frameHeader(0x20, 0x40), END_MARK])), 'ERR_LZ4_UNSUPPORTED', 'version 00');
    const dict = frameHeader(0x60 | 0x01, 0x40); // dictID bit, but no dictID bytes in the checksum yet
    const withId = Buffer.concat([dict.subarray(0, 6), Buffer.of(1, 2, 3, 4)]);
    const hc = (lz4jsXxh.hash(0, withId, 4, 6) >>> 8) & 0xff;
    throwsLz4(() => lz4.decompressFrame(Buffer.concat([withId, Buffer.of(hc), END_MARK])), 'ERR_LZ4_UNSUPPORTED', 'dictionary id');
  });

  Errors('ERR_LZ4_BAD_OFFSET: a match 2 bytes back after 1 literal, and offset 0', () => {
    // token (1 literal, match 4) · 'a' · offset 2 · last literals
    throwsLz4(() => lz4.decompress(Uint8Array.of(0x10, 0x61, 0x02, 0x00, 0x50, 97, 98, 99, 100, 101), 100),
      'ERR_LZ4_BAD_OFFSET', 'before the start');
    throwsLz4(() => lz4.decompress(Uint8Array.of(0x10, 0x61, 0x00, 0x00, 0x50, 97, 98, 99, 100, 101), 100),
      'ERR_LZ4_BAD_OFFSET', 'offset 0');
  });

  Errors('ERR_LZ4_BAD_MAGIC: plain text and a gzip stream given to decompressFrame', () => {
    throwsLz4(() => lz4.decompressFrame(Buffer.from('hello world')), 'ERR_LZ4_BAD_MAGIC', 'text');
    throwsLz4(() => lz4.decompressFrame(Buffer.from('1f8b0800000000000003', 'hex')), 'ERR_LZ4_BAD_MAGIC', 'gzip');
  });

  Errors('ERR_LZ4_TRUNCATED: a frame cut at every length from 0 to its size - 1', () => {
    const frame = lz4.compressFrame(text, { blockChecksum: true });
    for (let n = 0; n < frame.length; n++) {
      throwsLz4(() => lz4.decompressFrame(frame.subarray(0, n)), 'ERR_LZ4_TRUNCATED', `cut at ${n}`);
    }
  });

  Errors('has a distinct status for each of the 7 codes, taken from the core', () => {
    const statuses = new Map<string, number>();
    const record = (fn: () => unknown, code: Lz4ErrorCode) => statuses.set(code, throwsLz4(fn, code, code).status);
    record(() => lz4.decompress(Uint8Array.of(0x10), 10), 'ERR_LZ4_MALFORMED');
    record(() => lz4.decompress(lz4.compress(text), 10), 'ERR_LZ4_OUTPUT_TOO_SMALL');
    record(() => lz4.decompressFrame(Buffer.concat([frameHeader(0x60, 0x40).fill(0, 6, 7), END_MARK])), 'ERR_LZ4_CHECKSUM');
    record(() => lz4.decompressFrame(Buffer.concat([frameHeader(0x20, 0x40), END_MARK])), 'ERR_LZ4_UNSUPPORTED');
    record(() => lz4.decompress(Uint8Array.of(0x10, 0x61, 0x00, 0x00, 0x50, 97, 98, 99, 100, 101), 100), 'ERR_LZ4_BAD_OFFSET');
    record(() => lz4.decompressFrame(Buffer.from('nope')), 'ERR_LZ4_BAD_MAGIC');
    record(() => lz4.decompressFrame(new Uint8Array(0)), 'ERR_LZ4_TRUNCATED');
    assert.equal([...statuses.values()].sort((a, b) => b - a), [-20, -21, -22, -23, -24, -25, -27]);
  });

  Errors.run();

  // ─── Arguments and options ──────────────────────────────────────────────────────────────

  const Args = suite('lz4 argument and option checks');

  Args('throws TypeError ERR_INVALID_ARG for inputs that are not Uint8Arrays', () => {
    const wrong: Array<[unknown, string]> = [
      ['text', 'a string'], [null, 'null'], [undefined, 'undefined undefined'], [[1, 2], 'an Array'],
      [new ArrayBuffer(4), 'an ArrayBuffer'], [new Uint16Array(2), 'a Uint16Array'], [42, 'number 42'],
    ];
    for (const [value, got] of wrong) {
      const v = value as Uint8Array;
      throwsArg(() => lz4.compress(v), TypeError, 'ERR_INVALID_ARG', `input must be a Uint8Array or Buffer, got ${got}`);
      throwsArg(() => lz4.compressFrame(v), TypeError, 'ERR_INVALID_ARG', `input must be a Uint8Array or Buffer, got ${got}`);
      throwsArg(() => lz4.decompress(v, 10), TypeError, 'ERR_INVALID_ARG', `block must be a Uint8Array or Buffer, got ${got}`);
      throwsArg(() => lz4.decompressFrame(v), TypeError, 'ERR_INVALID_ARG', `frame must be a Uint8Array or Buffer, got ${got}`);
    }
  });

  Args('throws for a maxOutputBytes that is not an integer from 0 to 2^31 - 1', () => {
    const block = lz4.compress(text);
    const message = 'maxOutputBytes must be an integer from 0 to 2147483647';
    for (const bad of [-1, 1.5, 2 ** 31, NaN, Infinity]) {
      throwsArg(() => lz4.decompress(block, bad), RangeError, 'ERR_INVALID_ARG', `${message}, got ${bad}`);
    }
    throwsArg(() => lz4.decompress(block, '10' as unknown as number), TypeError, 'ERR_INVALID_ARG', `${message}, got a string`);
    throwsArg(() => lz4.decompress(block, undefined as unknown as number), TypeError, 'ERR_INVALID_ARG', `${message}, got undefined undefined`);
  });

  Args('compressBound(n) is n + n/255 + 16 and throws for n outside 0..MAX_INPUT_BYTES', () => {
    assert.is(lz4.compressBound(0), 16);
    assert.is(lz4.compressBound(65536), 65536 + 257 + 16);
    assert.is(lz4.compressBound(lz4.MAX_INPUT_BYTES), lz4.MAX_INPUT_BYTES + Math.floor(lz4.MAX_INPUT_BYTES / 255) + 16);
    const message = `n must be an integer from 0 to ${lz4.MAX_INPUT_BYTES}`;
    throwsArg(() => lz4.compressBound(lz4.MAX_INPUT_BYTES + 1), RangeError, 'ERR_INVALID_ARG', `${message}, got ${lz4.MAX_INPUT_BYTES + 1}`);
    throwsArg(() => lz4.compressBound(-1), RangeError, 'ERR_INVALID_ARG', `${message}, got -1`);
    throwsArg(() => lz4.compressBound('1' as unknown as number), TypeError, 'ERR_INVALID_ARG', `${message}, got a string`);
  });

  Args('compressFrame checks options, each option with its own message', () => {
    const cases: Array<[unknown, typeof TypeError, string]> = [
      [null, TypeError, 'options must be an object, got null'],
      ['fast', TypeError, 'options must be an object, got a string'],
      [[], TypeError, 'options must be an object, got an Array'],
      [{ contentChecksum: 1 }, TypeError, 'options.contentChecksum must be a boolean, got number 1'],
      [{ contentSize: 'yes' }, TypeError, 'options.contentSize must be a boolean, got a string'],
      [{ blockChecksum: null }, TypeError, 'options.blockChecksum must be a boolean, got null'],
      [{ blockSize: 65536 }, TypeError, "options.blockSize must be '64kb' or '4mb', got number 65536"],
      [{ blockSize: '1mb' }, RangeError, "options.blockSize must be '64kb' or '4mb', got '1mb'"],
      [{ blockChecksums: true }, TypeError,
        'options.blockChecksums must be one of the known options (contentChecksum, contentSize, blockSize, blockChecksum)'],
    ];
    for (const [options, Type, message] of cases) {
      throwsArg(() => lz4.compressFrame(text, options as lz4.CompressFrameOptions), Type, 'ERR_INVALID_OPTION', message);
    }
    // undefined means "the default", as if absent.
    eqBytes(lz4.compressFrame(text, { contentChecksum: undefined, blockSize: undefined }), lz4.compressFrame(text), 'undefined');
  });

  Args('decompressFrame checks options.maxOutputBytes and unknown options', () => {
    const frame = lz4.compressFrame(text);
    const message = 'options.maxOutputBytes must be an integer from 0 to 2147483647';
    for (const bad of [-1, 0.5, 2 ** 31]) {
      throwsArg(() => lz4.decompressFrame(frame, { maxOutputBytes: bad }), RangeError, 'ERR_INVALID_OPTION', `${message}, got ${bad}`);
    }
    throwsArg(() => lz4.decompressFrame(frame, { maxOutputBytes: '1mb' as unknown as number }), TypeError, 'ERR_INVALID_OPTION',
      `${message}, got a string`);
    throwsArg(() => lz4.decompressFrame(frame, { maxSize: 10 } as lz4.DecompressFrameOptions), TypeError, 'ERR_INVALID_OPTION',
      'options.maxSize must be one of the known options (maxOutputBytes)');
    throwsArg(() => lz4.decompressFrame(frame, 5 as unknown as lz4.DecompressFrameOptions), TypeError, 'ERR_INVALID_OPTION',
      'options must be an object, got number 5');
  });

  Args.run();

  // ─── Threads ────────────────────────────────────────────────────────────────────────────

  const Threads = suite('lz4 in worker threads');

  Threads('two workers compressing and decompressing at once get the main thread\'s exact outputs', async () => {
    const rounds = 12;
    const seeds = [101, 202];
    const go = new Int32Array(new SharedArrayBuffer(4));
    const workers: Worker[] = seeds.map((seed) =>
      tsWorker(new URL(import.meta.url), { workerData: { role: WORKER_ROLE, seed, rounds, go } }));
    try {
      const digests = workers.map((w) => new Promise<string>((resolve, reject) => {
        w.on('message', (m: { digest?: string }) => m.digest && resolve(m.digest));
        w.on('error', reject);
        w.on('exit', (code) => reject(new Error(`worker exited ${code} before answering`)));
      }));
      await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
      })));
      Atomics.store(go, 0, 1);
      Atomics.notify(go, 0);
      const expected = seeds.map((seed) => workload(seed, rounds));
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('workers timed out after 20 s')), 20_000).unref());
      assert.equal(await Promise.race([Promise.all(digests), timeout]), expected);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });

  Threads.run();
}
