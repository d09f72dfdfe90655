// The sharded hash table. A key's xxh64 picks its shard (bits 40+), its home slot (low bits) and a
// one-byte tag (top byte). Each shard has its own lock, index, arena, queues and counters.
//
// Index: linear probing over `cap` slots kept in groups of eight, each group 40 bytes — eight
// control bytes (0 = empty, else the key's tag) then eight u32 entry pointers — so that a probe
// finds a slot's tag and its pointer in the same cache line. Probes compare tags and only touch
// an entry when its tag matches. Deletion shifts later members of the probe run back
// (no tombstones), so a lookup stops at the first empty byte. The load stays at or under 13/16;
// the index doubles (rehash under the shard lock) when an insert would pass that.
//
// Every exported operation takes the calling thread's scratch area as its input and output: the
// host writes the key (then the value, for set) at the scratch start, and get copies the value
// there before the lock is released, so no thread ever reads an entry another thread may free.
//
// This file holds the index, the entry operations and the per-thread state; the other passes over
// a shard live beside it: recovery.ts (repairing a shard whose lock holder died, reaping a dead
// thread), scan.ts (cursor iteration) and compact.ts (emptying a chunk to give it back).

import {
  HEADER_BASE, H_MAGIC, H_STATE, H_VERSION, H_SHARDS, H_SHARD_MASK, H_MAX_ENTRIES, H_SEED,
  H_BUDGET, H_HEAP_TOP, H_CHUNK_BYTES, H_SMALL_PERMILLE, H_MOVE_THRESHOLD, H_HEAP_BASE,
  H_LOCK_TIMEOUT_MS, H_OWNERS, OWNER_BYTES, H_RING, H_RING_BYTES, MAGIC, LAYOUT_VERSION,
  STATE_EMPTY, STATE_LAYING_OUT, STATE_READY, SHARDS_BASE, SHARD_BYTES, MAX_SHARDS, MAX_THREADS,
  T_STATE, T_SCRATCH, T_SCRATCH_CAP, T_RESULT, THREAD_FREE, THREAD_LIVE,
  S_CTRL, S_CAP, S_COUNT, S_GHOST, S_GHOST_MASK, S_SWEEP, S_SMALL_HEAD, S_SMALL_TAIL, S_MAIN_HEAD,
  S_MAIN_TAIL, S_SMALL_BYTES, S_ENTRY_BYTES, S_USED, S_RESERVED, S_COMPRESSED, S_SAVED, S_HITS,
  S_MISSES, S_SETS, S_DELETES,
  E_VALUE_LEN, E_EXPIRES, E_HASH, E_KEY_LEN, E_FLAGS, E_META, ENTRY_HEADER,
  FLAGS_HOST_MASK, FLAG_COMPRESSED, META_FREQ_MASK, META_IN_MAIN, META_COMMITTED,
  shardAt, threadSlotAt, bump64, entryKey, entryValue,
} from "./layout";
import {
  ST_MISS, ST_SCRATCH, ST_TOO_LARGE, ST_NO_MEMORY, ST_BAD_CONFIG, ST_NO_THREAD_SLOT,
  ST_BAD_LAYOUT, ST_NOT_STORED, ST_LOCK_TIMEOUT,
} from "./status";
import { xxh64 } from "./hash";
import {
  tlsfAlloc, tlsfFree, tlsfReset, shardGrow, shardResetArena, heapAlloc, blockSizeFor,
  allocatedSize, chunkPayloadCapacity, BLOCK_MAX,
} from "./alloc";
import { lockShard, unlockShard } from "./lock";
import { lz4CompressBlock, lz4DecompressBlock, lz4CompressBound, lz4WorkBytes } from "./lz4";
import { queuePush, queueUnlink, ghostTake, evictOne, countRemoval } from "./evict";

export const REASON_DELETED: i32 = 0;
export const REASON_EVICTED: i32 = 1;
export const REASON_EXPIRED: i32 = 2;
export const REASON_REPLACED: i32 = 3;

/** set() mode bits. */
export const MODE_NX: u32 = 1;
export const MODE_XX: u32 = 2;
export const MODE_KEEP_TTL: u32 = 4;

/** Slots of a new index (a multiple of 8). */
export const INITIAL_CAP: u32 = 16;
const SWEEP_SLOTS: u32 = 2;
const DEFAULT_SCRATCH: u32 = 64 * 1024;

// Per-thread copies of the immutable configuration, loaded by attach(). Never shared state.
// The exported ones are read by recovery.ts, scan.ts and compact.ts; only this file writes them.
export let tid: i32 = 0;
export let scratch: usize = 0;
export let scratchCap: u32 = 0;
export let slotPtr: usize = 0;
export let seed: u64 = 0;
export let shardMask: u32 = 0;
let budget: u64 = 0;
let maxEntries: u32 = 0;
let chunkBytes: u32 = 0;
let smallPermille: u32 = 0;
let moveThreshold: u32 = 0;

