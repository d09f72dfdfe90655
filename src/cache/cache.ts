/**
 * The in-process cache. Every thread that holds a `Cache` over the same handle reads and writes
 * the same entries in one shared WebAssembly.Memory, synchronously; `get`/`set` cross into the
 * core once and allocate nothing on the JS heap but the returned value.
 */
import {
  createMemory, coreModule, MAX_PAGES, MODE_NX, MODE_XX, ST_MISS, ST_NOT_STORED, ST_LOCK_TIMEOUT,
  FLAG_COMPRESSED,
} from '../core/wasm.js';
import { CoreTable, statusError } from '../core/table.js';
import { kTable, type CacheHandle } from '../core/handle.js';
import { countEntries, readTableStats } from '../core/stats.js';
import { copyOut } from '../core/result-pool.js';
import {
  resolveOptions, checkTtl, clockOf, type CacheOptions, type ResolvedOptions, type Milliseconds,
} from '../config.js';
import { CacheError, rangeError, typeError } from '../errors.js';
import { msgpackSerializer, type Serializer } from '../serializer.js';
import { kStoreEncoded, kGetEncoded, kGetView, kPool, kEncode, kDecode } from './internal.js';
import { ShardPool } from '../shard/pool.js';
import type { CacheKey, SetOptions, LoadOptions, CacheStats, AttachOptions } from './types.js';
import {
  TYPE_MASK, TYPE_BYTES, TYPE_STRING, TYPE_SERIALIZED, FLAG_FRESH_PREFIX, FRESH_PREFIX_BYTES, encodeValue, decodeValue,
} from './values.js';
import { BULK_THRESHOLD, getManyInOwners, setInOwner, setManyInOwners, valueTooLarge } from './bulk.js';
import { loadSnapshot, readSnapshot, writeSnapshot, loadContents, type SnapshotInfo } from './persistence.js';
import { compactAll, randomKey, scanKeys, scanStep, MAX_SCAN_COUNT, type ScanOptions, type ScanStep } from './scan.js';

export type { CacheHandle } from '../core/handle.js';
export type { ShardStats } from '../core/stats.js';
export type { SnapshotInfo } from './persistence.js';
export type { ScanOptions, ScanStep } from './scan.js';
export type { CacheKey, SetOptions, LoadOptions, CacheStats, AttachOptions } from './types.js';

const encoder = new TextEncoder();

type Inflight = Promise<unknown>;

/** Operations between forced clock reads when the timer cannot run (see #now). */
const CLOCK_REFRESH_OPS = 1024;

