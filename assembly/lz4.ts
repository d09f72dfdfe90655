/**
 * LZ4 block and frame codec over raw linear memory, byte-compatible with the reference `lz4`.
 *
 * ## Block format (lz4_Block_format.md)
 * A block is a list of sequences. Each sequence is
 *
 * ```
 *  ┌───────┬──────────────┬──────────┬──────────────┬──────────────┐
 *  │ token │ +lit length… │ literals │ offset (u16) │ +match len…  │
 *  └───────┴──────────────┴──────────┴──────────────┴──────────────┘
 *    hi 4 bits: literal length (15 = more bytes follow, each adds 0..255, 255 = continue)
 *    lo 4 bits: match length - 4 (same extension scheme)
 * ```
 *
 * The offset is little-endian, 1..65535, counted back from the current output position; a match
 * may overlap the bytes it produces (offset < length repeats a pattern). The last sequence has
 * literals only and ends the block. For the reference decoder to accept a block, the compressor
 * keeps its end rules: the last match starts at least MF_LIMIT (12) bytes before the end of the
 * input and the last LAST_LITERALS (5) bytes are always literals.
 *
 * ## Frame format (lz4_Frame_format.md)
 *
 * ```
 *  ┌───────────┬─────┬────┬──────────────────┬────────┬──────┬─────────┬────────────────────┐
 *  │ magic     │ FLG │ BD │ content size u64 │ dictID │ HC   │ blocks… │ EndMark u32 = 0    │
 *  │ 0x184D2204│     │    │ (FLG bit 3)      │ (bit 0)│ 1 B  │         │ [content xxh32]    │
 *  └───────────┴─────┴────┴──────────────────┴────────┴──────┴─────────┴────────────────────┘
 *  FLG: bits 7-6 version = 01, bit 5 block independence, bit 4 block checksum,
 *       bit 3 content size, bit 2 content checksum, bit 1 reserved (0), bit 0 dictionary id.
 *  BD:  bits 6-4 block max size (4 = 64 KiB, 5 = 256 KiB, 6 = 1 MiB, 7 = 4 MiB), others 0.
 *  HC:  (xxh32(FLG..dictID, seed 0) >> 8) & 0xFF.
 *  block: u32 size (bit 31 set = stored uncompressed), data, [xxh32 of the stored data].
 * ```
 *
 * Skippable frames (magic 0x184D2A50..0x184D2A5F, u32 size, data) are skipped; several frames may
 * be concatenated and decode into one contiguous output.
 *
 * ## Safety invariant of the decoders
 * Input is untrusted. Every length is checked against the bytes remaining (`end - ptr`, never
 * `ptr + len`, so nothing wraps) BEFORE the load or store it guards, so a decoder reads only
 * [src, src + srcLen) and writes only [dst, dst + dstCap); a match may reference only output
 * already produced in the current frame (linked blocks) or block (independent blocks / raw
 * block API). Every loop consumes at least one input byte or ends, so decoding terminates.
 * Wild (8-byte) copies are used only where the checked slack covers the overshoot. Bytes of
 * [dst, dst + dstCap) past the returned size may be overwritten with garbage.
 *
 * ## Compressor
 * Greedy, one hash-table probe per position, 4-byte minimum match, the search step growing by one
 * every 64 misses: the reference's fast mode at acceleration 1. Its output is byte-identical to
 * `lz4 -1` for inputs of 4 KiB and more (tested); smaller inputs use a smaller (cheaper to clear)
 * table, so they may pick other matches, in the same format.
 *
 * ## Threads
 * No state outside the call: no globals, no data segments, no managed objects. The compressor's
 * hash table lives in the caller's `work` area (lz4WorkBytes() bytes): one per thread.
 * `src` and `dst` must not overlap.
 */

import { xxh32 } from "./xxh32";

// ─── Status codes (negative returns). The table core owns the other ranges. ──────────────────

/** The compressed input is not valid LZ4 (bad lengths, block ending in a match, …). */
export const LZ4_ERR_MALFORMED: i32 = -20;
/** The output capacity is too small for the result. */
export const LZ4_ERR_OUTPUT_TOO_SMALL: i32 = -21;
/** A frame header, block or content checksum does not match. */
export const LZ4_ERR_CHECKSUM: i32 = -22;
/** Valid but unsupported input: frame version != 01, legacy frames, dictionary ids. */
export const LZ4_ERR_UNSUPPORTED: i32 = -23;
/** A match offset of 0, or one reaching before the start of the window (block / frame). */
export const LZ4_ERR_BAD_OFFSET: i32 = -24;
/** The input does not start with an LZ4 or skippable frame magic number. */
export const LZ4_ERR_BAD_MAGIC: i32 = -25;
/** Caller error: a range outside linear memory, an input over LZ4_MAX_INPUT_BYTES, unknown flags. */
export const LZ4_ERR_BAD_ARGUMENT: i32 = -26;
/** The input ends inside a frame (header, block, end mark or checksum cut off). */
export const LZ4_ERR_TRUNCATED: i32 = -27;

// ─── Frame flags for lz4CompressFrame ──────────────────────────────────────────────────────