// ─── index ────────────────────────────────────────────────────────────────────────────────────

// @ts-ignore: decorator
@inline export function tagOf(h: u64): u8 {
  const t = <u8>(h >> 56);
  return t ? t : 1;
}

const GROUP_BYTES: u32 = 40;

/** Bytes of an index of `cap` slots (cap a multiple of 8). */
// @ts-ignore: decorator
@inline function indexBytes(cap: u32): u32 { return (cap >> 3) * GROUP_BYTES; }
/** Address of slot i's control byte. */
// @ts-ignore: decorator
@inline export function ctrlAt(index: usize, i: u32): usize { return index + <usize>((i >> 3) * GROUP_BYTES + (i & 7)); }
/** Address of slot i's entry pointer. */
// @ts-ignore: decorator
@inline export function slotAt(index: usize, i: u32): usize { return index + <usize>((i >> 3) * GROUP_BYTES + 8 + ((i & 7) << 2)); }

// @ts-ignore: decorator
@inline export function isExpired(e: usize, now: u64): bool {
  const x = load<u64>(e, E_EXPIRES);
  return x != 0 && x <= now;
}

function keyEquals(a: usize, b: usize, len: u32): bool {
  let i: u32 = 0;
  while (i + 8 <= len) {
    if (load<u64>(a + i) != load<u64>(b + i)) return false;
    i += 8;
  }
  while (i < len) {
    if (load<u8>(a + i) != load<u8>(b + i)) return false;
    i++;
  }
  return true;
}

/** Slot of the key (>= 0), or -(insertion slot + 1) when absent; -1 - cap is never returned. */
export function indexFind(s: usize, h: u64, key: usize, keyLen: u32): i32 {
  const cap = load<u32>(s + S_CAP);
  if (!cap) return i32.MIN_VALUE;
  const mask = cap - 1;
  const index = <usize>load<u32>(s + S_CTRL);
  const tag = tagOf(h);
  const h32 = <u32>h;
  let i = h32 & mask;
  for (let n: u32 = 0; n < cap; n++) {
    const c = load<u8>(ctrlAt(index, i));
    if (c == 0) return -1 - <i32>i;
    if (c == tag) {
      const e = <usize>load<u32>(slotAt(index, i));
      if (load<u32>(e, E_HASH) == h32 && <u32>load<u16>(e, E_KEY_LEN) == keyLen
          && keyEquals(entryKey(e), key, keyLen)) {
        return <i32>i;
      }
    }
    i = (i + 1) & mask;
  }
  return i32.MIN_VALUE;
}

/** Slot that holds entry `e` (found from its home slot), or -1 when it is not indexed. */
export function indexSlotOf(s: usize, e: usize): i32 {
  const cap = load<u32>(s + S_CAP);
  const mask = cap - 1;
  const index = <usize>load<u32>(s + S_CTRL);
  let i = load<u32>(e, E_HASH) & mask;
  for (let n: u32 = 0; n < cap && load<u8>(ctrlAt(index, i)); n++) {
    if (<usize>load<u32>(slotAt(index, i)) == e) return <i32>i;
    i = (i + 1) & mask;
  }
  return -1;
}

/** Empties slot `i`, shifting back later members of its probe run. */
function indexRemoveAt(s: usize, i: u32): void {
  const mask = load<u32>(s + S_CAP) - 1;
  const index = <usize>load<u32>(s + S_CTRL);
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    const c = load<u8>(ctrlAt(index, j));
    if (c == 0) break;
    const e = load<u32>(slotAt(index, j));
    const home = load<u32>(<usize>e, E_HASH) & mask;
    // Move j into the hole at i unless j's home lies cyclically in (i, j].
    const movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      store<u8>(ctrlAt(index, i), c);
      store<u32>(slotAt(index, i), e);
      i = j;
    }
  }
  store<u8>(ctrlAt(index, i), 0);
}

