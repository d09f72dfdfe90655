// The cache's consistent-hash ring, in the cache's shared memory: one writer at a time builds a
// new ring in a buffer no reader uses and publishes it with one atomic store; readers in any
// thread never take a lock and never wait. The points and their order are ring.ts's (the same
// stage, fillPoints and sort), so a SharedRing agrees with a HashRing on every key.
//
// Two buffers, A and B, come from the global chunk heap (alloc.ts, heapAlloc) and alternate: a
// publish writes the buffer that is not published, then stores the published word (header +128)
// = epoch << 32 | buffer. The epoch goes up by one per publish (1, 2, … wrapping to 1 after
// 2^31 - 1), 0 meaning never published.
//
// Readers validate like a seqlock: load the published word, read the buffer it names, load the
// word again; equal words mean the buffer was not rewritten meanwhile, because a writer only
// rewrites a buffer after publishing the other one, which changes the word. A reader that read a
// buffer while it was being rewritten (or after it went back to the heap and was reused) sees a
// new word and tries again; every read is bounds-checked first, so such a read can give a wrong
// value but never trap. The one value a lookup returns, the node index, is read with an atomic load
// so that it is ordered before the second load of the word.
//
// Buffer (a heap chunk; 8-byte aligned):
//
//   buf       +8                     +32          +64                  +64 + points × 16
//   ┌─────────┬──────────────────────┬────────────┬────────────────────┬─────────────────────┐
//   │ link ·  │ points · nodes ·     │ seed u64 · │ ring entries       │ names block: nodes  │
//   │ bytes   │ names bytes · epoch  │ (reserved) │ [point u64, node   │ u32, then per node  │
//   │         │                      │            │  u32, pad u32]     │ length u16 + UTF-8  │
//   └─────────┴──────────────────────┴────────────┴────────────────────┴─────────────────────┘
//   +0 chunk link u32 (used only while on the heap's free-chunk list) · +4 buffer bytes u32
//   +8 points u32 · +12 nodes u32 · +16 names block bytes u32 · +20 epoch u32 (as published)
//   +24 seed u64 · +32..64 reserved · +64 the sorted ring · then the names block
//
// A buffer only grows: when the next ring does not fit the unpublished buffer, a larger one is
// taken from the heap and the old one given back (heapRelease), which is safe for the reason
// above. Ring memory is outside every shard's budget, like the threads' scratch areas.
//
// Writers serialize on the writer lock (header +136). Everything is validated before it is
// taken, and nothing under it can trap; a dead holder's lock is taken over (its half-written,
// unpublished buffer is simply written again).

import {
  HEADER_BASE, H_RING_PUBLISHED, H_RING_LOCK, H_RING_BUFFERS, H_LOCK_TIMEOUT_MS,
} from "./layout";
import { ST_BAD_ARGUMENT, ST_BAD_LAYOUT, ST_BUSY, ST_LOCK_TIMEOUT, ST_MISS, ST_NO_MEMORY, ST_SCRATCH, ST_STALE } from "./status";
import { xxh64 } from "./hash";
import { heapAlloc, heapRelease } from "./alloc";
import { holderIsDead } from "./lock";
import { threadId, resultPtr } from "./table";
import {
  RING_ENTRY, VNODE_SUFFIX_BYTES, inMemory, findSlot, stagePoints, namesBlockBytes, longestName,
  fillPoints, sortRing,
} from "./ring";

/** Most points a shared ring may have (16 MiB of entries). */
export const SHARED_RING_MAX_POINTS: u32 = 1 << 20;
/** Largest names block a shared ring may have. */
export const SHARED_RING_MAX_NAMES_BYTES: u32 = 1 << 20;

// The buffer's header words (the diagram above); no instance is ever created.
// @ts-ignore: decorator
@unmanaged class BufferHeader {
  link: u32;
  bytes: u32;
  points: u32;
  nodes: u32;
  namesBytes: u32;
  epoch: u32;
  seed: u64;
}

const B_BYTES: usize = offsetof<BufferHeader>("bytes");
const B_POINTS: usize = offsetof<BufferHeader>("points");
const B_NODES: usize = offsetof<BufferHeader>("nodes");
const B_NAMES_BYTES: usize = offsetof<BufferHeader>("namesBytes");
const B_EPOCH: usize = offsetof<BufferHeader>("epoch");
const B_SEED: usize = offsetof<BufferHeader>("seed");
/** Where the sorted ring starts in a buffer: the header words' line is reserved to its end. */
const B_RING: usize = 64;
if (offsetof<BufferHeader>() > B_RING) ERROR("shared-ring: the buffer header overlaps the ring");

/** Snapshot the host reads (sharedRingSnapshot): +0 epoch u32 · +4 points u32 · +8 seed u64 · +16 names block. */
const SNAP_HEADER: u32 = 16;

