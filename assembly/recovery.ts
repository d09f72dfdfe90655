// Recovery from a thread that died inside a core call. The host marks the dead thread's slot
// DEAD (markThreadDead); the next thread to want one of its shard locks takes the lock over
// (lock.ts) and rebuilds the shard here (repairShard) before using it; reapThread does the same
// for every lock the dead thread still holds, then frees its slot.
//
// Invariant relied on: every write the core makes keeps a shard's physical block chain walkable
// (alloc.ts), and an entry is COMMITTED exactly while it is whole and indexed or about to be
// (layout.ts, entry meta bit 5). So a repair that keeps the committed entries and frees the rest
// loses at most the operation the dead thread was in.

import {
  HEADER_BASE, H_HEAP_LOCK, H_RING_LOCK, MAX_THREADS, T_STATE, THREAD_FREE, THREAD_LIVE,
  THREAD_DEAD, S_LOCK, S_CHUNKS, S_RESERVED, S_USED, S_COUNT, S_ENTRY_BYTES, S_CTRL,
  S_SMALL_HEAD, S_SMALL_TAIL, S_MAIN_HEAD, S_MAIN_TAIL, E_META, E_KEY_LEN, E_VALUE_LEN, E_HASH,
  E_NEXT, META_COMMITTED, META_IN_MAIN, shardAt, threadSlotAt, bump64, entryKey,
} from "./layout";
import {
  tlsfReset, tlsfFree, tlsfInsertRun, allocatedSize, BLOCK_FREE, BLOCK_LEFT_FREE, BLOCK_TAGS,
  BLOCK_MIN_BYTES, CHUNK_HEADER_BYTES, BLOCK_OVERHEAD,
} from "./alloc";
import { xxh64 } from "./hash";
import { unlockShard } from "./lock";
import { queuePush, queueUnlink } from "./evict";
import {
  tid, seed, shardMask, INITIAL_CAP, REASON_EVICTED, tagOf, ctrlAt, slotAt, indexFind,
  indexResize, removeEntry, accountCompression, resetShardState,
} from "./table";

/** True when the used block payload at `e` (capacity `cap`) is a committed, intact entry. */
function isCommittedEntry(e: usize, cap: u32): bool {
  if (!(<u32>load<u8>(e, E_META) & META_COMMITTED)) return false;
  const keyLen = <u64>load<u16>(e, E_KEY_LEN);
  const end = <u64>(entryKey(e) - e) + keyLen + <u64>load<u32>(e, E_VALUE_LEN);
  if (end > <u64>cap) return false;
  return <u32>xxh64(entryKey(e), <usize>keyLen, seed) == load<u32>(e, E_HASH);
}

/**
 * Rebuilds a shard whose lock was taken over from a dead thread, which may have stopped anywhere
 * inside an operation. The caller holds the lock. The arena's physical block chain is valid at
 * every step of every operation (see alloc.ts), so the walk finds every block; committed entries
 * are kept, everything else (old index and ghost blocks, half-written entries, free blocks)
 * becomes free space; then queues, counters and a new index are built from the kept entries.
 * Two committed entries with one key (a replace cut short) keep the first met. O(shard size).
 */
