/**
 * The in-process cache. Every thread that holds a `Cache` over the same handle reads and writes
 * the same entries in one shared WebAssembly.Memory, synchronously; `get`/`set` cross into the
 * core once and allocate nothing on the JS heap but the returned value.
 */
import {
  createMemory, coreModule, MAX_PAGES, MODE_NX, MODE_XX, ST_MISS, ST_NOT_STORED, ST_LOCK_TIMEOUT,
  FLAG_COMPRESSED,
  SHARD_BYTES, S_COMPRESSED, S_SAVED, THREADS_BASE, THREAD_SLOT_BYTES, MAX_THREADS,
  T_COMPRESS_NS_FROM_RESULT, T_DECOMPRESS_NS_FROM_RESULT, S_CAP, HEADER_BASE, H_FREE_CHUNK_BYTES, S_COUNT, S_USED, S_RESERVED, S_ENTRY_BYTES, S_HITS, S_MISSES, S_SETS,
  S_DELETES, S_EVICTIONS, S_EXPIRATIONS, S_CONTENDED,
} from '../core/wasm.js';
import { CoreTable, statusError } from '../core/table.js';
import { copyOut } from '../core/result-pool.js';
import {
  resolveOptions, checkTtl, type CacheOptions, type ResolvedOptions, type Milliseconds,
} from '../config.js';
import { CacheError, rangeError, typeError } from '../errors.js';
import { msgpackSerializer, type Serializer } from '../serializer.js';
import { kTable, kStoreEncoded, kGetEncoded, kGetView, kPool, kEncode, kDecode } from './internal.js';
import type { MeshCache, JoinOptions } from '../mesh/embedded.js';
import { ShardPool, type ShardPoolStats } from '../shard/pool.js';
import { scanBatch, batchKeys, loadRecords, compactShards, type ScanBatch } from '../shard/ops.js';
import { decodeSnapshot, encodeHeader, encodeSection, encodeTrailer } from '../shard/snapshot.js';
import { globToRegExp } from '../shard/glob.js';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { GetManyReply, ScanReply } from '../shard/messages.js';

/** A key: a string (stored as exact UTF-8) or bytes. */
export type CacheKey = string | Uint8Array;

/** Options for a single `set`. */
export interface SetOptions {
  /** Time to live in ms; 0 = never expires. Default: the cache's `ttl` option. */
  ttl?: Milliseconds;
}

/** Options for `getOrLoad`. */
export interface LoadOptions extends SetOptions {
  /**
   * For this long after the TTL (ms), the stale value is still returned at once while one
   * background call of the loader refreshes it. 0 = no stale window.
   * @default 0
   */
  staleWhileRevalidate?: Milliseconds;
}

/** Per-shard figures in `stats()`. */
export interface ShardStats {
  entries: number;
  /** Bytes of the arena blocks holding entries. */
  bytes: number;
  /** Bytes of all live blocks: entries, the index and the ghost filter. Never above the budget. */
  usedBytes: number;
  /** Bytes of arena this shard has taken from the heap. Never above the budget. */
  reservedBytes: number;
  /** Slots in the shard's index. */
  indexCapacity: number;
}

/** What `stats()` returns. Counters are since the cache was created, across all threads. */
export interface CacheStats {
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 before the first read. */
  hitRatio: number;
  sets: number;
  deletes: number;
  evictions: number;
  expirations: number;
  entries: number;
  /** Bytes of the blocks holding entries (key, value, 28-byte header, block rounding). */
  bytes: number;
  /** bytes plus the index and ghost filter: what the budget is checked against. */
  usedBytes: number;
  /** Arena bytes the shards have taken from the memory. */
  reservedBytes: number;
  /** Chunks compaction gave back, held for the next shard that grows (not in reservedBytes). */
  freeChunkBytes: number;
  /** maxMemory. */
  budget: number;
  /** Size of the WebAssembly memory (arena, scratch areas and fixed headers). */
  memoryBytes: number;
  /** Lock acquisitions that had to wait for another thread. */
  contended: number;
  /** Largest shard entry count divided by the mean (1 = perfectly balanced). */
  balance: number;
  /** Entries stored compressed. */
  compressedEntries: number;
  /** Bytes compression saves over the live entries (raw size − stored size). */
  bytesSaved: number;
  /** Time all threads spent compressing values, in ms. */
  compressMs: number;
  /** Time all threads spent inflating values, in ms. */
  decompressMs: number;
  /** The shard owners, when the cache has workers (null otherwise). */
  workers: ShardPoolStats | null;
  shards: ShardStats[];
}

/** What `cache.handle` gives: post it to a worker thread and call `Cache.attach(handle)` there. */
export interface CacheHandle {
  readonly kind: 'meshcache.Cache';
  readonly version: 1;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly options: ResolvedOptions;
}

/** Options for `scan`. */
export interface ScanOptions {
  /** Only keys matching this Redis-style glob (`*`, `?`, `[a-z]`, `\\` escapes). */
  match?: string;
  /** Keys fetched per batch (a hint, as in Redis's SCAN COUNT). @default 256 */
  count?: number;
  /** Yield keys as strings (UTF-8, the default) or as Buffers. */
  keys?: 'string' | 'buffer';
}