/** Append an xxh32 of the whole content after the end mark. */
export const LZ4_FRAME_CONTENT_CHECKSUM: u32 = 1 << 0;
/** Write the content size (u64) into the frame header. */
export const LZ4_FRAME_CONTENT_SIZE: u32 = 1 << 1;
/** Use 4 MiB blocks instead of the default 64 KiB ones. */
export const LZ4_FRAME_BLOCK_4MIB: u32 = 1 << 2;
/** Append an xxh32 of each stored block after it. */
export const LZ4_FRAME_BLOCK_CHECKSUM: u32 = 1 << 3;
/** Every flag bit lz4CompressFrame knows; other bits give LZ4_ERR_BAD_ARGUMENT. */
export const LZ4_FRAME_FLAGS_MASK: u32 =
  LZ4_FRAME_CONTENT_CHECKSUM | LZ4_FRAME_CONTENT_SIZE | LZ4_FRAME_BLOCK_4MIB | LZ4_FRAME_BLOCK_CHECKSUM;

/** Largest input the compressors accept (the reference's LZ4_MAX_INPUT_SIZE), in bytes. */
export const LZ4_MAX_INPUT_BYTES: u32 = 0x7E000000;

// ─── Format constants ─────────────────────────────────────────────────────────────────────

const MIN_MATCH: u32 = 4;
/** The last 5 bytes of a block are literals. */
const LAST_LITERALS: usize = 5;
/** The last match starts at least 12 bytes before the end of the block. */
const MF_LIMIT: usize = 12;
/** Shorter inputs are emitted as one literal run. */
const MIN_INPUT_FOR_MATCH: u32 = <u32>MF_LIMIT + 1;
const MAX_DISTANCE: usize = 65535;
const ML_BITS: u32 = 4;
const ML_MASK: u32 = (1 << ML_BITS) - 1;
const RUN_MASK: u32 = 15;
/** Misses before the search step grows by one (reference acceleration 1). */
const SKIP_TRIGGER: u32 = 6;
/** Knuth's multiplicative hash constant (2^32 / phi). */
const HASH_MULTIPLIER: u32 = 2654435761;
/** Multiplier of the 5-byte hash: the reference's, so that output matches `lz4 -1` byte for byte. */
const HASH5_MULTIPLIER: u64 = 889523592379;

/** Bytes of the compressor work area: one hash table (u16 or u32 positions). */
const WORK_BYTES: u32 = 16384;
/** log2 of the entry count of the u32-position table (WORK_BYTES / 4). */
const HASH_LOG_U32: u32 = 12;
/** log2 of the entry count of the u16-position table (WORK_BYTES / 2). */
const HASH_LOG_U16: u32 = 13;
/** Inputs shorter than this store positions as u16 (the largest stored position is < 65536). */
const U16_TABLE_INPUT_LIMIT: u32 = 65536 + <u32>MF_LIMIT - 1;

const FRAME_MAGIC: u32 = 0x184D2204;
const LEGACY_MAGIC: u32 = 0x184C2102;
const SKIPPABLE_MAGIC: u32 = 0x184D2A50;
const SKIPPABLE_MASK: u32 = 0xFFFFFFF0;
const FLG_VERSION_01: u32 = 0x40;
const FLG_VERSION_MASK: u32 = 0xC0;
const FLG_BLOCK_INDEPENDENT: u32 = 0x20;
const FLG_BLOCK_CHECKSUM: u32 = 0x10;
const FLG_CONTENT_SIZE: u32 = 0x08;
const FLG_CONTENT_CHECKSUM: u32 = 0x04;
const FLG_RESERVED: u32 = 0x02;
const FLG_DICT_ID: u32 = 0x01;
const BD_BLOCK_MAX_SHIFT: u32 = 4;
const BD_BLOCK_MAX_MASK: u32 = 0x70;
const BD_RESERVED: u32 = 0x8F;
const BD_64KIB: u32 = 4;
const BD_4MIB: u32 = 7;
const BLOCK_UNCOMPRESSED_BIT: u32 = 0x80000000;
const MAGIC_BYTES: usize = 4;
/** FLG + BD + content size + dictID + HC. */
const DESCRIPTOR_MAX_BYTES: u32 = 2 + 8 + 4 + 1;
const BLOCK_HEADER_BYTES: usize = 4;
const CHECKSUM_BYTES: usize = 4;
const MIN_BLOCK_MAX_BYTES: u32 = 65536;
const I32_MAX: u32 = 0x7FFFFFFF;

// ─── Small helpers ────────────────────────────────────────────────────────────────────────

/** True when [ptr, ptr + len) lies inside linear memory (computed in 64 bits: no wrap). */
// @ts-ignore: decorator
@inline function inMemory(ptr: usize, len: usize): bool {
  return <u64>ptr + <u64>len <= (<u64>memory.size() << 16);
}

// @ts-ignore: decorator
@inline function minU32(a: u32, b: u32): u32 {
  return a < b ? a : b;
}

/**
 * Hash of the bytes at `p` into a table of 2^hashLog entries: the first 4 bytes for u16 tables,
 * the first 5 for u32 tables (as the reference does on 64-bit targets; it reads 8 bytes, which
 * the callers' end limits allow).
 */
