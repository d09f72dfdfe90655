/**
 * The shard owners: one Piscina pool of one thread per owner, so that a task for shard s goes to
 * exactly the worker that owns s (Piscina's own scheduler would hand it to any idle thread).
 * Shard s belongs to worker s mod W; the owner table in shared memory records it for stats().
 *
 * Owners run the periodic expiry sweep (the whole index of every shard within about a second)
 * and the bulk work the cache hands them. When a worker dies — crashed or terminated, possibly
 * inside a core call holding a shard lock — Piscina starts a replacement with the same shards,
 * and this pool marks the dead worker's core thread dead and reaps it: every lock it held is
 * taken over and its shard repaired (assembly/lock.ts), so no shard stays locked and no committed
 * entry is lost.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { CoreTable } from '../core/table.js';
import { HEADER_BASE, H_WORKERS, MAX_REGISTERED_WORKERS, WORKER_ENTRY_BYTES } from '../core/wasm.js';
import { CacheError } from '../errors.js';
import type { CacheHandle } from '../core/handle.js';
import type { ShardTask, ShardWorkerData } from './messages.js';

const WORKER_FILE = import.meta.url.endsWith('.ts')
  ? new URL('./worker-tsx.mjs', import.meta.url)
  : new URL('./worker.js', import.meta.url);

/** Sweep rounds between compaction passes. */
const COMPACT_EVERY = 4;

/** Pool options, filled. */
export interface ShardPoolOptions {
  threads: number;
  sweepIntervalMs: number;
}

/** What stats() reports about the owners. */
export interface ShardPoolStats {
  threads: number;
  /** owners[s] is the index of the worker that owns shard s. */
  owners: number[];
  /** Workers that died and were replaced. */
  restarts: number;
  /** Shards repaired after their lock holder died. */
  repairedShards: number;
  /** Expired entries the sweeps reclaimed. */
  swept: number;
  /** Arena bytes the owners' compaction gave back to the heap. */
  compactedBytes: number;
  /** Tasks that failed (their callers saw the error). */
  failedTasks: number;
}

