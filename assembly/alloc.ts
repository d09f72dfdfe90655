// Memory for the table: a global chunk heap and, inside each shard, a TLSF allocator (Masmano et
// al., "TLSF: a new dynamic memory allocator for real-time systems") over that shard's chunks.
//
// The heap hands out chunks from one bump pointer (heap top) under a short global lock and grows
// the memory when needed. The memory never shrinks: a chunk given back (heapRelease: compaction
// emptied it, or a ring buffer was outgrown) goes on the heap's free-chunk list, a singly linked
// list through the chunks' first word (head at H_FREE_CHUNKS, total at H_FREE_CHUNK_BYTES), and
// heapAlloc takes a listed chunk of exactly the size asked before it moves the heap top.
// A shard keeps the chunks it took, up to its budget, until compaction gives one back.
// Inside a shard, TLSF gives O(1) allocation and free with immediate coalescing, so freed space is
// reused by any later size and a long churn of mixed sizes stays inside the budget.
//
// Block (B is 8-byte aligned; its payload at B+4 holds the entry or index):
//   ┌────────────┬───────────────────────────────────────────────┐
//   │ info u32   │ payload (size - 4 bytes)                      │
//   └────────────┴───────────────────────────────────────────────┘
//   info = size | FREE | LEFT_FREE, size (header included) a multiple of 8, at least 16.
//   A free block keeps prev/next free-list links at +4/+8 and a pointer to itself in its last 4
//   bytes, so that its right neighbour (which has LEFT_FREE set) can find it to coalesce.
//
// Chunk (8-byte aligned, `bytes` a multiple of 8):
//   ┌──────────────┬──────────────┬──────────────────────────────┬────────────────────────────┐
//   │ next chunk   │ chunk bytes  │ blocks …                     │ sentinel info u32 (size 0, │
//   │ u32 (0 = end)│ u32          │ (bytes − CHUNK_OVERHEAD)     │ used; LEFT_FREE as needed) │
//   └──────────────┴──────────────┴──────────────────────────────┴────────────────────────────┘
//   +0             +4             +8 (CHUNK_HEADER)              bytes − 8 (4 bytes, then 4 spare)
//   `next` links a shard's chunks (head at S_CHUNKS) or, once given back, the heap's free list.
// Invariant: no two free blocks are adjacent; every free block is in exactly one free list.

import {
  HEADER_BASE, H_HEAP_TOP, H_HEAP_LOCK, H_FREE_CHUNKS, H_FREE_CHUNK_BYTES,
  S_TLSF, S_CHUNKS, S_RESERVED, S_USED, SHARD_BYTES, ENTRY_BLOCK_HEADER,
} from "./layout";
import { holderIsDead } from "./lock";

const FREE: u32 = 1;
const LEFT_FREE: u32 = 2;
const TAGS: u32 = 7;
export const BLOCK_OVERHEAD: u32 = 4;
const BLOCK_MIN: u32 = 16;
const AL_BITS: u32 = 3;
const SL_BITS: u32 = 4;
const SL_COUNT: u32 = 1 << SL_BITS;
const SB_BITS: u32 = SL_BITS + AL_BITS;
const SB_SIZE: u32 = 1 << SB_BITS;
const FL_COUNT: u32 = 26;
/** Largest block a shard hands out (1 GiB). */
export const BLOCK_MAX: u32 = 1 << 30;
const CHUNK_HEADER: u32 = 8;
/** Chunk bytes beyond the blocks it can hold: the chunk header and the end sentinel. */
export const CHUNK_OVERHEAD: u32 = CHUNK_HEADER + 8;

// TLSF control, at shard + S_TLSF: fl bitmap, then FL_COUNT sl bitmaps, then the list heads.
const C_FL: u32 = 0;
const C_SL: u32 = 4;
const C_HEADS: u32 = C_SL + FL_COUNT * 4;
export const TLSF_CONTROL_BYTES: u32 = C_HEADS + FL_COUNT * SL_COUNT * 4;
if (S_TLSF + TLSF_CONTROL_BYTES > SHARD_BYTES) ERROR("alloc: the TLSF control overflows the shard header");
if (BLOCK_OVERHEAD != ENTRY_BLOCK_HEADER) ERROR("alloc: the block header is not the one layout.ts puts before an entry");

