/**
 * The snapshot reader as the guard of restored data: a flipped key or value byte, or a damaged
 * header, section or trailer checksum, must reject the whole file (CacheError ERR_SNAPSHOT_CORRUPT)
 * before anything is loaded. Each CRC is also tested alone: the damage is made so that every
 * other checksum still matches (the file CRC recomputed, say), so removing any one comparison
 * fails a test here. Files are built with the module's own encoders, or written by a real cache.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Cache } from '../../src/index.js';
import {
  decodeSnapshot, encodeHeader, encodeSection, encodeTrailer,
  HEADER_BYTES, RECORD_HEADER_BYTES, SECTION_HEADER_BYTES, SNAPSHOT_VERSION, TRAILER_BYTES,
} from '../../src/shard/snapshot.js';

const dir = mkdtempSync(join(tmpdir(), 'meshcache-snapshot-test-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

interface Rec { key: string; value: string; flags?: number; expiresAt?: number }

/** One record as the core's scan writes it. */
function record(r: Rec): Buffer {
  const key = Buffer.from(r.key);
  const value = Buffer.from(r.value);
  const h = Buffer.alloc(RECORD_HEADER_BYTES);
  h.writeUInt16LE(key.length, 0);
  h.writeUInt8(r.flags ?? 1, 2);
  h.writeUInt32LE(value.length, 4);
  h.writeBigUInt64LE(BigInt(r.expiresAt ?? 0), 8);
  return Buffer.concat([h, key, value]);
}

/**
 * A snapshot with one section per element of `shards`, every checksum right; `counts` overrides
 * what a section header, the trailer's section count or its record total claims.
 */
function build(shards: Rec[][], counts: { section?: number[]; sections?: number; total?: number } = {}): Buffer {
  const parts: Buffer[] = [encodeHeader(shards.length, 1_700_000_000_000)];
  let total = 0;
  shards.forEach((recs, i) => {
    parts.push(encodeSection(i, counts.section?.[i] ?? recs.length, Buffer.concat(recs.map(record))));
    total += recs.length;
  });
  const before = Buffer.concat(parts);
  return Buffer.concat([before, encodeTrailer(counts.sections ?? shards.length, counts.total ?? total, crc32(before))]);
}

/** Recomputes the header CRC. */
function fixHeaderCrc(b: Buffer): Buffer {
  b.writeUInt32LE(crc32(b.subarray(0, 28)), 28);
  return b;
}

/** Recomputes the CRC of the section whose header starts at `at`. */
function fixSectionCrc(b: Buffer, at: number): Buffer {
  const length = b.readUInt32LE(at + 12);
  b.writeUInt32LE(crc32(b.subarray(at + SECTION_HEADER_BYTES, at + SECTION_HEADER_BYTES + length)), at + 20);
  return b;
}

/** Recomputes the trailer's CRC of every byte before it. */
function fixFileCrc(b: Buffer): Buffer {
  const trailerAt = b.length - TRAILER_BYTES;
  b.writeUInt32LE(crc32(b.subarray(0, trailerAt)), trailerAt + 24);
  return b;
}

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at] ^= 0x01;
  return c;
}

/** The error `decodeSnapshot` throws for `file`, or fails the test. */
function rejection(file: Buffer, maxKeyBytes = 1024): { code: string; message: string } {
  try {
    decodeSnapshot(file, 'test.snap', maxKeyBytes);
  } catch (err) {
    return err as { code: string; message: string };
  }
  assert.unreachable('the snapshot was accepted');
  throw new Error('unreachable');
}

function assertCorrupt(file: Buffer, why: string | RegExp, maxKeyBytes?: number): void {
  const e = rejection(file, maxKeyBytes);
  assert.is(e.code, 'ERR_SNAPSHOT_CORRUPT');
  const text = `snapshot test.snap is corrupt or truncated: `;
  if (typeof why === 'string') assert.is(e.message, `${text}${why}; nothing was loaded`);
  else {
    assert.ok(e.message.startsWith(text), e.message);
    assert.match(e.message, why);
  }
}