/** Tries a lookup makes before it gives up with ST_BUSY (each failed try saw a publish). */
const MAX_TRIES: u32 = 1 << 16;
/** Smallest buffer taken from the heap; larger ones are powers of two up to 1 MiB, then MiB multiples. */
const MIN_BUFFER_BYTES: u64 = 64 * 1024;
const PARK_NS: i64 = 1000000;

// @ts-ignore: decorator
@inline function published(): u64 {
  return atomic.load<u64>(<usize>(HEADER_BASE + H_RING_PUBLISHED));
}

// @ts-ignore: decorator
@inline function bufferOf(word: u64): usize {
  return <usize>(<u32>word);
}

// @ts-ignore: decorator
@inline function epochOf(word: u64): u32 {
  return <u32>(word >> 32);
}

/** Heap bytes for a buffer holding `need` bytes. */
function bufferBytesFor(need: u64): u64 {
  if (need <= MIN_BUFFER_BYTES) return MIN_BUFFER_BYTES;
  if (need <= 1 << 20) return <u64>1 << (64 - clz<u64>(need - 1));
  return (need + 0xFFFFF) & ~<u64>0xFFFFF;
}

/** Takes the ring writer lock for `tid`, taking it over from a dead holder; false on timeout. */
function lockWriter(tid: i32): bool {
  const p = <usize>(HEADER_BASE + H_RING_LOCK);
  const timeoutParks = atomic.load<u32>(<usize>(HEADER_BASE + H_LOCK_TIMEOUT_MS));
  let parks: u32 = 0;
  while (true) {
    const v = atomic.cmpxchg<i32>(p, 0, tid);
    if (v == 0) return true;
    if (holderIsDead(v)) {
      if (atomic.cmpxchg<i32>(p, v, tid) == v) return true;
      continue;
    }
    if (parks >= timeoutParks) return false;
    parks++;
    memory.atomic.wait32(p, v, PARK_NS);
  }
  return false;
}

function unlockWriter(): void {
  const p = <usize>(HEADER_BASE + H_RING_LOCK);
  atomic.store<i32>(p, 0);
  atomic.notify(p, 1);
}

/**
 * Builds the ring of the stage at `stage` (ring.ts's format; its names in index order) and
 * publishes it, hashing `${name}#${i}` with the seed's halves in the work area at `work`
 * (longest name + 11 bytes, overlapping neither the stage nor the heap — the caller's scratch).
 * Returns the new epoch (>= 1); ST_BAD_ARGUMENT for a bad stage or region (at most
 * SHARED_RING_MAX_POINTS points and SHARED_RING_MAX_NAMES_BYTES of names), ST_BAD_LAYOUT when
 * this thread is not attached, ST_LOCK_TIMEOUT when another writer held the lock past the
 * cache's lock timeout, ST_NO_MEMORY when the memory cannot grow for a buffer.
 */
export function sharedRingPublish(stage: usize, stageBytes: u32, work: usize, seedLo: u32, seedHi: u32): i32 {
  const tid = threadId();
  if (tid <= 0) return ST_BAD_LAYOUT;
  const total = stagePoints(stage, stageBytes, SHARED_RING_MAX_POINTS);
  if (total < 0) return ST_BAD_ARGUMENT;
  const namesBytes = namesBlockBytes(stage);
  if (namesBytes > SHARED_RING_MAX_NAMES_BYTES) return ST_BAD_ARGUMENT;
  if (!inMemory(work, <u64>longestName(stage) + VNODE_SUFFIX_BYTES)) return ST_BAD_ARGUMENT;
  const counts = stage + <usize>namesBytes;
  const need = <u64>B_RING + <u64>total * RING_ENTRY + <u64>namesBytes;
  const seed = (<u64>seedHi << 32) | <u64>seedLo;

  if (!lockWriter(tid)) return ST_LOCK_TIMEOUT;
  const word = published();
  const slots = <usize>(HEADER_BASE + H_RING_BUFFERS);
  // The unpublished slot: A unless A is the one published.
  const slot = load<u32>(slots) != 0 && <usize>load<u32>(slots) == bufferOf(word) ? slots + 4 : slots;
  let buf = <usize>load<u32>(slot);
  if (!buf || <u64>load<u32>(buf, B_BYTES) < need) {
    const bytes = bufferBytesFor(need);
    const fresh = heapAlloc(<u32>bytes, tid);
    if (!fresh) {
      unlockWriter();
      return ST_NO_MEMORY;
    }
    store<u32>(fresh, 0);
    store<u32>(fresh, <u32>bytes, B_BYTES);
    store<u32>(slot, <u32>fresh);
    // No reader can be using the old buffer for a result: it is not the published one.
    if (buf) heapRelease(buf, tid);
    buf = fresh;
  }
  let epoch = epochOf(word) + 1;
  if (epoch > 0x7fffffff) epoch = 1;
  const ring = buf + B_RING;
  const names = ring + <usize>total * RING_ENTRY;
  memory.copy(names, stage, namesBytes);
  const n = fillPoints(names, counts, ring, work, seed);
  sortRing(ring, n);
  store<u32>(buf, n, B_POINTS);
  store<u32>(buf, load<u32>(stage), B_NODES);
  store<u32>(buf, namesBytes, B_NAMES_BYTES);
  store<u32>(buf, epoch, B_EPOCH);
  store<u64>(buf, seed, B_SEED);
  atomic.store<u64>(<usize>(HEADER_BASE + H_RING_PUBLISHED), (<u64>epoch << 32) | <u64>buf);
  unlockWriter();
  return <i32>epoch;
}