/** Allocates an index of `cap` slots (and its ghost) and rehashes into it. False if no room. */
export function indexResize(s: usize, cap: u32, now: u64): bool {
  const bytes = indexBytes(cap);
  const ghostBytes = (cap >> 1) * 4;
  const oldCap = load<u32>(s + S_CAP);
  const oldCtrl = <usize>load<u32>(s + S_CTRL);
  const oldGhost = <usize>load<u32>(s + S_GHOST);
  const index = allocate(s, bytes, now, false);
  if (!index) return false;
  const ghost = allocate(s, ghostBytes, now, false);
  if (!ghost) {
    tlsfFree(s, index);
    return false;
  }
  // allocate() may have evicted entries, which changes the old index but never the new one.
  memory.fill(index, 0, bytes);
  memory.fill(ghost, 0, ghostBytes);
  const mask = cap - 1;
  const curCap = load<u32>(s + S_CAP);
  if (curCap) {
    const old = <usize>load<u32>(s + S_CTRL);
    for (let i: u32 = 0; i < curCap; i++) {
      const c = load<u8>(ctrlAt(old, i));
      if (!c) continue;
      const e = load<u32>(slotAt(old, i));
      let j = load<u32>(<usize>e, E_HASH) & mask;
      while (load<u8>(ctrlAt(index, j))) j = (j + 1) & mask;
      store<u8>(ctrlAt(index, j), c);
      store<u32>(slotAt(index, j), e);
    }
  }
  store<u32>(s + S_CTRL, <u32>index);
  store<u32>(s + S_CAP, cap);
  store<u32>(s + S_GHOST, <u32>ghost);
  store<u32>(s + S_GHOST_MASK, (cap >> 1) - 1);
  if (oldCap) {
    tlsfFree(s, oldCtrl);
    tlsfFree(s, oldGhost);
  }
  return true;
}

/**
 * Makes room in the index for one more entry: doubles it, or — when the budget or fragmentation
 * gives no block for that — evicts one entry, so a shard at its index limit behaves like a full
 * cache rather than thrashing.
 */
function ensureIndexRoom(s: usize, now: u64): bool {
  const cap = load<u32>(s + S_CAP);
  if (cap && (load<u32>(s + S_COUNT) + 1) * 16 <= cap * 13) return true;
  if (indexResize(s, cap ? cap << 1 : INITIAL_CAP, now)) return true;
  if (!cap) return false;
  return evictOne(s, now, smallPermille, moveThreshold);
}

// ─── entries ──────────────────────────────────────────────────────────────────────────────────

/**
 * A block of `payload` bytes from the shard's arena, evicting entries while the byte budget (or
 * fragmentation) requires it and taking new chunks while the budget allows. 0 when even an empty
 * shard cannot hold it. `forEntry` is false for index blocks, which may not evict the whole shard.
 */
function allocate(s: usize, payload: u32, now: u64, forEntry: bool): usize {
  const need = <u64>blockSizeFor(payload);
  while (true) {
    if (load<u64>(s + S_USED) + need <= budget) {
      const p = tlsfAlloc(s, payload);
      if (p) return p;
      if (shardGrow(s, payload, chunkBytes, budget, tid)) continue;
    }
    // An index block is large and contiguous: evicting small entries rarely opens such a hole,
    // so an index that cannot grow stays as it is (ensureIndexRoom then evicts one entry).
    if (!forEntry) return 0;
    if (!evictOne(s, now, smallPermille, moveThreshold)) return 0;
  }
}

/** Adds (sign 1) or removes (sign -1) a compressed entry's share of the compression counters. */
export function accountCompression(s: usize, e: usize, sign: i64): void {
  if (!(<u32>load<u8>(e, E_FLAGS) & FLAG_COMPRESSED)) return;
  const stored = <i64>load<u32>(e, E_VALUE_LEN);
  const raw = <i64>load<u32>(entryValue(e));
  store<i64>(s + S_COMPRESSED, load<i64>(s + S_COMPRESSED) + sign);
  store<i64>(s + S_SAVED, load<i64>(s + S_SAVED) + sign * (raw - stored));
}

/** Unlinks, unindexes and frees entry `e`, counting why. */
export function removeEntry(s: usize, e: usize, reason: i32): void {
  store<u8>(e, <u8>(<u32>load<u8>(e, E_META) & ~META_COMMITTED), E_META);
  accountCompression(s, e, -1);
  const slot = indexSlotOf(s, e);
  if (slot >= 0) indexRemoveAt(s, <u32>slot);
  queueUnlink(s, e);
  const size = allocatedSize(e);
  store<u64>(s + S_ENTRY_BYTES, load<u64>(s + S_ENTRY_BYTES) - <u64>size);
  store<u32>(s + S_COUNT, load<u32>(s + S_COUNT) - 1);
  countRemoval(s, reason);
  tlsfFree(s, e);
}