/** Default pool size: one thread per core but one, at least one. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

export class ShardPool {
  readonly threads: number;
  readonly #pools: Piscina[] = [];
  readonly #table: CoreTable;
  readonly #shards: number;
  readonly #registry: Int32Array;
  readonly #sweeping: boolean[];
  readonly #threadIds: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #restarts = 0;
  #repaired = 0;
  #swept = 0;
  #compacted = 0;
  #rounds = 0;
  #failed = 0;
  readonly #fraction: number;

  constructor(handle: CacheHandle, table: CoreTable, shards: number, options: ShardPoolOptions) {
    if (options.threads > MAX_REGISTERED_WORKERS) throw new RangeError(`options.workers must be at most ${MAX_REGISTERED_WORKERS}`);
    this.threads = Math.min(options.threads, shards);
    this.#table = table;
    this.#shards = shards;
    this.#registry = new Int32Array(table.memory.buffer as unknown as SharedArrayBuffer, HEADER_BASE + H_WORKERS, MAX_REGISTERED_WORKERS * (WORKER_ENTRY_BYTES / 4));
    this.#sweeping = new Array<boolean>(this.threads).fill(false);
    this.#fraction = Math.min(1, options.sweepIntervalMs / 1000);
    for (let w = 0; w < this.threads; w++) {
      const workerData: ShardWorkerData = { handle, index: w };
      const pool = new Piscina({
        filename: WORKER_FILE.href,
        minThreads: 1,
        maxThreads: 1,
        idleTimeout: Infinity,
        concurrentTasksPerWorker: 1,
        workerData,
      });
      // A Worker's threadId reads -1 once it has exited: remember it while it is alive.
      pool.on('workerCreate', (worker: { id: number }) => { this.#threadIds[w] = worker.id; });
      pool.on('workerDestroy', () => this.#onWorkerGone(w, this.#threadIds[w]));
      pool.on('error', () => { this.#failed++; });
      this.#pools.push(pool);
    }
    for (let s = 0; s < shards; s++) table.x.setOwner(s, this.ownerOf(s) + 1);
    if (options.sweepIntervalMs > 0) {
      this.#timer = setInterval(() => this.sweep(), options.sweepIntervalMs);
      this.#timer.unref();
    }
  }

  /** The worker that owns `shard`. */
  ownerOf(shard: number): number {
    return shard % this.threads;
  }

  /** The shards worker `w` owns. */
  shardsOf(w: number): number[] {
    const out: number[] = [];
    for (let s = w; s < this.#shards; s += this.threads) out.push(s);
    return out;
  }

  /** Runs `task` on worker `w`. */
  run<T>(w: number, task: ShardTask): Promise<T> {
    if (this.#closed) return Promise.reject(new CacheError('ERR_CACHE_CLOSED', 'the cache\'s workers were closed'));
    return (this.#pools[w].run(task) as Promise<T>).catch((err: unknown) => {
      this.#failed++;
      throw err instanceof Error && 'code' in err ? err
        : new CacheError('ERR_WORKER', `shard worker ${w} failed: ${(err as Error)?.message ?? String(err)}`);
    });
  }

  /** Resolves when every worker has started and attached the cache. */
  async ready(): Promise<void> {
    await this.all(() => ({ kind: 'ping' }));
  }

  /** Runs `task(w)` on every worker at once. */
  all<T>(task: (w: number) => ShardTask): Promise<T[]> {
    return Promise.all(this.#pools.map((_, w) => this.run<T>(w, task(w))));
  }

  /**
   * One sweep round: each owner examines `fraction` of each of its shards' index slots; every
   * COMPACT_EVERY rounds it also compacts them (only fragmented shards give chunks back).
   */
  sweep(): void {
    const now = Date.now();
    const compact = ++this.#rounds % COMPACT_EVERY === 0;
    for (let w = 0; w < this.threads; w++) {
      if (this.#sweeping[w]) continue; // the last round is still running there
      this.#sweeping[w] = true;
      this.run<[number, number]>(w, { kind: 'sweep', shards: this.shardsOf(w), fraction: this.#fraction, now, compact })
        .then(([n, bytes]) => { this.#swept += n; this.#compacted += bytes; }, () => undefined)
        .finally(() => { this.#sweeping[w] = false; });
    }
  }

  /** Compacts every shard in its owner; resolves to the bytes given back. */
  async compact(): Promise<number> {
    const bytes = await this.all<number>((w) => ({ kind: 'compact', shards: this.shardsOf(w) }));
    const total = bytes.reduce((a, b) => a + b, 0);
    this.#compacted += total;
    return total;
  }

  /**
   * Piscina removed worker w's thread. If that thread had registered (the registry entry names its
   * Node thread id), reap its core thread id. A thread that died before registering held no shard
   * lock; the id check also keeps a slot reused by a live thread from being marked dead.
   */
  #onWorkerGone(w: number, nodeThreadId: number | undefined): void {
    if (this.#closed) return;
    this.#restarts++;
    if (nodeThreadId === undefined || Atomics.load(this.#registry, w * 2) !== nodeThreadId) return;
    const tid = Atomics.load(this.#registry, w * 2 + 1);
    Atomics.store(this.#registry, w * 2, 0);
    this.#table.x.markThreadDead(tid);
    this.#repaired += this.#table.x.reapThread(tid);
  }

  stats(): ShardPoolStats {
    const owners: number[] = [];
    for (let s = 0; s < this.#shards; s++) owners.push(this.ownerOf(s));
    return {
      threads: this.threads, owners, restarts: this.#restarts, repairedShards: this.#repaired,
      swept: this.#swept, compactedBytes: this.#compacted, failedTasks: this.#failed,
    };
  }

  /** The Node Worker objects (for tests that kill one). */
  get workers(): Array<import('node:worker_threads').Worker> {
    return this.#pools.flatMap((p) => p.threads);
  }

  /** Stops the sweeps and the workers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await Promise.all(this.#pools.map((p) => p.destroy()));
    // The workers never detached: free their thread slots (and any lock they might hold).
    for (let w = 0; w < this.threads; w++) {
      const tid = Atomics.load(this.#registry, w * 2 + 1);
      if (tid > 0 && this.#table.x.markThreadDead(tid)) this.#table.x.reapThread(tid);
    }
    for (let s = 0; s < this.#shards; s++) this.#table.x.setOwner(s, 0);
  }
}
