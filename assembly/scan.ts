// Cursor iteration over one shard (SCAN): records are copied into the calling thread's scratch
// area under the shard lock, a home slot at a time, in reverse-binary cursor order (as Redis's
// SCAN walks its table), so that a cursor stays valid while the index doubles between calls.
//
// Scan record (SCAN_RECORD_HEADER bytes, then the key, then the stored value when asked for):
//   +0 key length u16 · +2 flags u8 (the host's bits) · +3 0 u8 · +4 value length u32
//   +8 expires at u64 (ms since the Unix epoch; 0 = never)

import {
  S_CAP, S_CTRL, T_RESULT, E_HASH, E_KEY_LEN, E_VALUE_LEN, E_FLAGS, E_EXPIRES, FLAGS_HOST_MASK,
  shardAt, entryKey, entryValue,
} from "./layout";
import { ST_BAD_CONFIG, ST_LOCK_TIMEOUT, ST_SCRATCH } from "./status";
import { lockShard, unlockShard } from "./lock";
import { tid, scratch, scratchCap, slotPtr, shardMask, ctrlAt, slotAt, isExpired } from "./table";

// @ts-ignore: decorator
@inline function reverseBits(v: u32): u32 {
  v = ((v >> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >> 4) & 0x0F0F0F0F) | ((v & 0x0F0F0F0F) << 4);
  return bswap<u32>(v);
}

/** Bytes of a scan record's header: key length u16, flags u8, 0 u8, value length u32, expiry u64. */
export const SCAN_RECORD_HEADER: u32 = 16;

/**
 * Copies entries of one shard into scratch as records (header, key, then the stored value when
 * `withValues`), walking home slots in reverse-binary cursor order (as Redis's SCAN does): every
 * key present for the whole of a scan is returned at least once even if the index grows between
 * calls, and entries shifted by deletions keep their home slot. Stops after `maxRecords` or when
 * scratch is full. Returns the record count; the next cursor (0 = shard done) goes to the result
 * word. ST_SCRATCH (needed size in the result word) when one home slot's records do not fit.
 */
export function scan(shard: u32, cursor: u32, maxRecords: u32, withValues: u32, now: f64): i32 {
  if (shard > shardMask) return ST_BAD_CONFIG;
  const s = shardAt(shard);
  const t = <u64>now;
  if (!lockShard(s, tid)) return ST_LOCK_TIMEOUT;
  const cap = load<u32>(s + S_CAP);
  if (!cap) {
    unlockShard(s);
    store<u32>(slotPtr + T_RESULT, 0);
    return 0;
  }
  const mask = cap - 1;
  const index = <usize>load<u32>(s + S_CTRL);
  let v = cursor;
  let out: u64 = 0;
  let records: u32 = 0;
  do {
    const home = v & mask;
    // Size of this home slot's records first: a home slot is emitted whole or not at all.
    let need: u64 = 0;
    let n: u32 = 0;
    let i = home;
    for (let k: u32 = 0; k < cap && load<u8>(ctrlAt(index, i)); k++) {
      const e = <usize>load<u32>(slotAt(index, i));
      if ((load<u32>(e, E_HASH) & mask) == home && !isExpired(e, t)) {
        need += <u64>SCAN_RECORD_HEADER + <u64>load<u16>(e, E_KEY_LEN) + (withValues ? <u64>load<u32>(e, E_VALUE_LEN) : 0);
        n++;
      }
      i = (i + 1) & mask;
    }
    if (n) {
      if (out + need > <u64>scratchCap || (records && records + n > maxRecords)) {
        if (!records) {
          store<u32>(slotPtr + T_RESULT, need > 0xFFFFFFF0 ? 0xFFFFFFF0 : <u32>need);
          unlockShard(s);
          return ST_SCRATCH;
        }
        break;
      }
      i = home;
      for (let k: u32 = 0; k < cap && load<u8>(ctrlAt(index, i)); k++) {
        const e = <usize>load<u32>(slotAt(index, i));
        if ((load<u32>(e, E_HASH) & mask) == home && !isExpired(e, t)) {
          const p = scratch + <usize>out;
          const keyLen = <u32>load<u16>(e, E_KEY_LEN);
          const valueLen = load<u32>(e, E_VALUE_LEN);
          store<u16>(p, <u16>keyLen);
          store<u8>(p, load<u8>(e, E_FLAGS) & <u8>FLAGS_HOST_MASK, 2);
          store<u8>(p, 0, 3);
          store<u32>(p, valueLen, 4);
          store<u64>(p, load<u64>(e, E_EXPIRES), 8);
          memory.copy(p + SCAN_RECORD_HEADER, entryKey(e), keyLen);
          out += <u64>SCAN_RECORD_HEADER + <u64>keyLen;
          if (withValues) {
            memory.copy(scratch + <usize>out, entryValue(e), valueLen);
            out += <u64>valueLen;
          }
        }
        i = (i + 1) & mask;
      }
      records += n;
    }
    v |= ~mask;
    v = reverseBits(v);
    v++;
    v = reverseBits(v);
  } while (v != 0 && records < maxRecords);
  unlockShard(s);
  store<u32>(slotPtr + T_RESULT, v);
  return <i32>records;
}
