/**
 * Loads the WebAssembly core and creates its shared memory. The module is compiled once per
 * thread, synchronously (Node allows `new WebAssembly.Module` on any thread), and may be posted to
 * other threads with the memory; every thread then instantiates it over that same memory.
 */
import { readFileSync } from 'node:fs';

/** Status codes returned by the core (assembly/status.ts). */
export const ST_MISS = -1;
export const ST_SCRATCH = -2;
export const ST_TOO_LARGE = -3;
export const ST_NO_MEMORY = -4;
export const ST_BAD_CONFIG = -5;
export const ST_NO_THREAD_SLOT = -6;
export const ST_BAD_LAYOUT = -7;
export const ST_LOCK_TIMEOUT = -8;
export const ST_BAD_ARGUMENT = -9;
export const ST_STALE = -10;
export const ST_BUSY = -11;
export const ST_NOT_STORED = 1;

/** set() mode bits (assembly/table.ts). */
export const MODE_NX = 1;
export const MODE_XX = 2;
export const MODE_KEEP_TTL = 4;

/** Memory layout constants the host reads (assembly/layout.ts). */
export const SHARD_BYTES = 4096;
export const S_CONTENDED = 8;
export const S_CAP = 72;
export const S_COUNT = 76;
export const S_SMALL_BYTES = 112;
export const S_USED = 120;
export const S_RESERVED = 128;
export const S_ENTRY_BYTES = 136;
export const S_COMPRESSED = 144;
export const S_SAVED = 152;
export const S_HITS = 192;
export const S_MISSES = 200;
export const S_SETS = 208;
export const S_DELETES = 216;
export const S_EVICTIONS = 224;
export const S_EXPIRATIONS = 232;
/** Value flag (host bit 3) the core also reads: the value is [raw length u32][LZ4 block]. */
export const FLAG_COMPRESSED = 8;
/** Thread slot fields after the result word (resultPtr() + 4, + 12): f64 ns compressing / decompressing. */
export const T_COMPRESS_NS_FROM_RESULT = 4;
export const T_DECOMPRESS_NS_FROM_RESULT = 12;
/** Header tables the host uses (assembly/layout.ts): owners (u16 per shard), worker registry. */
export const HEADER_BASE = 65536;
export const H_OWNERS = 1024;
export const H_WORKERS = 3072;
export const H_FREE_CHUNK_BYTES = 72;
export const MAX_REGISTERED_WORKERS = 128;
/** Thread slots: base and size (assembly/layout.ts). */
export const THREADS_BASE = HEADER_BASE + 4096;
export const THREAD_SLOT_BYTES = 32;
export const MAX_THREADS = 1024;
/** Bytes of a cache entry's header in the core (before key and value). */
export const ENTRY_HEADER_BYTES = 28;
/** Bytes the arena adds per block (its header) — counted in the entry's size. */
export const BLOCK_OVERHEAD_BYTES = 4;

const WASM_PAGE = 65536;
/** Pages the module declares as its minimum (asconfig.json initialMemory). */
const INITIAL_PAGES = 4;
/** A wasm32 memory's largest size: 4 GiB. */
export const MAX_PAGES = 65536;

