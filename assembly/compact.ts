// Compaction: moves the live entries out of a shard's least-used chunk and gives the chunk back
// to the global heap (alloc.ts, heapRelease), so that memory one shard stopped needing can serve
// another shard's growth or a ring buffer instead of growing the memory.
//
// Invariant: a move writes and commits the new copy before the index slot and queue links switch
// to it, and uncommits the old copy last, so a thread killed mid-move leaves at worst two committed
// copies of one entry, which repair (recovery.ts) dedupes.

import {
  S_CTRL, S_GHOST, S_RESERVED, S_USED, S_CHUNKS, S_ENTRY_BYTES, S_SMALL_BYTES, S_SMALL_HEAD,
  S_SMALL_TAIL, S_MAIN_HEAD, S_MAIN_TAIL, E_META, E_VALUE_LEN, E_PREV, E_NEXT, META_COMMITTED,
  META_IN_MAIN, shardAt, entryValue,
} from "./layout";
import { ST_BAD_CONFIG, ST_LOCK_TIMEOUT } from "./status";
import {
  tlsfAlloc, tlsfFree, tlsfUnlistFree, tlsfRelistFree, heapRelease, allocatedSize, BLOCK_FREE,
  BLOCK_TAGS, CHUNK_HEADER_BYTES, BLOCK_OVERHEAD,
} from "./alloc";
import { lockShard, unlockShard } from "./lock";
import { tid, shardMask, slotAt, indexSlotOf } from "./table";

/** Entry bytes a compaction call may move under one lock hold (bounds the hold to ~1 ms). */
const COMPACT_MAX_MOVE_BYTES: u64 = 1 << 20;

/** True when the block [b, b + size) holds this shard's index or ghost filter. */
// @ts-ignore: decorator
@inline function holdsTables(s: usize, b: usize, size: u32): bool {
  const index = <usize>load<u32>(s + S_CTRL);
  const ghost = <usize>load<u32>(s + S_GHOST);
  return (index != 0 && index - BLOCK_OVERHEAD == b) || (ghost != 0 && ghost - BLOCK_OVERHEAD == b);
}

/**
 * Moves the entries out of the shard's least-used chunk into free space elsewhere in the shard
 * and gives that chunk back to the heap, where any shard's next growth takes it before the memory
 * grows. Does one chunk per call, and only when the shard has at least a chunk's worth of free
 * space and the chunk's live bytes are at most COMPACT_MAX_MOVE_BYTES. Returns the bytes given
 * back (0 when nothing was worth doing), or ST_LOCK_TIMEOUT.
 *
 * A move writes and commits the new copy before the index slot and queue links switch to it, so a
 * thread killed mid-move leaves at worst two committed copies of one entry, which repair dedupes.
 */
