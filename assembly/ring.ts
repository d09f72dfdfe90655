// Consistent-hash ring lookup over memory the host owns. Nothing here allocates, and the module
// keeps no state: a ring is only a block of memory, so any thread whose instance shares that memory
// can look keys up in it without copying it.
//
// A ring of `count` virtual-node points at `ptr` (8-byte aligned), 16 bytes per entry, sorted by
// point (ties by node index) after ringBuild:
//
//   ptr          ptr + 16        ptr + 32                     ptr + count × 16
//   ┌────────────┬───────────────┬─────────── … ──────────────┐
//   │ entry 0    │ entry 1       │                            │
//   └────────────┴───────────────┴─────────── … ──────────────┘
//   entry: +0 point u64 (the vnode's xxh64) · +8 node index u32 · +12 pad u32 (0)
//
// A key maps to the first point >= xxh64(key, seed), wrapping past the last point to entry 0.
//
// The points of a node set come from a stage the host writes (ringFill; shared-ring.ts uses the
// same code): a names block, then one u32 point count per node, packed (no alignment):
//
//   stage  ┌────────────┬──────────────────────────────────────┬──────────────────────┐
//          │ nodes u32  │ per node: name length u16 · UTF-8    │ per node: points u32 │
//          └────────────┴──────────────────────────────────────┴──────────────────────┘
//           └──────────────── names block ─────────────────────┘
//
// Node n (its index is its position in the stage) gets points xxh64(UTF-8 of `${name}#${i}`, seed)
// for i in [0, points): the host's HashRing and SharedRing (src/core/ring.ts) both build this way,
// so they agree on every key for the same nodes, weights, vnodes and seed.
import { xxh64 } from "./hash";

/** Bytes of one ring entry. */
export const RING_ENTRY: usize = 16;
/** Most points ringBuild / ringFill accept (the entries' bytes stay below 2 GiB). */
export const RING_MAX_POINTS: u32 = 0x7ffffff;
/** Longest node name in a stage, in UTF-8 bytes: `${name}#${i}` then fits in 64 KiB. */
export const MAX_NODE_NAME_BYTES: u32 = 0xfff0;
/** Work bytes fillPoints needs beyond the longest name: '#' and up to 10 decimal digits. */
export const VNODE_SUFFIX_BYTES: u32 = 11;

/** Whether [ptr, ptr + bytes) lies inside the memory (64-bit arithmetic: no wrap-around). */
// @ts-ignore: decorator
@inline export function inMemory(ptr: usize, bytes: u64): bool {
  return <u64>ptr + bytes <= <u64>memory.size() << 16;
}

/** Whether [ptr, ptr + count × 16) is an aligned, in-bounds region (so nothing below can trap). */
// @ts-ignore: decorator
@inline export function regionOk(ptr: usize, count: u32): bool {
  return (ptr & 7) == 0 && inMemory(ptr, <u64>count * <u64>RING_ENTRY);
}

// @ts-ignore: decorator
@inline function less(a: usize, b: usize): bool {
  const pa = load<u64>(a);
  const pb = load<u64>(b);
  return pa < pb || (pa == pb && load<u32>(a, 8) < load<u32>(b, 8));
}

// @ts-ignore: decorator
@inline function swap(a: usize, b: usize): void {
  const p = load<u64>(a);
  const n = load<u64>(a, 8);
  store<u64>(a, load<u64>(b));
  store<u64>(a, load<u64>(b, 8), 8);
  store<u64>(b, p);
  store<u64>(b, n, 8);
}

function siftDown(ptr: usize, root: u32, end: u32): void {
  let i = root;
  while (true) {
    const l = i * 2 + 1;
    if (l >= end) return;
    let c = l;
    if (l + 1 < end && less(ptr + <usize>l * RING_ENTRY, ptr + <usize>(l + 1) * RING_ENTRY)) c = l + 1;
    const at = ptr + <usize>i * RING_ENTRY;
    const ct = ptr + <usize>c * RING_ENTRY;
    if (!less(at, ct)) return;
    swap(at, ct);
    i = c;
  }
}

