/**
 * The calling thread's view of the core's table: one instance of the module over the cache's
 * shared memory, a thread slot with its scratch area, and the key/value encoding into that
 * scratch. Every operation crosses into WebAssembly once.
 *
 * Views: the scratch area is allocated below the memory's size when this thread claims or grows
 * it, and the views are refreshed then; so the cached views always cover the scratch area even
 * after other threads grow the memory, and no operation pays for reading `memory.buffer`.
 */
import {
  coreModule, instantiateCore, type CoreExports, ST_SCRATCH, ST_NO_MEMORY, ST_TOO_LARGE,
  ST_NO_THREAD_SLOT, ST_BAD_LAYOUT, ST_BAD_CONFIG, ST_LOCK_TIMEOUT, FLAG_COMPRESSED, T_COMPRESS_NS_FROM_RESULT,
  T_DECOMPRESS_NS_FROM_RESULT,
} from './wasm.js';
import { CacheError, rangeError, typeError } from '../errors.js';
import type { ResolvedOptions } from '../config.js';

const encoder = new TextEncoder();
/** Results up to this length get a cached view (see resultView). */
const RESULT_VIEW_MAX = 1024;
/** Scratch bytes kept for values beyond the key area when a thread attaches. */
const MIN_VALUE_ROOM = 64 * 1024;

/** Turns a negative status from the core into the error a caller should see. */
export function statusError(status: number, what: string): Error {
  switch (status) {
    case ST_TOO_LARGE:
      return rangeError('ERR_VALUE_TOO_LARGE', `${what}: the entry does not fit in one shard's budget`);
    case ST_NO_MEMORY:
      return new CacheError('ERR_OUT_OF_MEMORY', `${what}: the WebAssembly memory cannot grow further`);
    case ST_NO_THREAD_SLOT:
      return new CacheError('ERR_NO_THREAD_SLOT', `${what}: all 1024 thread slots of this cache are in use`);
    case ST_BAD_LAYOUT:
      return new CacheError('ERR_INVALID_HANDLE', `${what}: the memory was not laid out by this version of meshcache`);
    case ST_LOCK_TIMEOUT:
      return new CacheError('ERR_LOCK_TIMEOUT', `${what}: a shard lock was held longer than lockTimeout; nothing was changed`);
    case ST_BAD_CONFIG:
      return new CacheError('ERR_CORE', `${what}: the core refused the configuration`);
    default:
      return new CacheError('ERR_CORE', `${what}: unexpected core status ${status}`);
  }
}

export class CoreTable {
  readonly x: CoreExports;
  readonly memory: WebAssembly.Memory;
  readonly maxKeyBytes: number;
  /** The whole memory as bytes (valid at least up to the end of the scratch area). */
  u8!: Uint8Array;
  /** The scratch area as a Buffer. */
  scratch!: Buffer;
  /** The scratch area's key area (for encodeInto). */
  #keyView!: Uint8Array;
  /** The scratch area's value area, and the same past an 8-byte prefix. */
  valueView!: Uint8Array;
  valueViewAfterPrefix!: Uint8Array;
  /** Scratch offset and capacity. */
  sp = 0;
  scap = 0;
  /** Offset of the value area in scratch (maxKeyBytes rounded up to 8): keys go before it. */
  readonly keyArea: number;
  /** Bytes the value area holds. */
  valueRoom = 0;
  /**
   * Views of scratch[start, start + len) by len, for the two starts a value can have (0, or 8
   * after a fresh-until prefix), created on first use: copying a result out then allocates only
   * the result. Dropped when the scratch area moves.
   */
  #resultViews: Array<Uint8Array | undefined> = [];
  /** Index (in 32-bit words) of this thread's result word. */
  resultIndex = 0;
  i32!: Int32Array;
  /** This thread's slot counters of time spent compressing / decompressing (ns, f64). */
  f64!: Float64Array;
  compressNsIndex = 0;
  decompressNsIndex = 0;
  /** Where the last get's value starts in scratch: 0, or past the stored bytes it inflated. */
  valueStart = 0;
  /** Where the shard headers start in the memory. */
  readonly shardsBase: number;
  /** This thread's id in the core (its thread slot + 1); lock words hold it. */
  readonly tid: number;

  constructor(memory: WebAssembly.Memory, module: WebAssembly.Module | undefined, opts: ResolvedOptions, layOut: boolean) {
    this.memory = memory;
    this.maxKeyBytes = opts.maxKeyBytes;
    this.keyArea = (opts.maxKeyBytes + 7) & ~7;
    this.x = instantiateCore(module ?? coreModule(), memory);
    if (layOut) {
      const st = this.x.init(opts.shards, opts.shardBudget, opts.maxEntriesPerShard, opts.seed >>> 0, 0,
        opts.chunkBytes, 100, 1, opts.lockTimeout);
      if (st < 0) throw statusError(st, 'new Cache()');
    }
    const tid = this.x.attach();
    if (tid < 0) throw statusError(tid, layOut ? 'new Cache()' : 'Cache.attach()');
    this.shardsBase = this.x.shardsBase() >>> 0;
    this.tid = tid;
    this.refresh();
    if (this.scap < this.keyArea + MIN_VALUE_ROOM) this.growScratch(this.keyArea + MIN_VALUE_ROOM);
  }

