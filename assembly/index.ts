// The core's exports. The host (src/core/wasm.ts) instantiates this module once per thread over
// one shared memory; see layout.ts for where the shared state lives.
export {
  init, attach, detach, scratchPtr, scratchCapacity, resultPtr, growScratch, maxEntryPayload,
  get, set, del, ttl, clear, sweep, shardCapacity, deflate, inflate, deflateOffset, deflateScratchBytes,
  shardsBase, clearShard, repairShard, markThreadDead, reapThread, shardOfKey, setOwner, scan, compactShard,
} from "./table";
export { xxh64 } from "./hash";
export { ringBuild, ringFill, ringLookup, ringLookupHash, jumpHash } from "./ring";
export { sharedRingPublish, sharedRingEpoch, sharedRingLookup, sharedRingSnapshot } from "./shared-ring";
export { onAbort } from "./status";
export * from "./lz4";
export { xxh32 } from "./xxh32";