/** Examines a few index slots from the sweep cursor and removes expired entries there. */
function sweepSome(s: usize, slots: u32, now: u64): u32 {
  const cap = load<u32>(s + S_CAP);
  if (!cap) return 0;
  const mask = cap - 1;
  const index = <usize>load<u32>(s + S_CTRL);
  let cursor = load<u32>(s + S_SWEEP);
  let removed: u32 = 0;
  // `slots` bounds the slots passed and, separately, the removals: at most 2 × slots steps.
  for (let n: u32 = 0; n < slots && removed < slots; ) {
    const i = cursor & mask;
    if (!load<u8>(ctrlAt(index, i))) {
      cursor++;
      n++;
      continue;
    }
    const e = <usize>load<u32>(slotAt(index, i));
    if (isExpired(e, now)) {
      // Removal shifts the next member of the run into slot i: look at i again.
      removeEntry(s, e, REASON_EXPIRED);
      removed++;
    } else {
      cursor++;
      n++;
    }
  }
  store<u32>(s + S_SWEEP, cursor);
  return removed;
}

// @ts-ignore: decorator
@inline function shardOf(h: u64): usize {
  return shardAt(<u32>(h >> 40) & shardMask);
}

// @ts-ignore: decorator
@inline function bumpFreq(e: usize): void {
  const meta = <u32>load<u8>(e, E_META);
  if ((meta & META_FREQ_MASK) != META_FREQ_MASK) store<u8>(e, <u8>(meta + 1), E_META);
}

// ─── setup ────────────────────────────────────────────────────────────────────────────────────

/**
 * Lays out the shared region once; every later caller (any thread) waits until it is ready.
 * Returns 0, or ST_BAD_CONFIG / ST_BAD_LAYOUT.
 */
export function init(
  shards: u32, shardBudget: f64, maxEntriesPerShard: u32, seedLo: u32, seedHi: u32,
  chunk: u32, smallShare: u32, moveAt: u32, lockTimeoutMs: u32,
): i32 {
  const hdr = <usize>HEADER_BASE;
  if (atomic.cmpxchg<i32>(hdr + H_STATE, STATE_EMPTY, STATE_LAYING_OUT) == STATE_EMPTY) {
    if (shards == 0 || shards > MAX_SHARDS || (shards & (shards - 1)) != 0
        || shardBudget < 65536 || shardBudget > 4294967296.0 || chunk < 65536 || (chunk & 7) != 0
        || smallShare > 1000 || moveAt > 3) {
      atomic.store<i32>(hdr + H_STATE, STATE_EMPTY);
      return ST_BAD_CONFIG;
    }
    const heapBase = (SHARDS_BASE + shards * SHARD_BYTES + 0xFFFF) & ~0xFFFF;
    const havePages = memory.size();
    if (<u64>havePages << 16 < <u64>heapBase) {
      if (memory.grow(<i32>((heapBase >> 16) - <u32>havePages)) < 0) {
        atomic.store<i32>(hdr + H_STATE, STATE_EMPTY);
        return ST_NO_MEMORY;
      }
    }
    memory.fill(<usize>SHARDS_BASE, 0, shards * SHARD_BYTES);
    store<u32>(hdr + H_MAGIC, MAGIC);
    store<u32>(hdr + H_VERSION, LAYOUT_VERSION);
    store<u32>(hdr + H_SHARDS, shards);
    store<u32>(hdr + H_SHARD_MASK, shards - 1);
    store<u32>(hdr + H_MAX_ENTRIES, maxEntriesPerShard);
    store<u64>(hdr + H_SEED, (<u64>seedHi << 32) | <u64>seedLo);
    store<u64>(hdr + H_BUDGET, <u64>shardBudget);
    store<u32>(hdr + H_CHUNK_BYTES, chunk);
    store<u32>(hdr + H_SMALL_PERMILLE, smallShare);
    store<u32>(hdr + H_MOVE_THRESHOLD, moveAt);
    store<u32>(hdr + H_HEAP_BASE, heapBase);
    store<u32>(hdr + H_LOCK_TIMEOUT_MS, lockTimeoutMs);
    memory.fill(hdr + H_OWNERS, 0, MAX_SHARDS * OWNER_BYTES);
    memory.fill(hdr + H_RING, 0, H_RING_BYTES);
    atomic.store<u32>(hdr + H_HEAP_TOP, heapBase);
    for (let i: u32 = 0; i < shards; i++) tlsfReset(shardAt(i));
    atomic.store<i32>(hdr + H_STATE, STATE_READY);
    atomic.notify(hdr + H_STATE);
    return 0;
  }
  while (atomic.load<i32>(hdr + H_STATE) != STATE_READY) {
    const st = atomic.load<i32>(hdr + H_STATE);
    if (st == STATE_EMPTY) return init(shards, shardBudget, maxEntriesPerShard, seedLo, seedHi, chunk, smallShare, moveAt, lockTimeoutMs);
    memory.atomic.wait32(hdr + H_STATE, st, 1000000);
  }
  return load<u32>(hdr + H_MAGIC) == MAGIC && load<u32>(hdr + H_VERSION) == LAYOUT_VERSION ? 0 : ST_BAD_LAYOUT;
}

