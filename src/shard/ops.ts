/**
 * Shard operations that run where the shard's work is done: in its owner worker when the cache
 * has workers, else on the calling thread in slices. Each call holds a shard lock only for one
 * bounded batch, so foreground get/set on that shard wait at most one batch.
 */
import type { CoreTable } from '../core/table.js';
import { ST_SCRATCH } from '../core/wasm.js';
import { statusError } from '../core/table.js';
import { encodeSection, RECORD_HEADER_BYTES, type SnapshotRecord } from './snapshot.js';

/** Index slots one sweep call examines under the lock. */
const SWEEP_BATCH_SLOTS = 512;
/** Records one scan call copies out under the lock. */
const SCAN_BATCH_RECORDS = 1024;

/** Removes expired entries among `slots` index slots of `shard`. Returns how many. */
export function sweepShard(t: CoreTable, shard: number, slots: number, now: number): number {
  let removed = 0;
  for (let done = 0; done < slots; done += SWEEP_BATCH_SLOTS) {
    const r = t.x.sweep(shard, Math.min(SWEEP_BATCH_SLOTS, slots - done), now);
    if (r < 0) throw statusError(r, 'sweep');
    removed += r;
  }
  return removed;
}

/** One scan batch: `count` records copied out of scratch, and the next cursor (0 = done). */
export interface ScanBatch {
  count: number;
  next: number;
  records: Buffer;
}

/** Runs one scan call on `shard` from `cursor`, growing scratch when a home slot needs it. */
export function scanBatch(t: CoreTable, shard: number, cursor: number, maxRecords: number, withValues: boolean, now: number): ScanBatch {
  for (;;) {
    const n = t.x.scan(shard, cursor, maxRecords, withValues ? 1 : 0, now);
    if (n === ST_SCRATCH) {
      t.growScratch(t.i32[t.resultIndex] >>> 0);
      continue;
    }
    if (n < 0) throw statusError(n, 'scan');
    const next = t.i32[t.resultIndex] >>> 0;
    let end = 0;
    for (let i = 0; i < n; i++) {
      const keyLen = t.scratch.readUInt16LE(end);
      const valueLen = withValues ? t.scratch.readUInt32LE(end + 4) : 0;
      end += RECORD_HEADER_BYTES + keyLen + valueLen;
    }
    return { count: n, next, records: Buffer.from(t.scratch.subarray(0, end)) };
  }
}

/** The keys of a batch scanned without values. */
export function batchKeys(batch: ScanBatch): Buffer[] {
  const keys: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < batch.count; i++) {
    const keyLen = batch.records.readUInt16LE(at);
    keys.push(batch.records.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + keyLen));
    at += RECORD_HEADER_BYTES + keyLen;
  }
  return keys;
}

/** A snapshot section holding every live entry of `shard`, written batch by batch. */
export function dumpShard(t: CoreTable, shard: number, now: number): Buffer {
  const parts: Buffer[] = [];
  let records = 0;
  let cursor = 0;
  do {
    const batch = scanBatch(t, shard, cursor, SCAN_BATCH_RECORDS, true, now);
    parts.push(batch.records);
    records += batch.count;
    cursor = batch.next;
  } while (cursor !== 0);
  return encodeSection(shard, records, Buffer.concat(parts));
}

/** Stores snapshot records as they were stored (flags and compression kept). Returns how many. */
export function loadRecords(t: CoreTable, records: readonly SnapshotRecord[], now: number): number {
  let loaded = 0;
  for (const r of records) {
    if (r.expiresAt !== 0 && r.expiresAt <= now) continue;
    t.reserveValue(r.value.length);
    t.u8.set(r.key, t.sp);
    t.u8.set(r.value, t.sp + t.keyArea);
    const st = t.x.set(r.key.length, t.keyArea, r.value.length, r.flags, r.expiresAt, 0, now);
    if (st < 0) throw statusError(st, 'restore');
    loaded++;
  }
  return loaded;
}

/** Clears the given shards. */
export function clearShards(t: CoreTable, shards: readonly number[]): void {
  for (const s of shards) {
    const st = t.x.clearShard(s);
    if (st < 0) throw statusError(st, 'clear');
  }
}

/** Chunks one compaction pass may give back per shard (each move holds the lock ~1 ms at most). */
const COMPACT_CHUNKS_PER_PASS = 8;

/** Compacts the given shards; returns the bytes of arena given back to the heap. */
export function compactShards(t: CoreTable, shards: readonly number[]): number {
  let released = 0;
  for (const s of shards) {
    for (let i = 0; i < COMPACT_CHUNKS_PER_PASS; i++) {
      const r = t.x.compactShard(s);
      if (r < 0) throw statusError(r, 'compact');
      if (r === 0) break;
      released += r;
    }
  }
  return released;
}
