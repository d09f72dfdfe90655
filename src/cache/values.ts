/**
 * How values are typed in the core: the host's bits of an entry's flags byte say whether the
 * payload is raw bytes, UTF-8 text or the serializer's output (and whether an 8-byte fresh-until
 * time prefixes it), so every thread, worker and mesh peer decodes a payload the same way.
 */
import type { Serializer } from '../serializer.js';

/** The payload-type bits of the flags byte. */
export const TYPE_MASK = 3;
export const TYPE_BYTES = 0;
export const TYPE_STRING = 1;
export const TYPE_SERIALIZED = 2;
/** The value starts with an 8-byte fresh-until time (getOrLoad with staleWhileRevalidate). */
export const FLAG_FRESH_PREFIX = 4;
export const FRESH_PREFIX_BYTES = 8;

/** Encodes a value as the core stores it: [payload, type flags]. */
export function encodeValue(value: unknown, serializer: Serializer): [Uint8Array, number] {
  if (typeof value === 'string') return [Buffer.from(value, 'utf8'), TYPE_STRING];
  if (value instanceof Uint8Array) return [value, TYPE_BYTES];
  return [serializer.serialize(value), TYPE_SERIALIZED];
}

/** Decodes a payload of type `type` (the inverse of encodeValue). */
export function decodeValue(payload: Uint8Array, type: number, serializer: Serializer): unknown {
  if (type === TYPE_STRING) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  const b = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return type === TYPE_BYTES ? b : serializer.deserialize(b);
}
