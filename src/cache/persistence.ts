/**
 * Snapshots of a cache on disk (format: docs/snapshot-format.md). Writing goes shard by shard,
 * through the shard owners when the cache has workers or here in slices, into a temporary file
 * renamed over the target at the end, so a reader never sees half a snapshot. Loading reads and
 * verifies the whole file (structure and CRCs) before the first entry is stored, so a corrupt
 * file leaves the cache untouched.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { kTable } from '../core/handle.js';
import type { CoreTable } from '../core/table.js';
import type { ResolvedOptions } from '../config.js';
import { typeError } from '../errors.js';
import type { ShardPool } from '../shard/pool.js';
import { scanBatch, loadRecords } from '../shard/ops.js';
import { decodeSnapshot, encodeHeader, encodeSection, encodeTrailer, type SnapshotContents } from '../shard/snapshot.js';
import { kPool } from './internal.js';

/** What `snapshot` reports. */
export interface SnapshotInfo {
  path: string;
  entries: number;
  bytes: number;
  ms: number;
}

/** What persistence needs of a cache (a Cache is one). */
export interface PersistenceHost {
  readonly options: Readonly<ResolvedOptions>;
  [kTable](): CoreTable;
  [kPool](): ShardPool | null;
}

/** Entries loaded per slice when restoring (the event loop runs between slices). */
const RESTORE_SLICE = 20_000;
/** Records per slice when a snapshot is written without workers. */
const DUMP_SLICE_RECORDS = 2048;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function checkPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '') throw typeError('ERR_INVALID_OPTION', 'path must be a non-empty string');
}

/**
 * A snapshot section of one shard built here, a scan batch at a time with the event loop
 * running between batches (a whole shard at once stalled it for 100 ms and more at 1M entries).
 */
async function dumpShardInSlices(cache: PersistenceHost, shard: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let records = 0;
  let cursor = 0;
  do {
    await yieldToLoop();
    const batch = scanBatch(cache[kTable](), shard, cursor, DUMP_SLICE_RECORDS, true, Date.now());
    parts.push(batch.records);
    records += batch.count;
    cursor = batch.next;
  } while (cursor !== 0);
  return encodeSection(shard, records, Buffer.concat(parts));
}

/** Writes every live entry of `cache` to `path` while the cache keeps serving. */
export async function writeSnapshot(cache: PersistenceHost, path: string): Promise<SnapshotInfo> {
  checkPath(path);
  const started = performance.now();
  cache[kTable](); // throws ERR_CACHE_CLOSED before a file is created
  const shards = cache.options.shards;
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const fh = await open(tmp, 'w');
  let crc = 0;
  let bytes = 0;
  let entries = 0;
  const write = async (b: Buffer) => {
    await fh.write(b);
    crc = crc32(b, crc);
    bytes += b.length;
  };
  try {
    await write(encodeHeader(shards, Date.now()));
    const pool = cache[kPool]();
    for (let shard = 0; shard < shards; shard++) {
      let section: Buffer;
      if (pool === null) {
        section = await dumpShardInSlices(cache, shard);
      } else {
        const r = await pool.run<Uint8Array>(pool.ownerOf(shard), { kind: 'dump', shard, now: Date.now() });
        section = Buffer.from(r.buffer, r.byteOffset, r.byteLength);
      }
      entries += section.readUInt32LE(8);
      await write(section);
    }
    const trailer = encodeTrailer(shards, entries, crc);
    await fh.write(trailer);
    bytes += trailer.length;
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return { path, entries, bytes, ms: performance.now() - started };
}

/** Reads and verifies a whole snapshot file; throws ERR_SNAPSHOT_CORRUPT before returning anything. */
export async function readSnapshot(path: string, maxKeyBytes: number): Promise<SnapshotContents> {
  checkPath(path);
  return decodeSnapshot(await readFile(path), path, maxKeyBytes);
}

/** Adds the entries of a verified snapshot to `cache` (expired ones skipped); returns how many. */
export async function loadSnapshot(cache: PersistenceHost, path: string): Promise<number> {
  return loadContents(cache, await readSnapshot(path, cache.options.maxKeyBytes));
}

/** Adds the entries of an already verified snapshot to `cache`, a slice at a time; returns how many. */
export async function loadContents(cache: PersistenceHost, contents: SnapshotContents): Promise<number> {
  let loaded = 0;
  for (let i = 0; i < contents.records.length; i += RESTORE_SLICE) {
    if (i > 0) await yieldToLoop();
    loaded += loadRecords(cache[kTable](), contents.records.slice(i, i + RESTORE_SLICE), Date.now());
  }
  return loaded;
}
