/** The Redis version whose command semantics meshcache follows (clients feature-detect on it). */
export const REDIS_COMPAT_VERSION = '7.2.0';
