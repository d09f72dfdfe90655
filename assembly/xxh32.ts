/**
 * xxHash32 (XXH32) over raw memory, one-shot.
 *
 * The LZ4 frame format uses XXH32 with seed 0 for its header checksum byte, its optional
 * per-block checksums and its optional content checksum, so this must match the reference
 * algorithm bit for bit (test vector: XXH32 of the empty input with seed 0 is 0x02CC5D05).
 *
 * Algorithm: inputs of 16 bytes or more run four independent accumulators over 16-byte stripes
 * (`round`), which are then merged; the tail is folded in 4 bytes, then 1 byte at a time, and the
 * result goes through a final avalanche. All loads are little-endian, as WebAssembly's are.
 *
 * Invariant: reads only [ptr, ptr + len); no state outside the call (safe from any thread).
 */

/** Prime constants of the reference algorithm. */
const PRIME32_1: u32 = 0x9E3779B1;
const PRIME32_2: u32 = 0x85EBCA77;
const PRIME32_3: u32 = 0xC2B2AE3D;
const PRIME32_4: u32 = 0x27D4EB2F;
const PRIME32_5: u32 = 0x165667B1;

/** Size of one stripe consumed by the four accumulators. */
const XXH32_STRIPE_BYTES: usize = 16;

/** One accumulator step: acc' = rotl(acc + lane * P2, 13) * P1. */
// @ts-ignore: decorator
@inline function xxh32Round(acc: u32, lane: u32): u32 {
  return rotl<u32>(acc + lane * PRIME32_2, 13) * PRIME32_1;
}

/** Final mixing so that every input bit affects every output bit. */
// @ts-ignore: decorator
@inline function xxh32Avalanche(h: u32): u32 {
  h ^= h >> 15;
  h *= PRIME32_2;
  h ^= h >> 13;
  h *= PRIME32_3;
  h ^= h >> 16;
  return h;
}

/**
 * XXH32 of the `len` bytes at `ptr`, with `seed`.
 *
 * @param ptr  byte offset of the input in linear memory; [ptr, ptr + len) must lie inside it
 *             (not checked: a hash has no error value to return)
 * @param len  input length in bytes
 * @param seed the hash seed (LZ4 frames use 0)
 * @returns the 32-bit hash
 */
export function xxh32(ptr: usize, len: usize, seed: u32): u32 {
  let p = ptr;
  const end = ptr + len;
  let h: u32;
  if (len >= XXH32_STRIPE_BYTES) {
    let v1 = seed + PRIME32_1 + PRIME32_2;
    let v2 = seed + PRIME32_2;
    let v3 = seed;
    let v4 = seed - PRIME32_1;
    // Last stripe start: p may advance while p <= stripeLimit.
    const stripeLimit = end - XXH32_STRIPE_BYTES;
    do {
      v1 = xxh32Round(v1, load<u32>(p));
      v2 = xxh32Round(v2, load<u32>(p, 4));
      v3 = xxh32Round(v3, load<u32>(p, 8));
      v4 = xxh32Round(v4, load<u32>(p, 12));
      p += XXH32_STRIPE_BYTES;
    } while (p <= stripeLimit);
    h = rotl<u32>(v1, 1) + rotl<u32>(v2, 7) + rotl<u32>(v3, 12) + rotl<u32>(v4, 18);
  } else {
    h = seed + PRIME32_5;
  }
  h += <u32>len;
  while (end - p >= 4) {
    h += load<u32>(p) * PRIME32_3;
    h = rotl<u32>(h, 17) * PRIME32_4;
    p += 4;
  }
  while (p < end) {
    h += <u32>load<u8>(p) * PRIME32_5;
    h = rotl<u32>(h, 11) * PRIME32_1;
    p++;
  }
  return xxh32Avalanche(h);
}