/** Heapsorts `count` entries at `ptr` (no allocation, no recursion). The region must be valid. */
export function sortRing(ptr: usize, count: u32): void {
  if (count < 2) return;
  let start = count >> 1;
  while (start > 0) siftDown(ptr, --start, count);
  let end = count;
  while (end > 1) {
    end--;
    swap(ptr, ptr + <usize>end * RING_ENTRY);
    siftDown(ptr, 0, end);
  }
}

/**
 * Sorts the `count` entries at `ptr` in place and zeroes their pad words. Returns `count`, or -1
 * when the region is misaligned or out of bounds.
 */
export function ringBuild(ptr: usize, count: u32): i32 {
  if (count > RING_MAX_POINTS || !regionOk(ptr, count)) return -1;
  for (let i: u32 = 0; i < count; i++) store<u32>(ptr + <usize>i * RING_ENTRY, 0, 12);
  sortRing(ptr, count);
  return <i32>count;
}

/** The node index owning `hash` on the sorted ring at `ptr`; -1 for an empty or invalid ring. */
export function ringLookupHash(ptr: usize, count: u32, hashLo: u32, hashHi: u32): i32 {
  if (count == 0 || count > RING_MAX_POINTS || !regionOk(ptr, count)) return -1;
  return <i32>load<u32>(ptr + <usize>findSlot(ptr, count, (<u64>hashHi << 32) | <u64>hashLo) * RING_ENTRY, 8);
}

/** The node index owning the key of `keyLen` bytes at `keyPtr` (xxh64 with the seed's halves). */
export function ringLookup(ptr: usize, count: u32, keyPtr: usize, keyLen: u32, seedLo: u32, seedHi: u32): i32 {
  if (count == 0 || count > RING_MAX_POINTS || !regionOk(ptr, count)) return -1;
  if (!inMemory(keyPtr, keyLen)) return -1;
  const h = xxh64(keyPtr, keyLen, (<u64>seedHi << 32) | <u64>seedLo);
  return <i32>load<u32>(ptr + <usize>findSlot(ptr, count, h) * RING_ENTRY, 8);
}

/** The entry (0 ≤ slot < count) owning hash `h`: the first point >= h, wrapping to 0. count > 0. */
// @ts-ignore: decorator
@inline export function findSlot(ptr: usize, count: u32, h: u64): u32 {
  let lo: u32 = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (load<u64>(ptr + <usize>mid * RING_ENTRY) < h) lo = mid + 1;
    else hi = mid;
  }
  return lo == count ? 0 : lo;
}

// ─── building from a stage ────────────────────────────────────────────────────────────────────

/**
 * Checks the stage of `stageBytes` at `stage` (see the file comment): inside the memory, every
 * name 1..MAX_NODE_NAME_BYTES bytes, every point count >= 1, exactly `stageBytes` long, at most
 * `maxPoints` points in all. Returns the total number of points, or -1.
 */
export function stagePoints(stage: usize, stageBytes: u32, maxPoints: u32): i64 {
  if (stageBytes < 4 || !inMemory(stage, stageBytes)) return -1;
  // 64-bit cursor: near the top of a 4 GiB memory a 32-bit one could wrap past the end.
  const end = <u64>stage + <u64>stageBytes;
  const nodes = load<u32>(stage);
  let p = <u64>stage + 4;
  for (let n: u32 = 0; n < nodes; n++) {
    if (p + 2 > end) return -1;
    const len = <u32>load<u16>(<usize>p);
    if (len == 0 || len > MAX_NODE_NAME_BYTES) return -1;
    p += 2 + <u64>len;
    if (p > end) return -1;
  }
  if (p + <u64>nodes * 4 != end) return -1;
  let total: u64 = 0;
  for (let n: u32 = 0; n < nodes; n++) {
    const c = load<u32>(<usize>p + <usize>n * 4);
    if (c == 0) return -1;
    total += <u64>c;
    if (total > <u64>maxPoints) return -1;
  }
  return <i64>total;
}

