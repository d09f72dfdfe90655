// Memory layout of the shared core. Everything shared between threads lives at fixed offsets in
// the one shared WebAssembly.Memory; per-instance (per-thread) state is only the globals in
// index.ts. The first 64 KiB are left to the compiler's static data, which every instantiation
// re-applies, so nothing shared may live there.
//
//   0          HEADER_BASE        THREADS_BASE        SHARDS_BASE                heapBase
//   ┌──────────┬──────────────────┬───────────────────┬──────────────────────────┬──────────────▶
//   │ static   │ header (4 KiB)   │ thread slots      │ shard headers            │ chunks: thread
//   │ data     │ config, heap top │ 1024 × 16 B       │ shards × 4 KiB           │ scratch areas and
//   │          │                  │                   │ (lock, index, queues,    │ shard arenas, cut
//   │          │                  │                   │  counters, TLSF control) │ from the heap top
//   └──────────┴──────────────────┴───────────────────┴──────────────────────────┴──────────────▶
//
// Header (HEADER_BASE):
//   +0 magic u32 · +4 state u32 (0 empty, 1 laying out, 2 ready) · +8 layout version u32
//   +12 shard count · +16 shard mask · +20 max entries per shard (0 = no bound)
//   +24 seed u64 · +32 shard byte budget u64 · +40 heap top u32 · +44 heap lock i32
//   +48 chunk bytes · +52 small-queue share in 1/1000 · +56 S3-FIFO move threshold · +60 heap base
//   +64 lock timeout in ms (a caller gives up waiting for a shard lock after this long)
//   +68 free chunk list head u32 (chunks compaction gave back; any shard reuses them first)
//   +72 free chunk bytes u64
//   +128 consistent-hash ring (shared-ring.ts), on a cache line of its own:
//        +128 published u64 = epoch << 32 | buffer pointer (0 = never published)
//        +136 writer lock i32 (0 free, else the holder's thread id)
//        +140 buffer A pointer u32 · +144 buffer B pointer u32 (0 = not allocated yet)
//   +1024.. owner table: u16 per shard, the shard's owning worker + 1 (0 = none), for stats
//   +3072.. worker registry: 128 × [Node threadId i32, core thread id i32], written by the host's
//   shard workers so that the pool can name a dead worker's thread id
//
// Thread slot (THREADS_BASE + slot × 32):
//   +0 state (0 free, 1 in use) · +4 scratch pointer · +8 scratch capacity · +12 result word
//   (the value flags of the last get, or the scratch size a call needed) · +16 f64 ns this
//   thread spent compressing · +24 f64 ns spent decompressing (written by the host, summed by
//   stats; a slot's figures outlive its thread)

export const HEADER_BASE: u32 = 65536;
export const MAGIC: u32 = 0x4348534d; // "MSHC"
export const LAYOUT_VERSION: u32 = 1;

export const H_MAGIC: u32 = 0;
export const H_STATE: u32 = 4;
export const H_VERSION: u32 = 8;
export const H_SHARDS: u32 = 12;
export const H_SHARD_MASK: u32 = 16;
export const H_MAX_ENTRIES: u32 = 20;
export const H_SEED: u32 = 24;
export const H_BUDGET: u32 = 32;
export const H_HEAP_TOP: u32 = 40;
export const H_HEAP_LOCK: u32 = 44;
export const H_CHUNK_BYTES: u32 = 48;
export const H_SMALL_PERMILLE: u32 = 52;
export const H_MOVE_THRESHOLD: u32 = 56;
export const H_HEAP_BASE: u32 = 60;
export const H_LOCK_TIMEOUT_MS: u32 = 64;
export const H_OWNERS: u32 = 1024;
export const H_FREE_CHUNKS: u32 = 68;
export const H_FREE_CHUNK_BYTES: u32 = 72;
export const H_RING: u32 = 128;
export const H_RING_PUBLISHED: u32 = H_RING;
export const H_RING_LOCK: u32 = H_RING + 8;
export const H_RING_BUFFERS: u32 = H_RING + 12;
/** Bytes of the ring's header words (init zeroes them). */
export const H_RING_BYTES: u32 = 64;