const S0 = HEADER_BYTES; // the first section's header
const R0 = S0 + SECTION_HEADER_BYTES; // the first record's header
const ONE: Rec[][] = [[{ key: 'key-1', value: 'value-one' }, { key: 'k2', value: 'v2' }]];
/** Offsets in build(ONE): the first record's key and value bytes. */
const KEY0 = R0 + RECORD_HEADER_BYTES;
const VALUE0 = KEY0 + 'key-1'.length;

const decode = suite('decodeSnapshot');

decode('a well-formed file of 2 sections and 3 records decodes to exactly those records', () => {
  const file = build([[{ key: 'a', value: 'alpha', flags: 2, expiresAt: 1_800_000_000_123 }], [{ key: 'bb', value: '', flags: 0 }, { key: '', value: 'empty key', flags: 15 }]]);
  const c = decodeSnapshot(file, 'test.snap', 1024);
  assert.is(c.shards, 2);
  assert.is(c.writtenAt, 1_700_000_000_000);
  assert.equal(c.records.map((r) => [r.key.toString(), r.flags, r.expiresAt, r.value.toString()]), [
    ['a', 2, 1_800_000_000_123, 'alpha'],
    ['bb', 0, 0, ''],
    ['', 15, 0, 'empty key'],
  ]);
});

decode('an empty last section and a last record with an empty key and value fit exactly and decode', () => {
  const c = decodeSnapshot(build([[{ key: 'a', value: 'x' }, { key: '', value: '' }], []]), 'test.snap', 1024);
  assert.equal(c.records.map((r) => [r.key.toString(), r.value.toString()]), [['a', 'x'], ['', '']]);
});

decode('a file with no sections and no records decodes to nothing', () => {
  const c = decodeSnapshot(build([]), 'test.snap', 1024);
  assert.is(c.records.length, 0);
  assert.is(c.shards, 0);
});

decode('a flipped value byte is refused (the file and section checksums both disagree)', () => {
  assertCorrupt(flip(build(ONE), VALUE0 + 3), /checksum mismatch/);
});

decode('a flipped value byte with the file CRC recomputed is still refused by the section CRC', () => {
  assertCorrupt(fixFileCrc(flip(build(ONE), VALUE0 + 3)), `section at ${S0} checksum mismatch`);
});

decode('a flipped value byte with the section CRC recomputed is still refused by the file CRC', () => {
  assertCorrupt(fixSectionCrc(flip(build(ONE), VALUE0 + 3), S0), 'file checksum mismatch');
});

decode('a flipped key byte is refused by each of the two checksums alone', () => {
  assertCorrupt(fixFileCrc(flip(build(ONE), KEY0)), `section at ${S0} checksum mismatch`);
  assertCorrupt(fixSectionCrc(flip(build(ONE), KEY0), S0), 'file checksum mismatch');
});

decode('a flipped byte in the last section is caught by that section\'s own CRC', () => {
  const file = build([[{ key: 'a', value: 'one' }], [{ key: 'b', value: 'two' }]]);
  const s1 = R0 + RECORD_HEADER_BYTES + 1 + 3;
  const lastValueByte = file.length - TRAILER_BYTES - 1;
  assertCorrupt(fixFileCrc(flip(file, lastValueByte)), `section at ${s1} checksum mismatch`);
});

decode('a damaged header is refused by the header CRC even when the file CRC matches', () => {
  assertCorrupt(fixFileCrc(flip(build(ONE), 16)), 'header checksum mismatch'); // written-at
  assertCorrupt(fixFileCrc(flip(build(ONE), 28)), 'header checksum mismatch'); // the CRC itself
});

decode('a flipped byte of the stored section CRC or of the trailer CRC is refused', () => {
  assertCorrupt(fixFileCrc(flip(build(ONE), S0 + 20)), `section at ${S0} checksum mismatch`);
  assertCorrupt(flip(build(ONE), build(ONE).length - 4), 'file checksum mismatch');
});

