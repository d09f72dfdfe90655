// Memory layout of the shared core. Everything shared between threads lives at fixed offsets in
// the one shared WebAssembly.Memory; per-instance (per-thread) state is only the mutable globals
// in table.ts. The first 64 KiB are left to the compiler's static data, which every instantiation
// re-applies, so nothing shared may live there.
//
//   0          HEADER_BASE        THREADS_BASE        SHARDS_BASE                heapBase
//   ┌──────────┬──────────────────┬───────────────────┬──────────────────────────┬──────────────▶
//   │ static   │ header (4 KiB)   │ thread slots      │ shard headers            │ chunks: thread
//   │ data     │ config, heap top │ 1024 × 32 B       │ shards × 4 KiB           │ scratch areas,
//   │          │ ring words,      │                   │ (lock, index, queues,    │ shard arenas and
//   │          │ owners, workers  │                   │  counters, TLSF control) │ ring buffers, cut
//   └──────────┴──────────────────┴───────────────────┴──────────────────────────┴──────────────▶
//                                                                        heapBase = SHARDS_BASE +
//                                              shards × SHARD_BYTES rounded up to 64 KiB (init)
//
// Every struct below is declared once as an @unmanaged class, only so that its field offsets and
// size come from offsetof/sizeof instead of being typed by hand; no instance is ever created.
// The host reads the offsets it needs from the module's exported globals (assembly/index.ts;
// scripts/gen-constants.mjs writes them to src/core/constants.generated.ts at build time).

/** Bytes of a cache line: data written by different threads is kept on separate lines. */
export const CACHE_LINE: u32 = 64;

// ─── header ───────────────────────────────────────────────────────────────────────────────────
//
// Header (HEADER_BASE, HEADER_BYTES):
//   +0    configuration and heap words (class Header):
//         +0 magic u32 · +4 state u32 (0 empty, 1 laying out, 2 ready) · +8 layout version u32
//         +12 shard count · +16 shard mask · +20 max entries per shard (0 = no bound)
//         +24 seed u64 · +32 shard byte budget u64 · +40 heap top u32 · +44 heap lock i32
//         +48 chunk bytes · +52 small-queue share in 1/1000 · +56 S3-FIFO move threshold
//         +60 heap base · +64 lock timeout in ms (a caller gives up waiting for a shard lock
//         after this long) · +68 free chunk list head u32 (chunks given back by compaction or
//         by a ring buffer that grew; heapAlloc takes one of exactly the size asked first)
//         +72 free chunk bytes u64
//   +128  consistent-hash ring words (shared-ring.ts, class RingWords), on a cache line of its own:
//         +0 published u64 = epoch << 32 | buffer pointer (0 = never published)
//         +8 writer lock i32 (0 free, else the holder's thread id)
//         +12 buffer A pointer u32 · +16 buffer B pointer u32 (0 = not allocated yet)
//         (init zeroes the whole line, H_RING_BYTES)
//   +1024 owner table: u16 per shard (MAX_SHARDS), the shard's owning worker + 1 (0 = none), for stats
//   +3072 worker registry: MAX_REGISTERED_WORKERS × [Node threadId i32, core thread id i32],
//         written by the host's shard workers so that the pool can name a dead worker's thread id
//   +4096 end

export const HEADER_BASE: u32 = 65536;
export const HEADER_BYTES: u32 = 4096;
export const MAGIC: u32 = 0x4348534d; // "MSHC"
export const LAYOUT_VERSION: u32 = 1;

// @ts-ignore: decorator
@unmanaged class Header {
  magic: u32;
  state: u32;
  version: u32;
  shards: u32;
  shardMask: u32;
  maxEntries: u32;
  seed: u64;
  budget: u64;
  heapTop: u32;
  heapLock: i32;
  chunkBytes: u32;
  smallPermille: u32;
  moveThreshold: u32;
  heapBase: u32;
  lockTimeoutMs: u32;
  freeChunks: u32;
  freeChunkBytes: u64;
}

