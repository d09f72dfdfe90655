/**
 * LZ4 codec speed and ratio: meshcache's `lz4` vs lz4js (pure JS), lz4-napi (native, lz4_flex), gzip -1, brotli -q1.
 *
 * Inputs (deterministic): JSON records of 4 KiB and 64 KiB (the generator the codec tests use) and
 * 64 KiB of real English prose (the MDN descriptions in node_modules/typescript/lib/lib.dom.d.ts,
 * pinned by package-lock.json; a generated English-like text if it is missing, said so in the
 * output).
 *
 * Codecs, each checked to round-trip before it is timed:
 *  - meshcache block: `lz4.compress` / `lz4.decompress` (public API: one copy in, one copy out,
 *    a new Buffer per call);
 *  - meshcache block raw: the core's lz4CompressBlock / lz4DecompressBlock on data already in
 *    WebAssembly memory (no copies, no allocation): the ceiling the wrapper can approach;
 *  - meshcache frame: `lz4.compressFrame` (defaults: content size + checksum) / `lz4.decompressFrame`;
 *  - lz4-napi block (`compressSync` / `uncompressSync`, a 4-byte size prefix + block) and frame
 *    (`compressFrameSync` / `decompressFrameSync`);
 *  - lz4js block (`compressBlock` into a new array with a reused hash table, cleared per call as
 *    its frame API does: with stale entries it writes invalid blocks; `decompressBlock`) and frame
 *    (`compress` / `decompress` given the decoded size, else it allocates 4 MiB per call);
 *  - zlib gzip level 1 and brotli quality 1 (Node's zlib, synchronous).
 * Speeds are MB/s (10^6 bytes) of uncompressed data; "× lz4js" / "× lz4-napi" divide by the peer
 * of the same format (block vs block, frame vs frame; gzip and brotli vs the block peers); ratio
 * is compressed / original size. Each case keeps the best of two runs. Run: `npm run bench -- codec`
 * (about 90 s).
 */
