/**
 * Test harness for the LZ4 / xxh32 codec of the WebAssembly core.
 *
 * It instantiates the core module (`build/core.wasm`, through the host's loader) over a shared
 * `WebAssembly.Memory` like the real host does.
 *
 * Every call goes through `call()`, which places its buffers at or above 16 MiB (the core's own
 * layout lives below), surrounds the work area and the output with GUARD_BYTES of GUARD_VALUE,
 * and after the call checks that the guards and the input are intact. With `srcAtEnd` the input
 * ends exactly at the end of linear memory, so any read past it traps (and the test fails).
 */
import { coreModule } from '../../src/core/wasm.js';
import type { CodecExports } from '../../src/core/codec.js';

const PAGE_BYTES = 65536;
const INITIAL_PAGES = 256;
const MAXIMUM_PAGES = 65536;
/** Lowest address the harness uses: the core's own layout lives below. */
export const REGION_BASE = 16 << 20;
export const GUARD_BYTES = 4096;
export const GUARD_VALUE = 0xa5;
/** Room reserved for the compressor's work area (lz4WorkBytes() must fit). */
const WORK_RESERVE = 64 << 10;

/** The codec's exports, as the host sees them (the host's own interface). */
export type Lz4Exports = CodecExports;

export interface CallResult {
  /** The function's return value: a byte count, or a negative status. */
  status: number;
  /** A copy of the first `status` output bytes when status >= 0, else null. */
  output: Uint8Array | null;
}

export interface CallOptions {
  /** Place the input so that it ends exactly at the end of linear memory. */
  srcAtEnd?: boolean;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

export class Lz4Harness {
  readonly exports: Lz4Exports;
  readonly memory: WebAssembly.Memory;
  /** Which .wasm file was loaded. */
  readonly source: string;
  private view: Uint8Array;
  private readonly statusNames = new Map<number, string>();
  private readonly guard = new Uint8Array(GUARD_BYTES).fill(GUARD_VALUE);
  readonly workBytes: number;

  constructor() {
    const module = coreModule();
    this.source = 'build/core.wasm';
    this.memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES, shared: true });
    const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      imports[imp.module] ??= {};
      imports[imp.module][imp.name] =
        imp.kind === 'memory'
          ? this.memory
          : () => {
              throw new Error(`wasm called ${imp.module}.${imp.name}: a broken invariant`);
            };
    }
    const instance = new WebAssembly.Instance(module, imports);
    const raw = instance.exports as Record<string, unknown>;
    for (const [name, value] of Object.entries(raw)) {
      if (name.startsWith('LZ4_ERR_') && value instanceof WebAssembly.Global) {
        this.statusNames.set(value.value as number, name);
      }
    }
    this.exports = raw as unknown as Lz4Exports;
    this.view = new Uint8Array(this.memory.buffer);
    this.workBytes = this.exports.lz4WorkBytes();
    if (this.workBytes > WORK_RESERVE) throw new Error(`lz4WorkBytes() ${this.workBytes} > ${WORK_RESERVE}`);
  }

  /** Value of an exported constant (e.g. 'LZ4_ERR_MALFORMED', 'LZ4_FRAME_CONTENT_SIZE'). */
  constant(name: string): number {
    const g = (this.exports as unknown as Record<string, unknown>)[name];
    if (!(g instanceof WebAssembly.Global)) throw new Error(`no exported constant ${name}`);
    return g.value as number;
  }

  /** Name of a negative status, from the module's own LZ4_ERR_* exports. */
  statusName(status: number): string {
    return this.statusNames.get(status) ?? `unknown status ${status}`;
  }

  /** All status codes the module exports. */
  statusCodes(): number[] {
    return [...this.statusNames.keys()];
  }

  /** A current view over the whole memory (refreshed after growth). */
  u8(): Uint8Array {
    if (this.view.byteLength !== this.memory.buffer.byteLength) this.view = new Uint8Array(this.memory.buffer);
    return this.view;
  }

  private ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
  }

  private fillGuard(at: number): void {
    this.u8().set(this.guard, at);
  }

  private checkGuard(at: number, what: string): void {
    const got = this.u8().subarray(at, at + GUARD_BYTES);
    if (Buffer.compare(got, this.guard) !== 0) {
      const i = got.findIndex((b) => b !== GUARD_VALUE);
      throw new Error(`guard ${what} overwritten at +${i} (byte ${got[i]})`);
    }
  }

  /**
   * Runs `fn(src, srcLen, dst, dstCap, work)` with `input` in memory and an output area of
   * `dstCap` bytes, checking guards and input afterwards.
   */
  call(
    fn: (src: number, srcLen: number, dst: number, dstCap: number, work: number) => number,
    input: Uint8Array,
    dstCap: number,
    options: CallOptions = {},
  ): CallResult {
    const work = REGION_BASE + GUARD_BYTES;
    const dst = align(work + WORK_RESERVE + GUARD_BYTES, 64) + GUARD_BYTES;
    const dstEnd = dst + dstCap;
    let src = align(dstEnd + GUARD_BYTES, 64);
    if (options.srcAtEnd) {
      this.ensure(src + input.length);
      src = this.memory.buffer.byteLength - input.length;
    } else {
      this.ensure(src + input.length);
    }
    const mem = this.u8();
    this.fillGuard(work - GUARD_BYTES);
    this.fillGuard(work + this.workBytes);
    this.fillGuard(dst - GUARD_BYTES);
    this.fillGuard(dstEnd);
    mem.set(input, src);
    const status = fn(src, input.length, dst, dstCap, work);
    if (!Number.isInteger(status)) throw new Error(`non-integer return ${status}`);
    this.checkGuard(work - GUARD_BYTES, 'before work');
    this.checkGuard(work + this.workBytes, 'after work');
    this.checkGuard(dst - GUARD_BYTES, 'before dst');
    this.checkGuard(dstEnd, 'after dst');
    if (Buffer.compare(this.u8().subarray(src, src + input.length), input) !== 0) {
      throw new Error('input was modified');
    }
    if (status > dstCap) throw new Error(`returned ${status} > dstCap ${dstCap}`);
    return { status, output: status >= 0 ? this.u8().slice(dst, dst + status) : null };
  }

  compressBlock(input: Uint8Array, dstCap = this.exports.lz4CompressBound(input.length) >>> 0, options?: CallOptions) {
    return this.call((s, n, d, c, w) => this.exports.lz4CompressBlock(s, n, d, c, w), input, dstCap, options);
  }

  decompressBlock(input: Uint8Array, dstCap: number, options?: CallOptions) {
    return this.call((s, n, d, c) => this.exports.lz4DecompressBlock(s, n, d, c), input, dstCap, options);
  }

  compressFrame(input: Uint8Array, flags = 0, dstCap?: number, options?: CallOptions) {
    const cap = dstCap ?? this.exports.lz4FrameBound(input.length, this.exports.lz4FrameBlockMaxBytes(flags)) >>> 0;
    return this.call((s, n, d, c, w) => this.exports.lz4CompressFrame(s, n, d, c, w, flags), input, cap, options);
  }

  decompressFrame(input: Uint8Array, dstCap: number, options?: CallOptions) {
    return this.call((s, n, d, c) => this.exports.lz4DecompressFrame(s, n, d, c), input, dstCap, options);
  }

  frameContentSize(input: Uint8Array): number {
    let size = NaN;
    this.call((s, n) => ((size = this.exports.lz4FrameContentSize(s, n)), 0), input, 0);
    return size;
  }

  xxh32(input: Uint8Array, seed = 0): number {
    let h = 0;
    this.call((s, n) => ((h = this.exports.xxh32(s, n, seed) >>> 0), 0), input, 0);
    return h;
  }
}