/** Claims a thread slot and its scratch area for this instance. Returns the thread id (>= 1). */
export function attach(): i32 {
  const hdr = <usize>HEADER_BASE;
  if (atomic.load<i32>(hdr + H_STATE) != STATE_READY) return ST_BAD_LAYOUT;
  if (load<u32>(hdr + H_MAGIC) != MAGIC || load<u32>(hdr + H_VERSION) != LAYOUT_VERSION) return ST_BAD_LAYOUT;
  seed = load<u64>(hdr + H_SEED);
  shardMask = load<u32>(hdr + H_SHARD_MASK);
  budget = load<u64>(hdr + H_BUDGET);
  maxEntries = load<u32>(hdr + H_MAX_ENTRIES);
  chunkBytes = load<u32>(hdr + H_CHUNK_BYTES);
  smallPermille = load<u32>(hdr + H_SMALL_PERMILLE);
  moveThreshold = load<u32>(hdr + H_MOVE_THRESHOLD);
  for (let i: u32 = 0; i < MAX_THREADS; i++) {
    const slot = threadSlotAt(i);
    if (atomic.cmpxchg<u32>(slot + T_STATE, THREAD_FREE, THREAD_LIVE) != THREAD_FREE) continue;
    tid = <i32>i + 1;
    slotPtr = slot;
    scratch = <usize>load<u32>(slot + T_SCRATCH);
    scratchCap = load<u32>(slot + T_SCRATCH_CAP);
    if (!scratch) {
      scratch = heapAlloc(DEFAULT_SCRATCH, tid);
      if (!scratch) {
        atomic.store<u32>(slot + T_STATE, 0);
        return ST_NO_MEMORY;
      }
      scratchCap = DEFAULT_SCRATCH;
      store<u32>(slot + T_SCRATCH, <u32>scratch);
      store<u32>(slot + T_SCRATCH_CAP, scratchCap);
    }
    return tid;
  }
  return ST_NO_THREAD_SLOT;
}

/** Gives this instance's thread slot back (its scratch area stays with the slot for reuse). */
export function detach(): void {
  if (slotPtr) atomic.store<u32>(slotPtr + T_STATE, 0);
  slotPtr = 0;
  tid = 0;
}

/** This thread's id (its slot + 1), or 0 before attach / after detach. Not exported to the host. */
export function threadId(): i32 { return tid; }

/** Where the shard headers start (the host reads counters there). */
export function shardsBase(): usize { return <usize>SHARDS_BASE; }

/** This thread's scratch area. */
export function scratchPtr(): usize { return scratch; }
export function scratchCapacity(): u32 { return scratchCap; }
/** The thread slot's result word (value flags after get, needed bytes after ST_SCRATCH). */
export function resultPtr(): usize { return slotPtr + T_RESULT; }

/** Replaces this thread's scratch with one of at least `need` bytes. Returns the pointer or 0. */
export function growScratch(need: u32): usize {
  if (need <= scratchCap) return scratch;
  if (need > 0xF0000000) return 0;
  let cap = scratchCap;
  while (cap < need) cap = cap << 1;
  const p = heapAlloc(cap, tid);
  if (!p) return 0;
  scratch = p;
  scratchCap = cap;
  store<u32>(slotPtr + T_SCRATCH, <u32>p);
  store<u32>(slotPtr + T_SCRATCH_CAP, cap);
  return p;
}

/** Largest key + value a single entry may take given the shard budget and chunking. */
export function maxEntryPayload(): f64 {
  let cap = <u64>chunkPayloadCapacity(BLOCK_MAX);
  // An entry must fit next to a small index in one shard.
  const room = budget - <u64>blockSizeFor(indexBytes(INITIAL_CAP)) - <u64>blockSizeFor(INITIAL_CAP * 2) - 64;
  if (room < cap) cap = room;
  return <f64>(cap - ENTRY_HEADER);
}

/** The shard of the key in scratch[0, keyLen). */
export function shardOfKey(keyLen: u32): u32 {
  return <u32>(xxh64(scratch, keyLen, seed) >> 40) & shardMask;
}

/** Records which worker owns a shard (owner + 1; 0 = none), for stats. */
export function setOwner(shard: u32, owner: u32): void {
  if (shard <= shardMask) atomic.store<u16>(<usize>(HEADER_BASE + H_OWNERS + shard * OWNER_BYTES), <u16>owner);
}

// ─── operations ───────────────────────────────────────────────────────────────────────────────

/**
 * Looks up the key in scratch[0, keyLen). On a hit copies the value to scratch[0, len), stores
 * its flags in the result word and returns len; ST_MISS on a miss; ST_SCRATCH (with the needed
 * size in the result word) when the value does not fit the scratch area.
 */
