/**
 * Serializers turn values that are not strings or bytes into bytes. The default is msgpackr with
 * structured cloning (Maps, Sets, Dates, typed arrays, Errors, cycles). Its record definitions are
 * written inline in each message (no `structures` are shared), so any thread, with its own Packr,
 * decodes what another wrote — test/cache/cache.test.ts checks this with two Packr instances.
 */
import { Packr } from 'msgpackr';

/** Turns a value into bytes and back. Both functions must be pure and thread-independent. */
export interface Serializer {
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

const packr = new Packr({ structuredClone: true });

/** msgpackr: objects, arrays, numbers, bigints, Dates, Maps, Sets, typed arrays, Errors, cycles. */
export const msgpackSerializer: Serializer = {
  serialize: (value) => packr.pack(value),
  deserialize: (bytes) => packr.unpack(bytes),
};