// @ts-ignore: decorator
@inline function hashAt<T>(p: usize, hashLog: u32): usize {
  if (sizeof<T>() == 2) return <usize>((load<u32>(p) * HASH_MULTIPLIER) >> (32 - hashLog));
  return <usize>(((load<u64>(p) << 24) * HASH5_MULTIPLIER) >> (64 - <u64>hashLog));
}

/** Number of equal bytes at `p` and `m`, reading `p` no further than `limit` (m < p). */
// @ts-ignore: decorator
@inline function countMatch(p: usize, m: usize, limit: usize): usize {
  const start = p;
  while (limit - p >= 8) {
    const diff = load<u64>(m) ^ load<u64>(p);
    if (diff != 0) return p - start + <usize>(ctz<u64>(diff) >> 3);
    p += 8;
    m += 8;
  }
  if (limit - p >= 4 && load<u32>(m) == load<u32>(p)) { p += 4; m += 4; }
  if (limit - p >= 2 && load<u16>(m) == load<u16>(p)) { p += 2; m += 2; }
  if (p < limit && load<u8>(m) == load<u8>(p)) p++;
  return p - start;
}

/** Copy `len` bytes in 8-byte steps; writes and reads up to 7 bytes past `len`. */
// @ts-ignore: decorator
@inline function wildCopy8(dst: usize, src: usize, len: usize): void {
  const end = dst + len;
  do {
    store<u64>(dst, load<u64>(src));
    dst += 8;
    src += 8;
  } while (dst < end);
}

/** Writes an LZ4 length extension (the part of `len` over the 4-bit field) at `op`. */
// @ts-ignore: decorator
@inline function writeLengthExtension(op: usize, len: usize): usize {
  while (len >= 255) {
    store<u8>(op++, 255);
    len -= 255;
  }
  store<u8>(op++, <u8>len);
  return op;
}

// ─── Block compression ────────────────────────────────────────────────────────────────────

/** Size of the work area lz4CompressBlock and lz4CompressFrame need, in bytes. */
export function lz4WorkBytes(): u32 {
  return WORK_BYTES;
}

/**
 * Worst-case compressed size of `len` bytes (incompressible input grows by 1/255 + 16 bytes);
 * 0 when `len` exceeds LZ4_MAX_INPUT_BYTES.
 */
export function lz4CompressBound(len: u32): u32 {
  return len > LZ4_MAX_INPUT_BYTES ? 0 : len + len / 255 + 16;
}

/**
 * The greedy single-probe LZ4 compressor (the reference's "fast" mode, acceleration 1).
 * T is the hash table entry type: u16 positions when the input fits 64 KiB, else u32.
 * Table entries are positions relative to `src`; every stored position is below the current
 * one, so a candidate is always readable, and it is used only after its 4 bytes compare equal.
 */