import Benchmark from 'benchmark';
import { existsSync, readFileSync } from 'node:fs';
import { constants as zc, brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import * as napi from 'lz4-napi';
// @ts-expect-error: lz4js ships no types
import lz4js from 'lz4js';
import { lz4 } from '../src/index.js';
import { coreModule } from '../src/core/wasm.js';
import { englishText, jsonText, prng } from '../test/core/lz4-harness.js';
import { fixed, formatRatio, machine, table } from './lib/report.js';

const BENCH_OPTIONS = { maxTime: 0.35, minSamples: 5, initCount: 1 };
/** Each case is timed this many times and the fastest run kept: the others lost the CPU to a neighbour. */
const RUNS = 2;
/** Calls per benchmark.js cycle for small inputs, so the harness's own cost stays negligible. */
const batchFor = (bytes: number) => Math.max(1, Math.floor((64 << 10) / bytes));

// ─── Inputs ───────────────────────────────────────────────────────────────────────────────

/** Real English prose: the MDN descriptions in TypeScript's DOM typings (pinned by package-lock.json). */
const PROSE_SOURCE = '../node_modules/typescript/lib/lib.dom.d.ts';
const TEXT_BYTES = 64 << 10;

/**
 * 64 KiB of the doc-comment sentences of lib.dom.d.ts (lines ` * The …`), without markdown
 * emphasis, MDN links or repeated lines, joined into paragraphs of ten sentences.
 */
function englishProse(): { name: string; data: Uint8Array } {
  const path = new URL(PROSE_SOURCE, import.meta.url);
  if (existsSync(path)) {
    const seen = new Set<string>();
    const sentences: string[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const m = /^\s+\* ([A-Z][a-z].*)$/.exec(line);
      if (!m || m[1].includes('MDN Reference')) continue;
      const sentence = m[1].replace(/\*\*|`/g, '').trim();
      if (!seen.has(sentence)) sentences.push(sentence), seen.add(sentence);
    }
    const paragraphs: string[] = [];
    for (let i = 0; i < sentences.length; i += 10) paragraphs.push(sentences.slice(i, i + 10).join(' '));
    const bytes = Buffer.from(paragraphs.join('\n\n'));
    if (bytes.length >= TEXT_BYTES) return { name: 'English prose 64 KiB', data: bytes.subarray(0, TEXT_BYTES) };
  }
  console.log('(typescript/lib/lib.dom.d.ts missing: using generated English-like text instead)');
  return { name: 'English-like text 64 KiB', data: englishText(prng(3), TEXT_BYTES) };
}

const INPUTS: Array<{ name: string; data: Uint8Array }> = [
  { name: 'JSON 4 KiB', data: jsonText(prng(1), 4 << 10) },
  { name: 'JSON 64 KiB', data: jsonText(prng(2), 64 << 10) },
  englishProse(),
];

// ─── Codecs ───────────────────────────────────────────────────────────────────────────────

type Format = 'block' | 'frame' | 'other';

interface Codec {
  name: string;
  format: Format;
  /** Prepares `data`; returns compress and decompress thunks plus the compressed size. */
  prepare(data: Uint8Array): { compress: () => unknown; decompress: () => Uint8Array; compressedBytes: number };
}

/** The core's block functions over a private memory, with the data placed once. */
function rawCore() {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
  const x = new WebAssembly.Instance(coreModule(), { env: { memory } }).exports as unknown as {
    lz4CompressBlock(src: number, n: number, dst: number, cap: number, work: number): number;
    lz4DecompressBlock(src: number, n: number, dst: number, cap: number): number;
    lz4CompressBound(n: number): number;
  };
  const WORK = 1 << 20;
  const SRC = 2 << 20;
  const DST = 4 << 20;
  const BACK = 8 << 20;
  return {
    prepare(data: Uint8Array) {
      const u8 = new Uint8Array(memory.buffer);
      u8.set(data, SRC);
      const cap = x.lz4CompressBound(data.length) >>> 0;
      const compressedBytes = x.lz4CompressBlock(SRC, data.length, DST, cap, WORK);
      if (compressedBytes < 0) throw new Error(`raw compress: status ${compressedBytes}`);
      return {
        compressedBytes,
        compress: () => x.lz4CompressBlock(SRC, data.length, DST, cap, WORK),
        decompress: () => {
          const n = x.lz4DecompressBlock(DST, compressedBytes, BACK, data.length);
          return u8.subarray(BACK, BACK + n);
        },
      };
    },
  };
}

const raw = rawCore();
const lz4jsTable = new Uint32Array(1 << 16);
const BROTLI_Q1 = { params: { [zc.BROTLI_PARAM_QUALITY]: 1, [zc.BROTLI_PARAM_SIZE_HINT]: 0 } };

const CODECS: Codec[] = [
  {
    name: 'meshcache block', format: 'block', prepare(data) {
      const c = lz4.compress(data);
      return { compressedBytes: c.length, compress: () => lz4.compress(data), decompress: () => lz4.decompress(c, data.length) };
    },
  },
  {
    name: 'meshcache block raw', format: 'block', prepare: (data) => raw.prepare(data),
  },
  {
    name: 'meshcache frame', format: 'frame', prepare(data) {
      const c = lz4.compressFrame(data);
      return { compressedBytes: c.length, compress: () => lz4.compressFrame(data), decompress: () => lz4.decompressFrame(c) };
    },
  },
  {
    name: 'lz4-napi block', format: 'block', prepare(data) {
      const buf = Buffer.from(data);
      const c = napi.compressSync(buf);
      return { compressedBytes: c.length - 4, compress: () => napi.compressSync(buf), decompress: () => napi.uncompressSync(c) };
    },
  },
  {
    name: 'lz4-napi frame', format: 'frame', prepare(data) {
      const buf = Buffer.from(data);
      const c = napi.compressFrameSync(buf);
      return { compressedBytes: c.length, compress: () => napi.compressFrameSync(buf), decompress: () => napi.decompressFrameSync(c) };
    },
  },
  {
    name: 'lz4js block', format: 'block', prepare(data) {
      const compress = () => {
        lz4jsTable.fill(0);
        const dst = new Uint8Array(lz4js.compressBound(data.length));
        return dst.subarray(0, lz4js.compressBlock(data, dst, 0, data.length, lz4jsTable));
      };
      const c: Uint8Array = compress();
      return {
        compressedBytes: c.length,
        compress,
        decompress: () => {
          const out = new Uint8Array(data.length);
          return out.subarray(0, lz4js.decompressBlock(c, out, 0, c.length, 0));
        },
      };
    },
  },
  {
    name: 'lz4js frame', format: 'frame', prepare(data) {
      const c: Uint8Array = lz4js.compress(data);
      return { compressedBytes: c.length, compress: () => lz4js.compress(data), decompress: () => lz4js.decompress(c, data.length) };
    },
  },
  {
    name: 'gzip -1', format: 'other', prepare(data) {
      const c = gzipSync(data, { level: 1 });
      return { compressedBytes: c.length, compress: () => gzipSync(data, { level: 1 }), decompress: () => gunzipSync(c) };
    },
  },
  {
    name: 'brotli -q1', format: 'other', prepare(data) {
      const options = { params: { ...BROTLI_Q1.params, [zc.BROTLI_PARAM_SIZE_HINT]: data.length } };
      const c = brotliCompressSync(data, options);
      return { compressedBytes: c.length, compress: () => brotliCompressSync(data, options), decompress: () => brotliDecompressSync(c) };
    },
  },
];

// ─── Run ──────────────────────────────────────────────────────────────────────────────────

/** Calls per second of `fn` (run `batch` times per benchmark.js call): the best of RUNS runs. */
function measure(label: string, fn: () => unknown, batch: number): number {
  let best = 0;
  for (let run = 0; run < RUNS; run++) {
    const bench = new Benchmark(label, () => {
      for (let i = 0; i < batch; i++) fn();
    }, BENCH_OPTIONS);
    bench.run();
    if (bench.error) throw bench.error;
    best = Math.max(best, bench.hz * batch);
  }
  return best;
}

interface Result { input: string; codec: string; format: Format; compressMBs: number; decompressMBs: number; ratio: number }

const results: Result[] = [];
const m = machine();
console.log(`codec bench: Node ${m.node}, ${m.cpu} × ${m.cores}; each case: best of ${RUNS} benchmark.js runs of ${BENCH_OPTIONS.maxTime} s\n`);
for (const input of INPUTS) {
  const batch = batchFor(input.data.length);
  for (const codec of CODECS) {
    const p = codec.prepare(input.data);
    if (Buffer.compare(Buffer.from(p.decompress()), Buffer.from(input.data)) !== 0) {
      throw new Error(`${codec.name} does not round-trip ${input.name}`);
    }
    const mb = input.data.length / 1e6;
    const label = `${codec.name}, ${input.name}`;
    const compressMBs = measure(`compress ${label}`, p.compress, batch) * mb;
    const decompressMBs = measure(`decompress ${label}`, p.decompress, batch) * mb;
    const ratio = p.compressedBytes / input.data.length;
    results.push({ input: input.name, codec: codec.name, format: codec.format, compressMBs, decompressMBs, ratio });
    console.log(`  ${label.padEnd(44)} compress ${fixed(compressMBs, 0).padStart(6)} MB/s   decompress ${fixed(decompressMBs, 0).padStart(6)} MB/s   ratio ${ratio.toFixed(3)}`);
  }
}

/** The peer `name` of the same format as `r` (block peers for gzip and brotli). */
function peer(r: Result, name: 'lz4js' | 'lz4-napi'): Result | undefined {
  const format = r.format === 'frame' ? 'frame' : 'block';
  return results.find((x) => x.input === r.input && x.codec === `${name} ${format}`);
}

const rows = results.map((r) => {
  const js = peer(r, 'lz4js');
  const native = peer(r, 'lz4-napi');
  return [
    r.input, r.codec,
    fixed(r.compressMBs, 0), formatRatio(r.compressMBs, js?.compressMBs), formatRatio(r.compressMBs, native?.compressMBs),
    fixed(r.decompressMBs, 0), formatRatio(r.decompressMBs, js?.decompressMBs), formatRatio(r.decompressMBs, native?.decompressMBs),
    r.ratio.toFixed(3),
  ];
});
console.log(`\n${table(
  ['input', 'codec', 'compress MB/s', '× lz4js', '× lz4-napi', 'decompress MB/s', '× lz4js', '× lz4-napi', 'ratio'],
  rows,
)}`);
console.log('\n× columns: speed over the peer of the same format (block or frame; gzip and brotli against the block peers).');
