/**
 * Cache options: the public `CacheOptions`, the filled `ResolvedOptions`, one `DEFAULTS` literal
 * and the validation, whose every message reads `options.<name> must be …`.
 */
import { availableParallelism } from 'node:os';
import { rangeError, typeError } from './errors.js';
import type { Serializer } from './serializer.js';

/** Milliseconds. */
export type Milliseconds = number;
/** Bytes. */
export type Bytes = number;

/** Options for `new Cache(options)`. */
export interface CacheOptions {
  /**
   * Byte budget for the cache's entries: key, value, the 28-byte entry header, arena block
   * rounding and the index. A number of bytes, or a string with a unit: `'512mb'`, `'2gb'`,
   * `'64kb'` (kb/mb/gb are powers of 1024; k/m/g are powers of 1000, as in Redis's config).
   * Split evenly across shards; a set never fails because the cache is full, it evicts.
   * At least 64 KiB per shard, at most 3840 MiB (the core addresses 4 GiB).
   * @default '64mb'
   */
  maxMemory?: Bytes | string;
  /**
   * Upper bound on the number of entries, 0 for none. Split evenly across shards (each holds at
   * most ceil(maxEntries / shards)).
   * @default 0
   */
  maxEntries?: number;
  /**
   * Default time to live of an entry in ms, used when `set` is given no `ttl`. 0: never expires.
   * @default 0
   */
  ttl?: Milliseconds;
  /**
   * How stale the clock used for expiry checks may be, in ms. Reading the clock costs ~60 ns
   * here, so each thread reads it at most once per `ttlResolution` and reuses it in between (as
   * lru-cache does), and also re-reads it every 1024 operations so that a long synchronous loop
   * still sees time pass. Writes that set an expiry always read the exact clock. 0 reads it on
   * every operation.
   * @default 1
   */
  ttlResolution?: Milliseconds;
  /**
   * Number of shards (a power of two, 1 to 1024). Each shard has its own lock, index, arena and
   * eviction queues, so more shards mean less contention between threads but a smaller budget
   * per shard (a value must fit in one shard's budget). Default: 16, or fewer when that would
   * leave a shard less than 1 MiB.
   */
  shards?: number;
  /**
   * Largest key in bytes (UTF-8 for strings), 1 to 65535. A longer key throws a RangeError with
   * code `ERR_KEY_TOO_LARGE`.
   * @default 1024
   */
  maxKeyBytes?: Bytes;
  /**
   * Largest stored value in bytes (after serialization). A larger value throws a RangeError with
   * code `ERR_VALUE_TOO_LARGE`. Must fit one shard: at most maxMemory / shards minus ~1 KiB.
   * Default: 8 MiB, or half a shard's budget when that is smaller.
   */
  maxValueBytes?: Bytes;
  /**
   * Turns values that are not strings, Buffers or Uint8Arrays into bytes and back. Default:
   * msgpackr (plain objects, arrays, numbers, Dates, Maps, Sets, typed arrays, Errors).
   */
  serializer?: Serializer;
  /**
   * The clock expiry is measured with, in this thread's Cache object: `now()` returns Unix ms.
   * For tests that move time by hand instead of sleeping, and for simulations. It does not travel
   * in `cache.handle` (pass it to `Cache.attach` as well) and the shard workers' background sweeps
   * use the real clock. `ttlResolution` still applies: the clock is read at most once per
   * `ttlResolution` ms of real time and every 1024 operations.
   * @default Date (the system clock)
   */
  clock?: Clock;
  /**
   * Shard-owning worker threads (Piscina) for background and bulk work: `true` for one per core
   * but one (at least one), a number for that many (capped at the shard count), `false`/0 for
   * none. With workers, expired entries are swept every `sweepInterval` (each shard's whole index
   * within ~1 s), and scan, snapshot, setAsync and large getManyAsync/setManyAsync run in the
   * owners; without, they run on the calling thread in short slices. Off by default because
   * starting threads costs ~30 ms and memory per thread; call `await cache.close()` to stop them.
   * @default false
   */
  workers?: boolean | number;
  /**
   * Period of the owners' expiry sweep in ms (with workers), 0 for none.
   * @default 250
   */
  sweepInterval?: Milliseconds;
  /**
   * Longest a caller waits for a shard lock, in ms, before giving up with a CacheError
   * `ERR_LOCK_TIMEOUT` (nothing changed). Waiting spins briefly, then parks in 1 ms steps. A lock
   * held by a thread known to be dead is taken over at once instead (the shard is repaired).
   * @default 10000
   */
  lockTimeout?: Milliseconds;
  /**
   * Transparent LZ4 compression of large values, or `false` for none. A value (after
   * serialization) of at least `threshold` bytes is stored compressed when that saves at least
   * `minSavings` of its size; `get` inflates it. The byte budget counts the stored size.
   * Compression runs on the calling thread before the shard is locked; inflation runs after the
   * lock is released.
   * @default { threshold: 1024, minSavings: 0.125 }
   */
  compression?: CompressionOptions | false;
  /**
   * Seed for the key hash. Default: random per cache, so that keys from outside cannot be chosen
   * to collide. Set it only to make placement reproducible (tests, benchmarks).
   */
  seed?: number;
}

