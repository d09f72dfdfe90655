/**
 * Walking the keyspace without stopping the cache: every walk goes shard by shard in batches,
 * and one batch holds one shard's lock only while it copies that batch's keys, so writers on
 * other shards never wait and writers on the same shard wait for one batch at most. A key present
 * for the whole walk is visited at least once (twice when its shard's index grows meanwhile).
 *
 * Cursors compose as in Redis's SCAN: shard * 2^32 + that shard's own cursor; 0 starts and ends.
 */
import { kTable } from '../core/handle.js';
import type { CoreTable } from '../core/table.js';
import type { ResolvedOptions } from '../config.js';
import { rangeError, typeError } from '../errors.js';
import type { ShardPool } from '../shard/pool.js';
import type { ScanReply } from '../shard/messages.js';
import { batchKeys, compactShards, scanBatch, type ScanBatch } from '../shard/ops.js';
import { compileGlob, type GlobMatcher } from '../util/glob.js';
import { kPool } from './internal.js';

/** A cursor's shard part is its value divided by this. */
export const SHARD_CURSOR_SPAN = 2 ** 32;
/** Keys per worker round trip during an async scan. */
const WORKER_SCAN_BATCH = 2048;
/** Largest `count` a scan takes. */
export const MAX_SCAN_COUNT = 1_000_000;

/** Options for `scan`. */
export interface ScanOptions {
  /**
   * Only keys matching this Redis-style glob (`*`, `?`, `[a-z]`, `[^a]`, `\\` escapes), matched
   * on the UTF-8 bytes of pattern and key as KEYS does: `?` and a class match one byte, so a
   * non-ASCII character takes one `?` per byte. Time per key is bounded by pattern × key length.
   * See docs/api.md, "Glob patterns".
   */
  match?: string;
  /** Keys fetched per batch (a hint, as in Redis's SCAN COUNT), 1 to 1,000,000. @default 256 */
  count?: number;
  /** Yield keys as strings (UTF-8, the default) or as Buffers. */
  keys?: 'string' | 'buffer';
}

/** One step of a cursor scan: the cursor to continue from (0 when the walk is over) and the keys visited. */
export interface ScanStep {
  cursor: number;
  keys: Buffer[];
}

/** What a keyspace walk needs of a cache (a Cache is one). */
export interface ScanHost {
  readonly options: Readonly<ResolvedOptions>;
  [kTable](): CoreTable;
  [kPool](): ShardPool | null;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Visits about `count` keys from `cursor` (fewer at the end), crossing into the next shards
 * when one ends, so a sparse cache does not cost a call per empty shard. A cursor past the last
 * shard, or negative, ends at once.
 */
export function scanStep(t: CoreTable, shards: number, cursor: number, count: number, now: number): ScanStep {
  let shard = cursor < 0 ? shards : Math.floor(cursor / SHARD_CURSOR_SPAN);
  let inShard = cursor < 0 ? 0 : cursor % SHARD_CURSOR_SPAN;
  const keys: Buffer[] = [];
  let visited = 0;
  while (shard < shards && visited < count) {
    const batch = scanBatch(t, shard, inShard, count - visited, false, now);
    visited += batch.count;
    for (const k of batchKeys(batch)) keys.push(k);
    inShard = batch.next;
    if (inShard === 0) shard++;
  }
  return { cursor: shard >= shards ? 0 : shard * SHARD_CURSOR_SPAN + inShard, keys };
}

/** A random live key (null when the cache is empty): a random shard and cursor, then onwards. */
export function randomKey(t: CoreTable, shards: number, now: number, batchSize: number): Buffer | null {
  const first = Math.floor(Math.random() * shards);
  const pick = (batch: ScanBatch) => batchKeys(batch)[Math.floor(Math.random() * batch.count)];
  for (let i = 0; i < shards; i++) {
    const shard = (first + i) % shards;
    let cursor = i === 0 ? Math.floor(Math.random() * SHARD_CURSOR_SPAN) : 0;
    do {
      const batch = scanBatch(t, shard, cursor, batchSize, false, now);
      if (batch.count > 0) return pick(batch);
      cursor = batch.next;
    } while (cursor !== 0);
  }
  // The first shard from its random cursor onwards was empty: look at the part before it.
  let cursor = 0;
  do {
    const batch = scanBatch(t, first, cursor, batchSize, false, now);
    if (batch.count > 0) return pick(batch);
    cursor = batch.next;
  } while (cursor !== 0);
  return null;
}

/** One scan batch of `shard` from `cursor`, in its owner or here. */
async function ownerBatch(cache: ScanHost, shard: number, cursor: number, count: number): Promise<ScanBatch> {
  const pool = cache[kPool]();
  if (pool === null) {
    await yieldToLoop();
    return scanBatch(cache[kTable](), shard, cursor, count, false, Date.now());
  }
  // A round trip to a worker costs far more than a batch: fetch large ones (count is a hint).
  const r = await pool.run<ScanReply>(pool.ownerOf(shard), { kind: 'scan', shard, cursor, count: Math.max(count, WORKER_SCAN_BATCH), now: Date.now() });
  return { count: r.count, next: r.next, records: Buffer.from(r.records.buffer, r.records.byteOffset, r.records.byteLength) };
}

/** Checks `scan`'s options, throwing TypeError / RangeError with the option's name. */
function checkScanOptions(options: ScanOptions | undefined): { count: number; match: GlobMatcher | null; asBuffer: boolean } {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw typeError('ERR_INVALID_OPTION', 'options must be an object');
  const count = options?.count === undefined ? 256 : options.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_SCAN_COUNT) {
    throw rangeError('ERR_INVALID_OPTION', `options.count must be an integer from 1 to ${MAX_SCAN_COUNT}`);
  }
  if (options?.match !== undefined && typeof options.match !== 'string') throw typeError('ERR_INVALID_OPTION', 'options.match must be a string');
  if (options?.keys !== undefined && options.keys !== 'string' && options.keys !== 'buffer') {
    throw rangeError('ERR_INVALID_OPTION', "options.keys must be 'string' or 'buffer'");
  }
  return { count, match: options?.match === undefined ? null : compileGlob(options.match), asBuffer: options?.keys === 'buffer' };
}

/**
 * Iterates the keys, shard by shard, in batches: through the shard owners when the cache has
 * workers, else here with the event loop running between batches.
 */
export async function* scanKeys(cache: ScanHost, options?: ScanOptions): AsyncGenerator<string | Buffer, void, undefined> {
  const { count, match, asBuffer } = checkScanOptions(options);
  for (let shard = 0; shard < cache.options.shards; shard++) {
    let cursor = 0;
    do {
      const batch = await ownerBatch(cache, shard, cursor, count);
      for (const key of batchKeys(batch)) {
        if (match !== null && !match(key)) continue;
        yield asBuffer ? Buffer.from(key) : key.toString('utf8');
      }
      cursor = batch.next;
    } while (cursor !== 0);
  }
}

/**
 * Defragments every shard's arena (by the owners with workers, else here shard by shard with the
 * event loop running in between); resolves to the arena bytes given back.
 */
export async function compactAll(cache: ScanHost): Promise<number> {
  const pool = cache[kPool]();
  if (pool !== null) return pool.compact();
  let released = 0;
  for (let shard = 0; shard < cache.options.shards; shard++) {
    if (shard > 0) await yieldToLoop();
    released += compactShards(cache[kTable](), [shard]);
  }
  return released;
}