// @ts-ignore: decorator
@inline function compressWithTable<T>(
  src: usize, srcLen: u32, dst: usize, dstCap: u32, table: usize, hashLog: u32,
): i32 {
  const entryShift = <usize>alignof<T>();
  const iend = src + <usize>srcLen;
  const oend = dst + <usize>dstCap;
  let op = dst;
  let anchor = src;

  if (srcLen >= MIN_INPUT_FOR_MATCH) {
    // A match may start while ip < mflimitPlusOne and extend while ip < matchLimit.
    const mflimitPlusOne = iend - MF_LIMIT + 1;
    const matchLimit = iend - LAST_LITERALS;
    memory.fill(table, 0, (<usize>1 << hashLog) << entryShift);
    let ip = src;
    store<T>(table + (hashAt<T>(ip, hashLog) << entryShift), <T>0);
    ip++;
    let forwardH = hashAt<T>(ip, hashLog);

    while (true) {
      // Find a 4-byte match; the step grows by one every 2^SKIP_TRIGGER misses.
      let match: usize = 0;
      let forwardIp = ip;
      let step: u32 = 1;
      let searchCount: u32 = 1 << SKIP_TRIGGER;
      let found = true;
      do {
        const h = forwardH;
        ip = forwardIp;
        forwardIp += <usize>step;
        step = searchCount++ >> SKIP_TRIGGER;
        if (forwardIp > mflimitPlusOne) {
          found = false; // too close to the end for another match
          break;
        }
        const slot = table + (h << entryShift);
        match = src + <usize>load<T>(slot);
        forwardH = hashAt<T>(forwardIp, hashLog);
        store<T>(slot, <T>(ip - src));
      } while (ip - match > MAX_DISTANCE || load<u32>(match) != load<u32>(ip));
      if (!found) break;

      // Extend the match backwards over the pending literals.
      while (ip > anchor && match > src && load<u8>(ip - 1) == load<u8>(match - 1)) {
        ip--;
        match--;
      }

      // Literal run. Room: token, extension, literals, offset, token of the last run, 5 literals.
      const litLen = ip - anchor;
      if (litLen + litLen / 255 + (1 + 2 + 1 + LAST_LITERALS) > oend - op) return LZ4_ERR_OUTPUT_TOO_SMALL;
      let token = op++;
      if (litLen >= <usize>RUN_MASK) {
        store<u8>(token, <u8>(RUN_MASK << ML_BITS));
        op = writeLengthExtension(op, litLen - <usize>RUN_MASK);
      } else {
        store<u8>(token, <u8>(litLen << ML_BITS));
      }
      // The check above leaves >= 7 bytes after the literals and ip <= iend - 12: a wild copy
      // (overshoot <= 7 bytes on both sides) stays inside dst and src.
      if (litLen <= 64) {
        if (litLen != 0) wildCopy8(op, anchor, litLen);
      } else {
        memory.copy(op, anchor, litLen);
      }
      op += litLen;

      // One or more matches, each possibly followed at once by another (no literals between).
      let atEnd = false;
      while (true) {
        store<u16>(op, <u16>(ip - match));
        op += 2;
        const extra = countMatch(ip + MIN_MATCH, match + MIN_MATCH, matchLimit);
        ip += <usize>MIN_MATCH + extra;
        if ((extra + 240) / 255 + (1 + LAST_LITERALS) > oend - op) return LZ4_ERR_OUTPUT_TOO_SMALL;
        if (extra >= <usize>ML_MASK) {
          store<u8>(token, load<u8>(token) | <u8>ML_MASK);
          op = writeLengthExtension(op, extra - <usize>ML_MASK);
        } else {
          store<u8>(token, load<u8>(token) | <u8>extra);
        }
        anchor = ip;
        if (ip >= mflimitPlusOne) {
          atEnd = true;
          break;
        }

        // Index the position 2 bytes back, then try a match right here.
        store<T>(table + (hashAt<T>(ip - 2, hashLog) << entryShift), <T>(ip - 2 - src));
        const slot = table + (hashAt<T>(ip, hashLog) << entryShift);
        match = src + <usize>load<T>(slot);
        store<T>(slot, <T>(ip - src));
        if (ip - match <= MAX_DISTANCE && load<u32>(match) == load<u32>(ip)) {
          // The check before the last length leaves >= 1 + LAST_LITERALS bytes: token + offset fit.
          token = op++;
          store<u8>(token, 0);
          continue;
        }
        ip++;
        forwardH = hashAt<T>(ip, hashLog);
        break;
      }
      if (atEnd) break;
    }
  }

  // Last literals.
  const lastRun = iend - anchor;
  if (lastRun + (lastRun + 255 - <usize>RUN_MASK) / 255 + 1 > oend - op) return LZ4_ERR_OUTPUT_TOO_SMALL;
  if (lastRun >= <usize>RUN_MASK) {
    store<u8>(op++, <u8>(RUN_MASK << ML_BITS));
    op = writeLengthExtension(op, lastRun - <usize>RUN_MASK);
  } else {
    store<u8>(op++, <u8>(lastRun << ML_BITS));
  }
  memory.copy(op, anchor, lastRun);
  op += lastRun;
  return <i32>(op - dst);
}

/** Bit length of (n - 1): the log2 of the smallest power of two >= n (n >= 1). */
// @ts-ignore: decorator
@inline function ceilLog2(n: u32): u32 {
  return n <= 1 ? 0 : 32 - clz<u32>(n - 1);
}

/** lz4CompressBlock without the argument checks (ranges already validated). */
function compressBlockUnchecked(src: usize, srcLen: u32, dst: usize, dstCap: u32, work: usize): i32 {
  if (srcLen < U16_TABLE_INPUT_LIMIT) {
    // Small inputs: at least 2 entries per input byte, at most the whole work area.
    let hashLog = ceilLog2(srcLen) + 1;
    if (hashLog > HASH_LOG_U16) hashLog = HASH_LOG_U16;
    if (hashLog < 8) hashLog = 8;
    return compressWithTable<u16>(src, srcLen, dst, dstCap, work, hashLog);
  }
  return compressWithTable<u32>(src, srcLen, dst, dstCap, work, HASH_LOG_U32);
}

/**
 * Compresses `srcLen` bytes at `src` into one LZ4 block at `dst`.
 *
 * @param work a scratch area of lz4WorkBytes() bytes, clobbered (one per thread)
 * @returns the compressed size, LZ4_ERR_OUTPUT_TOO_SMALL when `dstCap` is too small (use
 *          lz4CompressBound to never see it), or LZ4_ERR_BAD_ARGUMENT
 */
export function lz4CompressBlock(src: usize, srcLen: u32, dst: usize, dstCap: u32, work: usize): i32 {
  if (srcLen > LZ4_MAX_INPUT_BYTES) return LZ4_ERR_BAD_ARGUMENT;
  if (!inMemory(src, srcLen) || !inMemory(dst, dstCap) || !inMemory(work, WORK_BYTES)) {
    return LZ4_ERR_BAD_ARGUMENT;
  }
  return compressBlockUnchecked(src, srcLen, dst, minU32(dstCap, I32_MAX), work);
}

// ─── Block decompression ──────────────────────────────────────────────────────────────────

/**
 * Decodes one block into [op, op + dstCap). Matches may reach back to `lowLimit` (<= op): the
 * start of the window (the block itself, or the frame for linked blocks).
 * Returns the decoded size or a negative status; see the file comment for the invariant.
 */