  /** Re-reads the scratch pointer and rebuilds the views over the (possibly grown) memory. */
  refresh(): void {
    const buffer = this.memory.buffer as unknown as SharedArrayBuffer;
    this.sp = this.x.scratchPtr() >>> 0;
    this.scap = this.x.scratchCapacity() >>> 0;
    this.u8 = new Uint8Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.scratch = Buffer.from(buffer, this.sp, this.scap);
    this.#keyView = this.u8.subarray(this.sp, this.sp + Math.min(this.maxKeyBytes, this.scap));
    this.valueRoom = Math.max(0, this.scap - this.keyArea);
    this.valueView = this.u8.subarray(this.sp + Math.min(this.keyArea, this.scap), this.sp + this.scap);
    this.valueViewAfterPrefix = this.u8.subarray(this.sp + Math.min(this.keyArea + 8, this.scap), this.sp + this.scap);
    const result = this.x.resultPtr() >>> 0;
    this.resultIndex = result >> 2;
    this.f64 = new Float64Array(buffer);
    this.compressNsIndex = (result + T_COMPRESS_NS_FROM_RESULT) >> 3;
    this.decompressNsIndex = (result + T_DECOMPRESS_NS_FROM_RESULT) >> 3;
    this.#resultViews = [];
  }

  /** scratch[start, start + len) as a Uint8Array; cached for small lengths at starts 0 and 8. */
  resultView(start: number, len: number): Uint8Array {
    if (len > RESULT_VIEW_MAX || (start !== 0 && start !== 8)) return this.u8.subarray(this.sp + start, this.sp + start + len);
    const slot = start === 0 ? len : len + RESULT_VIEW_MAX + 1;
    let v = this.#resultViews[slot];
    if (v === undefined) v = this.#resultViews[slot] = this.u8.subarray(this.sp + start, this.sp + start + len);
    return v;
  }

  /** Makes the value area hold at least `bytes`. Moves the scratch area: encode the key after. */
  reserveValue(bytes: number): void {
    if (bytes > this.valueRoom) this.growScratch(this.keyArea + bytes);
  }

  /** Makes the scratch area hold at least `bytes`. Moves it: encode the key after. */
  reserveScratch(bytes: number): void {
    if (bytes > this.scap) this.growScratch(bytes);
  }

  /**
   * Compresses the value at scratch[keyArea, keyArea + len) when that stores it in at most
   * `maxStored` bytes; returns the stored length (its bytes at deflateOffset) or 0. Timed.
   */
  deflate(len: number, maxStored: number): number {
    const t0 = performance.now();
    const n = this.x.deflate(this.keyArea, len, maxStored);
    this.f64[this.compressNsIndex] += (performance.now() - t0) * 1e6;
    return n > 0 ? n : 0;
  }

  /** Grows the scratch area to at least `need` bytes. */
  growScratch(need: number): void {
    if (this.x.growScratch(need) === 0) throw new CacheError('ERR_OUT_OF_MEMORY', `cannot reserve ${need} bytes of scratch space: the WebAssembly memory cannot grow further`);
    this.refresh();
  }

  /** Writes the key at the scratch start and returns its byte length. */
  encodeKey(key: string | Uint8Array): number {
    if (typeof key === 'string') {
      // encodeInto beats a charCodeAt loop here: element stores into a SharedArrayBuffer view
      // cost ~3.5x those into an ordinary one (bench/README.md, key encoding).
      const { read, written } = encoder.encodeInto(key, this.#keyView);
      if (read !== key.length) {
        throw rangeError('ERR_KEY_TOO_LARGE', `key is longer than maxKeyBytes (${this.maxKeyBytes} bytes of UTF-8)`);
      }
      return written;
    }
    if (key instanceof Uint8Array) {
      const n = key.length;
      if (n > this.maxKeyBytes) {
        throw rangeError('ERR_KEY_TOO_LARGE', `key is ${n} bytes, longer than maxKeyBytes (${this.maxKeyBytes})`);
      }
      this.u8.set(key, this.sp);
      return n;
    }
    throw typeError('ERR_INVALID_KEY', `key must be a string or a Uint8Array (got ${key === null ? 'null' : typeof key})`);
  }

  /**
   * Runs get for the key already in scratch. Returns the value length (the value is then at the
   * scratch start and its flags in the result word), or a negative status (ST_MISS).
   */
  get(key: string | Uint8Array, keyLen: number, now: number): number {
    for (;;) {
      const len = this.x.get(keyLen, now);
      if (len === ST_SCRATCH) {
        this.growScratch(this.i32[this.resultIndex] >>> 0);
        keyLen = this.encodeKey(key);
        continue;
      }
      if (len < 0 || (this.i32[this.resultIndex] & FLAG_COMPRESSED) === 0) {
        this.valueStart = 0;
        return len;
      }
      // Stored compressed: inflate outside the shard lock, in this thread's scratch.
      const t0 = performance.now();
      const raw = this.x.inflate(len);
      this.f64[this.decompressNsIndex] += (performance.now() - t0) * 1e6;
      if (raw === ST_SCRATCH) {
        this.growScratch(this.i32[this.resultIndex] >>> 0);
        keyLen = this.encodeKey(key);
        continue;
      }
      if (raw < 0) throw new CacheError('ERR_CORE', `a stored value failed to inflate (status ${raw})`);
      this.valueStart = (len + 7) & ~7;
      return raw;
    }
  }

  /** Flags of the value returned by the last get. */
  resultFlags(): number {
    return this.i32[this.resultIndex];
  }
}