/** Bytes of the names block at the start of a valid stage (or of a copy of that block). */
export function namesBlockBytes(names: usize): u32 {
  const nodes = load<u32>(names);
  let p = names + 4;
  for (let n: u32 = 0; n < nodes; n++) p += 2 + <usize>load<u16>(p);
  return <u32>(p - names);
}

/** Longest name in a valid names block, in bytes. */
export function longestName(names: usize): u32 {
  const nodes = load<u32>(names);
  let p = names + 4;
  let longest: u32 = 0;
  for (let n: u32 = 0; n < nodes; n++) {
    const len = <u32>load<u16>(p);
    if (len > longest) longest = len;
    p += 2 + <usize>len;
  }
  return longest;
}

/** Writes `i` in decimal at `at`; returns the number of digits. */
// @ts-ignore: decorator
@inline function writeDecimal(at: usize, i: u32): u32 {
  let digits: u32 = 1;
  for (let v = i; v >= 10; v /= 10) digits++;
  let v = i;
  for (let d = digits; d > 0; d--) {
    store<u8>(at + <usize>(d - 1), <u8>(0x30 + v % 10));
    v /= 10;
  }
  return digits;
}

/**
 * Writes the unsorted entries of every node of the valid names block at `names` (its point counts
 * at `counts`) to `ring`, hashing `${name}#${i}` in the work area at `work` (longestName +
 * VNODE_SUFFIX_BYTES bytes, overlapping nothing). Returns the number of entries written.
 */
export function fillPoints(names: usize, counts: usize, ring: usize, work: usize, seed: u64): u32 {
  const nodes = load<u32>(names);
  let p = names + 4;
  let at = ring;
  for (let n: u32 = 0; n < nodes; n++) {
    const len = <usize>load<u16>(p);
    memory.copy(work, p + 2, len);
    store<u8>(work + len, 0x23); // '#'
    const c = load<u32>(counts + <usize>n * 4);
    for (let i: u32 = 0; i < c; i++) {
      const digits = writeDecimal(work + len + 1, i);
      store<u64>(at, xxh64(work, len + 1 + <usize>digits, seed));
      store<u64>(at, <u64>n, 8); // node index, then a zero pad word
      at += RING_ENTRY;
    }
    p += 2 + len;
  }
  return <u32>((at - ring) / RING_ENTRY);
}

/**
 * Builds the sorted ring of the stage at `stage` into `ring`, hashing in the work area at `work`
 * (see fillPoints). Returns the number of points, or -1 when the stage is invalid or a region is
 * misaligned or out of bounds. The regions must not overlap (that is not checked: it only gives a
 * wrong ring, never a trap).
 */
export function ringFill(stage: usize, stageBytes: u32, ring: usize, work: usize, seedLo: u32, seedHi: u32): i32 {
  const total = stagePoints(stage, stageBytes, RING_MAX_POINTS);
  if (total < 0 || !regionOk(ring, <u32>total)) return -1;
  if (!inMemory(work, <u64>longestName(stage) + VNODE_SUFFIX_BYTES)) return -1;
  const namesBytes = namesBlockBytes(stage);
  const n = fillPoints(stage, stage + <usize>namesBytes, ring, work, (<u64>seedHi << 32) | <u64>seedLo);
  sortRing(ring, n);
  return <i32>n;
}

/**
 * Jump consistent hash (Lamping & Veach, 2014): the bucket in [0, buckets) for the 64-bit key
 * hash given as two halves; -1 when buckets < 1. Growing buckets from n to n + 1 moves ~1/(n + 1)
 * of the keys, all to the new bucket.
 */
export function jumpHash(keyHashLo: u32, keyHashHi: u32, buckets: i32): i32 {
  if (buckets < 1) return -1;
  let key = (<u64>keyHashHi << 32) | <u64>keyHashLo;
  let b: i64 = -1;
  let j: i64 = 0;
  while (j < <i64>buckets) {
    b = j;
    key = key * 2862933555777941757 + 1;
    j = <i64>(<f64>(b + 1) * (<f64>(<i64>1 << 31) / <f64>((key >> 33) + 1)));
  }
  return <i32>b;
}