function decodeBlock(src: usize, srcLen: usize, lowLimit: usize, dst: usize, dstCap: usize): i32 {
  let ip = src;
  const iend = src + srcLen;
  let op = dst;
  const oend = dst + dstCap;
  if (srcLen == 0) return LZ4_ERR_MALFORMED;

  while (true) {
    // Invariant here: ip < iend.
    const token = <u32>load<u8>(ip++);
    let litLen = <usize>(token >> ML_BITS);

    // Fast path: short literals, short match, room for 16-byte / 18-byte wild copies.
    if (litLen != <usize>RUN_MASK && iend - ip >= 16 && oend - op >= 32) {
      store<u64>(op, load<u64>(ip));
      store<u64>(op, load<u64>(ip, 8), 8);
      op += litLen;
      ip += litLen;
      // iend - ip >= 2 still: litLen <= 14.
      const offset = <usize>load<u16>(ip);
      const matchCode = token & ML_MASK;
      if (matchCode != ML_MASK && offset >= 8 && offset <= op - lowLimit) {
        ip += 2;
        const match = op - offset;
        // oend - op >= 18 still; offset >= 8 makes each 8-byte read end at or before its write.
        store<u64>(op, load<u64>(match));
        store<u64>(op, load<u64>(match, 8), 8);
        store<u16>(op, load<u16>(match, 16), 16);
        op += <usize>(matchCode + MIN_MATCH);
        if (ip >= iend) return LZ4_ERR_MALFORMED;
        continue;
      }
      // Fall through to the general match path with the literals done.
    } else {
      if (litLen == <usize>RUN_MASK) {
        let b: usize;
        do {
          if (ip >= iend) return LZ4_ERR_MALFORMED;
          b = <usize>load<u8>(ip++);
          litLen += b;
          if (litLen > srcLen) return LZ4_ERR_MALFORMED;
        } while (b == 255);
      }
      if (litLen > iend - ip) return LZ4_ERR_MALFORMED;
      if (litLen > oend - op) return LZ4_ERR_OUTPUT_TOO_SMALL;
      if (litLen <= 32 && iend - ip >= litLen + 8 && oend - op >= litLen + 8) {
        if (litLen != 0) wildCopy8(op, ip, litLen);
      } else {
        memory.copy(op, ip, litLen);
      }
      op += litLen;
      ip += litLen;
      // The last sequence ends the block exactly after its literals.
      if (ip == iend) return <i32>(op - dst);
      if (iend - ip < 2) return LZ4_ERR_MALFORMED;
    }

    // General match path.
    const offset = <usize>load<u16>(ip);
    ip += 2;
    if (offset == 0 || offset > op - lowLimit) return LZ4_ERR_BAD_OFFSET;
    let matchLen = <usize>(token & ML_MASK);
    if (matchLen == <usize>ML_MASK) {
      let b: usize;
      do {
        if (ip >= iend) return LZ4_ERR_MALFORMED;
        b = <usize>load<u8>(ip++);
        matchLen += b;
        if (matchLen > dstCap) return LZ4_ERR_OUTPUT_TOO_SMALL;
      } while (b == 255);
    }
    matchLen += <usize>MIN_MATCH;
    if (matchLen > oend - op) return LZ4_ERR_OUTPUT_TOO_SMALL;
    const match = op - offset;
    if (oend - op >= matchLen + 8) {
      // Wild copies may run up to 7 bytes past the match: covered by the slack just checked.
      if (offset >= 8) {
        wildCopy8(op, match, matchLen);
      } else if (offset == 1 && matchLen >= 32) {
        memory.fill(op, load<u8>(match), matchLen);
      } else {
        // Small offset: write 8 bytes one at a time, then copy from the nearest multiple of
        // `offset` that is >= 8 bytes back (the pattern repeats at every multiple).
        for (let i: usize = 0; i < 8; i++) store<u8>(op + i, load<u8>(match + i));
        if (matchLen > 8) {
          const distance = ((<usize>8 + offset - 1) / offset) * offset;
          wildCopy8(op + 8, op + 8 - distance, matchLen - 8);
        }
      }
    } else if (offset >= matchLen) {
      memory.copy(op, match, matchLen);
    } else {
      for (let i: usize = 0; i < matchLen; i++) store<u8>(op + i, load<u8>(match + i));
    }
    op += matchLen;
    // A block never ends with a match.
    if (ip >= iend) return LZ4_ERR_MALFORMED;
  }
  return LZ4_ERR_MALFORMED;
}

/**
 * Decompresses one LZ4 block (no dictionary) from untrusted input.
 *
 * @returns the decoded size, or LZ4_ERR_MALFORMED, LZ4_ERR_BAD_OFFSET, LZ4_ERR_OUTPUT_TOO_SMALL
 *          (output would exceed `dstCap`) or LZ4_ERR_BAD_ARGUMENT. Never reads outside
 *          [src, src + srcLen) nor writes outside [dst, dst + dstCap).
 */
export function lz4DecompressBlock(src: usize, srcLen: u32, dst: usize, dstCap: u32): i32 {
  if (!inMemory(src, srcLen) || !inMemory(dst, dstCap)) return LZ4_ERR_BAD_ARGUMENT;
  return decodeBlock(src, srcLen, dst, dst, minU32(dstCap, I32_MAX));
}