export function compactShard(shard: u32): i32 {
  if (shard > shardMask) return ST_BAD_CONFIG;
  const s = shardAt(shard);
  if (!lockShard(s, tid)) return ST_LOCK_TIMEOUT;
  const reserved = load<u64>(s + S_RESERVED);
  const used = load<u64>(s + S_USED);
  // Pick the victim: the chunk with the fewest live bytes that holds neither index nor ghost.
  let victim: usize = 0;
  let victimPrev: usize = 0;
  let victimLive: u64 = 0;
  let prev: usize = 0;
  let chunk = <usize>load<u32>(s + S_CHUNKS);
  while (chunk) {
    const bytes = load<u32>(chunk, 4);
    const end = chunk + bytes - 8;
    let live: u64 = 0;
    let tables = false;
    let b = chunk + CHUNK_HEADER_BYTES;
    while (b < end) {
      const info = load<u32>(b);
      const size = info & ~BLOCK_TAGS;
      if (!(info & BLOCK_FREE)) {
        live += <u64>size;
        if (holdsTables(s, b, size)) tables = true;
      }
      b += size;
    }
    if (!tables && (!victim || live < victimLive)) {
      victim = chunk;
      victimPrev = prev;
      victimLive = live;
    }
    prev = chunk;
    chunk = <usize>load<u32>(chunk);
  }
  if (!victim) {
    unlockShard(s);
    return 0;
  }
  const victimBytes = <u64>load<u32>(victim, 4);
  // Worth it only when the rest of the arena has room for the victim's entries with a margin.
  const freeElsewhere = (reserved - victimBytes) - (used - victimLive);
  if (victimLive > COMPACT_MAX_MOVE_BYTES || victimLive * 5 > freeElsewhere * 4 || reserved - used < victimBytes) {
    unlockShard(s);
    return 0;
  }
  const end = victim + <usize>victimBytes - 8;
  // Quarantine: the victim's free blocks leave the lists so no move lands inside it.
  let b = victim + CHUNK_HEADER_BYTES;
  while (b < end) {
    const info = load<u32>(b);
    if (info & BLOCK_FREE) tlsfUnlistFree(s, b);
    b += info & ~BLOCK_TAGS;
  }
  let moved = true;
  b = victim + CHUNK_HEADER_BYTES;
  while (b < end) {
    const info = load<u32>(b);
    const size = info & ~BLOCK_TAGS;
    if (!(info & BLOCK_FREE) && (<u32>load<u8>(b + BLOCK_OVERHEAD, E_META) & META_COMMITTED)) {
      if (!moveEntry(s, b + BLOCK_OVERHEAD)) {
        moved = false;
        break;
      }
    }
    b += size;
  }
  if (!moved) {
    // Not enough room after all: give the victim back its free space and free what moved out.
    b = victim + CHUNK_HEADER_BYTES;
    while (b < end) {
      const info = load<u32>(b);
      if (info & BLOCK_FREE) tlsfRelistFree(s, b);
      b += info & ~BLOCK_TAGS;
    }
    b = victim + CHUNK_HEADER_BYTES;
    while (b < end) {
      const info = load<u32>(b);
      const size = info & ~BLOCK_TAGS;
      const next = b + size;
      // Moved-out blocks are used but no longer committed; index and ghost are not here.
      if (!(info & BLOCK_FREE) && !(<u32>load<u8>(b + BLOCK_OVERHEAD, E_META) & META_COMMITTED)) {
        tlsfFree(s, b + BLOCK_OVERHEAD);
      }
      b = next;
    }
    unlockShard(s);
    return 0;
  }
  // Every entry left: unlink the chunk and hand it to the heap.
  if (victimPrev) store<u32>(victimPrev, load<u32>(victim));
  else store<u32>(s + S_CHUNKS, load<u32>(victim));
  store<u64>(s + S_RESERVED, reserved - victimBytes);
  store<u64>(s + S_USED, load<u64>(s + S_USED) - victimLive);
  heapRelease(victim, tid);
  unlockShard(s);
  return <i32>victimBytes;
}

/** Copies entry e into a new block elsewhere and points the index and queue at the copy. */
function moveEntry(s: usize, e: usize): bool {
  const need = <u32>(entryValue(e) - e) + load<u32>(e, E_VALUE_LEN);
  const p = tlsfAlloc(s, need);
  if (!p) return false;
  memory.copy(p, e, need);
  const slot = indexSlotOf(s, e);
  if (slot >= 0) store<u32>(slotAt(<usize>load<u32>(s + S_CTRL), <u32>slot), <u32>p);
  const inMain = (<u32>load<u8>(e, E_META) & META_IN_MAIN) != 0;
  const prev = <usize>load<u32>(e, E_PREV);
  const next = <usize>load<u32>(e, E_NEXT);
  if (prev) store<u32>(prev, <u32>p, E_NEXT);
  else store<u32>(s + (inMain ? S_MAIN_HEAD : S_SMALL_HEAD), <u32>p);
  if (next) store<u32>(next, <u32>p, E_PREV);
  else store<u32>(s + (inMain ? S_MAIN_TAIL : S_SMALL_TAIL), <u32>p);
  store<u8>(e, <u8>(<u32>load<u8>(e, E_META) & ~META_COMMITTED), E_META);
  const delta = <i64>allocatedSize(p) - <i64>allocatedSize(e);
  store<i64>(s + S_ENTRY_BYTES, load<i64>(s + S_ENTRY_BYTES) + delta);
  if (!inMain) store<i64>(s + S_SMALL_BYTES, load<i64>(s + S_SMALL_BYTES) + delta);
  return true;
}