/** Keys copied out per scan call for randomKey (one call holds one shard lock). */
const RANDOM_KEY_BATCH = 1024;

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
  /** Reads the clock expiry is measured with (Date.now unless `options.clock`). */
  readonly #readClock: () => number;
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
      this.#readClock = clockOf(attachOptions?.clock);
      this.#t = new CoreTable(handle.memory, handle.module, this.#options, false);
    } else {
      const opts = resolveOptions(options);
      this.#options = opts;
      this.#module = coreModule();
      this.#serializer = options?.serializer ?? msgpackSerializer;
      this.#readClock = clockOf(options?.clock);
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
    if (this.#ttlResolution === 0) return this.#readClock();
    let now = this.#cachedNow;
    if (now === 0 || ++this.#clockOps >= CLOCK_REFRESH_OPS) {
      if (now === 0) setTimeout(this.#clearNow, this.#ttlResolution).unref();
      now = this.#cachedNow = this.#readClock();
      this.#clockOps = 0;
    }
    return now;
  }

  /** The exact clock, for writes that set an expiry (a stale clock would make it expire early). */
  #exactNow(): number {
    const now = this.#readClock();
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
    return valueTooLarge(bytes, this.#maxValueBytes);
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

  /**
   * The key's absolute expiry time (Unix ms): Infinity when it never expires, undefined when it is
   * absent. Reads no value, counts nothing and leaves eviction state alone (Redis's PEXPIRETIME).
   */
  expiresAt(key: CacheKey): number | undefined {
    const t = this.#table();
    const now = this.#exactNow();
    const r = this.#checkTtl(t.x.ttl(t.encodeKey(key), now, -1), 'expiresAt');
    if (r === -2) return undefined;
    return r === -1 ? Infinity : now + r;
  }

  /**
   * Sets an existing key's absolute expiry time (Unix ms, Redis's PEXPIREAT): Infinity makes it
   * permanent; a time already past makes it read as absent from now on. Returns true when the key
   * exists.
   */
  expireAt(key: CacheKey, at: number): boolean {
    if (typeof at !== 'number' || Number.isNaN(at)) throw typeError('ERR_INVALID_TTL', 'at must be a number');
    if (at <= 0) throw rangeError('ERR_INVALID_TTL', 'at must be a Unix time in ms above 0, or Infinity');
    const t = this.#table();
    const r = t.x.ttl(t.encodeKey(key), this.#exactNow(), at === Infinity ? 0 : at);
    return this.#checkTtl(r, 'expireAt') !== -2;
  }

  /** Number of entries (expired entries not yet reclaimed included). */
  get size(): number {
    return countEntries(this.#table(), this.#options.shards);
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
    return encodeValue(value, this.#serializer);
  }

  /** @internal Decodes a payload of type `type`. */
  [kDecode](payload: Uint8Array, type: number): V {
    return decodeValue(payload, type & TYPE_MASK, this.#serializer) as V;
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
    await setInOwner(this, pool, key, value, this.#ttlOf(options));
  }

  /** Like getMany; with workers and at least 1000 keys, the owners look them up in parallel. */
  async getManyAsync(keys: Iterable<CacheKey>): Promise<Array<V | undefined>> {
    const list = [...keys];
    const pool = this.#pool;
    if (pool === null || list.length < BULK_THRESHOLD) return this.getMany(list);
    return getManyInOwners(this, pool, list);
  }

  /** Like setMany; with workers and at least 1000 entries, the owners store them in parallel. */
  async setManyAsync(entries: Iterable<readonly [CacheKey, V]>, options?: SetOptions): Promise<void> {
    const list = [...entries];
    const pool = this.#pool;
    if (pool === null || list.length < BULK_THRESHOLD) {
      this.setMany(list, options);
      return;
    }
    await setManyInOwners(this, pool, list, this.#ttlOf(options));
  }

  /**
   * Defragments every shard's arena: entries move out of sparsely used chunks, which go back to a
   * heap free list that any shard reuses before the memory grows. With workers the owners do it
   * (and also every fourth sweep round on their own); without, it runs here shard by shard.
   * Resolves to the arena bytes given back.
   */
  compact(): Promise<number> {
    return compactAll(this);
  }

  /**
   * Iterates the keys, shard by shard, in batches. Every key present for the whole iteration is
   * yielded at least once (a key may come twice when the index grows meanwhile), while the cache
   * keeps serving: each batch holds one shard's lock only while it copies that batch's keys.
   */
  scan(options?: ScanOptions): AsyncGenerator<CacheKey, void, undefined> {
    return scanKeys(this, options);
  }

  /**
   * One synchronous step of a cursor walk over the keys, as Redis's SCAN: start with cursor 0
   * and pass each returned cursor back until it is 0 again. Each step visits about `count` keys
   * (all of them returned, as Buffers: filter them yourself) and holds one shard's lock per
   * batch. A key present for the whole walk is returned at least once. Cursors are integers
   * below shards × 2^32; a larger or negative one ends the walk at once.
   */
  scanStep(cursor: number, count = 10): ScanStep {
    if (typeof cursor !== 'number' || !Number.isSafeInteger(cursor)) throw typeError('ERR_INVALID_OPTION', 'cursor must be a safe integer');
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_SCAN_COUNT) {
      throw rangeError('ERR_INVALID_OPTION', `count must be an integer from 1 to ${MAX_SCAN_COUNT}`);
    }
    return scanStep(this.#table(), this.#options.shards, cursor, count, this.#exactNow());
  }

  /** A random live key as a Buffer, or undefined when the cache is empty (RANDOMKEY). */
  randomKey(): Buffer | undefined {
    return randomKey(this.#table(), this.#options.shards, this.#exactNow(), RANDOM_KEY_BATCH) ?? undefined;
  }

  /**
   * Writes every live entry to `path` (format: docs/snapshot-format.md), shard by shard, while the
   * cache keeps serving. Written to a temporary file that is renamed over `path` at the end.
   */
  snapshot(path: string): Promise<SnapshotInfo> {
    return writeSnapshot(this, path);
  }

  /**
   * Adds the entries of a snapshot to this cache (entries already expired are skipped). The whole
   * file is read and verified first: a corrupt or truncated file throws ERR_SNAPSHOT_CORRUPT and
   * leaves the cache untouched. Returns the number of entries loaded.
   */
  load(path: string): Promise<number> {
    return loadSnapshot(this, path);
  }

  /** A new cache with `options`, filled from a snapshot (verified whole before it is created). */
  static async restore<V = unknown>(path: string, options?: CacheOptions): Promise<Cache<V>> {
    const contents = await readSnapshot(path, resolveOptions(options).maxKeyBytes); // throws before any cache exists
    const cache = new Cache<V>(options);
    try {
      await loadContents(cache, contents);
    } catch (err) {
      await cache.close();
      throw err;
    }
    return cache;
  }

  /** Counters and sizes, summed over shards and threads. */
  stats(): CacheStats {
    const table = readTableStats(this.#table(), this.#options.shards, this.#options.maxMemory);
    return { ...table, workers: this.#pool === null ? null : this.#pool.stats() };
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