// ─── Frames ───────────────────────────────────────────────────────────────────────────────

/** Block max size in bytes that lz4CompressFrame uses for `flags`. */
export function lz4FrameBlockMaxBytes(flags: u32): u32 {
  return (flags & LZ4_FRAME_BLOCK_4MIB) != 0 ? 4 << 20 : 64 << 10;
}

/**
 * Worst-case size of a frame holding `len` bytes in blocks of `blockMaxBytes` (use
 * lz4FrameBlockMaxBytes(flags); values under 64 KiB count as 64 KiB), with every optional
 * field present. Saturates at 0xFFFFFFFF.
 */
export function lz4FrameBound(len: u32, blockMaxBytes: u32): u32 {
  const blockBytes = <u64>(blockMaxBytes < MIN_BLOCK_MAX_BYTES ? MIN_BLOCK_MAX_BYTES : blockMaxBytes);
  const blocks = (<u64>len + blockBytes - 1) / blockBytes;
  const bound = <u64>MAGIC_BYTES + <u64>DESCRIPTOR_MAX_BYTES + <u64>len
    + blocks * <u64>(BLOCK_HEADER_BYTES + CHECKSUM_BYTES) + <u64>(BLOCK_HEADER_BYTES + CHECKSUM_BYTES);
  return bound > 0xFFFFFFFF ? 0xFFFFFFFF : <u32>bound;
}

/**
 * Writes a complete LZ4 frame (version 01, independent blocks) holding `srcLen` bytes.
 * Blocks that do not shrink are stored uncompressed.
 *
 * @param flags LZ4_FRAME_* bits
 * @param work  a scratch area of lz4WorkBytes() bytes, clobbered
 * @returns the frame size, LZ4_ERR_OUTPUT_TOO_SMALL (size `dst` with lz4FrameBound) or
 *          LZ4_ERR_BAD_ARGUMENT
 */
export function lz4CompressFrame(src: usize, srcLen: u32, dst: usize, dstCap: u32, work: usize, flags: u32): i32 {
  if ((flags & ~LZ4_FRAME_FLAGS_MASK) != 0 || srcLen > LZ4_MAX_INPUT_BYTES) return LZ4_ERR_BAD_ARGUMENT;
  if (!inMemory(src, srcLen) || !inMemory(dst, dstCap) || !inMemory(work, WORK_BYTES)) {
    return LZ4_ERR_BAD_ARGUMENT;
  }
  const oend = dst + <usize>minU32(dstCap, I32_MAX);
  const blockMax = lz4FrameBlockMaxBytes(flags);
  const withSize = (flags & LZ4_FRAME_CONTENT_SIZE) != 0;
  const blockChecksum = (flags & LZ4_FRAME_BLOCK_CHECKSUM) != 0;
  const trailer: usize = blockChecksum ? CHECKSUM_BYTES : 0;

  // Header.
  const descriptorLen: usize = 2 + (withSize ? 8 : 0);
  if (oend - dst < MAGIC_BYTES + descriptorLen + 1) return LZ4_ERR_OUTPUT_TOO_SMALL;
  let flg = FLG_VERSION_01 | FLG_BLOCK_INDEPENDENT;
  if (blockChecksum) flg |= FLG_BLOCK_CHECKSUM;
  if (withSize) flg |= FLG_CONTENT_SIZE;
  if ((flags & LZ4_FRAME_CONTENT_CHECKSUM) != 0) flg |= FLG_CONTENT_CHECKSUM;
  store<u32>(dst, FRAME_MAGIC);
  store<u8>(dst, <u8>flg, 4);
  store<u8>(dst, <u8>(((flags & LZ4_FRAME_BLOCK_4MIB) != 0 ? BD_4MIB : BD_64KIB) << BD_BLOCK_MAX_SHIFT), 5);
  if (withSize) store<u64>(dst, <u64>srcLen, 6);
  store<u8>(dst + MAGIC_BYTES + descriptorLen, <u8>(xxh32(dst + MAGIC_BYTES, descriptorLen, 0) >> 8));
  let op = dst + MAGIC_BYTES + descriptorLen + 1;

  // Blocks.
  let ip = src;
  const iend = src + <usize>srcLen;
  while (ip < iend) {
    const n = minU32(<u32>(iend - ip), blockMax);
    if (oend - op < BLOCK_HEADER_BYTES + trailer) return LZ4_ERR_OUTPUT_TOO_SMALL;
    const avail = oend - op - BLOCK_HEADER_BYTES - trailer;
    // Keep the compressed form only when it is strictly smaller than the block.
    const cap = minU32(<u32>avail, n - 1);
    let size = compressBlockUnchecked(ip, n, op + BLOCK_HEADER_BYTES, cap, work);
    if (size > 0) {
      store<u32>(op, <u32>size);
    } else {
      if (<usize>n > avail) return LZ4_ERR_OUTPUT_TOO_SMALL;
      memory.copy(op + BLOCK_HEADER_BYTES, ip, n);
      store<u32>(op, n | BLOCK_UNCOMPRESSED_BIT);
      size = <i32>n;
    }
    if (blockChecksum) {
      store<u32>(op + BLOCK_HEADER_BYTES + <usize>size, xxh32(op + BLOCK_HEADER_BYTES, <usize>size, 0));
    }
    op += BLOCK_HEADER_BYTES + <usize>size + trailer;
    ip += <usize>n;
  }

  // EndMark and content checksum.
  if (oend - op < BLOCK_HEADER_BYTES) return LZ4_ERR_OUTPUT_TOO_SMALL;
  store<u32>(op, 0);
  op += BLOCK_HEADER_BYTES;
  if ((flags & LZ4_FRAME_CONTENT_CHECKSUM) != 0) {
    if (oend - op < CHECKSUM_BYTES) return LZ4_ERR_OUTPUT_TOO_SMALL;
    store<u32>(op, xxh32(src, srcLen, 0));
    op += CHECKSUM_BYTES;
  }
  return <i32>(op - dst);
}