export const H_MAGIC: u32 = <u32>offsetof<Header>("magic");
export const H_STATE: u32 = <u32>offsetof<Header>("state");
export const H_VERSION: u32 = <u32>offsetof<Header>("version");
export const H_SHARDS: u32 = <u32>offsetof<Header>("shards");
export const H_SHARD_MASK: u32 = <u32>offsetof<Header>("shardMask");
export const H_MAX_ENTRIES: u32 = <u32>offsetof<Header>("maxEntries");
export const H_SEED: u32 = <u32>offsetof<Header>("seed");
export const H_BUDGET: u32 = <u32>offsetof<Header>("budget");
export const H_HEAP_TOP: u32 = <u32>offsetof<Header>("heapTop");
export const H_HEAP_LOCK: u32 = <u32>offsetof<Header>("heapLock");
export const H_CHUNK_BYTES: u32 = <u32>offsetof<Header>("chunkBytes");
export const H_SMALL_PERMILLE: u32 = <u32>offsetof<Header>("smallPermille");
export const H_MOVE_THRESHOLD: u32 = <u32>offsetof<Header>("moveThreshold");
export const H_HEAP_BASE: u32 = <u32>offsetof<Header>("heapBase");
export const H_LOCK_TIMEOUT_MS: u32 = <u32>offsetof<Header>("lockTimeoutMs");
export const H_FREE_CHUNKS: u32 = <u32>offsetof<Header>("freeChunks");
export const H_FREE_CHUNK_BYTES: u32 = <u32>offsetof<Header>("freeChunkBytes");

// @ts-ignore: decorator
@unmanaged class RingWords {
  published: u64;
  lock: i32;
  bufferA: u32;
  bufferB: u32;
}

/** The ring words: the first cache line after the configuration words. */
export const H_RING: u32 = (<u32>offsetof<Header>() + CACHE_LINE - 1) & ~(CACHE_LINE - 1);
export const H_RING_PUBLISHED: u32 = H_RING + <u32>offsetof<RingWords>("published");
export const H_RING_LOCK: u32 = H_RING + <u32>offsetof<RingWords>("lock");
/** Buffer A's pointer; buffer B's follows it (shared-ring.ts indexes the pair). */
export const H_RING_BUFFERS: u32 = H_RING + <u32>offsetof<RingWords>("bufferA");
/** Bytes of the ring's header words (init zeroes them): the whole cache line. */
export const H_RING_BYTES: u32 = CACHE_LINE;

export const MAX_SHARDS: u32 = 1024;
/** Owner table: a u16 per shard. */
export const H_OWNERS: u32 = 1024;
export const OWNER_BYTES: u32 = 2;
/** Worker registry: [Node threadId i32, core thread id i32] per worker, after the owner table. */
export const H_WORKERS: u32 = H_OWNERS + MAX_SHARDS * OWNER_BYTES;
export const MAX_REGISTERED_WORKERS: u32 = 128;
export const WORKER_ENTRY_BYTES: u32 = 8;

if (H_RING + H_RING_BYTES > H_OWNERS) ERROR("layout: the header's words overlap the owner table");
if (H_WORKERS + MAX_REGISTERED_WORKERS * WORKER_ENTRY_BYTES > HEADER_BYTES) ERROR("layout: the worker registry overflows the header");

export const STATE_EMPTY: i32 = 0;
export const STATE_LAYING_OUT: i32 = 1;
export const STATE_READY: i32 = 2;

// ─── thread slots ─────────────────────────────────────────────────────────────────────────────
//
// Thread slot (THREADS_BASE + slot × THREAD_SLOT_BYTES, class ThreadSlot, 32 bytes):
//   +0 state u32 (THREAD_FREE, THREAD_LIVE, THREAD_DEAD) · +4 scratch pointer u32
//   +8 scratch capacity u32 · +12 result word u32 (the value flags of the last get, the next
//   cursor of a scan, or the scratch size a call needed) · +16 f64 ns this thread spent
//   compressing · +24 f64 ns spent decompressing (both written by the host, summed by stats; a
//   slot's figures outlive its thread)

export const THREADS_BASE: u32 = HEADER_BASE + HEADER_BYTES;
export const MAX_THREADS: u32 = 1024;

// @ts-ignore: decorator
@unmanaged class ThreadSlot {
  state: u32;
  scratch: u32;
  scratchCap: u32;
  result: u32;
  compressNs: f64;
  decompressNs: f64;
}

export const THREAD_SLOT_BYTES: u32 = <u32>offsetof<ThreadSlot>();
export const T_STATE: u32 = <u32>offsetof<ThreadSlot>("state");
export const T_SCRATCH: u32 = <u32>offsetof<ThreadSlot>("scratch");
export const T_SCRATCH_CAP: u32 = <u32>offsetof<ThreadSlot>("scratchCap");
export const T_RESULT: u32 = <u32>offsetof<ThreadSlot>("result");
export const T_COMPRESS_NS: u32 = <u32>offsetof<ThreadSlot>("compressNs");
export const T_DECOMPRESS_NS: u32 = <u32>offsetof<ThreadSlot>("decompressNs");
/** Thread slot states. A DEAD slot's thread is gone; locks it holds may be taken over. */
export const THREAD_FREE: u32 = 0;
export const THREAD_LIVE: u32 = 1;
export const THREAD_DEAD: u32 = 2;

