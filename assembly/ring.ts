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
// The host (src/core/ring.ts) fills the entries, calls ringBuild, then ringLookup per key.
import { xxh64 } from "./hash";

// @ts-ignore: decorator
@inline const ENTRY: usize = 16;

/** Whether [ptr, ptr + count × 16) is an aligned, in-bounds region (so nothing below can trap). */
// @ts-ignore: decorator
@inline function regionOk(ptr: usize, count: u32): bool {
  if ((ptr & 7) != 0) return false;
  const end = <u64>ptr + <u64>count * <u64>ENTRY;
  return end <= <u64>memory.size() << 16;
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
    if (l + 1 < end && less(ptr + <usize>l * ENTRY, ptr + <usize>(l + 1) * ENTRY)) c = l + 1;
    const at = ptr + <usize>i * ENTRY;
    const ct = ptr + <usize>c * ENTRY;
    if (!less(at, ct)) return;
    swap(at, ct);
    i = c;
  }
}

/**
 * Sorts the `count` entries at `ptr` in place (heapsort: no allocation, no recursion) and zeroes
 * their pad words. Returns `count`, or -1 when the region is misaligned or out of bounds.
 */
export function ringBuild(ptr: usize, count: u32): i32 {
  if (count > 0x7ffffff || !regionOk(ptr, count)) return -1;
  for (let i: u32 = 0; i < count; i++) store<u32>(ptr + <usize>i * ENTRY, 0, 12);
  if (count < 2) return <i32>count;
  let start = count >> 1;
  while (start > 0) siftDown(ptr, --start, count);
  let end = count;
  while (end > 1) {
    end--;
    swap(ptr, ptr + <usize>end * ENTRY);
    siftDown(ptr, 0, end);
  }
  return <i32>count;
}

/** The node index owning `hash` on the sorted ring at `ptr`; -1 for an empty or invalid ring. */
export function ringLookupHash(ptr: usize, count: u32, hashLo: u32, hashHi: u32): i32 {
  if (count == 0 || count > 0x7ffffff || !regionOk(ptr, count)) return -1;
  return find(ptr, count, (<u64>hashHi << 32) | <u64>hashLo);
}

/** The node index owning the key of `keyLen` bytes at `keyPtr` (xxh64 with the seed's halves). */
export function ringLookup(ptr: usize, count: u32, keyPtr: usize, keyLen: u32, seedLo: u32, seedHi: u32): i32 {
  if (count == 0 || count > 0x7ffffff || !regionOk(ptr, count)) return -1;
  if (<u64>keyPtr + <u64>keyLen > <u64>memory.size() << 16) return -1;
  return find(ptr, count, xxh64(keyPtr, keyLen, (<u64>seedHi << 32) | <u64>seedLo));
}

// @ts-ignore: decorator
@inline function find(ptr: usize, count: u32, h: u64): i32 {
  let lo: u32 = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (load<u64>(ptr + <usize>mid * ENTRY) < h) lo = mid + 1;
    else hi = mid;
  }
  if (lo == count) lo = 0;
  return <i32>load<u32>(ptr + <usize>lo * ENTRY, 8);
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
