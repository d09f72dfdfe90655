/** Internal hooks shared by the cache and the shard layer; not part of the public API. */

/** `cache[kTable]()` returns the calling thread's CoreTable of that cache. */
export const kTable = Symbol('meshcache.table');

/** `cache[kStoreEncoded](key, payload, typeFlags, ttl)` stores an already-encoded value. */
export const kStoreEncoded = Symbol('meshcache.storeEncoded');

/** `cache[kGetEncoded](key)` returns `[payload, typeFlags]` (inflated, no prefix) or null. */
export const kGetEncoded = Symbol('meshcache.getEncoded');

/** `cache[kPool]()` returns the cache's ShardPool, or null without workers. */
export const kPool = Symbol('meshcache.pool');