// ─── shard headers ────────────────────────────────────────────────────────────────────────────
//
// Shard header (SHARDS_BASE + shard × SHARD_BYTES). The lock has the first cache line to itself;
// the state words and the counters have a line each after it.
//   +0   lock words (class ShardLock): +0 lock i32 (0 free, else holder's thread id)
//        +4 waiters i32 · +8 contended acquisitions u32
//   +64  state (class ShardState): +64 index ptr · +68 (unused) · +72 capacity · +76 entries
//        +80 ghost ptr · +84 ghost mask · +88 sweep cursor · +92 chunk list head
//        +96 small head · +100 small tail · +104 main head · +108 main tail
//        +112 small bytes u64 · +120 used bytes u64 (all live blocks) · +128 reserved bytes u64
//        (arena) · +136 entry bytes u64 (blocks holding entries) · +144 compressed entries u64
//        +152 bytes saved by compression u64 (raw length − stored length, over live entries)
//   +192 counters u64 (class ShardCounters): hits, misses, sets, deletes, evictions, expirations
//   +512 TLSF control (alloc.ts): fl bitmap u32, sl bitmaps [FL_COUNT] u32,
//        free-list heads [FL_COUNT][SL_COUNT] u32 — TLSF_CONTROL_BYTES, checked there to fit

export const SHARDS_BASE: u32 = THREADS_BASE + MAX_THREADS * THREAD_SLOT_BYTES;
export const SHARD_BYTES: u32 = 4096;

// @ts-ignore: decorator
@unmanaged class ShardLock {
  lock: i32;
  waiters: i32;
  contended: u32;
}

// @ts-ignore: decorator
@unmanaged class ShardState {
  index: u32;
  unused: u32;
  cap: u32;
  count: u32;
  ghost: u32;
  ghostMask: u32;
  sweep: u32;
  chunks: u32;
  smallHead: u32;
  smallTail: u32;
  mainHead: u32;
  mainTail: u32;
  smallBytes: u64;
  used: u64;
  reserved: u64;
  entryBytes: u64;
  compressed: u64;
  saved: u64;
}

// @ts-ignore: decorator
@unmanaged class ShardCounters {
  hits: u64;
  misses: u64;
  sets: u64;
  deletes: u64;
  evictions: u64;
  expirations: u64;
}

export const S_LOCK: u32 = <u32>offsetof<ShardLock>("lock");
export const S_WAITERS: u32 = <u32>offsetof<ShardLock>("waiters");
export const S_CONTENDED: u32 = <u32>offsetof<ShardLock>("contended");

/** Start of the shard's state words: the cache line after the lock's. */
const S_STATE_BASE: u32 = CACHE_LINE;
if (<u32>offsetof<ShardLock>() > S_STATE_BASE) ERROR("layout: the shard lock words overflow their cache line");
export const S_CTRL: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("index");
export const S_CAP: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("cap");
export const S_COUNT: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("count");
export const S_GHOST: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("ghost");
export const S_GHOST_MASK: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("ghostMask");
export const S_SWEEP: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("sweep");
export const S_CHUNKS: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("chunks");
export const S_SMALL_HEAD: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("smallHead");
export const S_SMALL_TAIL: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("smallTail");
export const S_MAIN_HEAD: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("mainHead");
export const S_MAIN_TAIL: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("mainTail");
export const S_SMALL_BYTES: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("smallBytes");
export const S_USED: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("used");
export const S_RESERVED: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("reserved");
export const S_ENTRY_BYTES: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("entryBytes");
export const S_COMPRESSED: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("compressed");
export const S_SAVED: u32 = S_STATE_BASE + <u32>offsetof<ShardState>("saved");

/** Start of the shard's counters: the first cache line after the state words. */
const S_COUNTERS_BASE: u32 = (S_STATE_BASE + <u32>offsetof<ShardState>() + CACHE_LINE - 1) & ~(CACHE_LINE - 1);
export const S_HITS: u32 = S_COUNTERS_BASE + <u32>offsetof<ShardCounters>("hits");
export const S_MISSES: u32 = S_COUNTERS_BASE + <u32>offsetof<ShardCounters>("misses");
export const S_SETS: u32 = S_COUNTERS_BASE + <u32>offsetof<ShardCounters>("sets");
export const S_DELETES: u32 = S_COUNTERS_BASE + <u32>offsetof<ShardCounters>("deletes");
export const S_EVICTIONS: u32 = S_COUNTERS_BASE + <u32>offsetof<ShardCounters>("evictions");
export const S_EXPIRATIONS: u32 = S_COUNTERS_BASE + <u32>offsetof<ShardCounters>("expirations");

