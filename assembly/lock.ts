// Per-shard lock: a test-and-test-and-set spinlock on the shard's first cache line. The word holds
// 0 when free or the holder's thread id, so that a later recovery pass can tell who held it. A
// contended caller spins a bounded number of times, then parks in memory.atomic.wait32 with a
// 1 ms timeout (spinning on a loaded 2-core machine only steals the holder's time); the unlocker
// wakes one parked waiter. Contended acquisitions are counted for stats().
//
// Rule for every caller: nothing between lock() and unlock() may trap. Allocation failures are
// status codes, bounds are checked before use, and no code path under the lock calls abort.

import { S_LOCK, S_WAITERS, S_CONTENDED } from "./layout";

const SPINS: i32 = 64;
const PARK_NS: i64 = 1000000;

export function lockShard(shard: usize, tid: i32): void {
  const p = shard + S_LOCK;
  if (atomic.cmpxchg<i32>(p, 0, tid) == 0) return;
  atomic.add<u32>(shard + S_CONTENDED, 1);
  let spins = 0;
  while (true) {
    const v = atomic.load<i32>(p);
    if (v == 0) {
      if (atomic.cmpxchg<i32>(p, 0, tid) == 0) return;
      continue;
    }
    if (spins < SPINS) {
      spins++;
      continue;
    }
    atomic.add<i32>(shard + S_WAITERS, 1);
    memory.atomic.wait32(p, v, PARK_NS);
    atomic.sub<i32>(shard + S_WAITERS, 1);
  }
}

export function unlockShard(shard: usize): void {
  atomic.store<i32>(shard + S_LOCK, 0);
  if (atomic.load<i32>(shard + S_WAITERS) > 0) atomic.notify(shard + S_LOCK, 1);
}