/** A source of the current time in Unix ms (`Date` is one). */
export interface Clock {
  now(): Milliseconds;
}

/** Checks an optional `clock` option; returns the function to read it (Date.now by default). */
export function clockOf(clock: unknown, name = 'options.clock'): () => Milliseconds {
  if (clock === undefined) return Date.now;
  const c = clock as Partial<Clock> | null;
  if (c === null || typeof c !== 'object' || typeof c.now !== 'function') {
    throw typeError('ERR_INVALID_OPTION', `${name} must be an object with a now() function`);
  }
  return () => c.now!();
}

/** Options for transparent compression. */
export interface CompressionOptions {
  /** Values of at least this many bytes are tried (1 to 2^31). @default 1024 */
  threshold?: Bytes;
  /** Least fraction of the size compression must save to be kept, in [0, 1). @default 0.125 */
  minSavings?: number;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  maxMemory: Bytes;
  maxEntries: number;
  ttl: Milliseconds;
  ttlResolution: Milliseconds;
  shards: number;
  maxKeyBytes: Bytes;
  maxValueBytes: Bytes;
  seed: number;
  lockTimeout: Milliseconds;
  /** Shard worker threads; 0 = none. */
  workers: number;
  sweepInterval: Milliseconds;
  /** Compression threshold in bytes; 0 = compression off. */
  compressionThreshold: Bytes;
  /** Least fraction compression must save. */
  compressionMinSavings: number;
  /** Per-shard byte budget. */
  shardBudget: Bytes;
  /** Per-shard entry bound (0 = none). */
  maxEntriesPerShard: number;
  /** Bytes a shard takes from the heap at a time. */
  chunkBytes: Bytes;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Every default in one place. */
export const DEFAULTS = {
  maxMemory: 64 * MiB,
  maxEntries: 0,
  ttl: 0,
  ttlResolution: 1,
  maxShards: 16,
  minShardBudgetForAutoShards: 1 * MiB,
  maxKeyBytes: 1024,
  maxValueBytes: 8 * MiB,
  chunkBytes: 1 * MiB,
  lockTimeout: 10_000,
  sweepInterval: 250,
  compressionThreshold: 1024,
  compressionMinSavings: 0.125,
} as const;

/** Hard limits. */
export const LIMITS = {
  minShardBudget: 64 * KiB,
  maxMemory: 3840 * MiB,
  maxShards: 1024,
  maxKeyBytes: 65535,
  /** Room in a shard that an entry cannot use: the smallest index and ghost, and block headers. */
  shardReserve: 1 * KiB,
} as const;

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: KiB, kib: KiB,
  m: 1e6, mb: MiB, mib: MiB,
  g: 1e9, gb: GiB, gib: GiB,
};

/**
 * Parses a byte size: a non-negative number, or a string such as `'512mb'`, `'1.5gb'`, `'100k'`.
 * Returns undefined when the input is not a size.
 */
