/**
 * Keys and values shared by the benches.
 *
 * Keys are 20 ASCII bytes: a 5-byte prefix and a 15-digit zero-padded id (`user:000000000001234`).
 * They come in the two shapes V8 gives a server's keys, which cost lookups differently:
 *  - parsed: flat strings sliced out of bytes, as a protocol parser makes them, distinct objects from
 *    the strings the entries were inserted with, so a lookup compares contents, never pointers;
 *  - `concat`: `'user:' + id` built by concatenation, which V8 represents as a rope (ConsString)
 *    until something flattens it.
 * Values are 100-byte Buffers (pool slices, as `Buffer.allocUnsafe` gives) or 100-char strings.
 */
import { mulberry32 } from './random.js';

/** Bytes of every key made here. */
export const KEY_BYTES = 20;
/** Bytes (or one-byte chars) of every value made here. */
export const VALUE_BYTES = 100;

const DIGITS = KEY_BYTES - 5;

/** The id part of a key: 15 decimal digits. */
export function idDigits(id: number): string {
  return String(id).padStart(DIGITS, '0');
}

/** A key made by concatenation: a rope in V8. `prefix` must be 5 chars. */
export function concatKey(id: number, prefix = 'user:'): string {
  return prefix + idDigits(id);
}

const scratch = Buffer.alloc(KEY_BYTES);

/**
 * A key as a parser makes it: a new flat string sliced out of bytes (`buf.toString('latin1', …)`,
 * what a protocol parser does), with no hash cached in it yet.
 */
export function parsedKey(id: number, prefix = 'user:'): string {
  scratch.write(prefix, 0, 'latin1');
  for (let at = KEY_BYTES - 1; at >= 5; at--) {
    scratch[at] = 48 + (id % 10);
    id = Math.floor(id / 10);
  }
  return scratch.toString('latin1', 0, KEY_BYTES);
}

/** Keys for `ids`, in that order, as flat parser-made strings. */
export function freshKeys(ids: ArrayLike<number>, prefix = 'user:'): string[] {
  const out: string[] = new Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = parsedKey(ids[i], prefix);
  return out;
}

/** The keys for `ids` laid end to end in one Buffer, for parsing at lookup time. */
export function keyBytes(ids: ArrayLike<number>, prefix = 'user:'): Buffer {
  const out = Buffer.allocUnsafe(ids.length * KEY_BYTES);
  for (let i = 0; i < ids.length; i++) out.write(parsedKey(ids[i], prefix), i * KEY_BYTES, 'latin1');
  return out;
}

/** Keys for `ids`, in that order, each built as `prefix + digits`. */
export function concatKeys(ids: ArrayLike<number>, prefix = 'user:'): string[] {
  const out: string[] = new Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = concatKey(ids[i], prefix);
  return out;
}

/** 64 KiB of seeded random printable ASCII that values are cut from. */
const SOURCE: Buffer = (() => {
  const random = mulberry32(0xc0ffee);
  const b = Buffer.allocUnsafe(1 << 16);
  for (let i = 0; i < b.length; i++) b[i] = 33 + Math.floor(random() * 94);
  return b;
})();

function sourceOffset(seq: number): number {
  return (Math.imul(seq, 2654435761) >>> 0) % (SOURCE.length - VALUE_BYTES);
}

/** A new 100-byte Buffer (a slice of Node's 8 KiB pool, like most small Buffers), content from `seq`. */
export function bufferValue(seq: number): Buffer {
  const b = Buffer.allocUnsafe(VALUE_BYTES);
  const at = sourceOffset(seq);
  SOURCE.copy(b, 0, at, at + VALUE_BYTES);
  return b;
}

/** A new flat 100-char one-byte string, content from `seq`. */
export function stringValue(seq: number): string {
  const at = sourceOffset(seq);
  return SOURCE.toString('latin1', at, at + VALUE_BYTES);
}

export type ValueKind = 'buffer' | 'string';

/** A value maker for the given kind. */
export function valueMaker(kind: ValueKind): (seq: number) => Buffer | string {
  return kind === 'buffer' ? bufferValue : stringValue;
}