export function repairShard(s: usize): void {
  tlsfReset(s);
  resetShardState(s);
  let reserved: u64 = 0;
  let used: u64 = 0;
  // Pass 1: keep committed entries, join everything else into free runs.
  let chunk = <usize>load<u32>(s + S_CHUNKS);
  while (chunk) {
    const bytes = load<u32>(chunk, 4);
    reserved += <u64>bytes;
    const end = chunk + bytes - 8;
    let b = chunk + CHUNK_HEADER_BYTES;
    let run: usize = 0;
    while (b < end) {
      const info = load<u32>(b);
      let size = info & ~BLOCK_TAGS;
      let keep = false;
      if (size < BLOCK_MIN_BYTES || b + size > end) {
        size = <u32>(end - b); // a broken chain cannot happen; if it did, the rest is free space
      } else if (!(info & BLOCK_FREE)) {
        keep = isCommittedEntry(b + BLOCK_OVERHEAD, size - BLOCK_OVERHEAD);
      }
      if (keep) {
        if (run) {
          tlsfInsertRun(s, run, <u32>(b - run));
          store<u32>(b, size | BLOCK_LEFT_FREE);
        } else {
          store<u32>(b, size);
        }
        run = 0;
        used += <u64>size;
      } else if (!run) {
        run = b;
      }
      b += size;
    }
    if (run) tlsfInsertRun(s, run, <u32>(end - run));
    store<u32>(end, run ? BLOCK_LEFT_FREE : 0);
    chunk = <usize>load<u32>(chunk);
  }
  store<u64>(s + S_RESERVED, reserved);
  store<u64>(s + S_USED, used);
  // Pass 2: queues and counters from the kept entries.
  let count: u32 = 0;
  chunk = <usize>load<u32>(s + S_CHUNKS);
  while (chunk) {
    const end = chunk + load<u32>(chunk, 4) - 8;
    let b = chunk + CHUNK_HEADER_BYTES;
    while (b < end) {
      const info = load<u32>(b);
      const size = info & ~BLOCK_TAGS;
      if (!(info & BLOCK_FREE)) {
        const e = b + BLOCK_OVERHEAD;
        queuePush(s, e, (<u32>load<u8>(e, E_META) & META_IN_MAIN) != 0);
        accountCompression(s, e, 1);
        bump64(s + S_ENTRY_BYTES, <u64>size);
        count++;
      }
      b += size;
    }
    chunk = <usize>load<u32>(chunk);
  }
  store<u32>(s + S_COUNT, count);
  // Pass 3: a new index. Entries that no longer fit the budget next to it are evicted.
  let cap = INITIAL_CAP;
  while ((count + 1) * 16 > cap * 13) cap <<= 1;
  while (!indexResize(s, cap, 0)) {
    // Nothing is indexed yet: drop the oldest entries directly until the index fits.
    let e = <usize>load<u32>(s + S_SMALL_TAIL);
    if (!e) e = <usize>load<u32>(s + S_MAIN_TAIL);
    if (!e) return;
    removeEntry(s, e, REASON_EVICTED);
  }
  for (let q = 0; q < 2; q++) {
    let e = <usize>load<u32>(s + (q ? S_MAIN_HEAD : S_SMALL_HEAD));
    while (e) {
      const next = <usize>load<u32>(e, E_NEXT);
      const keyLen = <u32>load<u16>(e, E_KEY_LEN);
      const h = xxh64(entryKey(e), keyLen, seed);
      const slot = indexFind(s, h, entryKey(e), keyLen);
      if (slot >= 0) {
        // A second committed copy of a key: drop this one.
        store<u8>(e, <u8>(<u32>load<u8>(e, E_META) & ~META_COMMITTED), E_META);
        accountCompression(s, e, -1);
        queueUnlink(s, e);
        store<u64>(s + S_ENTRY_BYTES, load<u64>(s + S_ENTRY_BYTES) - <u64>allocatedSize(e));
        store<u32>(s + S_COUNT, load<u32>(s + S_COUNT) - 1);
        tlsfFree(s, e);
      } else {
        const ins = <u32>(-1 - slot);
        const index = <usize>load<u32>(s + S_CTRL);
        store<u8>(ctrlAt(index, ins), tagOf(h));
        store<u32>(slotAt(index, ins), <u32>e);
      }
      e = next;
    }
  }
}

/** Marks thread `deadTid`'s slot dead: locks it holds may now be taken over. 1 if marked. */
export function markThreadDead(deadTid: i32): i32 {
  if (deadTid < 1 || <u32>deadTid > MAX_THREADS) return 0;
  const slot = threadSlotAt(<u32>deadTid - 1);
  return atomic.cmpxchg<u32>(slot + T_STATE, THREAD_LIVE, THREAD_DEAD) == THREAD_LIVE ? 1 : 0;
}

/**
 * Takes over and repairs every shard whose lock dead thread `deadTid` still holds, then frees its
 * slot for reuse. Returns the number of shards repaired.
 */
export function reapThread(deadTid: i32): i32 {
  if (deadTid < 1 || <u32>deadTid > MAX_THREADS) return 0;
  const slot = threadSlotAt(<u32>deadTid - 1);
  if (atomic.load<u32>(slot + T_STATE) != THREAD_DEAD) return 0;
  let repaired = 0;
  const n = shardMask + 1;
  for (let i: u32 = 0; i < n; i++) {
    const s = shardAt(i);
    if (atomic.load<i32>(s + S_LOCK) != deadTid) continue;
    if (atomic.cmpxchg<i32>(s + S_LOCK, deadTid, tid) != deadTid) continue;
    repairShard(s);
    unlockShard(s);
    repaired++;
  }
  atomic.cmpxchg<i32>(<usize>(HEADER_BASE + H_HEAP_LOCK), deadTid, 0);
  // A ring writer that died mid-build left only its unpublished buffer half-written: nothing to repair.
  atomic.cmpxchg<i32>(<usize>(HEADER_BASE + H_RING_LOCK), deadTid, 0);
  atomic.store<u32>(slot + T_STATE, THREAD_FREE);
  return repaired;
}
