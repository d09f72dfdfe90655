/**
 * The snapshot file format (version 1). Little-endian throughout.
 *
 *   header   32 B  "MSHCSNAP" · u32 version (1) · u32 shard count of the writer · f64 written at
 *                  (ms since the epoch) · u32 flags (0) · u32 CRC-32 of the header's first 28 bytes
 *   section  24 B  "SECT" · u32 shard · u32 records · u32 payload bytes (low) · u32 (high) ·
 *                  u32 CRC-32 of the payload
 *            then the payload: records back to back (below)          — one section per shard
 *   trailer  28 B  "MSHCEND\0" · u32 sections · u32 0 · f64 total records ·
 *                  u32 CRC-32 of every byte before the trailer
 *
 *   record   16 B  u16 key length · u8 value flags · u8 0 · u32 stored value length ·
 *                  u64 expires at (ms since the epoch, 0 = never); then the key; then the value
 *                  as stored (an LZ4-compressed value stays compressed: flag bit 3)
 *
 * A record is the core's scan record, so a shard's payload is the scan output copied as it is.
 * Sections are written shard by shard while the cache keeps serving (each scan batch holds the
 * shard lock only for that batch), so a snapshot is consistent per key, not across keys.
 * Readers check every length against what is left before using it, every CRC, and every count;
 * any mismatch rejects the whole file before anything is loaded.
 */
import { crc32 } from 'node:zlib';
import { CacheError } from '../errors.js';
import { SCAN_RECORD_HEADER_BYTES } from '../core/wasm.js';

export const SNAPSHOT_VERSION = 1;
const MAGIC = Buffer.from('MSHCSNAP', 'latin1');
const SECTION_MAGIC = 0x54434553; // "SECT"
const TRAILER_MAGIC = Buffer.from('MSHCEND\0', 'latin1');
export const HEADER_BYTES = 32;
export const SECTION_HEADER_BYTES = 24;
export const TRAILER_BYTES = 28;
/** A record's header in a section: the core's scan record header (assembly/scan.ts), written as is. */
export const RECORD_HEADER_BYTES = SCAN_RECORD_HEADER_BYTES;

export function encodeHeader(shards: number, writtenAt: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(b, 0);
  b.writeUInt32LE(SNAPSHOT_VERSION, 8);
  b.writeUInt32LE(shards, 12);
  b.writeDoubleLE(writtenAt, 16);
  b.writeUInt32LE(0, 24);
  b.writeUInt32LE(crc32(b.subarray(0, 28)), 28);
  return b;
}

/** A section: its 24-byte header followed by the payload. */
export function encodeSection(shard: number, records: number, payload: Uint8Array): Buffer {
  // Its own ArrayBuffer (never Node's shared pool): a worker transfers it to the main thread.
  const b = Buffer.allocUnsafeSlow(SECTION_HEADER_BYTES + payload.length);
  b.writeUInt32LE(SECTION_MAGIC, 0);
  b.writeUInt32LE(shard, 4);
  b.writeUInt32LE(records, 8);
  b.writeUInt32LE(payload.length % 2 ** 32, 12);
  b.writeUInt32LE(Math.floor(payload.length / 2 ** 32), 16);
  b.writeUInt32LE(crc32(payload), 20);
  b.set(payload, SECTION_HEADER_BYTES);
  return b;
}

export function encodeTrailer(sections: number, records: number, crcOfAllBefore: number): Buffer {
  const b = Buffer.alloc(TRAILER_BYTES);
  TRAILER_MAGIC.copy(b, 0);
  b.writeUInt32LE(sections, 8);
  b.writeUInt32LE(0, 12);
  b.writeDoubleLE(records, 16);
  b.writeUInt32LE(crcOfAllBefore, 24);
  return b;
}

/** One record of a snapshot, as stored. */
export interface SnapshotRecord {
  key: Buffer;
  flags: number;
  expiresAt: number;
  value: Buffer;
}

/** What a verified snapshot holds. */
export interface SnapshotContents {
  shards: number;
  writtenAt: number;
  records: SnapshotRecord[];
}

