// Per-shard lock: a test-and-test-and-set spinlock on the shard's first cache line. The word holds
// 0 when free or the holder's thread id. A contended caller spins a bounded number of times, then
// parks in memory.atomic.wait32 with a 1 ms timeout (spinning on a loaded 2-core machine only
// steals the holder's time); the unlocker wakes one parked waiter. Contended acquisitions are
// counted for stats().
//
// Dead holders. A thread can only die holding a lock when it is terminated inside a core call
// (an exception or exit happens in JS, where no lock is held). The host marks a dead thread's slot
// DEAD (markThreadDead); a waiter that sees its holder's slot DEAD takes the lock over with a CAS
// from the dead id (only one taker can win) and repairs the shard before using it: the shard is
// rebuilt from a physical walk of its arena, keeping exactly the committed entries (recovery.ts,
// repairShard). Every write the core makes keeps that walk valid at each step.
//
// Bounded waits. After the cache's lock timeout a caller stops waiting and gets ST_LOCK_TIMEOUT
// rather than hanging on a holder nobody declared dead.
//
// Rule for every caller: nothing between lock() and unlock() may trap. Allocation failures are
// status codes, bounds are checked before use, and no code path under the lock calls abort.

import {
  S_LOCK, S_WAITERS, S_CONTENDED, HEADER_BASE, H_LOCK_TIMEOUT_MS, T_STATE, THREAD_DEAD,
  MAX_THREADS, threadSlotAt,
} from "./layout";
import { repairShard } from "./recovery";

const SPINS: i32 = 64;
const PARK_NS: i64 = 1000000;

/** True when thread id `holder` belongs to a slot the host marked dead. */
export function holderIsDead(holder: i32): bool {
  return holder > 0 && <u32>holder <= MAX_THREADS
    && atomic.load<u32>(threadSlotAt(<u32>holder - 1) + T_STATE) == THREAD_DEAD;
}

/**
 * Acquires the shard lock for thread `tid`. Returns false when the lock timeout passed first.
 * Takes over (and repairs the shard) when the holder's thread is dead.
 */
export function lockShard(shard: usize, tid: i32): bool {
  const p = shard + S_LOCK;
  if (atomic.cmpxchg<i32>(p, 0, tid) == 0) return true;
  atomic.add<u32>(shard + S_CONTENDED, 1);
  let spins = 0;
  let parks: u32 = 0;
  const timeoutParks = atomic.load<u32>(<usize>(HEADER_BASE + H_LOCK_TIMEOUT_MS));
  while (true) {
    const v = atomic.load<i32>(p);
    if (v == 0) {
      if (atomic.cmpxchg<i32>(p, 0, tid) == 0) return true;
      continue;
    }
    if (holderIsDead(v)) {
      if (atomic.cmpxchg<i32>(p, v, tid) == v) {
        repairShard(shard);
        return true;
      }
      continue;
    }
    if (spins < SPINS) {
      spins++;
      continue;
    }
    if (parks >= timeoutParks) return false;
    parks++;
    atomic.add<i32>(shard + S_WAITERS, 1);
    memory.atomic.wait32(p, v, PARK_NS);
    atomic.sub<i32>(shard + S_WAITERS, 1);
  }
}

export function unlockShard(shard: usize): void {
  atomic.store<i32>(shard + S_LOCK, 0);
  if (atomic.load<i32>(shard + S_WAITERS) > 0) atomic.notify(shard + S_LOCK, 1);
}