export function get(keyLen: u32, now: f64): i32 {
  const h = xxh64(scratch, keyLen, seed);
  const s = shardOf(h);
  const t = <u64>now;
  if (!lockShard(s, tid)) return ST_LOCK_TIMEOUT;
  const slot = indexFind(s, h, scratch, keyLen);
  if (slot < 0) {
    bump64(s + S_MISSES, 1);
    unlockShard(s);
    return ST_MISS;
  }
  const e = <usize>load<u32>(slotAt(<usize>load<u32>(s + S_CTRL), <u32>slot));
  if (isExpired(e, t)) {
    removeEntry(s, e, REASON_EXPIRED);
    bump64(s + S_MISSES, 1);
    unlockShard(s);
    return ST_MISS;
  }
  const len = load<u32>(e, E_VALUE_LEN);
  // A compressed value is handed back as stored; the host inflates it outside the lock, in place,
  // so the scratch area must hold the stored bytes and, after them, the raw value.
  const need = (<u32>load<u8>(e, E_FLAGS) & FLAG_COMPRESSED)
    ? <u64>align8(len) + <u64>load<u32>(entryValue(e)) : <u64>len;
  if (need > <u64>scratchCap) {
    store<u32>(slotPtr + T_RESULT, need > 0xFFFFFFF0 ? 0xFFFFFFF0 : <u32>need);
    unlockShard(s);
    return ST_SCRATCH;
  }
  bumpFreq(e);
  memory.copy(scratch, entryValue(e), len);
  store<u32>(slotPtr + T_RESULT, <u32>load<u8>(e, E_FLAGS) & FLAGS_HOST_MASK);
  bump64(s + S_HITS, 1);
  unlockShard(s);
  return <i32>len;
}

/**
 * Stores scratch[valueAt, valueAt + valueLen) under the key in scratch[0, keyLen) (valueAt >=
 * keyLen). `expiresAt` is ms since the epoch (0 = never). `mode` holds MODE_* bits. Returns 0
 * when stored, ST_NOT_STORED when NX/XX said no, ST_TOO_LARGE or ST_NO_MEMORY.
 */
export function set(keyLen: u32, valueAt: u32, valueLen: u32, flags: u32, expiresAt: f64, mode: u32, now: f64): i32 {
  if (<u64>valueAt + <u64>valueLen > <u64>scratchCap || valueAt < keyLen) return ST_BAD_CONFIG;
  if ((flags & FLAG_COMPRESSED) && valueLen < 4) return ST_BAD_CONFIG;
  const payload = <u64>ENTRY_HEADER + <u64>keyLen + <u64>valueLen;
  if (payload > <u64>maxEntryPayload() + ENTRY_HEADER) return ST_TOO_LARGE;
  const h = xxh64(scratch, keyLen, seed);
  const s = shardOf(h);
  const t = <u64>now;
  let expires = <u64>expiresAt;
  if (!lockShard(s, tid)) return ST_LOCK_TIMEOUT;
  let slot = indexFind(s, h, scratch, keyLen);
  let toMain = false;
  let freq: u32 = 0;
  let old: usize = 0;
  if (slot >= 0) {
    const e = <usize>load<u32>(slotAt(<usize>load<u32>(s + S_CTRL), <u32>slot));
    if (isExpired(e, t)) {
      removeEntry(s, e, REASON_EXPIRED);
    } else {
      if (mode & MODE_NX) {
        unlockShard(s);
        return ST_NOT_STORED;
      }
      if (mode & MODE_KEEP_TTL) expires = load<u64>(e, E_EXPIRES);
      const meta = <u32>load<u8>(e, E_META);
      toMain = (meta & META_IN_MAIN) != 0;
      freq = meta & META_FREQ_MASK;
      if (freq < META_FREQ_MASK) freq++;
      old = e;
      // Out of the queues while the new block is found, so that eviction cannot pick it.
      queueUnlink(s, old);
    }
  } else if (mode & MODE_XX) {
    unlockShard(s);
    return ST_NOT_STORED;
  }
  if (!old) {
    if (maxEntries) {
      while (load<u32>(s + S_COUNT) >= maxEntries) {
        if (!evictOne(s, t, smallPermille, moveThreshold)) break;
      }
    }
    if (!ensureIndexRoom(s, t)) {
      unlockShard(s);
      return ST_NO_MEMORY;
    }
  }
  let e = allocate(s, <u32>payload, t, true);
  if (!e && old) {
    // Only the old value's own space is left: let it go first (the one non-atomic replace).
    queuePush(s, old, toMain);
    removeEntry(s, old, REASON_REPLACED);
    old = 0;
    if (ensureIndexRoom(s, t)) e = allocate(s, <u32>payload, t, true);
  }
  if (!e) {
    if (old) queuePush(s, old, toMain);
    unlockShard(s);
    return load<u64>(s + S_RESERVED) < budget ? ST_NO_MEMORY : ST_TOO_LARGE;
  }
  // Write the entry, then mark it committed: a repair keeps it from then on.
  store<u32>(e, valueLen, E_VALUE_LEN);
  store<u64>(e, expires, E_EXPIRES);
  store<u32>(e, <u32>h, E_HASH);
  store<u16>(e, <u16>keyLen, E_KEY_LEN);
  store<u8>(e, <u8>(flags & FLAGS_HOST_MASK), E_FLAGS);
  store<u8>(e, <u8>freq, E_META);
  memory.copy(e + ENTRY_HEADER, scratch, keyLen);
  memory.copy(e + ENTRY_HEADER + keyLen, scratch + valueAt, valueLen);
  store<u8>(e, <u8>(freq | META_COMMITTED), E_META);
  if (old) {
    // Replace: the slot switches to the new entry in one store, then the old one goes.
    const index = <usize>load<u32>(s + S_CTRL);
    store<u32>(slotAt(index, <u32>indexSlotOf(s, old)), <u32>e);
    store<u8>(old, <u8>(<u32>load<u8>(old, E_META) & ~META_COMMITTED), E_META);
    accountCompression(s, old, -1);
    store<u64>(s + S_ENTRY_BYTES, load<u64>(s + S_ENTRY_BYTES) - <u64>allocatedSize(old));
    tlsfFree(s, old);
    queuePush(s, e, toMain);
    accountCompression(s, e, 1);
    bump64(s + S_ENTRY_BYTES, <u64>allocatedSize(e));
    bump64(s + S_SETS, 1);
    unlockShard(s);
    return 0;
  }
  // Evictions may have moved slots: find the insertion point again (the key is absent).
  slot = indexFind(s, h, scratch, keyLen);
  const ins = <u32>(-1 - slot);
  if (!toMain && ghostTake(s, <u32>h)) toMain = true;
  queuePush(s, e, toMain);
  accountCompression(s, e, 1);
  const index = <usize>load<u32>(s + S_CTRL);
  store<u8>(ctrlAt(index, ins), tagOf(h));
  store<u32>(slotAt(index, ins), <u32>e);
  store<u32>(s + S_COUNT, load<u32>(s + S_COUNT) + 1);
  bump64(s + S_ENTRY_BYTES, <u64>allocatedSize(e));
  bump64(s + S_SETS, 1);
  sweepSome(s, SWEEP_SLOTS, t);
  unlockShard(s);
  return 0;
}