function corrupt(path: string, why: string): CacheError {
  return new CacheError('ERR_SNAPSHOT_CORRUPT', `snapshot ${path} is corrupt or truncated: ${why}; nothing was loaded`);
}

/**
 * Parses and verifies a whole snapshot. Throws CacheError ERR_SNAPSHOT_CORRUPT naming the first
 * problem found. `maxKeyBytes` bounds keys (the target cache's limit).
 */
export function decodeSnapshot(file: Buffer, path: string, maxKeyBytes: number): SnapshotContents {
  if (file.length < HEADER_BYTES + TRAILER_BYTES) throw corrupt(path, `${file.length} bytes is shorter than a header and a trailer`);
  if (!file.subarray(0, 8).equals(MAGIC)) throw corrupt(path, 'not a meshcache snapshot (bad magic)');
  const version = file.readUInt32LE(8);
  if (version !== SNAPSHOT_VERSION) throw corrupt(path, `format version ${version} is not supported (this build reads ${SNAPSHOT_VERSION})`);
  if (file.readUInt32LE(28) !== crc32(file.subarray(0, 28))) throw corrupt(path, 'header checksum mismatch');
  const shards = file.readUInt32LE(12);
  const writtenAt = file.readDoubleLE(16);
  const trailerAt = file.length - TRAILER_BYTES;
  if (!file.subarray(trailerAt, trailerAt + 8).equals(TRAILER_MAGIC)) throw corrupt(path, 'no trailer (the file was cut short)');
  if (file.readUInt32LE(trailerAt + 24) !== crc32(file.subarray(0, trailerAt))) throw corrupt(path, 'file checksum mismatch');
  const sectionCount = file.readUInt32LE(trailerAt + 8);
  const totalRecords = file.readDoubleLE(trailerAt + 16);
  const records: SnapshotRecord[] = [];
  let at = HEADER_BYTES;
  let sections = 0;
  while (at < trailerAt) {
    if (trailerAt - at < SECTION_HEADER_BYTES) throw corrupt(path, `section header at ${at} runs past the end`);
    if (file.readUInt32LE(at) !== SECTION_MAGIC) throw corrupt(path, `bad section magic at ${at}`);
    const count = file.readUInt32LE(at + 8);
    const length = file.readUInt32LE(at + 12) + file.readUInt32LE(at + 16) * 2 ** 32;
    const start = at + SECTION_HEADER_BYTES;
    if (length > trailerAt - start) throw corrupt(path, `section at ${at} claims ${length} bytes, ${trailerAt - start} are left`);
    const payload = file.subarray(start, start + length);
    if (crc32(payload) !== file.readUInt32LE(at + 20)) throw corrupt(path, `section at ${at} checksum mismatch`);
    let p = 0;
    let n = 0;
    while (p < length) {
      if (length - p < RECORD_HEADER_BYTES) throw corrupt(path, `record header at ${start + p} runs past its section`);
      const keyLen = payload.readUInt16LE(p);
      const flags = payload[p + 2];
      const valueLen = payload.readUInt32LE(p + 4);
      const expiresAt = Number(payload.readBigUInt64LE(p + 8));
      const end = p + RECORD_HEADER_BYTES + keyLen + valueLen;
      if (end > length) throw corrupt(path, `record at ${start + p} runs past its section`);
      if (keyLen > maxKeyBytes) throw corrupt(path, `a ${keyLen}-byte key is over the target's maxKeyBytes (${maxKeyBytes})`);
      if (flags > 15) throw corrupt(path, `record at ${start + p} has unknown flags ${flags}`);
      const keyAt = p + RECORD_HEADER_BYTES;
      records.push({
        key: payload.subarray(keyAt, keyAt + keyLen),
        flags,
        expiresAt,
        value: payload.subarray(keyAt + keyLen, end),
      });
      p = end;
      n++;
    }
    if (n !== count) throw corrupt(path, `section at ${at} holds ${n} records, its header says ${count}`);
    at = start + length;
    sections++;
  }
  if (sections !== sectionCount) throw corrupt(path, `${sections} sections found, the trailer says ${sectionCount}`);
  if (records.length !== totalRecords) throw corrupt(path, `${records.length} records found, the trailer says ${totalRecords}`);
  return { shards, writtenAt, records };
}