/** What `snapshot` reports. */
export interface SnapshotInfo {
  path: string;
  entries: number;
  bytes: number;
  ms: number;
}

/** Options for `Cache.attach`: what cannot travel in a handle. */
export interface AttachOptions {
  serializer?: Serializer;
}

// Value flags: the host's four bits of the entry's flags byte.
const TYPE_MASK = 3;
const TYPE_BYTES = 0;
const TYPE_STRING = 1;
const TYPE_SERIALIZED = 2;
/** The value starts with an 8-byte fresh-until time (getOrLoad with staleWhileRevalidate). */
const FLAG_FRESH_PREFIX = 4;
const FRESH_PREFIX_BYTES = 8;
const encoder = new TextEncoder();

type Inflight = Promise<unknown>;

/** Operations between forced clock reads when the timer cannot run (see #now). */
const CLOCK_REFRESH_OPS = 1024;

/** getManyAsync / setManyAsync hand batches at least this large to the workers. */
const BULK_THRESHOLD = 1000;
/** Entries loaded per slice when restoring (the event loop runs between slices). */
const RESTORE_SLICE = 20_000;
/** Records per slice when a snapshot is written without workers. */
const DUMP_SLICE_RECORDS = 2048;
/** Keys per worker round trip during scan. */
const WORKER_SCAN_BATCH = 2048;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Node's Buffer has this (undocumented, stable since Node 0.x) method that skips encoding lookup. */
type NodeBuffer = Buffer & { utf8Slice(start: number, end: number): string };

/**
 * Address space a cache's memory reserves (its maximum): the budget, the fixed headers, chunk
 * rounding, and scratch room for a few threads' largest values. Reserving the whole 4 GiB for
 * every cache runs V8 out of reservable address space after ~100 caches in one process.
 */
function memoryReservation(o: ResolvedOptions): number {
  const headers = 128 * 1024 + 1024 * 32 + o.shards * 4096;
  const rounding = o.shards * 128 * 1024;
  const scratch = 64 * 1024 * 1024 + 4 * 2 * (o.maxValueBytes + o.maxKeyBytes + 65_536);
  return Math.min(MAX_PAGES * 65536, o.maxMemory + headers + rounding + scratch);
}

/** The private argument by which Cache.attach reaches the constructor. */
class AttachRequest {
  constructor(readonly handle: CacheHandle, readonly options: AttachOptions | undefined) {}
}

