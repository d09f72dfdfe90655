/**
 * Where values read from the cache land on the JS heap. Allocating a fresh ArrayBuffer costs
 * ~1 µs on this machine and `Buffer.allocUnsafe` + `copy` ~90 ns, so small results are carved
 * from a per-thread pool (like Node's own Buffer pool, but larger so that its allocation is
 * amortised over hundreds of values) and returned as Buffers viewing it. As with Node's pooled
 * Buffers, a value kept for long keeps its pool alive: copy it if you keep many small values.
 */

/** Bytes of one pool. */
const POOL_BYTES = 32 * 1024;
/** Values at or above this size get their own allocation. */
const POOLED_MAX = 4 * 1024;

/** A Uint8Array subclass whose prototype chain includes Buffer.prototype: a real Buffer. */
class PooledBuffer extends Uint8Array {}
Object.setPrototypeOf(PooledBuffer.prototype, Buffer.prototype);

let pool = new ArrayBuffer(POOL_BYTES);
let pool8 = new Uint8Array(pool);
let offset = 0;

/** A new Buffer holding a copy of `src` (which may view shared memory). */
export function copyOut(src: Uint8Array): Buffer {
  const len = src.length;
  if (len >= POOLED_MAX) {
    const out = Buffer.allocUnsafeSlow(len);
    out.set(src);
    return out;
  }
  if (offset + len > POOL_BYTES) {
    pool = new ArrayBuffer(POOL_BYTES);
    pool8 = new Uint8Array(pool);
    offset = 0;
  }
  const at = offset;
  offset = (at + len + 7) & ~7;
  pool8.set(src, at);
  return new PooledBuffer(pool, at, len) as unknown as Buffer;
}