// @ts-ignore: decorator
@inline function info(b: usize): u32 { return load<u32>(b); }
// @ts-ignore: decorator
@inline function setInfo(b: usize, v: u32): void { store<u32>(b, v); }
// @ts-ignore: decorator
@inline function blockSize(b: usize): u32 { return load<u32>(b) & ~TAGS; }
// @ts-ignore: decorator
@inline function freePrev(b: usize): usize { return load<u32>(b, 4); }
// @ts-ignore: decorator
@inline function freeNext(b: usize): usize { return load<u32>(b, 8); }
// @ts-ignore: decorator
@inline function head(c: usize, fl: u32, sl: u32): usize {
  return load<u32>(c + C_HEADS + ((fl << SL_BITS) + sl) * 4);
}
// @ts-ignore: decorator
@inline function setHead(c: usize, fl: u32, sl: u32, b: usize): void {
  store<u32>(c + C_HEADS + ((fl << SL_BITS) + sl) * 4, <u32>b);
}
// @ts-ignore: decorator
@inline function slMap(c: usize, fl: u32): u32 { return load<u32>(c + C_SL + fl * 4); }
// @ts-ignore: decorator
@inline function setSlMap(c: usize, fl: u32, v: u32): void { store<u32>(c + C_SL + fl * 4, v); }

/** Block size (header included) that holds `payload` bytes. */
// @ts-ignore: decorator
@inline export function blockSizeFor(payload: u32): u32 {
  const s = (payload + BLOCK_OVERHEAD + 7) & ~7;
  return s < BLOCK_MIN ? BLOCK_MIN : s;
}

/** Payload capacity of the block whose payload starts at `p`. */
// @ts-ignore: decorator
@inline export function payloadCapacity(p: usize): u32 {
  return blockSize(p - BLOCK_OVERHEAD) - BLOCK_OVERHEAD;
}

/** Size of the block whose payload starts at `p`, header included. */
// @ts-ignore: decorator
@inline export function allocatedSize(p: usize): u32 {
  return blockSize(p - BLOCK_OVERHEAD);
}

/** The free list a block of `size` bytes belongs to: first-level index << 8 | second-level index. */
// @ts-ignore: decorator
@inline function listOf(size: u32): u32 {
  if (size < SB_SIZE) return size >> AL_BITS;
  const f = 31 - clz<u32>(size);
  return ((f - (SB_BITS - 1)) << 8) | ((size >> (f - SL_BITS)) ^ SL_COUNT);
}

function insertFree(c: usize, b: usize): void {
  const size = blockSize(b);
  const list = listOf(size);
  const fl = list >> 8;
  const sl = list & 0xff;
  const h = head(c, fl, sl);
  store<u32>(b, 0, 4);
  store<u32>(b, <u32>h, 8);
  if (h) store<u32>(h, <u32>b, 4);
  setHead(c, fl, sl, b);
  store<u32>(c + C_FL, load<u32>(c + C_FL) | (1 << fl));
  setSlMap(c, fl, slMap(c, fl) | (1 << sl));
}

function removeFree(c: usize, b: usize): void {
  const size = blockSize(b);
  const list = listOf(size);
  const fl = list >> 8;
  const sl = list & 0xff;
  const prev = freePrev(b);
  const next = freeNext(b);
  if (prev) store<u32>(prev, <u32>next, 8);
  if (next) store<u32>(next, <u32>prev, 4);
  if (head(c, fl, sl) == b) {
    setHead(c, fl, sl, next);
    if (!next) {
      const m = slMap(c, fl) & ~(1 << sl);
      setSlMap(c, fl, m);
      if (!m) store<u32>(c + C_FL, load<u32>(c + C_FL) & ~(1 << fl));
    }
  }
}

/**
 * Smallest free block that searchFree is sure to find for a request of `size`: the search rounds
 * a request up to the next size class, so a block in the request's own class is not looked at.
 */
// @ts-ignore: decorator
@inline function findableSize(size: u32): u32 {
  return size < SB_SIZE ? size : size + (1 << (31 - clz<u32>(size) - SL_BITS));
}

/** Finds a free block of at least `size` bytes (a good fit in O(1)), or 0. */
function searchFree(c: usize, size: u32): usize {
  let fl: u32, sl: u32;
  if (size < SB_SIZE) {
    fl = 0;
    sl = size >> AL_BITS;
  } else {
    // Round up to the next list so that any block found is large enough.
    const rounded = size + (1 << (31 - clz<u32>(size) - SL_BITS)) - 1;
    const f = 31 - clz<u32>(rounded);
    sl = (rounded >> (f - SL_BITS)) ^ SL_COUNT;
    fl = f - (SB_BITS - 1);
    if (fl >= FL_COUNT) return 0;
  }
  let m = slMap(c, fl) & (~<u32>0 << sl);
  if (!m) {
    const flm = load<u32>(c + C_FL) & (fl + 1 < 32 ? (~<u32>0 << (fl + 1)) : 0);
    if (!flm) return 0;
    fl = ctz<u32>(flm);
    m = slMap(c, fl);
  }
  return head(c, fl, ctz<u32>(m));
}