/** The core's exports, typed. */
export interface CoreExports {
  init(shards: number, shardBudget: number, maxEntriesPerShard: number, seedLo: number, seedHi: number,
    chunkBytes: number, smallPermille: number, moveThreshold: number, lockTimeoutMs: number): number;
  attach(): number;
  detach(): void;
  scratchPtr(): number;
  scratchCapacity(): number;
  resultPtr(): number;
  growScratch(need: number): number;
  maxEntryPayload(): number;
  get(keyLen: number, now: number): number;
  set(keyLen: number, valueAt: number, valueLen: number, flags: number, expiresAt: number, mode: number, now: number): number;
  del(keyLen: number, now: number): number;
  ttl(keyLen: number, now: number, setTo: number): number;
  clear(): number;
  clearShard(shard: number): number;
  sweep(shard: number, slots: number, now: number): number;
  repairShard(shardPtr: number): void;
  markThreadDead(tid: number): number;
  reapThread(tid: number): number;
  shardOfKey(keyLen: number): number;
  setOwner(shard: number, owner: number): void;
  scan(shard: number, cursor: number, maxRecords: number, withValues: number, now: number): number;
  compactShard(shard: number): number;
  shardCapacity(shard: number): number;
  shardsBase(): number;
  deflate(valueAt: number, valueLen: number, maxStored: number): number;
  inflate(storedLen: number): number;
  deflateOffset(valueAt: number, valueLen: number): number;
  deflateScratchBytes(valueAt: number, valueLen: number): number;
  xxh64(ptr: number, len: number, seed: bigint): bigint;
  /** Sorts a ring's `count` 16-byte entries [point u64, node u32, pad u32] at `ptr` in place (assembly/ring.ts); -1 if the region is bad. */
  ringBuild(ptr: number, count: number): number;
  /**
   * Builds the sorted ring of a stage (assembly/ring.ts: names block, then a u32 point count per
   * node) into `ringPtr`, hashing `${name}#${i}` in the work area; the point count, or -1 if a
   * region or the stage is bad.
   */
  ringFill(stagePtr: number, stageBytes: number, ringPtr: number, workPtr: number, seedLo: number, seedHi: number): number;
  /**
   * Builds a stage's ring into the cache's shared ring and publishes it (assembly/shared-ring.ts);
   * the new epoch (>= 1) or ST_BAD_ARGUMENT / ST_BAD_LAYOUT / ST_LOCK_TIMEOUT / ST_NO_MEMORY.
   */
  sharedRingPublish(stagePtr: number, stageBytes: number, workPtr: number, seedLo: number, seedHi: number): number;
  /** The shared ring's published epoch (0 = never published). */
  sharedRingEpoch(): number;
  /** Node index owning the key on the shared ring at `epoch`; ST_STALE / ST_MISS / ST_BUSY / ST_BAD_ARGUMENT. */
  sharedRingLookup(keyPtr: number, keyLen: number, epoch: number): number;
  /**
   * Copies [epoch u32, points u32, seed u64, names block] of the shared ring to `dst`; the bytes,
   * or ST_SCRATCH (bytes needed in the result word) / ST_BAD_ARGUMENT / ST_BAD_LAYOUT / ST_BUSY.
   */
  sharedRingSnapshot(dst: number, cap: number): number;
  /** Node index owning xxh64(key bytes at keyPtr, seed) on the sorted ring; -1 for an empty or bad ring. */
  ringLookup(ptr: number, count: number, keyPtr: number, keyLen: number, seedLo: number, seedHi: number): number;
  /** Node index owning a precomputed 64-bit hash (two u32 halves); -1 for an empty or bad ring. */
  ringLookupHash(ptr: number, count: number, hashLo: number, hashHi: number): number;
  /** Jump consistent hash (Lamping & Veach) of a 64-bit hash into [0, buckets); -1 when buckets < 1. */
  jumpHash(keyHashLo: number, keyHashHi: number, buckets: number): number;
}

let compiled: WebAssembly.Module | undefined;

/** The compiled core module (compiled on first use in this thread). */
export function coreModule(): WebAssembly.Module {
  if (compiled === undefined) {
    const url = new URL('../../build/core.wasm', import.meta.url);
    let bytes: Buffer;
    try {
      bytes = readFileSync(url);
    } catch (err) {
      throw new Error(`meshcache: cannot read the WebAssembly core at ${url.pathname}; run \`npm run build\``, { cause: err });
    }
    compiled = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  }
  return compiled;
}

/** A new shared memory for one cache. Only virtual address space is reserved up front. */
export function createMemory(maximumBytes: number): WebAssembly.Memory {
  const maximum = Math.min(MAX_PAGES, Math.max(INITIAL_PAGES, Math.ceil(maximumBytes / WASM_PAGE)));
  return new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum, shared: true });
}

/** Instantiates the core over `memory` for the calling thread. */
export function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): CoreExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as CoreExports;
}