/**
 * Validates the LZ4 frame header at `p` (magic already checked) with `avail` bytes left.
 * Returns its length (magic to HC inclusive) or a negative status.
 */
function frameHeaderBytes(p: usize, avail: usize): i32 {
  if (avail < MAGIC_BYTES + 3) return LZ4_ERR_TRUNCATED;
  const flg = <u32>load<u8>(p, 4);
  const bd = <u32>load<u8>(p, 5);
  if ((flg & FLG_VERSION_MASK) != FLG_VERSION_01) return LZ4_ERR_UNSUPPORTED;
  if ((flg & FLG_RESERVED) != 0 || (bd & BD_RESERVED) != 0) return LZ4_ERR_MALFORMED;
  if (((bd & BD_BLOCK_MAX_MASK) >> BD_BLOCK_MAX_SHIFT) < BD_64KIB) return LZ4_ERR_MALFORMED;
  const descriptorLen: usize = 2 + ((flg & FLG_CONTENT_SIZE) != 0 ? 8 : 0) + ((flg & FLG_DICT_ID) != 0 ? 4 : 0);
  if (avail < MAGIC_BYTES + descriptorLen + 1) return LZ4_ERR_TRUNCATED;
  const hc = (xxh32(p + MAGIC_BYTES, descriptorLen, 0) >> 8) & 0xFF;
  if (hc != <u32>load<u8>(p + MAGIC_BYTES + descriptorLen)) return LZ4_ERR_CHECKSUM;
  // A dictionary id means the blocks may reference a dictionary we do not have.
  if ((flg & FLG_DICT_ID) != 0) return LZ4_ERR_UNSUPPORTED;
  return <i32>(MAGIC_BYTES + descriptorLen + 1);
}

/** Block max size in bytes from a validated BD byte. */
// @ts-ignore: decorator
@inline function blockMaxFromBd(bd: u32): usize {
  return <usize>1 << (<usize>(((bd & BD_BLOCK_MAX_MASK) >> BD_BLOCK_MAX_SHIFT) << 1) + 8);
}

/**
 * Decompresses one or more concatenated LZ4 frames (skippable frames are skipped) written by
 * any conforming encoder, e.g. the `lz4` CLI: independent or linked blocks, stored blocks, block
 * checksums, content checksum and content size are all verified. Untrusted input is fine.
 *
 * @returns the total decoded size; LZ4_ERR_TRUNCATED, LZ4_ERR_MALFORMED, LZ4_ERR_BAD_OFFSET,
 *          LZ4_ERR_BAD_MAGIC, LZ4_ERR_CHECKSUM, LZ4_ERR_UNSUPPORTED (legacy frames, dictionary
 *          ids, other versions), LZ4_ERR_OUTPUT_TOO_SMALL or LZ4_ERR_BAD_ARGUMENT. Never reads
 *          outside [src, src + srcLen) nor writes outside [dst, dst + dstCap).
 */