export function parseBytes(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = UNITS[m[2].toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.floor(Number(m[1]) * unit);
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw typeError('ERR_INVALID_OPTION', `options.${name} must be a number`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError('ERR_INVALID_OPTION', `options.${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Checks a TTL in ms (finite, >= 0). `name` is used in the message. */
export function checkTtl(name: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError('ERR_INVALID_TTL', `${name} must be a number`);
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw rangeError('ERR_INVALID_TTL', `${name} must be a finite number of milliseconds >= 0`);
  }
  return value;
}

/** Validates `options` and fills in the defaults. Throws TypeError / RangeError. */
export function resolveOptions(options: CacheOptions | undefined): ResolvedOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') throw typeError('ERR_INVALID_OPTION', 'options must be an object');

  let maxMemory: number = DEFAULTS.maxMemory;
  if (options.maxMemory !== undefined) {
    const parsed = parseBytes(options.maxMemory);
    if (parsed === undefined) {
      if (typeof options.maxMemory !== 'number' && typeof options.maxMemory !== 'string') {
        throw typeError('ERR_INVALID_OPTION', 'options.maxMemory must be a number of bytes or a string like \'512mb\'');
      }
      throw rangeError('ERR_INVALID_OPTION', 'options.maxMemory must be a number of bytes or a string like \'512mb\'');
    }
    maxMemory = parsed;
  }
  if (maxMemory < LIMITS.minShardBudget || maxMemory > LIMITS.maxMemory) {
    throw rangeError('ERR_INVALID_OPTION', `options.maxMemory must be from 64 KiB to 3840 MiB (got ${maxMemory} bytes)`);
  }

  let shards: number;
  if (options.shards !== undefined) {
    if (typeof options.shards !== 'number') throw typeError('ERR_INVALID_OPTION', 'options.shards must be a number');
    if (!isPowerOfTwo(options.shards) || options.shards > LIMITS.maxShards) {
      throw rangeError('ERR_INVALID_OPTION', 'options.shards must be a power of two from 1 to 1024');
    }
    shards = options.shards;
    if (maxMemory / shards < LIMITS.minShardBudget) {
      throw rangeError('ERR_INVALID_OPTION', `options.shards must leave each shard at least 64 KiB of maxMemory (${maxMemory} / ${shards} is less)`);
    }
  } else {
    shards = DEFAULTS.maxShards;
    while (shards > 1 && maxMemory / shards < DEFAULTS.minShardBudgetForAutoShards) shards >>= 1;
  }
  const shardBudget = Math.floor(maxMemory / shards / 8) * 8;

  const maxEntries = options.maxEntries === undefined ? DEFAULTS.maxEntries
    : checkInteger('maxEntries', options.maxEntries, 0, 2 ** 32 - 1);
  const ttl = options.ttl === undefined ? DEFAULTS.ttl : checkTtl('options.ttl', options.ttl);
  const ttlResolution = options.ttlResolution === undefined ? DEFAULTS.ttlResolution
    : checkInteger('ttlResolution', options.ttlResolution, 0, 1000);
  const maxKeyBytes = options.maxKeyBytes === undefined ? DEFAULTS.maxKeyBytes
    : checkInteger('maxKeyBytes', options.maxKeyBytes, 1, LIMITS.maxKeyBytes);

  const valueRoom = shardBudget - LIMITS.shardReserve - maxKeyBytes;
  let maxValueBytes: number;
  if (options.maxValueBytes !== undefined) {
    maxValueBytes = checkInteger('maxValueBytes', options.maxValueBytes, 0, 2 ** 32 - 1);
    if (maxValueBytes > valueRoom) {
      throw rangeError('ERR_INVALID_OPTION', `options.maxValueBytes must be at most ${valueRoom} (one shard's budget, maxMemory / shards, less the key and ~1 KiB)`);
    }
  } else {
    maxValueBytes = Math.max(0, Math.min(DEFAULTS.maxValueBytes, Math.floor(shardBudget / 2), valueRoom));
  }

  clockOf(options.clock);
  if (options.serializer !== undefined) {
    const s = options.serializer as Partial<Serializer> | null;
    if (s === null || typeof s !== 'object' || typeof s.serialize !== 'function' || typeof s.deserialize !== 'function') {
      throw typeError('ERR_INVALID_OPTION', 'options.serializer must be an object with serialize(value) and deserialize(bytes) functions');
    }
  }
  const lockTimeout = options.lockTimeout === undefined ? DEFAULTS.lockTimeout
    : checkInteger('lockTimeout', options.lockTimeout, 1, 3_600_000);
  let workers = 0;
  if (options.workers === true) workers = Math.max(1, availableParallelism() - 1);
  else if (options.workers !== undefined && options.workers !== false) {
    if (typeof options.workers !== 'number') throw typeError('ERR_INVALID_OPTION', 'options.workers must be a boolean or a number');
    workers = checkInteger('workers', options.workers, 0, 128);
  }
  workers = Math.min(workers, shards);
  const sweepInterval = options.sweepInterval === undefined ? DEFAULTS.sweepInterval
    : checkInteger('sweepInterval', options.sweepInterval, 0, 3_600_000);
  let compressionThreshold: number = DEFAULTS.compressionThreshold;
  let compressionMinSavings: number = DEFAULTS.compressionMinSavings;
  if (options.compression === false) {
    compressionThreshold = 0;
  } else if (options.compression !== undefined) {
    const c = options.compression as CompressionOptions | null;
    if (c === null || typeof c !== 'object') throw typeError('ERR_INVALID_OPTION', 'options.compression must be an object or false');
    if (c.threshold !== undefined) compressionThreshold = checkInteger('compression.threshold', c.threshold, 1, 2 ** 31);
    if (c.minSavings !== undefined) {
      if (typeof c.minSavings !== 'number') throw typeError('ERR_INVALID_OPTION', 'options.compression.minSavings must be a number');
      if (!(c.minSavings >= 0 && c.minSavings < 1)) {
        throw rangeError('ERR_INVALID_OPTION', 'options.compression.minSavings must be a fraction from 0 (inclusive) to 1 (exclusive)');
      }
      compressionMinSavings = c.minSavings;
    }
  }
  const seed = options.seed === undefined ? Math.floor(Math.random() * 2 ** 32)
    : checkInteger('seed', options.seed, 0, 2 ** 32 - 1);

  return {
    maxMemory,
    maxEntries,
    ttl,
    ttlResolution,
    shards,
    maxKeyBytes,
    maxValueBytes,
    seed,
    shardBudget,
    lockTimeout,
    workers,
    sweepInterval,
    compressionThreshold,
    compressionMinSavings,
    maxEntriesPerShard: maxEntries === 0 ? 0 : Math.ceil(maxEntries / shards),
    chunkBytes: Math.max(LIMITS.minShardBudget, Math.min(DEFAULTS.chunkBytes, shardBudget)),
  };
}