function inflightKey(key: CacheKey): string {
  return typeof key === 'string' ? 's' + key : 'b' + Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

export class Cache<V = unknown> {
  #t: CoreTable | null;
  readonly #options: ResolvedOptions;
  readonly #module: WebAssembly.Module;
  readonly #serializer: Serializer;
  readonly #maxValueBytes: number;
  readonly #ttl: number;
  readonly #ttlResolution: number;
  readonly #compressThreshold: number;
  #pool: ShardPool | null = null;
  readonly #compressKeep: number;
  #cachedNow = 0;
  #clockOps = 0;
  readonly #clearNow = () => { this.#cachedNow = 0; };
  readonly #inflight = new Map<string, Inflight>();
  readonly #f64 = new Float64Array(1);
  readonly #f64Bytes = new Uint8Array(this.#f64.buffer);

  /** Creates a cache with its own shared memory. Synchronous. */
  constructor(options?: CacheOptions);
  /** @internal Cache.attach's path. */
  constructor(options: CacheOptions | undefined, attachTo: AttachRequest);
  constructor(options?: CacheOptions, attachTo?: AttachRequest) {
    if (attachTo instanceof AttachRequest) {
      const { handle, options: attachOptions } = attachTo;
      if (attachOptions !== undefined && (attachOptions === null || typeof attachOptions !== 'object')) {
        throw typeError('ERR_INVALID_OPTION', 'options must be an object');
      }
      // Revalidate what travelled, so that a hand-made handle cannot lay out nonsense.
      const opts = resolveOptions({ ...handle.options, serializer: attachOptions?.serializer });
      this.#options = { ...opts, seed: handle.options.seed };
      this.#module = handle.module;
      this.#serializer = attachOptions?.serializer ?? msgpackSerializer;
      this.#t = new CoreTable(handle.memory, handle.module, this.#options, false);
    } else {
      const opts = resolveOptions(options);
      this.#options = opts;
      this.#module = coreModule();
      this.#serializer = options?.serializer ?? msgpackSerializer;
      this.#t = new CoreTable(createMemory(memoryReservation(opts)), this.#module, opts, true);
    }
    this.#maxValueBytes = this.#options.maxValueBytes;
    this.#ttl = this.#options.ttl;
    this.#ttlResolution = this.#options.ttlResolution;
    this.#compressThreshold = this.#options.compressionThreshold;
    this.#compressKeep = 1 - this.#options.compressionMinSavings;
    if (!(attachTo instanceof AttachRequest) && this.#options.workers > 0) {
      this.#pool = new ShardPool(this.handle, this.#t!, this.#options.shards, {
        threads: this.#options.workers,
        sweepIntervalMs: this.#options.sweepInterval,
      });
    }
  }

  /** Resolves when the cache's workers (if any) have started; at once without workers. */
  async ready(): Promise<void> {
    if (this.#pool !== null) await this.#pool.ready();
  }

  /** @internal The shard pool, or null without workers (tests, benchmarks). */
  [kPool](): ShardPool | null {
    return this.#pool;
  }

  /** @internal The calling thread's core table (for the shard layer). */
  [kTable](): CoreTable {
    return this.#table();
  }

  /** The same cache in this thread, from a handle posted by another thread. */
  static attach<V = unknown>(handle: CacheHandle, options?: AttachOptions): Cache<V> {
    if (handle === null || typeof handle !== 'object' || handle.kind !== 'meshcache.Cache'
        || !(handle.memory instanceof WebAssembly.Memory) || !(handle.module instanceof WebAssembly.Module)
        || handle.options === null || typeof handle.options !== 'object') {
      throw typeError('ERR_INVALID_HANDLE', 'handle must be the value of a cache\'s `handle` property');
    }
    if (handle.version !== 1) throw rangeError('ERR_INVALID_HANDLE', `handle.version must be 1 (got ${String(handle.version)})`);
    return new Cache<V>(undefined, new AttachRequest(handle, options));
  }

  /** A structured-cloneable handle: post it to a worker and `Cache.attach(handle)` there. */
  get handle(): CacheHandle {
    const t = this.#table();
    return { kind: 'meshcache.Cache', version: 1, memory: t.memory, module: this.#module, options: this.#options };
  }

  /** The options in force, defaults filled in. */
  get options(): Readonly<ResolvedOptions> {
    return this.#options;
  }

  #table(): CoreTable {
    const t = this.#t;
    if (t === null) throw new CacheError('ERR_CACHE_CLOSED', 'the cache was closed in this thread');
    return t;
  }

  /**
   * The clock for expiry checks: read at most once per ttlResolution ms (a timer clears it) and
   * at least once every CLOCK_REFRESH_OPS operations, so that a synchronous loop that never lets
   * the timer run still sees time pass.
   */
  #now(): number {
    if (this.#ttlResolution === 0) return Date.now();
    let now = this.#cachedNow;
    if (now === 0 || ++this.#clockOps >= CLOCK_REFRESH_OPS) {
      if (now === 0) setTimeout(this.#clearNow, this.#ttlResolution).unref();
      now = this.#cachedNow = Date.now();
      this.#clockOps = 0;
    }
    return now;
  }

  /** The exact clock, for writes that set an expiry (a stale clock would make it expire early). */
  #exactNow(): number {
    const now = Date.now();
    if (this.#cachedNow !== 0) this.#cachedNow = now;
    return now;
  }

  #ttlOf(options: SetOptions | undefined): number {
    if (options === undefined) return this.#ttl;
    if (options === null || typeof options !== 'object') throw typeError('ERR_INVALID_OPTION', 'options must be an object');
    return options.ttl === undefined ? this.#ttl : checkTtl('options.ttl', options.ttl);
  }

  /** The value get left in scratch: `len` bytes from t.valueStart, with `flags`. */
  #decode(t: CoreTable, len: number, flags: number): V {
    const start = t.valueStart + (flags & FLAG_FRESH_PREFIX ? FRESH_PREFIX_BYTES : 0);
    const end = t.valueStart + len;
    const type = flags & TYPE_MASK;
    if (type === TYPE_STRING) return (t.scratch as NodeBuffer).utf8Slice(start, end) as V;
    const out = copyOut(t.resultView(start, end - start));
    if (type === TYPE_BYTES) return out as V;
    return this.#serializer.deserialize(out) as V;
  }

  /** The value for `key`, or undefined. Counts a hit or a miss and marks the entry as used. */
  get(key: CacheKey): V | undefined {
    const t = this.#table();
    const len = t.get(key, t.encodeKey(key), this.#now());
    if (len < 0) {
      if (len === ST_MISS) return undefined;
      throw statusError(len, 'get');
    }
    return this.#decode(t, len, t.resultFlags());
  }

  /**
   * Writes the key and value into scratch and stores them. Returns the core's status.
   * `freshUntil` > 0 prefixes the value with that time (getOrLoad's stale window).
   */
  #store(key: CacheKey, value: unknown, ttl: number, mode: number, freshUntil: number, type = -1): number {
    const t = this.#table();
    const prefix = freshUntil > 0 ? FRESH_PREFIX_BYTES : 0;
    const threshold = this.#compressThreshold;
    let flags = prefix ? FLAG_FRESH_PREFIX : 0;
    let valueLen: number;
    let keyLen: number;
    if (typeof value === 'string') {
      flags |= TYPE_STRING;
      const bound = value.length * 3 + prefix;
      if (bound > t.valueRoom) {
        const bytes = Buffer.byteLength(value);
        if (bytes > this.#maxValueBytes) throw this.#tooLarge(bytes);
        t.reserveValue(bytes + prefix);
      }
      if (threshold && bound >= threshold) t.reserveScratch(t.x.deflateScratchBytes(t.keyArea, Math.min(bound, t.valueRoom)));
      keyLen = t.encodeKey(key);
      valueLen = encoder.encodeInto(value, prefix ? t.valueViewAfterPrefix : t.valueView).written;
      if (valueLen > this.#maxValueBytes) throw this.#tooLarge(valueLen);
    } else {
      let bytes: Uint8Array;
      if (type >= 0) {
        bytes = value as Uint8Array; // already encoded elsewhere (a worker storing for the caller)
        flags |= type;
      } else if (value instanceof Uint8Array) {
        bytes = value;
      } else {
        bytes = this.#serializer.serialize(value);
        flags |= TYPE_SERIALIZED;
      }
      valueLen = bytes.length;
      if (valueLen > this.#maxValueBytes) throw this.#tooLarge(valueLen);
      t.reserveValue(valueLen + prefix);
      if (threshold && valueLen + prefix >= threshold) t.reserveScratch(t.x.deflateScratchBytes(t.keyArea, valueLen + prefix));
      keyLen = t.encodeKey(key);
      t.u8.set(bytes, t.sp + t.keyArea + prefix);
    }
    if (prefix) {
      this.#f64[0] = freshUntil;
      t.u8.set(this.#f64Bytes, t.sp + t.keyArea);
    }
    let at = t.keyArea;
    let len = valueLen + prefix;
    if (threshold && len >= threshold) {
      const stored = t.deflate(len, Math.floor(len * this.#compressKeep));
      if (stored > 0) {
        at = t.x.deflateOffset(at, len);
        len = stored;
        flags |= FLAG_COMPRESSED;
      }
    }
    const now = ttl > 0 ? this.#exactNow() : this.#now();
    const status = t.x.set(keyLen, at, len, flags, ttl > 0 ? now + ttl : 0, mode, now);
    if (status < 0) throw statusError(status, 'set');
    return status;
  }

  #tooLarge(bytes: number): RangeError {
    return rangeError('ERR_VALUE_TOO_LARGE', `value is ${bytes} bytes, more than maxValueBytes (${this.#maxValueBytes})`);
  }

  /**
   * Stores `value` under `key`. Strings and bytes are stored as they are; anything else through
   * the serializer. `undefined` deletes the key. Evicts as needed; never fails because the cache
   * is full. Throws RangeError (ERR_KEY_TOO_LARGE / ERR_VALUE_TOO_LARGE) for oversized input.
   */
  set(key: CacheKey, value: V, options?: SetOptions): this {
    if (value === undefined) {
      this.delete(key);
      return this;
    }
    this.#store(key, value, this.#ttlOf(options), 0, 0);
    return this;
  }

  /** Stores only when the key is absent (like SET NX). Returns true when stored. */
  add(key: CacheKey, value: V, options?: SetOptions): boolean {
    if (value === undefined) throw typeError('ERR_INVALID_OPTION', 'value must not be undefined');
    return this.#store(key, value, this.#ttlOf(options), MODE_NX, 0) !== ST_NOT_STORED;
  }

  /** Stores only when the key is present (like SET XX). Returns true when stored. */
  replace(key: CacheKey, value: V, options?: SetOptions): boolean {
    if (value === undefined) throw typeError('ERR_INVALID_OPTION', 'value must not be undefined');
    return this.#store(key, value, this.#ttlOf(options), MODE_XX, 0) !== ST_NOT_STORED;
  }

  /** True when the key is present and not expired. Counts nothing and changes no eviction state. */
  has(key: CacheKey): boolean {
    const t = this.#table();
    return this.#checkTtl(t.x.ttl(t.encodeKey(key), this.#now(), -1), 'has') !== -2;
  }

  /** The core's ttl() result, with a lock timeout (-3) turned into its error. */
  #checkTtl(r: number, what: string): number {
    if (r === -3) throw statusError(ST_LOCK_TIMEOUT, what);
    return r;
  }

  /** Removes the key. Returns true when it was present. */
  delete(key: CacheKey): boolean {
    const t = this.#table();
    const r = t.x.del(t.encodeKey(key), this.#now());
    if (r < 0) throw statusError(r, 'delete');
    return r === 1;
  }

  /** Removes every entry (all threads see it). Counters are kept. */
  clear(): void {
    const st = this.#table().x.clear();
    if (st < 0) throw statusError(st, 'clear');
  }

  /**
   * Remaining time to live of the key in ms: Infinity when it never expires, undefined when it
   * is absent.
   */
  ttl(key: CacheKey): number | undefined {
    const t = this.#table();
    const r = this.#checkTtl(t.x.ttl(t.encodeKey(key), this.#now(), -1), 'ttl');
    if (r === -2) return undefined;
    return r === -1 ? Infinity : r;
  }

  /**
   * Sets the key's time to live: `ms` > 0 expires it that long from now, Infinity makes it
   * permanent, `ms` <= 0 deletes it (as Redis's EXPIRE does). Returns true when the key exists.
   */
  expire(key: CacheKey, ms: Milliseconds): boolean {
    if (typeof ms !== 'number' || Number.isNaN(ms)) throw typeError('ERR_INVALID_TTL', 'ms must be a number');
    if (ms <= 0) return this.delete(key);
    const t = this.#table();
    const now = this.#exactNow();
    return this.#checkTtl(t.x.ttl(t.encodeKey(key), now, ms === Infinity ? 0 : now + ms), 'expire') !== -2;
  }

  /** Number of entries (expired entries not yet reclaimed included). */
  get size(): number {
    const t = this.#table();
    const view = new DataView(t.memory.buffer);
    let n = 0;
    for (let i = 0; i < this.#options.shards; i++) n += view.getUint32(t.shardsBase + i * SHARD_BYTES + S_COUNT, true);
    return n;
  }

  /** Values for several keys, in order (undefined for misses). */
  getMany(keys: Iterable<CacheKey>): Array<V | undefined> {
    if (keys === null || typeof (keys as Iterable<CacheKey>)?.[Symbol.iterator] !== 'function') {
      throw typeError('ERR_INVALID_KEY', 'keys must be an iterable of keys');
    }
    const out: Array<V | undefined> = [];
    for (const key of keys) out.push(this.get(key));
    return out;
  }

  /** Stores several entries: `[key, value]` pairs (a Map works too), all with `options`. */
  setMany(entries: Iterable<readonly [CacheKey, V]>, options?: SetOptions): this {
    if (entries === null || typeof (entries as Iterable<unknown>)?.[Symbol.iterator] !== 'function') {
      throw typeError('ERR_INVALID_KEY', 'entries must be an iterable of [key, value] pairs');
    }
    const ttl = this.#ttlOf(options);
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length < 2) throw typeError('ERR_INVALID_KEY', 'each entry must be a [key, value] pair');
      if (entry[1] === undefined) this.delete(entry[0]);
      else this.#store(entry[0], entry[1], ttl, 0, 0);
    }
    return this;
  }

  /**
   * The value for `key`, loading it with `loader(key)` on a miss. Concurrent misses for one key
   * in this thread share a single loader call; a loader error reaches every waiter and nothing
   * is cached. With `staleWhileRevalidate`, for that long after the TTL the stale value is
   * returned at once while one background load refreshes it (a failed refresh keeps the stale
   * value until the window ends).
   */
  getOrLoad(key: CacheKey, loader: (key: CacheKey) => V | Promise<V>, options?: LoadOptions): Promise<V> {
    if (typeof loader !== 'function') return Promise.reject(typeError('ERR_INVALID_OPTION', 'loader must be a function'));
    let ttl: number;
    let swr = 0;
    try {
      ttl = this.#ttlOf(options);
      if (options?.staleWhileRevalidate !== undefined) swr = checkTtl('options.staleWhileRevalidate', options.staleWhileRevalidate);
      if (swr > 0 && ttl === 0) throw rangeError('ERR_INVALID_TTL', 'options.staleWhileRevalidate needs a ttl > 0');
      const t = this.#table();
      const now = this.#now();
      const len = t.get(key, t.encodeKey(key), now);
      if (len < 0 && len !== ST_MISS) throw statusError(len, 'getOrLoad');
      if (len !== ST_MISS) {
        const flags = t.resultFlags();
        let stale = false;
        if (flags & FLAG_FRESH_PREFIX) {
          this.#f64Bytes.set(t.u8.subarray(t.sp + t.valueStart, t.sp + t.valueStart + FRESH_PREFIX_BYTES));
          stale = this.#f64[0] <= now;
        }
        const value = this.#decode(t, len, flags);
        if (stale) this.#load(key, loader, ttl, swr).catch(() => undefined);
        return Promise.resolve(value);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#load(key, loader, ttl, swr);
  }

  #load(key: CacheKey, loader: (key: CacheKey) => V | Promise<V>, ttl: number, swr: number): Promise<V> {
    const id = inflightKey(key);
    const running = this.#inflight.get(id);
    if (running !== undefined) return running as Promise<V>;
    const p = (async () => {
      try {
        const value = await loader(key);
        if (value !== undefined && this.#t !== null) {
          if (swr > 0) this.#store(key, value, ttl + swr, 0, this.#exactNow() + ttl);
          else this.#store(key, value, ttl, 0, 0);
        }
        return value;
      } finally {
        this.#inflight.delete(id);
      }
    })();
    this.#inflight.set(id, p);
    return p;
  }

  /** Encodes a value as the core stores it: [payload, type flags]. */
  #encode(value: unknown): [Uint8Array, number] {
    if (typeof value === 'string') return [Buffer.from(value, 'utf8'), TYPE_STRING];
    if (value instanceof Uint8Array) return [value, TYPE_BYTES];
    return [this.#serializer.serialize(value), TYPE_SERIALIZED];
  }

  /** Decodes a payload of type `type` (the inverse of #encode). */
  #decodeEncoded(payload: Uint8Array, type: number): V {
    if (type === TYPE_STRING) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8') as V;
    const b = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    return (type === TYPE_BYTES ? b : this.#serializer.deserialize(b)) as V;
  }

  /**
   * @internal Stores an encoded payload (a worker storing for another thread, a mesh peer handing
   * a key over). With `onlyIfAbsent`, an entry already present wins; returns whether it stored.
   */
  [kStoreEncoded](key: CacheKey, payload: Uint8Array, type: number, ttl: number, onlyIfAbsent = false): boolean {
    if (payload.length > this.#maxValueBytes) throw this.#tooLarge(payload.length);
    return this.#store(key, payload, ttl, onlyIfAbsent ? MODE_NX : 0, 0, type & TYPE_MASK) !== ST_NOT_STORED;
  }

  /** @internal Encodes a value as it would be stored: [payload, type flags]. */
  [kEncode](value: V): [Uint8Array, number] {
    return this.#encode(value);
  }

  /** @internal Decodes a payload of type `type`. */
  [kDecode](payload: Uint8Array, type: number): V {
    return this.#decodeEncoded(payload, type & TYPE_MASK);
  }

  /** @internal The stored payload (inflated, without a fresh prefix) and its type, or null. */
  [kGetEncoded](key: CacheKey): [Uint8Array, number] | null {
    const view = this[kGetView](key);
    return view === null ? null : [new Uint8Array(view), this.#table().resultFlags() & TYPE_MASK];
  }

  /** @internal The stored payload as a scratch view valid until the next call here, or null. */
  [kGetView](key: CacheKey): Uint8Array | null {
    const t = this.#table();
    const len = t.get(key, t.encodeKey(key), this.#now());
    if (len < 0) {
      if (len === ST_MISS) return null;
      throw statusError(len, 'get');
    }
    const start = t.resultFlags() & FLAG_FRESH_PREFIX ? FRESH_PREFIX_BYTES : 0;
    return t.resultView(t.valueStart + start, len - start);
  }

  /**
   * Stores like `set`, but with workers the value is copied to the key's shard owner, which
   * compresses and stores it there: the caller's thread only encodes it.
   */
  async setAsync(key: CacheKey, value: V, options?: SetOptions): Promise<void> {
    const pool = this.#pool;
    if (pool === null || value === undefined) {
      this.set(key, value, options);
      return;
    }
    const ttl = this.#ttlOf(options);
    const [payload, type] = this.#encode(value);
    if (payload.length > this.#maxValueBytes) throw this.#tooLarge(payload.length);
    const t = this.#table();
    const shard = t.x.shardOfKey(t.encodeKey(key));
    await pool.run(pool.ownerOf(shard), { kind: 'set', key, value: payload, flags: type, ttl });
  }

  /** Groups `keys`' indexes by owner worker. */
  #byOwner(pool: ShardPool, keys: readonly CacheKey[]): number[][] {
    const t = this.#table();
    const groups: number[][] = Array.from({ length: pool.threads }, () => []);
    keys.forEach((k, i) => groups[pool.ownerOf(t.x.shardOfKey(t.encodeKey(k)))].push(i));
    return groups;
  }

  /** Like getMany; with workers and at least 1000 keys, the owners look them up in parallel. */
  async getManyAsync(keys: Iterable<CacheKey>): Promise<Array<V | undefined>> {
    const list = [...keys];
    const pool = this.#pool;
    if (pool === null || list.length < BULK_THRESHOLD) return this.getMany(list);
    const groups = this.#byOwner(pool, list);
    const out = new Array<V | undefined>(list.length);
    await Promise.all(groups.map(async (idx, w) => {
      if (idx.length === 0) return;
      const reply = await pool.run<GetManyReply>(w, { kind: 'getMany', keys: idx.map((i) => list[i]) });
      reply.forEach((r, j) => { out[idx[j]] = r === null ? undefined : this.#decodeEncoded(r[0], r[1]); });
    }));
    return out;
  }

  /** Like setMany; with workers and at least 1000 entries, the owners store them in parallel. */
  async setManyAsync(entries: Iterable<readonly [CacheKey, V]>, options?: SetOptions): Promise<void> {
    const list = [...entries];
    const pool = this.#pool;
    if (pool === null || list.length < BULK_THRESHOLD) {
      this.setMany(list, options);
      return;
    }
    const ttl = this.#ttlOf(options);
    const groups = this.#byOwner(pool, list.map((e) => e[0]));
    await Promise.all(groups.map(async (idx, w) => {
      if (idx.length === 0) return;
      const batch: Array<[CacheKey, Uint8Array, number]> = idx.map((i) => {
        const [payload, type] = this.#encode(list[i][1]);
        if (payload.length > this.#maxValueBytes) throw this.#tooLarge(payload.length);
        return [list[i][0], payload, type];
      });
      await pool.run(w, { kind: 'setMany', entries: batch, ttl });
    }));
  }

  /**
   * Defragments every shard's arena: entries move out of sparsely used chunks, which go back to a
   * heap free list that any shard reuses before the memory grows. With workers the owners do it
   * (and also every fourth sweep round on their own); without, it runs here shard by shard.
   * Resolves to the arena bytes given back.
   */
  async compact(): Promise<number> {
    const pool = this.#pool;
    if (pool !== null) return pool.compact();
    let released = 0;
    for (let shard = 0; shard < this.#options.shards; shard++) {
      if (shard > 0) await yieldToLoop();
      released += compactShards(this.#table(), [shard]);
    }
    return released;
  }

  /**
   * A snapshot section of one shard built here, a scan batch at a time with the event loop
   * running between batches (a whole shard at once stalled it for 100 ms and more at 1M entries).
   */
  async #dumpShardInSlices(shard: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let records = 0;
    let cursor = 0;
    do {
      await yieldToLoop();
      const batch = scanBatch(this.#table(), shard, cursor, DUMP_SLICE_RECORDS, true, this.#now());
      parts.push(batch.records);
      records += batch.count;
      cursor = batch.next;
    } while (cursor !== 0);
    return encodeSection(shard, records, Buffer.concat(parts));
  }

  /** One scan batch of `shard` from `cursor`, in its owner or here. */
  async #scanBatch(shard: number, cursor: number, count: number): Promise<ScanBatch> {
    const pool = this.#pool;
    if (pool === null) {
      await yieldToLoop();
      return scanBatch(this.#table(), shard, cursor, count, false, this.#now());
    }
    // A round trip to a worker costs far more than a batch: fetch large ones (count is a hint).
    const r = await pool.run<ScanReply>(pool.ownerOf(shard), { kind: 'scan', shard, cursor, count: Math.max(count, WORKER_SCAN_BATCH), now: Date.now() });
    return { count: r.count, next: r.next, records: Buffer.from(r.records.buffer, r.records.byteOffset, r.records.byteLength) };
  }

  /**
   * Iterates the keys, shard by shard, in batches. Every key present for the whole iteration is
   * yielded at least once (a key may come twice when the index grows meanwhile), while the cache
   * keeps serving: each batch holds one shard's lock only while it copies that batch's keys.
   */
  async *scan(options?: ScanOptions): AsyncGenerator<CacheKey, void, undefined> {
    if (options !== undefined && (options === null || typeof options !== 'object')) throw typeError('ERR_INVALID_OPTION', 'options must be an object');
    const count = options?.count === undefined ? 256 : options.count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 1_000_000) {
      throw rangeError('ERR_INVALID_OPTION', 'options.count must be an integer from 1 to 1000000');
    }
    if (options?.match !== undefined && typeof options.match !== 'string') throw typeError('ERR_INVALID_OPTION', 'options.match must be a string');
    if (options?.keys !== undefined && options.keys !== 'string' && options.keys !== 'buffer') {
      throw rangeError('ERR_INVALID_OPTION', "options.keys must be 'string' or 'buffer'");
    }
    const re = options?.match === undefined ? null : globToRegExp(options.match);
    const asBuffer = options?.keys === 'buffer';
    for (let shard = 0; shard < this.#options.shards; shard++) {
      let cursor = 0;
      do {
        const batch = await this.#scanBatch(shard, cursor, count);
        for (const key of batchKeys(batch)) {
          const text = asBuffer && re === null ? '' : key.toString('utf8');
          if (re !== null && !re.test(text)) continue;
          yield asBuffer ? Buffer.from(key) : text;
        }
        cursor = batch.next;
      } while (cursor !== 0);
    }
  }

  /**
   * Writes every live entry to `path` (format: docs/snapshot-format.md), shard by shard, while the
   * cache keeps serving. Written to a temporary file that is renamed over `path` at the end.
   */
  async snapshot(path: string): Promise<SnapshotInfo> {
    if (typeof path !== 'string' || path === '') throw typeError('ERR_INVALID_OPTION', 'path must be a non-empty string');
    const started = performance.now();
    const t = this.#table();
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    const fh = await open(tmp, 'w');
    let crc = 0;
    let bytes = 0;
    let entries = 0;
    const write = async (b: Buffer) => {
      await fh.write(b);
      crc = crc32(b, crc);
      bytes += b.length;
    };
    try {
      await write(encodeHeader(this.#options.shards, Date.now()));
      const pool = this.#pool;
      for (let shard = 0; shard < this.#options.shards; shard++) {
        let section: Buffer;
        if (pool === null) {
          section = await this.#dumpShardInSlices(shard);
        } else {
          const r = await pool.run<Uint8Array>(pool.ownerOf(shard), { kind: 'dump', shard, now: Date.now() });
          section = Buffer.from(r.buffer, r.byteOffset, r.byteLength);
        }
        entries += section.readUInt32LE(8);
        await write(section);
      }
      const trailer = encodeTrailer(this.#options.shards, entries, crc);
      await fh.write(trailer);
      bytes += trailer.length;
      await fh.sync();
      await fh.close();
      await rename(tmp, path);
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    return { path, entries, bytes, ms: performance.now() - started };
  }

  /**
   * Adds the entries of a snapshot to this cache (entries already expired are skipped). The whole
   * file is read and verified first: a corrupt or truncated file throws ERR_SNAPSHOT_CORRUPT and
   * leaves the cache untouched. Returns the number of entries loaded.
   */
  async load(path: string): Promise<number> {
    if (typeof path !== 'string' || path === '') throw typeError('ERR_INVALID_OPTION', 'path must be a non-empty string');
    const file = await readFile(path);
    const contents = decodeSnapshot(file, path, this.#options.maxKeyBytes);
    const t = this.#table();
    let loaded = 0;
    for (let i = 0; i < contents.records.length; i += RESTORE_SLICE) {
      if (i > 0) await yieldToLoop();
      loaded += loadRecords(t, contents.records.slice(i, i + RESTORE_SLICE), Date.now());
    }
    return loaded;
  }

  /**
   * An embedded mesh node: a cache that is one member of a mesh (`options.mesh`, see MeshOptions).
   * Resolves once the mesh endpoint listens and the seeds in `mesh.join` (if any) were reached.
   * Its get/set/delete route each key to the member that owns it, so they return promises.
   */
  static async join<V = unknown>(options: JoinOptions): Promise<MeshCache<V>> {
    const { joinMesh } = await import('../mesh/embedded.js');
    return joinMesh<V>(options);
  }

  /** A new cache with `options`, filled from a snapshot (verified whole before it is created). */
  static async restore<V = unknown>(path: string, options?: CacheOptions): Promise<Cache<V>> {
    if (typeof path !== 'string' || path === '') throw typeError('ERR_INVALID_OPTION', 'path must be a non-empty string');
    const opts = resolveOptions(options);
    const file = await readFile(path);
    decodeSnapshot(file, path, opts.maxKeyBytes); // throws before any cache exists
    const cache = new Cache<V>(options);
    try {
      await cache.load(path);
    } catch (err) {
      await cache.close();
      throw err;
    }
    return cache;
  }

  /** Counters and sizes, summed over shards and threads. */
  stats(): CacheStats {
    const t = this.#table();
    const view = new DataView(t.memory.buffer);
    const u64 = (off: number) => Number(view.getBigUint64(off, true));
    const shards: ShardStats[] = [];
    let hits = 0, misses = 0, sets = 0, deletes = 0, evictions = 0, expirations = 0;
    let entries = 0, bytes = 0, usedBytes = 0, reservedBytes = 0, contended = 0, maxEntries = 0;
    let compressedEntries = 0, bytesSaved = 0;
    for (let i = 0; i < this.#options.shards; i++) {
      const s = t.shardsBase + i * SHARD_BYTES;
      const shard: ShardStats = {
        entries: view.getUint32(s + S_COUNT, true),
        bytes: u64(s + S_ENTRY_BYTES),
        usedBytes: u64(s + S_USED),
        reservedBytes: u64(s + S_RESERVED),
        indexCapacity: view.getUint32(s + S_CAP, true),
      };
      shards.push(shard);
      hits += u64(s + S_HITS);
      misses += u64(s + S_MISSES);
      sets += u64(s + S_SETS);
      deletes += u64(s + S_DELETES);
      evictions += u64(s + S_EVICTIONS);
      expirations += u64(s + S_EXPIRATIONS);
      contended += view.getUint32(s + S_CONTENDED, true);
      compressedEntries += u64(s + S_COMPRESSED);
      bytesSaved += u64(s + S_SAVED);
      entries += shard.entries;
      bytes += shard.bytes;
      usedBytes += shard.usedBytes;
      reservedBytes += shard.reservedBytes;
      if (shard.entries > maxEntries) maxEntries = shard.entries;
    }
    let compressNs = 0, decompressNs = 0;
    for (let i = 0; i < MAX_THREADS; i++) {
      const result = THREADS_BASE + i * THREAD_SLOT_BYTES + 12;
      compressNs += view.getFloat64(result + T_COMPRESS_NS_FROM_RESULT, true);
      decompressNs += view.getFloat64(result + T_DECOMPRESS_NS_FROM_RESULT, true);
    }
    const mean = entries / this.#options.shards;
    return {
      hits, misses, hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
      sets, deletes, evictions, expirations, entries, bytes, usedBytes, reservedBytes,
      freeChunkBytes: Number(view.getBigUint64(HEADER_BASE + H_FREE_CHUNK_BYTES, true)),
      budget: this.#options.maxMemory, memoryBytes: t.memory.buffer.byteLength, contended,
      balance: mean === 0 ? 1 : maxEntries / mean,
      compressedEntries, bytesSaved, compressMs: compressNs / 1e6, decompressMs: decompressNs / 1e6,
      workers: this.#pool === null ? null : this.#pool.stats(),
      shards,
    };
  }

  /**
   * Stops this cache's workers (if it started any) and releases this thread's slot. The cache
   * lives on in other threads that attached it; its memory is freed when no thread holds it any
   * more. Further calls on this object throw ERR_CACHE_CLOSED. Without workers it finishes
   * synchronously; the promise is for the workers.
   */
  close(): Promise<void> {
    const t = this.#t;
    if (t === null) return Promise.resolve();
    const pool = this.#pool;
    this.#pool = null;
    const done = () => {
      t.x.detach();
      this.#t = null;
    };
    if (pool === null) {
      done();
      return Promise.resolve();
    }
    return pool.close().then(done);
  }
}
