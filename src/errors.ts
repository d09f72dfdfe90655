/**
 * Errors thrown by meshcache. A caller's mistake throws at once: `TypeError` for a wrong type,
 * `RangeError` for a bad value; both carry a stable `code` where a program may want to react.
 */

/** Stable error codes carried by errors that meshcache throws. */
export type ErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_KEY'
  | 'ERR_KEY_TOO_LARGE'
  | 'ERR_VALUE_TOO_LARGE'
  | 'ERR_INVALID_TTL'
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_CACHE_CLOSED'
  | 'ERR_INVALID_HANDLE'
  | 'ERR_NO_THREAD_SLOT'
  | 'ERR_LOCK_TIMEOUT'
  | 'ERR_SNAPSHOT_CORRUPT'
  | 'ERR_WORKER'
  | 'ERR_CORE'
  | 'ERR_MESH_REMOTE';

/** An Error with a stable `code`. */
export class CacheError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'CacheError';
    this.code = code;
  }
}

/** A RangeError carrying a stable `code`. */
export function rangeError(code: ErrorCode, message: string): RangeError & { code: ErrorCode } {
  return Object.assign(new RangeError(message), { code });
}

/** A TypeError carrying a stable `code`. */
export function typeError(code: ErrorCode, message: string): TypeError & { code: ErrorCode } {
  return Object.assign(new TypeError(message), { code });
}