/** bench/codec.bench.ts draws its inputs through this harness, with the tests' PRNG. */
export { prng } from '../helpers/prng.js';

let shared: Lz4Harness | undefined;
/** One harness per test process (instantiating again would only cost time). */
export function lz4Harness(): Lz4Harness {
  shared ??= new Lz4Harness();
  return shared;
}

const WORDS = (
  'the of and to in is was that for it with as his on be at by had not are but from or have an they ' +
  'which one you were her all she there would their we him been has when who will more no if out so ' +
  'said what up its about into than them can only other new some could time these two may then do ' +
  'first any my now such like our over man me even most made after also did many before must through ' +
  'cache memory thread shard replica network compression eviction frequency budget latency throughput'
).split(' ');

/** English-like text: Zipf-ish word choice, punctuation, sentences. */
export function englishText(rand: () => number, n: number): Uint8Array {
  let s = '';
  while (s.length < n) {
    const words = 5 + ((rand() * 15) | 0);
    const sentence: string[] = [];
    for (let i = 0; i < words; i++) sentence.push(WORDS[Math.floor(WORDS.length * rand() * rand())]);
    const t = sentence.join(' ');
    s += t[0].toUpperCase() + t.slice(1) + (rand() < 0.2 ? ', ' : '. ');
  }
  return new TextEncoder().encode(s.slice(0, n));
}

/** JSON records like a cache would hold: repeated keys, varied values. */
export function jsonText(rand: () => number, n: number): Uint8Array {
  const records: string[] = [];
  let len = 2;
  for (let id = 1; len < n; id++) {
    const rec = JSON.stringify({
      id,
      user: `user:${(rand() * 100000) | 0}`,
      email: `person${(rand() * 5000) | 0}@example.com`,
      active: rand() < 0.7,
      score: Math.round(rand() * 1e6) / 100,
      tags: ['alpha', 'beta', 'gamma', 'delta'].filter(() => rand() < 0.5),
      createdAt: new Date(1.6e12 + Math.floor(rand() * 1e11)).toISOString(),
    });
    records.push(rec);
    len += rec.length + 1;
  }
  return new TextEncoder().encode(('[' + records.join(',') + ']').slice(0, n));
}
