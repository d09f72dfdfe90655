/**
 * The one seeded PRNG of the tests and benches: mulberry32 (32-bit state, period 2^32), so that
 * a failing fuzz or workload run replays from the seed it printed. Not for cryptography.
 *
 * The recorded seeds (FUZZ_SEED, MESH_FUZZ_SEED, the fixed seeds in tests and benches) name
 * sequences of this exact algorithm: changing it changes every one of them.
 */

/** A generator of floats in [0, 1) from `seed` (any number; only its low 32 bits count). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` bytes drawn from `rand` (incompressible test data). */
export function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 256) | 0;
  return out;
}