/** Deletes the key in scratch[0, keyLen). Returns 1 when it was present, else 0. */
export function del(keyLen: u32, now: f64): i32 {
  const h = xxh64(scratch, keyLen, seed);
  const s = shardOf(h);
  if (!lockShard(s, tid)) return ST_LOCK_TIMEOUT;
  const slot = indexFind(s, h, scratch, keyLen);
  let result = 0;
  if (slot >= 0) {
    const e = <usize>load<u32>(slotAt(<usize>load<u32>(s + S_CTRL), <u32>slot));
    if (isExpired(e, <u64>now)) {
      removeEntry(s, e, REASON_EXPIRED);
    } else {
      removeEntry(s, e, REASON_DELETED);
      bump64(s + S_DELETES, 1);
      result = 1;
    }
  }
  unlockShard(s);
  return result;
}

/**
 * Remaining life of the key in ms: -1 when it never expires, -2 when absent, -3 when the shard
 * lock timed out. With `setTo` >= 0
 * first sets the expiry to that absolute time (0 = never) and returns -1 or the new remaining ms.
 * Never counts a hit or miss and never changes the eviction order.
 */
export function ttl(keyLen: u32, now: f64, setTo: f64): f64 {
  const h = xxh64(scratch, keyLen, seed);
  const s = shardOf(h);
  const t = <u64>now;
  if (!lockShard(s, tid)) return -3;
  const slot = indexFind(s, h, scratch, keyLen);
  let result: f64 = -2;
  if (slot >= 0) {
    const e = <usize>load<u32>(slotAt(<usize>load<u32>(s + S_CTRL), <u32>slot));
    if (isExpired(e, t)) {
      removeEntry(s, e, REASON_EXPIRED);
    } else {
      if (setTo >= 0) store<u64>(e, <u64>setTo, E_EXPIRES);
      const x = load<u64>(e, E_EXPIRES);
      result = x == 0 ? -1 : <f64>(x - t);
    }
  }
  unlockShard(s);
  return result;
}

/** Removes every entry; the shards keep their arenas for reuse. Counters are kept. */
export function clear(): i32 {
  const n = shardMask + 1;
  let result = 0;
  for (let i: u32 = 0; i < n; i++) {
    if (clearShard(i) < 0) result = ST_LOCK_TIMEOUT;
  }
  return result;
}