decode('a record count that disagrees with the section is refused (every CRC matching)', () => {
  assertCorrupt(build(ONE, { section: [3] }), `section at ${S0} holds 2 records, its header says 3`);
  assertCorrupt(build(ONE, { section: [1] }), `section at ${S0} holds 2 records, its header says 1`);
  assertCorrupt(build(ONE, { sections: 2 }), '1 sections found, the trailer says 2');
  assertCorrupt(build(ONE, { total: 3 }), '2 records found, the trailer says 3');
});

decode('magic, version and size are checked first', () => {
  const good = build(ONE);
  assertCorrupt(Buffer.alloc(HEADER_BYTES + TRAILER_BYTES - 1), `${HEADER_BYTES + TRAILER_BYTES - 1} bytes is shorter than a header and a trailer`);
  const v2 = Buffer.from(good);
  v2.writeUInt32LE(SNAPSHOT_VERSION + 1, 8);
  assertCorrupt(fixFileCrc(fixHeaderCrc(v2)), `format version ${SNAPSHOT_VERSION + 1} is not supported (this build reads ${SNAPSHOT_VERSION})`);
  assertCorrupt(flip(good, 0), 'not a meshcache snapshot (bad magic)');
  assertCorrupt(flip(good, good.length - TRAILER_BYTES + 7), 'no trailer (the file was cut short)');
  assertCorrupt(fixFileCrc(flip(good, S0)), `bad section magic at ${S0}`);
});

decode('a section or record that claims more bytes than it has is refused before it is read', () => {
  // The section length grown by one (its CRC and the file's recomputed): runs into the trailer.
  const longSection = Buffer.from(build(ONE));
  const length = longSection.readUInt32LE(S0 + 12);
  longSection.writeUInt32LE(length + 1, S0 + 12);
  assertCorrupt(fixFileCrc(longSection), `section at ${S0} claims ${length + 1} bytes, ${length} are left`);
  const highWord = Buffer.from(build(ONE));
  highWord.writeUInt32LE(1, S0 + 16);
  assertCorrupt(fixFileCrc(highWord), `section at ${S0} claims ${length + 2 ** 32} bytes, ${length} are left`);
  // A record whose value length runs past its section.
  const longValue = Buffer.from(build(ONE));
  longValue.writeUInt32LE('value-one'.length + 1000, R0 + 4);
  assertCorrupt(fixFileCrc(fixSectionCrc(longValue, S0)), `record at ${R0} runs past its section`);
  // A section payload that ends inside a record header.
  const shortTail = build([[]]);
  const sect = encodeSection(0, 1, Buffer.alloc(RECORD_HEADER_BYTES - 1));
  const before = Buffer.concat([shortTail.subarray(0, HEADER_BYTES), sect]);
  assertCorrupt(Buffer.concat([before, encodeTrailer(1, 1, crc32(before))]), `record header at ${R0} runs past its section`);
  // Room for a section header is checked too.
  const stub = Buffer.concat([shortTail.subarray(0, HEADER_BYTES), Buffer.alloc(SECTION_HEADER_BYTES - 1)]);
  assertCorrupt(Buffer.concat([stub, encodeTrailer(0, 0, crc32(stub))]), `section header at ${S0} runs past the end`);
});

decode('a damaged second record is refused naming its offset', () => {
  const first: Rec = { key: 'first', value: 'one' };
  const r1 = R0 + RECORD_HEADER_BYTES + 5 + 3; // the second record's header
  // A section that ends 15 bytes into the second record's header.
  const header = build([]).subarray(0, HEADER_BYTES);
  const sect = encodeSection(0, 2, Buffer.concat([record(first), Buffer.alloc(RECORD_HEADER_BYTES - 1)]));
  const before = Buffer.concat([header, sect]);
  assertCorrupt(Buffer.concat([before, encodeTrailer(1, 2, crc32(before))]), `record header at ${r1} runs past its section`);
  const longValue = build([[first, { key: 'k', value: 'v' }]]);
  longValue.writeUInt32LE(2, r1 + 4);
  assertCorrupt(fixFileCrc(fixSectionCrc(longValue, S0)), `record at ${r1} runs past its section`);
  assertCorrupt(build([[first, { key: 'k', value: 'v', flags: 31 }]]), `record at ${r1} has unknown flags 31`);
});