/** TLSF control (alloc.ts checks that TLSF_CONTROL_BYTES fit between here and SHARD_BYTES). */
export const S_TLSF: u32 = 512;
if (S_COUNTERS_BASE + <u32>offsetof<ShardCounters>() > S_TLSF) ERROR("layout: the shard counters overlap the TLSF control");

// @ts-ignore: decorator
@inline export function shardAt(shard: u32): usize {
  return <usize>(SHARDS_BASE + shard * SHARD_BYTES);
}

// @ts-ignore: decorator
@inline export function threadSlotAt(slot: u32): usize {
  return <usize>(THREADS_BASE + slot * THREAD_SLOT_BYTES);
}

// @ts-ignore: decorator
@inline export function bump64(ptr: usize, by: u64): void {
  store<u64>(ptr, load<u64>(ptr) + by);
}

// ─── entries ──────────────────────────────────────────────────────────────────────────────────
//
// Entry (the payload of an arena block; the block's 4-byte header sits just before it, so entry
// pointers are 4 mod 8 and the u64 at +4 is 8-byte aligned):
//
//   +0  value length u32
//   +4  expires at u64 (ms since the Unix epoch; 0 = never)
//   +12 hash u32 (low half of the key's xxh64: home slot and quick compare)
//   +16 key length u16
//   +18 flags u8: bits 0-3 the host's (value type and prefix; bit 3 COMPRESSED, which the core
//       reads too: the value is then [raw length u32][LZ4 block]); bit 4 HAS_VERSION
//   +19 meta u8: bits 0-1 S3-FIFO frequency; bit 2 in the main queue; bits 3-4 MESI state;
//       bit 5 COMMITTED (set last when the entry is written, cleared first when it is removed:
//       the shard repair pass keeps exactly the committed entries)
//   +20 prev entry u32 · +24 next entry u32 (queue links; 0 = none)
//   +28 [version u64 when HAS_VERSION: hybrid logical clock + writer id, for replication]
//   then key bytes, then value bytes
//
// The class below is the entry with its block header in front (class BlockedEntry: an 8-byte
// aligned block, which is what makes the u64 line up); offsets are taken from `valueLen`.

// @ts-ignore: decorator
@unmanaged class BlockedEntry {
  blockInfo: u32;
  valueLen: u32;
  expires: u64;
  hash: u32;
  keyLen: u16;
  flags: u8;
  meta: u8;
  prev: u32;
  next: u32;
}

const E_BASE: u32 = <u32>offsetof<BlockedEntry>("valueLen");
/** Bytes of the arena block's header in front of every entry (alloc.ts's BLOCK_OVERHEAD). */
export const ENTRY_BLOCK_HEADER: u32 = E_BASE;
export const E_VALUE_LEN: u32 = <u32>offsetof<BlockedEntry>("valueLen") - E_BASE;
export const E_EXPIRES: u32 = <u32>offsetof<BlockedEntry>("expires") - E_BASE;
export const E_HASH: u32 = <u32>offsetof<BlockedEntry>("hash") - E_BASE;
export const E_KEY_LEN: u32 = <u32>offsetof<BlockedEntry>("keyLen") - E_BASE;
export const E_FLAGS: u32 = <u32>offsetof<BlockedEntry>("flags") - E_BASE;
export const E_META: u32 = <u32>offsetof<BlockedEntry>("meta") - E_BASE;
export const E_PREV: u32 = <u32>offsetof<BlockedEntry>("prev") - E_BASE;
export const E_NEXT: u32 = <u32>offsetof<BlockedEntry>("next") - E_BASE;
/** Bytes of an entry's header before the optional version, key and value. */
export const ENTRY_HEADER: u32 = <u32>offsetof<BlockedEntry>() - E_BASE;
export const VERSION_BYTES: u32 = <u32>sizeof<u64>();

export const FLAGS_HOST_MASK: u32 = 0x0f;
export const FLAG_COMPRESSED: u32 = 0x08;
export const FLAG_HAS_VERSION: u32 = 0x10;
export const META_FREQ_MASK: u32 = 0x03;
export const META_IN_MAIN: u32 = 0x04;
export const META_COMMITTED: u32 = 0x20;

// @ts-ignore: decorator
@inline export function entryKey(e: usize): usize {
  return e + ENTRY_HEADER + <usize>((<u32>load<u8>(e, E_FLAGS) & FLAG_HAS_VERSION) ? VERSION_BYTES : <u32>0);
}

// @ts-ignore: decorator
@inline export function entryValue(e: usize): usize {
  return entryKey(e) + <usize>load<u16>(e, E_KEY_LEN);
}
