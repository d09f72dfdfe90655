/**
 * What identifies one cache across threads, at the bottom of the layers so that the core, the
 * shard owners and the cache all speak of it without importing each other: the handle a thread
 * posts to another (`cache.handle` → `Cache.attach(handle)`), and the key by which the core's
 * users reach the calling thread's table of a cache.
 */
import type { ResolvedOptions } from '../config.js';

/** What `cache.handle` gives: post it to a worker thread and call `Cache.attach(handle)` there. */
export interface CacheHandle {
  readonly kind: 'meshcache.Cache';
  readonly version: 1;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly options: ResolvedOptions;
}

/** `cache[kTable]()` returns the calling thread's CoreTable of that cache (not public API). */
export const kTable = Symbol('meshcache.table');
