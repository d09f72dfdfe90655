/** Tasks the main thread sends to shard workers, and what they answer. */
import type { CacheHandle } from '../core/handle.js';

/** workerData of every shard worker. */
export interface ShardWorkerData {
  handle: CacheHandle;
  /** This worker's index in the pool; also its entry in the memory's worker registry. */
  index: number;
}

export type ShardTask =
  | { kind: 'sweep'; shards: number[]; fraction: number; now: number; compact: boolean }
  | { kind: 'compact'; shards: number[] }
  | { kind: 'clear'; shards: number[] }
  | { kind: 'scan'; shard: number; cursor: number; count: number; now: number }
  | { kind: 'dump'; shard: number; now: number }
  | { kind: 'set'; key: string | Uint8Array; value: Uint8Array; flags: number; ttl: number }
  | { kind: 'setMany'; entries: Array<[string | Uint8Array, Uint8Array, number]>; ttl: number }
  | { kind: 'getMany'; keys: Array<string | Uint8Array> }
  | { kind: 'ping' };

/**
 * 'sweep' answers [entries removed, bytes compaction gave back]; 'compact' the bytes given back;
 * 'scan' a batch; 'dump' a section.
 */
export interface ScanReply {
  count: number;
  next: number;
  records: Uint8Array;
}

/** 'getMany' answers, per key, null or [stored payload bytes, value flags]. */
export type GetManyReply = Array<[Uint8Array, number] | null>;