/** The published ring's epoch (0 before the first publish). */
export function sharedRingEpoch(): i32 {
  return <i32>epochOf(published());
}

/**
 * The node index owning the key of `keyLen` bytes at `keyPtr` on the published ring, when its
 * epoch is `epoch`. ST_STALE when another epoch is published (the caller's names are out of date),
 * ST_MISS when the ring is empty (or never published), ST_BUSY when it was republished during
 * every try, ST_BAD_ARGUMENT when the key is out of bounds.
 */
export function sharedRingLookup(keyPtr: usize, keyLen: u32, epoch: u32): i32 {
  if (!inMemory(keyPtr, keyLen)) return ST_BAD_ARGUMENT;
  for (let tries: u32 = 0; tries < MAX_TRIES; tries++) {
    const word = published();
    if (epochOf(word) != epoch) return ST_STALE;
    const buf = bufferOf(word);
    if (!buf) return ST_MISS;
    let result = ST_MISS;
    if (inMemory(buf, B_RING)) {
      const count = load<u32>(buf, B_POINTS);
      const ring = buf + B_RING;
      if (count != 0 && inMemory(ring, <u64>count * RING_ENTRY)) {
        const slot = findSlot(ring, count, xxh64(keyPtr, keyLen, load<u64>(buf, B_SEED)));
        result = <i32>atomic.load<u32>(ring + <usize>slot * RING_ENTRY + 8);
      }
    }
    if (published() == word) return result;
  }
  return ST_BUSY;
}

/**
 * Copies the published ring's description to `dst` (at most `cap` bytes): +0 epoch u32 ·
 * +4 points u32 · +8 seed u64 · +16 the names block. Returns the bytes written; ST_SCRATCH with
 * the bytes needed in the thread's result word when `cap` is too small; ST_BAD_ARGUMENT when
 * [dst, dst + cap) is out of bounds; ST_BAD_LAYOUT when this thread is not attached; ST_BUSY when
 * it was republished during every try. Before the first publish: epoch 0, no points, no nodes.
 */
export function sharedRingSnapshot(dst: usize, cap: u32): i32 {
  if (threadId() <= 0) return ST_BAD_LAYOUT;
  if (!inMemory(dst, cap)) return ST_BAD_ARGUMENT;
  for (let tries: u32 = 0; tries < MAX_TRIES; tries++) {
    const word = published();
    const buf = bufferOf(word);
    let points: u32 = 0;
    let namesBytes: u32 = 4;
    let names: usize = 0;
    let seed: u64 = 0;
    if (buf) {
      if (!inMemory(buf, B_RING)) {
        if (published() == word) return ST_BAD_LAYOUT;
        continue;
      }
      points = load<u32>(buf, B_POINTS);
      namesBytes = load<u32>(buf, B_NAMES_BYTES);
      seed = load<u64>(buf, B_SEED);
      names = buf + B_RING + <usize>points * RING_ENTRY;
      if (points > SHARED_RING_MAX_POINTS || namesBytes < 4 || namesBytes > SHARED_RING_MAX_NAMES_BYTES
          || !inMemory(names, namesBytes)) {
        if (published() == word) return ST_BAD_LAYOUT;
        continue;
      }
    }
    const bytes = SNAP_HEADER + namesBytes;
    if (bytes > cap) {
      if (published() != word) continue;
      store<u32>(resultPtr(), bytes);
      return ST_SCRATCH;
    }
    store<u32>(dst, epochOf(word));
    store<u32>(dst, points, 4);
    store<u64>(dst, seed, 8);
    if (buf) memory.copy(dst + SNAP_HEADER, names, namesBytes);
    else store<u32>(dst + SNAP_HEADER, 0);
    if (published() == word) return <i32>bytes;
  }
  return ST_BUSY;
}