/** Block-header accessors for the repair walk. */
export const BLOCK_FREE: u32 = FREE;
export const BLOCK_LEFT_FREE: u32 = LEFT_FREE;
export const BLOCK_TAGS: u32 = TAGS;
export const BLOCK_MIN_BYTES: u32 = BLOCK_MIN;
export const CHUNK_HEADER_BYTES: u32 = CHUNK_HEADER;

/** Takes free block b out of the shard's lists (compaction quarantines a chunk's free space). */
export function tlsfUnlistFree(shard: usize, b: usize): void {
  removeFree(shard + S_TLSF, b);
}

/** Puts free block b back into the shard's lists. */
export function tlsfRelistFree(shard: usize, b: usize): void {
  insertFree(shard + S_TLSF, b);
}

/** Makes [b, b + size) one free block in the shard's lists (the repair walk's free runs). */
export function tlsfInsertRun(shard: usize, b: usize, size: u32): void {
  setInfo(b, size | FREE);
  store<u32>(b + size - 4, <u32>b);
  insertFree(shard + S_TLSF, b);
}

/** Resets a shard's TLSF control (no free blocks). */
export function tlsfReset(shard: usize): void {
  memory.fill(shard + S_TLSF, 0, TLSF_CONTROL_BYTES);
}

/** Adds the chunk [start, start + bytes) to the shard's free space. bytes is a multiple of 8. */
export function tlsfAddChunk(shard: usize, start: usize, bytes: u32): void {
  const c = shard + S_TLSF;
  const b = start + CHUNK_HEADER;
  const size = bytes - CHUNK_OVERHEAD;
  setInfo(b, size | FREE);
  store<u32>(b + size - 4, <u32>b);
  // End sentinel: a used block of size 0 whose left neighbour is free.
  setInfo(b + size, LEFT_FREE);
  insertFree(c, b);
}

/**
 * Allocates a block with at least `payload` bytes of payload. Returns the payload pointer, or 0
 * when no free block is large enough (the caller evicts or adds a chunk and tries again).
 */
export function tlsfAlloc(shard: usize, payload: u32): usize {
  const c = shard + S_TLSF;
  const size = blockSizeFor(payload);
  const b = searchFree(c, size);
  if (!b) return 0;
  removeFree(c, b);
  const bsize = blockSize(b);
  const leftFlag = info(b) & LEFT_FREE;
  if (bsize - size >= BLOCK_MIN) {
    // The remainder's header first: until b shrinks, a physical walk skips it inside b.
    const r = b + size;
    const rsize = bsize - size;
    setInfo(r, rsize | FREE);
    store<u32>(r + rsize - 4, <u32>r);
    setInfo(b, size | leftFlag);
    insertFree(c, r);
  } else {
    setInfo(b, bsize | leftFlag);
    const right = b + bsize;
    setInfo(right, info(right) & ~LEFT_FREE);
  }
  store<u64>(shard + S_USED, load<u64>(shard + S_USED) + <u64>blockSize(b));
  return b + BLOCK_OVERHEAD;
}

/** Frees the block whose payload starts at `p`, coalescing with free neighbours. */
export function tlsfFree(shard: usize, p: usize): void {
  const c = shard + S_TLSF;
  let b = p - BLOCK_OVERHEAD;
  let size = blockSize(b);
  store<u64>(shard + S_USED, load<u64>(shard + S_USED) - <u64>size);
  let flags = info(b) & LEFT_FREE;
  const right = b + size;
  if (info(right) & FREE) {
    removeFree(c, right);
    size += blockSize(right);
  }
  if (flags) {
    const left = <usize>load<u32>(b - 4);
    removeFree(c, left);
    size += blockSize(left);
    b = left;
    flags = info(left) & LEFT_FREE;
  }
  setInfo(b, size | FREE | flags);
  store<u32>(b + size - 4, <u32>b);
  const next = b + size;
  setInfo(next, info(next) | LEFT_FREE);
  insertFree(c, b);
}

/** Largest payload a single block of a chunk of `chunkBytes` can hold. */
export function chunkPayloadCapacity(chunkBytes: u32): u32 {
  return chunkBytes - CHUNK_OVERHEAD - BLOCK_OVERHEAD;
}

/**
 * Takes `bytes` (a multiple of 8) from the global heap, growing the memory if needed. Returns the
 * start, or 0 when the memory cannot grow. Callers may hold a shard lock: this never traps.
 */