export const STATE_EMPTY: i32 = 0;
export const STATE_LAYING_OUT: i32 = 1;
export const STATE_READY: i32 = 2;

export const THREADS_BASE: u32 = HEADER_BASE + 4096;
export const MAX_THREADS: u32 = 1024;
export const THREAD_SLOT_BYTES: u32 = 32;
export const T_STATE: u32 = 0;
/** Thread slot states. A DEAD slot's thread is gone; locks it holds may be taken over. */
export const THREAD_FREE: u32 = 0;
export const THREAD_LIVE: u32 = 1;
export const THREAD_DEAD: u32 = 2;
export const T_SCRATCH: u32 = 4;
export const T_SCRATCH_CAP: u32 = 8;
export const T_RESULT: u32 = 12;

export const SHARDS_BASE: u32 = THREADS_BASE + MAX_THREADS * THREAD_SLOT_BYTES;
export const MAX_SHARDS: u32 = 1024;
export const SHARD_BYTES: u32 = 4096;

// Shard header (SHARDS_BASE + shard × SHARD_BYTES). The lock has the first cache line to itself.
//   +0 lock i32 (0 free, else holder's thread id) · +4 waiters · +8 contended acquisitions
//   +64 index ptr · +68 (unused) · +72 capacity · +76 entries · +80 ghost ptr
//   +84 ghost mask · +88 sweep cursor · +92 chunk list head
//   +96 small head · +100 small tail · +104 main head · +108 main tail
//   +112 small bytes u64 · +120 used bytes u64 (all live blocks) · +128 reserved bytes u64 (arena)
//   +136 entry bytes u64 (blocks holding entries) · +144 compressed entries u64
//   +152 bytes saved by compression u64 (raw length − stored length, over live entries)
//   +192.. counters u64: hits, misses, sets, deletes, evictions, expirations
//   +512.. TLSF control: fl bitmap u32, sl bitmaps [FL_COUNT] u32, free-list heads [FL_COUNT][SL_COUNT] u32
export const S_LOCK: u32 = 0;
export const S_WAITERS: u32 = 4;
export const S_CONTENDED: u32 = 8;
export const S_CTRL: u32 = 64;
export const S_CAP: u32 = 72;
export const S_COUNT: u32 = 76;
export const S_GHOST: u32 = 80;
export const S_GHOST_MASK: u32 = 84;
export const S_SWEEP: u32 = 88;
export const S_CHUNKS: u32 = 92;
export const S_SMALL_HEAD: u32 = 96;
export const S_SMALL_TAIL: u32 = 100;
export const S_MAIN_HEAD: u32 = 104;
export const S_MAIN_TAIL: u32 = 108;
export const S_SMALL_BYTES: u32 = 112;
export const S_USED: u32 = 120;
export const S_RESERVED: u32 = 128;
export const S_ENTRY_BYTES: u32 = 136;
export const S_COMPRESSED: u32 = 144;
export const S_SAVED: u32 = 152;
export const S_HITS: u32 = 192;
export const S_MISSES: u32 = 200;
export const S_SETS: u32 = 208;
export const S_DELETES: u32 = 216;
export const S_EVICTIONS: u32 = 224;
export const S_EXPIRATIONS: u32 = 232;
export const S_TLSF: u32 = 512;

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
export const E_VALUE_LEN: u32 = 0;
export const E_EXPIRES: u32 = 4;
export const E_HASH: u32 = 12;
export const E_KEY_LEN: u32 = 16;
export const E_FLAGS: u32 = 18;
export const E_META: u32 = 19;
export const E_PREV: u32 = 20;
export const E_NEXT: u32 = 24;
export const ENTRY_HEADER: u32 = 28;
export const VERSION_BYTES: u32 = 8;

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