decode('keys over the target\'s maxKeyBytes and unknown value flags are refused', () => {
  const file = build([[{ key: 'x'.repeat(10), value: 'v' }]]);
  assert.is(decodeSnapshot(file, 'test.snap', 10).records.length, 1, 'a key of exactly maxKeyBytes loads');
  assertCorrupt(file, 'a 10-byte key is over the target\'s maxKeyBytes (9)', 9);
  assertCorrupt(build([[{ key: 'k', value: 'v', flags: 16 }]]), `record at ${R0} has unknown flags 16`);
});

decode.run();

const load = suite('Cache.load / Cache.restore of a damaged snapshot');

/** A snapshot of 200 entries written by a one-shard cache, and the offsets of its first record. */
async function written(): Promise<{ path: string; file: Buffer; key: number; value: number }> {
  const c = new Cache({ maxMemory: '8mb', shards: 1, compression: false });
  for (let i = 0; i < 200; i++) c.set(`key:${i}`, `value:${i}:${'x'.repeat(20)}`);
  const path = join(dir, 'good.snap');
  await c.snapshot(path);
  await c.close();
  const file = readFileSync(path);
  const keyLen = file.readUInt16LE(R0);
  return { path, file, key: R0 + RECORD_HEADER_BYTES, value: R0 + RECORD_HEADER_BYTES + keyLen + 2 };
}

/**
 * `bytes` must be refused by `target.load` and `Cache.restore` with ERR_SNAPSHOT_CORRUPT and
 * `why`, and nothing partial: the target keeps exactly what it had (its own value for a key the
 * snapshot also holds, and none of the snapshot's 200 keys).
 */
/** Every key of `c`, sorted. */
async function keysOf(c: Cache): Promise<string[]> {
  const out: string[] = [];
  for await (const k of c.scan()) out.push(String(k));
  return out.sort();
}

async function assertRefused(target: Cache, bytes: Buffer, why: string): Promise<void> {
  const bad = join(dir, 'bad.snap');
  writeFileSync(bad, bytes);
  const before = await keysOf(target);
  const e1 = await target.load(bad).catch((e: unknown) => e) as { code?: string; message?: string };
  assert.is(e1.code, 'ERR_SNAPSHOT_CORRUPT', why);
  assert.is(e1.message, `snapshot ${bad} is corrupt or truncated: ${why}; nothing was loaded`);
  assert.equal(await keysOf(target), before, 'the target cache was changed');
  assert.is(target.get('key:0'), 'mine');
  assert.is(target.get('key:199'), undefined);
  const e2 = await Cache.restore(bad, { maxMemory: '8mb' }).then((c) => c.close().then(() => 'restored'), (e: unknown) => e) as { code?: string; message?: string };
  assert.is(e2.code, 'ERR_SNAPSHOT_CORRUPT', why);
  assert.is(e2.message, e1.message);
}

load('a flipped value or key byte in a cache-written snapshot: load and restore refuse it, nothing loads', async () => {
  const { path, file, key, value } = await written();
  const target = new Cache({ maxMemory: '8mb', shards: 2 });
  target.set('key:0', 'mine');
  target.set('other', 'kept');
  await assertRefused(target, flip(file, value), 'file checksum mismatch');
  await assertRefused(target, fixFileCrc(flip(file, value)), `section at ${S0} checksum mismatch`);
  await assertRefused(target, fixSectionCrc(flip(file, value), S0), 'file checksum mismatch');
  await assertRefused(target, fixFileCrc(flip(file, key)), `section at ${S0} checksum mismatch`);
  await assertRefused(target, fixSectionCrc(flip(file, key), S0), 'file checksum mismatch');
  await assertRefused(target, fixFileCrc(flip(file, 20)), 'header checksum mismatch');
  await assertRefused(target, flip(file, file.length - 1), 'file checksum mismatch');
  // The intact file loads whole (its key:0 overwrites the target's).
  assert.is(await target.load(path), 200);
  assert.is(target.size, 201);
  assert.is(target.get('key:199'), `value:199:${'x'.repeat(20)}`);
  assert.is(target.get('other'), 'kept');
  await target.close();
});

load.run();
