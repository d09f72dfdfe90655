// Status codes returned by the core. Non-negative results are lengths or counts; negative values
// are these codes. The host maps each to an error (src/errors.ts). Append-only: the numbers are
// part of the host/core contract.

/** The key is not present (or has expired). */
export const ST_MISS: i32 = -1;
/** The thread's scratch area is too small for the value; the needed size is in the thread slot. */
export const ST_SCRATCH: i32 = -2;
/** The entry cannot fit in one shard's byte budget even when the shard is empty. */
export const ST_TOO_LARGE: i32 = -3;
/** The WebAssembly memory could not grow to take the shard's next chunk. */
export const ST_NO_MEMORY: i32 = -4;
/** init() was called with parameters that do not form a valid layout. */
export const ST_BAD_CONFIG: i32 = -5;
/** Every thread slot is taken. */
export const ST_NO_THREAD_SLOT: i32 = -6;
/** The memory was laid out by another build of the core (magic or layout version differ). */
export const ST_BAD_LAYOUT: i32 = -7;
/** A shard lock could not be had within the cache's lock timeout. Nothing was changed. */
export const ST_LOCK_TIMEOUT: i32 = -8;
/** A pointer, length or stage passed to the core is out of bounds or malformed. Nothing was changed. */
export const ST_BAD_ARGUMENT: i32 = -9;
/** The shared ring's epoch is not the one the caller named: refresh what it cached and ask again. */
export const ST_STALE: i32 = -10;
/** The shared ring was republished during every one of a lookup's tries. */
export const ST_BUSY: i32 = -11;
/** A conditional set (NX / XX) did not store. Not an error. */
export const ST_NOT_STORED: i32 = 1;

/** abort hook (wired with `--use abort=...`): the core never formats messages, it only traps. */
export function onAbort(message: usize, fileName: usize, line: u32, column: u32): void {
  unreachable();
}
