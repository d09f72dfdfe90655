// The core's exports. The host (src/core/wasm.ts) instantiates this module once per thread over
// one shared memory; see layout.ts for where the shared state lives.
export {
  init, attach, detach, scratchPtr, scratchCapacity, resultPtr, growScratch, maxEntryPayload,
  get, set, del, ttl, clear, sweep, shardCapacity, deflate, inflate, deflateOffset, deflateScratchBytes,
  shardsBase, clearShard, shardOfKey, setOwner,
} from "./table";
export { repairShard, markThreadDead, reapThread } from "./recovery";
export { scan } from "./scan";
export { compactShard } from "./compact";
export { xxh64 } from "./hash";
export { ringBuild, ringFill, ringLookup, ringLookupHash, jumpHash } from "./ring";
export { sharedRingPublish, sharedRingEpoch, sharedRingLookup, sharedRingSnapshot } from "./shared-ring";
export { onAbort } from "./status";
export * from "./lz4";
export { xxh32 } from "./xxh32";

// Constants the host reads, exported as immutable globals: scripts/gen-constants.mjs copies their
// values into src/core/constants.generated.ts at build time, and test/core/layout.test.ts fails when
// that file and this module disagree. Add a name here before the host uses it.
export {
  HEADER_BASE, H_OWNERS, H_WORKERS, H_FREE_CHUNK_BYTES, MAX_REGISTERED_WORKERS, WORKER_ENTRY_BYTES,
  THREADS_BASE, THREAD_SLOT_BYTES, MAX_THREADS, T_RESULT, T_COMPRESS_NS, T_DECOMPRESS_NS,
  SHARDS_BASE, SHARD_BYTES, MAX_SHARDS, S_CONTENDED, S_CAP, S_COUNT, S_SMALL_BYTES, S_USED, S_RESERVED,
  S_ENTRY_BYTES, S_COMPRESSED, S_SAVED, S_HITS, S_MISSES, S_SETS, S_DELETES, S_EVICTIONS,
  S_EXPIRATIONS, ENTRY_HEADER, FLAG_COMPRESSED,
} from "./layout";
export { BLOCK_OVERHEAD } from "./alloc";
export { SCAN_RECORD_HEADER } from "./scan";
export { MODE_NX, MODE_XX, MODE_KEEP_TTL } from "./table";
export {
  ST_MISS, ST_SCRATCH, ST_TOO_LARGE, ST_NO_MEMORY, ST_BAD_CONFIG, ST_NO_THREAD_SLOT, ST_BAD_LAYOUT,
  ST_LOCK_TIMEOUT, ST_BAD_ARGUMENT, ST_STALE, ST_BUSY, ST_NOT_STORED,
} from "./status";
