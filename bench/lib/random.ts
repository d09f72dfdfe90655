/**
 * Seeded randomness for the benches: a small PRNG, a Fisher–Yates shuffle and a Zipf sampler.
 *
 * Every bench draws from a fixed seed so that two runs (and two caches within one run) see the
 * same key sequence. The Zipf sampler precomputes the CDF over n ranks once (8 bytes per rank)
 * and samples by binary search: exact, O(log n) per draw, simple to check.
 */

/** mulberry32: the tests' seeded PRNG (test/helpers/prng.ts), one copy for tests and benches. */
export { prng as mulberry32 } from '../../test/helpers/prng.js';

/** Shuffles `items` in place (Fisher–Yates) with the given PRNG and returns it. */
export function shuffle<T extends { length: number; [i: number]: unknown }>(items: T, random: () => number): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}

/** Returns `[0, 1, …, n-1]` in a random order. */
export function permutation(n: number, random: () => number): Uint32Array {
  const ids = new Uint32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  return shuffle(ids, random);
}

/**
 * Zipf(alpha) over ranks 0..n-1: P(rank k) ∝ 1 / (k+1)^alpha, rank 0 the most popular.
 * Precomputed CDF + binary search.
 */
export class ZipfSampler {
  private readonly cdf: Float64Array;

  constructor(readonly n: number, readonly alpha: number, private readonly random: () => number) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) {
      sum += 1 / Math.pow(k + 1, alpha);
      this.cdf[k] = sum;
    }
    for (let k = 0; k < n; k++) this.cdf[k] /= sum;
  }

  /** One rank in 0..n-1. */
  next(): number {
    const u = this.random();
    const cdf = this.cdf;
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `count` ranks drawn in advance, so that sampling cost stays out of timed loops. */
  sample(count: number): Uint32Array {
    const out = new Uint32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.next();
    return out;
  }
}