/** Forgets a shard's index, ghost, queues and size counters (its arena is handled by the caller). */
export function resetShardState(s: usize): void {
  store<u32>(s + S_CTRL, 0);
  store<u32>(s + S_CAP, 0);
  store<u32>(s + S_COUNT, 0);
  store<u32>(s + S_GHOST, 0);
  store<u32>(s + S_GHOST_MASK, 0);
  store<u32>(s + S_SWEEP, 0);
  store<u32>(s + S_SMALL_HEAD, 0);
  store<u32>(s + S_SMALL_TAIL, 0);
  store<u32>(s + S_MAIN_HEAD, 0);
  store<u32>(s + S_MAIN_TAIL, 0);
  store<u64>(s + S_SMALL_BYTES, 0);
  store<u64>(s + S_ENTRY_BYTES, 0);
  store<u64>(s + S_COMPRESSED, 0);
  store<u64>(s + S_SAVED, 0);
}

/** Removes every entry of one shard. */
export function clearShard(i: u32): i32 {
  if (i > shardMask) return ST_BAD_CONFIG;
  {
    const s = shardAt(i);
    if (!lockShard(s, tid)) return ST_LOCK_TIMEOUT;
    resetShardState(s);
    shardResetArena(s);
    unlockShard(s);
  }
  return 0;
}

/** Removes expired entries among up to `slots` index slots of one shard. Returns how many. */
export function sweep(shard: u32, slots: u32, now: f64): i32 {
  if (shard > shardMask) return ST_BAD_CONFIG;
  const s = shardAt(shard);
  if (!lockShard(s, tid)) return ST_LOCK_TIMEOUT;
  const removed = sweepSome(s, slots, <u64>now);
  unlockShard(s);
  return <i32>removed;
}

/** Index capacity of a shard (for stats). */
export function shardCapacity(shard: u32): u32 {
  return shard > shardMask ? 0 : load<u32>(shardAt(shard) + S_CAP);
}

// ─── compression (mechanism; the host decides when) ───────────────────────────────────────────

// @ts-ignore: decorator
@inline function align8(n: u32): u32 { return (n + 7) & ~7; }

/** Where deflate() leaves its output for a value at scratch[valueAt, valueAt + valueLen). */
export function deflateOffset(valueAt: u32, valueLen: u32): u32 {
  return align8(valueAt + valueLen);
}

/** Scratch bytes deflate() needs for a value at valueAt of valueLen bytes. */
export function deflateScratchBytes(valueAt: u32, valueLen: u32): f64 {
  const out = <u64>deflateOffset(valueAt, valueLen);
  return <f64>(out + 8 + <u64>align8(lz4CompressBound(valueLen)) + <u64>lz4WorkBytes());
}

/**
 * Compresses scratch[valueAt, valueAt + valueLen) into scratch at deflateOffset() as
 * [raw length u32][LZ4 block]. Returns the stored length when it is at most `maxStored`, 0 when
 * compression does not save enough, or ST_SCRATCH when the scratch area is too small.
 * Takes no lock: it only touches this thread's scratch.
 */
export function deflate(valueAt: u32, valueLen: u32, maxStored: u32): i32 {
  if (<f64>scratchCap < deflateScratchBytes(valueAt, valueLen)) return ST_SCRATCH;
  const out = scratch + deflateOffset(valueAt, valueLen);
  const bound = lz4CompressBound(valueLen);
  if (!bound) return 0;
  const work = out + 8 + align8(bound);
  const n = lz4CompressBlock(scratch + valueAt, valueLen, out + 4, bound, work);
  if (n < 0 || <u64>n + 4 > <u64>maxStored) return 0;
  store<u32>(out, valueLen);
  return n + 4;
}

/**
 * Inflates the stored value that get() left at scratch[0, storedLen) into scratch at
 * align8(storedLen). Returns the raw length, ST_SCRATCH, or the codec's negative status.
 */
export function inflate(storedLen: u32): i32 {
  if (storedLen < 4 || storedLen > scratchCap) return ST_BAD_CONFIG;
  const raw = load<u32>(scratch);
  const at = <u64>align8(storedLen);
  if (at + <u64>raw > <u64>scratchCap) {
    store<u32>(slotPtr + T_RESULT, at + <u64>raw > 0xFFFFFFF0 ? 0xFFFFFFF0 : <u32>(at + <u64>raw));
    return ST_SCRATCH;
  }
  const n = lz4DecompressBlock(scratch + 4, storedLen - 4, scratch + <usize>at, raw);
  return n == <i32>raw ? n : (n < 0 ? n : ST_BAD_CONFIG);
}
