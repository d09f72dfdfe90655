/** The public types of the in-process Cache's calls (options per call, stats, attach). */
import type { Clock, Milliseconds } from '../config.js';
import type { Serializer } from '../serializer.js';
import type { TableStats } from '../core/stats.js';
import type { ShardPoolStats } from '../shard/pool.js';

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

/** What `stats()` returns. Counters are since the cache was created, across all threads. */
export interface CacheStats extends TableStats {
  /** The shard owners, when the cache has workers (null otherwise). */
  workers: ShardPoolStats | null;
}

/** Options for `Cache.attach`: what cannot travel in a handle. */
export interface AttachOptions {
  serializer?: Serializer;
  /** The clock expiry is measured with in this thread (see CacheOptions.clock). @default Date */
  clock?: Clock;
}
