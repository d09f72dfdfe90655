/**
 * meshcache: a cache for Node.js whose entries live in one shared WebAssembly.Memory, shared by
 * every thread of the process.
 */
export { Cache } from './cache/cache.js';
export type {
  CacheKey, SetOptions, LoadOptions, CacheStats, ShardStats, CacheHandle, AttachOptions, ScanOptions, ScanStep, SnapshotInfo,
} from './cache/cache.js';
export type { CacheOptions, CompressionOptions, ResolvedOptions, Milliseconds, Bytes, Clock } from './config.js';
export { parseBytes, DEFAULTS, LIMITS } from './config.js';
export { CacheError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { msgpackSerializer } from './serializer.js';
export type { Serializer } from './serializer.js';
export * as lz4 from './lz4.js';
export { Lz4Error } from './core/codec.js';
export { HashRing, SharedRing } from './core/ring.js';
export type { HashRingOptions } from './core/ring.js';
export { MeshCache } from './mesh/embedded.js';
export type { JoinOptions } from './mesh/embedded.js';
export { MeshNode } from './mesh/node.js';
export type { MeshOptions, MeshNodeInfo, MeshCounters } from './mesh/node.js';
export type { MembershipOptions, Member, MemberStatus } from './mesh/membership.js';
export { MEMBERSHIP_PRESETS } from './mesh/presets.js';
