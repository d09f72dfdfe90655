/**
 * A shard worker (runs inside a Piscina thread; the only file that does). It attaches the cache
 * from the handle in workerData, registers its core thread id so that the pool can reap its locks
 * if it dies, and runs the shard tasks the pool sends it for the shards it owns.
 */
import { threadId, workerData } from 'node:worker_threads';
import { move } from 'piscina';
import { Cache } from '../cache/cache.js';
import { kStoreEncoded, kGetEncoded } from '../cache/internal.js';
import { kTable } from '../core/handle.js';
import { HEADER_BASE, H_WORKERS, WORKER_ENTRY_BYTES } from '../core/wasm.js';
import { sweepShard, scanBatch, dumpShard, clearShards, compactShards } from './ops.js';
import type { ShardTask, ShardWorkerData, ScanReply, GetManyReply } from './messages.js';

const data = workerData as ShardWorkerData;
const cache = Cache.attach(data.handle);
const table = cache[kTable]();
const registry = new Int32Array(table.memory.buffer as unknown as SharedArrayBuffer, HEADER_BASE + H_WORKERS + data.index * WORKER_ENTRY_BYTES, WORKER_ENTRY_BYTES / 4);
Atomics.store(registry, 1, table.tid);
Atomics.store(registry, 0, threadId);

export default function run(task: ShardTask): unknown {
  switch (task.kind) {
    case 'sweep': {
      let removed = 0;
      for (const shard of task.shards) {
        const slots = Math.ceil(table.x.shardCapacity(shard) * task.fraction);
        if (slots > 0) removed += sweepShard(table, shard, slots, task.now);
      }
      return [removed, task.compact ? compactShards(table, task.shards) : 0];
    }
    case 'compact':
      return compactShards(table, task.shards);
    case 'clear':
      clearShards(table, task.shards);
      return true;
    case 'scan': {
      const b = scanBatch(table, task.shard, task.cursor, task.count, false, task.now);
      const reply: ScanReply = { count: b.count, next: b.next, records: b.records };
      return reply;
    }
    case 'dump': {
      const section = dumpShard(table, task.shard, task.now);
      return move(section);
    }
    case 'set':
      cache[kStoreEncoded](task.key, task.value, task.flags, task.ttl);
      return true;
    case 'setMany':
      for (const [key, value, flags] of task.entries) cache[kStoreEncoded](key, value, flags, task.ttl);
      return task.entries.length;
    case 'getMany': {
      const out: GetManyReply = task.keys.map((k) => cache[kGetEncoded](k));
      return out;
    }
    case 'ping':
      return table.tid;
  }
}
