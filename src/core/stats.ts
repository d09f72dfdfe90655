/**
 * Decodes the table's counters from shared memory: each shard header's counters and sizes, and
 * each thread slot's codec timings (layout: assembly/layout.ts, docs/memory-layout.md). Reading
 * is lock-free, so a figure may be a few operations behind another one read in the same call.
 */
import {
  SHARD_BYTES, S_COMPRESSED, S_SAVED, THREADS_BASE, THREAD_SLOT_BYTES, MAX_THREADS,
  T_COMPRESS_NS, T_DECOMPRESS_NS, S_CAP, HEADER_BASE, H_FREE_CHUNK_BYTES,
  S_COUNT, S_USED, S_RESERVED, S_ENTRY_BYTES, S_HITS, S_MISSES, S_SETS, S_DELETES, S_EVICTIONS,
  S_EXPIRATIONS, S_CONTENDED,
} from './wasm.js';
import type { CoreTable } from './table.js';
import type { Bytes } from '../config.js';

/** Per-shard figures. */
export interface ShardStats {
  entries: number;
  /** Bytes of the arena blocks holding entries. */
  bytes: Bytes;
  /** Bytes of all live blocks: entries, the index and the ghost filter. Never above the budget. */
  usedBytes: Bytes;
  /** Bytes of arena this shard has taken from the heap. Never above the budget. */
  reservedBytes: Bytes;
  /** Slots in the shard's index. */
  indexCapacity: number;
}

/** The table's counters and sizes, summed over shards and threads (since the table was laid out). */
export interface TableStats {
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 before the first read. */
  hitRatio: number;
  sets: number;
  deletes: number;
  evictions: number;
  expirations: number;
  entries: number;
  /** Bytes of the blocks holding entries (key, value, 28-byte header, block rounding). */
  bytes: Bytes;
  /** bytes plus the index and ghost filter: what the budget is checked against. */
  usedBytes: Bytes;
  /** Arena bytes the shards have taken from the memory. */
  reservedBytes: Bytes;
  /** Chunks compaction gave back, held for the next shard that grows (not in reservedBytes). */
  freeChunkBytes: Bytes;
  /** maxMemory. */
  budget: Bytes;
  /** Size of the WebAssembly memory (arena, scratch areas and fixed headers). */
  memoryBytes: Bytes;
  /** Lock acquisitions that had to wait for another thread. */
  contended: number;
  /** Largest shard entry count divided by the mean (1 = perfectly balanced). */
  balance: number;
  /** Entries stored compressed. */
  compressedEntries: number;
  /** Bytes compression saves over the live entries (raw size − stored size). */
  bytesSaved: Bytes;
  /** Time all threads spent compressing values, in ms. */
  compressMs: number;
  /** Time all threads spent inflating values, in ms. */
  decompressMs: number;
  shards: ShardStats[];
}

/** Entries in the table's `shards` shards (expired ones not yet reclaimed included). */
export function countEntries(t: CoreTable, shards: number): number {
  const view = new DataView(t.memory.buffer);
  let n = 0;
  for (let i = 0; i < shards; i++) n += view.getUint32(t.shardsBase + i * SHARD_BYTES + S_COUNT, true);
  return n;
}

/** Reads every counter of a table of `shards` shards whose budget is `budget` bytes. */
export function readTableStats(t: CoreTable, shards: number, budget: Bytes): TableStats {
  const view = new DataView(t.memory.buffer);
  const u64 = (off: number) => Number(view.getBigUint64(off, true));
  const perShard: ShardStats[] = [];
  let hits = 0, misses = 0, sets = 0, deletes = 0, evictions = 0, expirations = 0;
  let entries = 0, bytes = 0, usedBytes = 0, reservedBytes = 0, contended = 0, maxEntries = 0;
  let compressedEntries = 0, bytesSaved = 0;
  for (let i = 0; i < shards; i++) {
    const s = t.shardsBase + i * SHARD_BYTES;
    const shard: ShardStats = {
      entries: view.getUint32(s + S_COUNT, true),
      bytes: u64(s + S_ENTRY_BYTES),
      usedBytes: u64(s + S_USED),
      reservedBytes: u64(s + S_RESERVED),
      indexCapacity: view.getUint32(s + S_CAP, true),
    };
    perShard.push(shard);
    hits += u64(s + S_HITS);
    misses += u64(s + S_MISSES);
    sets += u64(s + S_SETS);
    deletes += u64(s + S_DELETES);
    evictions += u64(s + S_EVICTIONS);
    expirations += u64(s + S_EXPIRATIONS);
    contended += view.getUint32(s + S_CONTENDED, true);
    compressedEntries += u64(s + S_COMPRESSED);
    bytesSaved += u64(s + S_SAVED);
    entries += shard.entries;
    bytes += shard.bytes;
    usedBytes += shard.usedBytes;
    reservedBytes += shard.reservedBytes;
    if (shard.entries > maxEntries) maxEntries = shard.entries;
  }
  let compressNs = 0, decompressNs = 0;
  for (let i = 0; i < MAX_THREADS; i++) {
    const slot = THREADS_BASE + i * THREAD_SLOT_BYTES;
    compressNs += view.getFloat64(slot + T_COMPRESS_NS, true);
    decompressNs += view.getFloat64(slot + T_DECOMPRESS_NS, true);
  }
  const mean = entries / shards;
  return {
    hits, misses, hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
    sets, deletes, evictions, expirations, entries, bytes, usedBytes, reservedBytes,
    freeChunkBytes: Number(view.getBigUint64(HEADER_BASE + H_FREE_CHUNK_BYTES, true)),
    budget, memoryBytes: t.memory.buffer.byteLength, contended,
    balance: mean === 0 ? 1 : maxEntries / mean,
    compressedEntries, bytesSaved, compressMs: compressNs / 1e6, decompressMs: decompressNs / 1e6,
    shards: perShard,
  };
}
