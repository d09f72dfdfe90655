/** Internal hooks shared by the cache and the shard layer; not part of the public API. */

/** `cache[kStoreEncoded](key, payload, typeFlags, ttl, onlyIfAbsent?)` stores an already-encoded value; returns whether it stored. */
export const kStoreEncoded = Symbol('meshcache.storeEncoded');

/** `cache[kGetEncoded](key)` returns `[payload, typeFlags]` (inflated, no prefix) or null. */
export const kGetEncoded = Symbol('meshcache.getEncoded');

/** `cache[kPool]()` returns the cache's ShardPool, or null without workers. */
export const kPool = Symbol('meshcache.pool');

/**
 * `cache[kGetView](key)` returns the stored payload (inflated, without a fresh prefix) as a view
 * into this thread's scratch area, or null. The view is valid only until the next call on this
 * cache in this thread: copy it out (the RESP writer does) before anything else runs.
 */
export const kGetView = Symbol('meshcache.getView');

/** `cache[kEncode](value)` returns `[payload, typeFlags]` as the core would store the value. */
export const kEncode = Symbol('meshcache.encode');

/** `cache[kDecode](payload, typeFlags)` turns an encoded payload back into a value. */
export const kDecode = Symbol('meshcache.decode');
