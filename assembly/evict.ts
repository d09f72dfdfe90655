// Eviction: S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP '23),
// per shard and by bytes.
//
//   new key ──▶ small FIFO ──(accessed ≥ moveThreshold while queued)──▶ main FIFO ──▶ evicted
//                  │ not accessed                                      ▲  │ accessed: freq−1,
//                  ▼                                                   │  │ back to the head
//               ghost (fingerprints of keys evicted from small) ───────┘  ▼
//               a new key found in the ghost goes straight to main
//
// Reads only set a 2-bit frequency in the entry; they never move anything, which keeps the read
// path short. The small queue holds about 10% of the shard's entry bytes; a one-hit-wonder scan
// passes through it without disturbing main. Every eviction does bounded work: after MAX_MOVES
// reinsertions the tail is evicted regardless of its frequency.
//
// The ghost is a direct-mapped table of 32-bit fingerprints sized with the index (half its
// capacity); a later entry that maps to the same slot overwrites an older one, which ages it out.

import {
  E_NEXT, E_PREV, E_META, E_EXPIRES, E_HASH, META_IN_MAIN, META_FREQ_MASK,
  S_SMALL_HEAD, S_SMALL_TAIL, S_MAIN_HEAD, S_MAIN_TAIL, S_SMALL_BYTES, S_ENTRY_BYTES,
  S_GHOST, S_GHOST_MASK, S_EVICTIONS, S_EXPIRATIONS, bump64,
} from "./layout";
import { allocatedSize } from "./alloc";
import { removeEntry, REASON_EVICTED, REASON_EXPIRED } from "./table";

const MAX_MOVES: i32 = 32;

// @ts-ignore: decorator
@inline function isExpired(e: usize, now: u64): bool {
  const x = load<u64>(e, E_EXPIRES);
  return x != 0 && x <= now;
}

/** Links `e` at the head of the small queue, or of main when `toMain`. */
export function queuePush(s: usize, e: usize, toMain: bool): void {
  const headOff: usize = toMain ? S_MAIN_HEAD : S_SMALL_HEAD;
  const tailOff: usize = toMain ? S_MAIN_TAIL : S_SMALL_TAIL;
  const head = <usize>load<u32>(s + headOff);
  store<u32>(e, 0, E_PREV);
  store<u32>(e, <u32>head, E_NEXT);
  if (head) store<u32>(head, <u32>e, E_PREV);
  else store<u32>(s + tailOff, <u32>e);
  store<u32>(s + headOff, <u32>e);
  let meta = <u32>load<u8>(e, E_META);
  if (toMain) {
    meta |= META_IN_MAIN;
  } else {
    meta &= ~META_IN_MAIN;
    bump64(s + S_SMALL_BYTES, <u64>allocatedSize(e));
  }
  store<u8>(e, <u8>meta, E_META);
}

/** Unlinks `e` from whichever queue holds it. */
export function queueUnlink(s: usize, e: usize): void {
  const inMain = (<u32>load<u8>(e, E_META) & META_IN_MAIN) != 0;
  const headOff: usize = inMain ? S_MAIN_HEAD : S_SMALL_HEAD;
  const tailOff: usize = inMain ? S_MAIN_TAIL : S_SMALL_TAIL;
  const prev = <usize>load<u32>(e, E_PREV);
  const next = <usize>load<u32>(e, E_NEXT);
  if (prev) store<u32>(prev, <u32>next, E_NEXT);
  else store<u32>(s + headOff, <u32>next);
  if (next) store<u32>(next, <u32>prev, E_PREV);
  else store<u32>(s + tailOff, <u32>prev);
  if (!inMain) store<u64>(s + S_SMALL_BYTES, load<u64>(s + S_SMALL_BYTES) - <u64>allocatedSize(e));
}

// @ts-ignore: decorator
@inline function ghostSlot(s: usize, h32: u32): usize {
  const mask = load<u32>(s + S_GHOST_MASK);
  return <usize>load<u32>(s + S_GHOST) + <usize>(((h32 * 0x9E3779B1) >> 7) & mask) * 4;
}

/** Remembers a key evicted from the small queue. */
export function ghostPut(s: usize, h32: u32): void {
  if (!load<u32>(s + S_GHOST)) return;
  store<u32>(ghostSlot(s, h32), h32 | 1);
}

/** True (and forgets it) when the key was recently evicted from the small queue. */
export function ghostTake(s: usize, h32: u32): bool {
  if (!load<u32>(s + S_GHOST)) return false;
  const p = ghostSlot(s, h32);
  if (load<u32>(p) != (h32 | 1)) return false;
  store<u32>(p, 0);
  return true;
}

/**
 * Evicts one entry (expired entries first when met at a queue tail). Returns false when the
 * shard has nothing left to evict.
 */
export function evictOne(s: usize, now: u64, smallPermille: u32, moveThreshold: u32): bool {
  for (let moves = 0; ; moves++) {
    const smallTail = <usize>load<u32>(s + S_SMALL_TAIL);
    const mainTail = <usize>load<u32>(s + S_MAIN_TAIL);
    if (!smallTail && !mainTail) return false;
    const smallTarget = load<u64>(s + S_ENTRY_BYTES) * <u64>smallPermille / 1000;
    const fromSmall = smallTail != 0 && (mainTail == 0 || load<u64>(s + S_SMALL_BYTES) > smallTarget);
    const t = fromSmall ? smallTail : mainTail;
    if (isExpired(t, now)) {
      removeEntry(s, t, REASON_EXPIRED);
      return true;
    }
    const meta = <u32>load<u8>(t, E_META);
    const freq = meta & META_FREQ_MASK;
    const forced = moves >= MAX_MOVES;
    if (fromSmall) {
      if (freq >= moveThreshold && !forced) {
        queueUnlink(s, t);
        store<u8>(t, <u8>(meta & ~META_FREQ_MASK), E_META);
        queuePush(s, t, true);
        continue;
      }
      ghostPut(s, load<u32>(t, E_HASH));
    } else if (freq > 0 && !forced) {
      queueUnlink(s, t);
      store<u8>(t, <u8>(meta - 1), E_META);
      queuePush(s, t, true);
      continue;
    }
    removeEntry(s, t, REASON_EVICTED);
    return true;
  }
}

/** Counts an eviction or expiration (called by removeEntry). */
export function countRemoval(s: usize, reason: i32): void {
  if (reason == REASON_EVICTED) bump64(s + S_EVICTIONS, 1);
  else if (reason == REASON_EXPIRED) bump64(s + S_EXPIRATIONS, 1);
}
