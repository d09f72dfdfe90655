/**
 * Loads the WebAssembly core and creates its shared memory. The module is compiled once per
 * thread, synchronously (Node allows `new WebAssembly.Module` on any thread), and may be posted to
 * other threads with the memory; every thread then instantiates it over that same memory.
 */
import { readFileSync } from 'node:fs';
import { CORE_CONSTANTS, CORE_INITIAL_PAGES } from './constants.generated.js';

/**
 * Every constant below is the value the core module exports under the same (or the named) global
 * (assembly/index.ts), copied at build time into constants.generated.ts by
 * scripts/gen-constants.mjs; test/core/layout.test.ts fails when either drifts. None is typed here.
 */
const C = CORE_CONSTANTS;

/** Status codes returned by the core (assembly/status.ts: what each means). */
export const ST_MISS = C.ST_MISS;
export const ST_SCRATCH = C.ST_SCRATCH;
export const ST_TOO_LARGE = C.ST_TOO_LARGE;
export const ST_NO_MEMORY = C.ST_NO_MEMORY;
export const ST_BAD_CONFIG = C.ST_BAD_CONFIG;
export const ST_NO_THREAD_SLOT = C.ST_NO_THREAD_SLOT;
export const ST_BAD_LAYOUT = C.ST_BAD_LAYOUT;
export const ST_LOCK_TIMEOUT = C.ST_LOCK_TIMEOUT;
export const ST_BAD_ARGUMENT = C.ST_BAD_ARGUMENT;
export const ST_STALE = C.ST_STALE;
export const ST_BUSY = C.ST_BUSY;
export const ST_NOT_STORED = C.ST_NOT_STORED;

/** set() mode bits (assembly/table.ts). */
export const MODE_NX = C.MODE_NX;
export const MODE_XX = C.MODE_XX;
export const MODE_KEEP_TTL = C.MODE_KEEP_TTL;

/** Shard headers (assembly/layout.ts): where they start and the bytes of each. */
export const SHARDS_BASE = C.SHARDS_BASE;
export const SHARD_BYTES = C.SHARD_BYTES;
/** Most shards a cache may have (the owner table has a slot for each). */
export const MAX_SHARDS = C.MAX_SHARDS;
/** Shard header fields, from the shard's start: contended lock acquisitions (u32). */
export const S_CONTENDED = C.S_CONTENDED;
/** Shard header u32 fields: index capacity (slots), live entries. */
export const S_CAP = C.S_CAP;
export const S_COUNT = C.S_COUNT;
/** Shard header u64 fields: bytes in the small queue, in live blocks, reserved as arena, in entries. */
export const S_SMALL_BYTES = C.S_SMALL_BYTES;
export const S_USED = C.S_USED;
export const S_RESERVED = C.S_RESERVED;
export const S_ENTRY_BYTES = C.S_ENTRY_BYTES;
/** Shard header u64 fields: compressed entries, bytes compression saves over them. */
export const S_COMPRESSED = C.S_COMPRESSED;
export const S_SAVED = C.S_SAVED;
/** Shard header u64 counters. */
export const S_HITS = C.S_HITS;
export const S_MISSES = C.S_MISSES;
export const S_SETS = C.S_SETS;
export const S_DELETES = C.S_DELETES;
export const S_EVICTIONS = C.S_EVICTIONS;
export const S_EXPIRATIONS = C.S_EXPIRATIONS;
/** Value flag (host bit 3) the core also reads: the value is [raw length u32][LZ4 block]. */
export const FLAG_COMPRESSED = C.FLAG_COMPRESSED;

/** Thread slots (assembly/layout.ts): where they start, the bytes of each, how many. */
export const THREADS_BASE = C.THREADS_BASE;
export const THREAD_SLOT_BYTES = C.THREAD_SLOT_BYTES;
export const MAX_THREADS = C.MAX_THREADS;
/**
 * Thread slot fields, from the slot's start: the result word u32 (what `resultPtr()` points at:
 * the flags of the last get, a scan's next cursor, or the scratch bytes a call needed), and the
 * f64 nanoseconds the slot's threads spent compressing and decompressing (written by the host,
 * summed by stats). Slot `i` starts at `THREADS_BASE + i * THREAD_SLOT_BYTES`.
 */
export const T_RESULT = C.T_RESULT;
export const T_COMPRESS_NS = C.T_COMPRESS_NS;
export const T_DECOMPRESS_NS = C.T_DECOMPRESS_NS;
/** The compress / decompress nanosecond fields from the result word (`resultPtr()` + this). */
export const T_COMPRESS_NS_FROM_RESULT = T_COMPRESS_NS - T_RESULT;
export const T_DECOMPRESS_NS_FROM_RESULT = T_DECOMPRESS_NS - T_RESULT;

/** The shared header (assembly/layout.ts): its address, and the fields the host reads there. */
export const HEADER_BASE = C.HEADER_BASE;
/** Owner table: a u16 per shard, the owning worker + 1 (0 = none). */
export const H_OWNERS = C.H_OWNERS;
/** Worker registry: MAX_REGISTERED_WORKERS × [Node threadId i32, core thread id i32]. */
export const H_WORKERS = C.H_WORKERS;
export const MAX_REGISTERED_WORKERS = C.MAX_REGISTERED_WORKERS;
/** Bytes of one worker registry entry. */
export const WORKER_ENTRY_BYTES = C.WORKER_ENTRY_BYTES;
/** u64: bytes on the heap's free-chunk list (given back by compaction or an outgrown ring buffer). */
export const H_FREE_CHUNK_BYTES = C.H_FREE_CHUNK_BYTES;

/** Bytes of a cache entry's header in the core (before the optional version, key and value). */
export const ENTRY_HEADER_BYTES = C.ENTRY_HEADER;
/** Bytes the arena adds per block (its header) — counted in the entry's size. */
export const BLOCK_OVERHEAD_BYTES = C.BLOCK_OVERHEAD;
/**
 * Bytes of a scan record's header (assembly/scan.ts): key length u16, flags u8, 0 u8, value
 * length u32, expiry u64; the key and then the value (when asked for) follow.
 */
export const SCAN_RECORD_HEADER_BYTES = C.SCAN_RECORD_HEADER;

const WASM_PAGE = 65536;
/** Pages the module declares as its minimum (asconfig.json initialMemory). */
const INITIAL_PAGES = CORE_INITIAL_PAGES;
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