export function lz4DecompressFrame(src: usize, srcLen: u32, dst: usize, dstCap: u32): i32 {
  if (!inMemory(src, srcLen) || !inMemory(dst, dstCap)) return LZ4_ERR_BAD_ARGUMENT;
  let p = src;
  const end = src + <usize>srcLen;
  let out = dst;
  const oend = dst + <usize>minU32(dstCap, I32_MAX);
  if (srcLen == 0) return LZ4_ERR_TRUNCATED;

  while (p < end) {
    if (end - p < MAGIC_BYTES) return LZ4_ERR_TRUNCATED;
    const magic = load<u32>(p);
    if ((magic & SKIPPABLE_MASK) == SKIPPABLE_MAGIC) {
      if (end - p < MAGIC_BYTES + 4) return LZ4_ERR_TRUNCATED;
      const skip = <usize>load<u32>(p, 4);
      if (skip > end - p - MAGIC_BYTES - 4) return LZ4_ERR_TRUNCATED;
      p += MAGIC_BYTES + 4 + skip;
      continue;
    }
    if (magic == LEGACY_MAGIC) return LZ4_ERR_UNSUPPORTED;
    if (magic != FRAME_MAGIC) return LZ4_ERR_BAD_MAGIC;
    const headerLen = frameHeaderBytes(p, end - p);
    if (headerLen < 0) return headerLen;
    const flg = <u32>load<u8>(p, 4);
    const blockMax = blockMaxFromBd(<u32>load<u8>(p, 5));
    const independent = (flg & FLG_BLOCK_INDEPENDENT) != 0;
    const trailer: usize = (flg & FLG_BLOCK_CHECKSUM) != 0 ? CHECKSUM_BYTES : 0;
    const hasSize = (flg & FLG_CONTENT_SIZE) != 0;
    const contentSize: u64 = hasSize ? load<u64>(p, 6) : 0;
    if (hasSize && contentSize > <u64>(oend - out)) return LZ4_ERR_OUTPUT_TOO_SMALL;
    p += <usize>headerLen;
    const frameStart = out;

    while (true) {
      if (end - p < BLOCK_HEADER_BYTES) return LZ4_ERR_TRUNCATED;
      const word = load<u32>(p);
      p += BLOCK_HEADER_BYTES;
      if (word == 0) break; // EndMark
      const len = <usize>(word & ~BLOCK_UNCOMPRESSED_BIT);
      if (len > blockMax) return LZ4_ERR_MALFORMED;
      if (len > end - p || trailer > end - p - len) return LZ4_ERR_TRUNCATED;
      if (trailer != 0 && xxh32(p, len, 0) != load<u32>(p + len)) return LZ4_ERR_CHECKSUM;
      const room = oend - out;
      if ((word & BLOCK_UNCOMPRESSED_BIT) != 0) {
        if (len > room) return LZ4_ERR_OUTPUT_TOO_SMALL;
        memory.copy(out, p, len);
        out += len;
      } else {
        const cap = room < blockMax ? room : blockMax;
        const n = decodeBlock(p, len, independent ? out : frameStart, out, cap);
        if (n < 0) {
          // Running out of the block max (not of dst) means the block is oversized.
          return n == LZ4_ERR_OUTPUT_TOO_SMALL && cap == blockMax && room > blockMax ? LZ4_ERR_MALFORMED : n;
        }
        out += <usize>n;
      }
      p += len + trailer;
    }

    if ((flg & FLG_CONTENT_CHECKSUM) != 0) {
      if (end - p < CHECKSUM_BYTES) return LZ4_ERR_TRUNCATED;
      if (xxh32(frameStart, out - frameStart, 0) != load<u32>(p)) return LZ4_ERR_CHECKSUM;
      p += CHECKSUM_BYTES;
    }
    if (hasSize && <u64>(out - frameStart) != contentSize) return LZ4_ERR_MALFORMED;
  }
  return <i32>(out - dst);
}

/**
 * Declared decoded size of the frames at `src`: the sum of the content sizes of all LZ4 frames
 * (skippable frames count 0), walking block headers without decoding them.
 *
 * @returns the size (exact in f64 up to 2^53), -1 when some frame does not declare its size, or
 *          a negative status (<= -20) when the headers are invalid or cut off
 */
export function lz4FrameContentSize(src: usize, srcLen: u32): f64 {
  if (!inMemory(src, srcLen)) return <f64>LZ4_ERR_BAD_ARGUMENT;
  let p = src;
  const end = src + <usize>srcLen;
  let total: f64 = 0;
  if (srcLen == 0) return <f64>LZ4_ERR_TRUNCATED;
  while (p < end) {
    if (end - p < MAGIC_BYTES) return <f64>LZ4_ERR_TRUNCATED;
    const magic = load<u32>(p);
    if ((magic & SKIPPABLE_MASK) == SKIPPABLE_MAGIC) {
      if (end - p < MAGIC_BYTES + 4) return <f64>LZ4_ERR_TRUNCATED;
      const skip = <usize>load<u32>(p, 4);
      if (skip > end - p - MAGIC_BYTES - 4) return <f64>LZ4_ERR_TRUNCATED;
      p += MAGIC_BYTES + 4 + skip;
      continue;
    }
    if (magic == LEGACY_MAGIC) return <f64>LZ4_ERR_UNSUPPORTED;
    if (magic != FRAME_MAGIC) return <f64>LZ4_ERR_BAD_MAGIC;
    const headerLen = frameHeaderBytes(p, end - p);
    if (headerLen < 0) return <f64>headerLen;
    const flg = <u32>load<u8>(p, 4);
    if ((flg & FLG_CONTENT_SIZE) == 0) return -1;
    total += <f64>load<u64>(p, 6);
    const trailer: usize = (flg & FLG_BLOCK_CHECKSUM) != 0 ? CHECKSUM_BYTES : 0;
    p += <usize>headerLen;
    while (true) {
      if (end - p < BLOCK_HEADER_BYTES) return <f64>LZ4_ERR_TRUNCATED;
      const word = load<u32>(p);
      p += BLOCK_HEADER_BYTES;
      if (word == 0) break;
      const len = <usize>(word & ~BLOCK_UNCOMPRESSED_BIT);
      if (len > end - p || trailer > end - p - len) return <f64>LZ4_ERR_TRUNCATED;
      p += len + trailer;
    }
    if ((flg & FLG_CONTENT_CHECKSUM) != 0) {
      if (end - p < CHECKSUM_BYTES) return <f64>LZ4_ERR_TRUNCATED;
      p += CHECKSUM_BYTES;
    }
  }
  return total;
}
