/**
 * Bulk calls handed to the shard owners: with workers, a large getMany/setMany is split by the
 * worker that owns each key's shard and run there in parallel, and setAsync copies an encoded
 * value to its owner, which compresses and stores it. The calling thread only encodes and
 * decodes, so its event loop stays free while the owners work.
 */
import { kTable } from '../core/handle.js';
import type { CoreTable } from '../core/table.js';
import type { Bytes } from '../config.js';
import { rangeError } from '../errors.js';
import type { ShardPool } from '../shard/pool.js';
import type { GetManyReply } from '../shard/messages.js';
import { kDecode, kEncode } from './internal.js';
import type { CacheKey } from './types.js';

/** getManyAsync / setManyAsync hand batches at least this large to the workers. */
export const BULK_THRESHOLD = 1000;

/** What the bulk calls need of a cache (a Cache is one). */
export interface BulkHost<V> {
  readonly options: { readonly maxValueBytes: Bytes };
  [kTable](): CoreTable;
  [kEncode](value: V): [Uint8Array, number];
  [kDecode](payload: Uint8Array, type: number): V;
}

/** The error for a value over maxValueBytes. */
export function valueTooLarge(bytes: Bytes, maxValueBytes: Bytes): RangeError {
  return rangeError('ERR_VALUE_TOO_LARGE', `value is ${bytes} bytes, more than maxValueBytes (${maxValueBytes})`);
}

/** Encodes `value` for a worker, refusing one over maxValueBytes. */
function encodeChecked<V>(cache: BulkHost<V>, value: V): [Uint8Array, number] {
  const encoded = cache[kEncode](value);
  if (encoded[0].length > cache.options.maxValueBytes) throw valueTooLarge(encoded[0].length, cache.options.maxValueBytes);
  return encoded;
}

/** The worker owning `key`'s shard. */
function ownerOfKey(t: CoreTable, pool: ShardPool, key: CacheKey): number {
  return pool.ownerOf(t.x.shardOfKey(t.encodeKey(key)));
}

/** Groups `keys`' indexes by owner worker. */
function byOwner(t: CoreTable, pool: ShardPool, keys: readonly CacheKey[]): number[][] {
  const groups: number[][] = Array.from({ length: pool.threads }, () => []);
  keys.forEach((k, i) => groups[ownerOfKey(t, pool, k)].push(i));
  return groups;
}

/** Stores `value` under `key` in the key's owner, with `ttl` ms to live (0: none). */
export async function setInOwner<V>(cache: BulkHost<V>, pool: ShardPool, key: CacheKey, value: V, ttl: number): Promise<void> {
  const [payload, type] = encodeChecked(cache, value);
  await pool.run(ownerOfKey(cache[kTable](), pool, key), { kind: 'set', key, value: payload, flags: type, ttl });
}

/** The values of `keys`, in order, looked up by their owners in parallel. */
export async function getManyInOwners<V>(cache: BulkHost<V>, pool: ShardPool, keys: readonly CacheKey[]): Promise<Array<V | undefined>> {
  const out = new Array<V | undefined>(keys.length);
  await Promise.all(byOwner(cache[kTable](), pool, keys).map(async (idx, w) => {
    if (idx.length === 0) return;
    const reply = await pool.run<GetManyReply>(w, { kind: 'getMany', keys: idx.map((i) => keys[i]) });
    reply.forEach((r, j) => { out[idx[j]] = r === null ? undefined : cache[kDecode](r[0], r[1]); });
  }));
  return out;
}

/** Stores `entries` by their owners in parallel, all with `ttl` ms to live (0: none). */
export async function setManyInOwners<V>(cache: BulkHost<V>, pool: ShardPool, entries: ReadonlyArray<readonly [CacheKey, V]>, ttl: number): Promise<void> {
  const groups = byOwner(cache[kTable](), pool, entries.map((e) => e[0]));
  await Promise.all(groups.map(async (idx, w) => {
    if (idx.length === 0) return;
    const batch = idx.map((i): [CacheKey, Uint8Array, number] => [entries[i][0], ...encodeChecked(cache, entries[i][1])]);
    await pool.run(w, { kind: 'setMany', entries: batch, ttl });
  }));
}