export function heapAlloc(bytes: u32, tid: i32): usize {
  if (!heapLock(tid)) return 0;
  let result: usize = 0;
  // A chunk compaction gave back, of exactly this size, before new memory.
  const listPtr = <usize>(HEADER_BASE + H_FREE_CHUNKS);
  let prev: usize = 0;
  let c = <usize>load<u32>(listPtr);
  while (c) {
    if (load<u32>(c, 4) == bytes) {
      const next = load<u32>(c);
      if (prev) store<u32>(prev, next);
      else store<u32>(listPtr, next);
      store<u64>(HEADER_BASE + H_FREE_CHUNK_BYTES, load<u64>(HEADER_BASE + H_FREE_CHUNK_BYTES) - <u64>bytes);
      result = c;
      break;
    }
    prev = c;
    c = <usize>load<u32>(c);
  }
  if (!result) {
    const topPtr = <usize>(HEADER_BASE + H_HEAP_TOP);
    const top = <u64>atomic.load<u32>(topPtr);
    const end = top + <u64>bytes;
    if (end <= 0xFFFF0000) {
      const have = <u64>memory.size() << 16;
      let ok = true;
      if (end > have) {
        const pages = <i32>((end - have + 0xFFFF) >> 16);
        ok = memory.grow(pages) >= 0;
      }
      if (ok) {
        atomic.store<u32>(topPtr, <u32>end);
        result = <usize>top;
      }
    }
  }
  heapUnlock();
  return result;
}

/** Gives a whole chunk back to the heap's free list (compaction emptied it). */
export function heapRelease(chunk: usize, tid: i32): bool {
  if (!heapLock(tid)) return false;
  const listPtr = <usize>(HEADER_BASE + H_FREE_CHUNKS);
  store<u32>(chunk, load<u32>(listPtr));
  store<u32>(listPtr, <u32>chunk);
  store<u64>(HEADER_BASE + H_FREE_CHUNK_BYTES, load<u64>(HEADER_BASE + H_FREE_CHUNK_BYTES) + <u64>load<u32>(chunk, 4));
  heapUnlock();
  return true;
}

/** Takes the heap lock (a short global lock for chunk bookkeeping). */
function heapLock(tid: i32): bool {
  const lockPtr = <usize>(HEADER_BASE + H_HEAP_LOCK);
  // The heap lock guards a few stores; a dead holder's are redone or harmless.
  for (let tries = 0; ; tries++) {
    const v = atomic.cmpxchg<i32>(lockPtr, 0, tid);
    if (v == 0) return true;
    if (holderIsDead(v)) {
      if (atomic.cmpxchg<i32>(lockPtr, v, tid) == v) return true;
      continue;
    }
    if (tries > 100000) return false;
    memory.atomic.wait32(lockPtr, v, 100000);
  }
  return false;
}

function heapUnlock(): void {
  const lockPtr = <usize>(HEADER_BASE + H_HEAP_LOCK);
  atomic.store<i32>(lockPtr, 0);
  atomic.notify(lockPtr, 1);
}

/**
 * Gives the shard a new chunk of at least `minPayload` payload bytes, if its budget allows.
 * Returns false when the budget is exhausted or the memory cannot grow.
 */
export function shardGrow(shard: usize, minPayload: u32, chunkBytes: u32, budget: u64, tid: i32): bool {
  const reserved = load<u64>(shard + S_RESERVED);
  let bytes = chunkBytes;
  const need = findableSize(blockSizeFor(minPayload)) + CHUNK_OVERHEAD;
  if (bytes < need) bytes = (need + 0xFFFF) & ~0xFFFF;
  if (bytes > BLOCK_MAX) bytes = BLOCK_MAX;
  if (bytes < need) return false;
  if (reserved + <u64>bytes > budget) {
    // The last chunk may be smaller, to land exactly on the budget.
    const left = budget > reserved ? <u32>(budget - reserved) & ~7 : 0;
    if (left < need) return false;
    bytes = left;
  }
  const start = heapAlloc(bytes, tid);
  if (!start) return false;
  // Blocks first, then the link: a repair walk only ever sees fully laid-out chunks.
  store<u32>(start, load<u32>(shard + S_CHUNKS));
  store<u32>(start, bytes, 4);
  tlsfAddChunk(shard, start, bytes);
  store<u32>(shard + S_CHUNKS, <u32>start);
  store<u64>(shard + S_RESERVED, reserved + <u64>bytes);
  return true;
}

/** Rebuilds the shard's free space from its chunks (used by clear: every block becomes free). */
export function shardResetArena(shard: usize): void {
  tlsfReset(shard);
  store<u64>(shard + S_USED, 0);
  let chunk = <usize>load<u32>(shard + S_CHUNKS);
  while (chunk) {
    tlsfAddChunk(shard, chunk, load<u32>(chunk, 4));
    chunk = <usize>load<u32>(chunk);
  }
}
