/**
 * Lifeguard local health ("awareness", as memberlist calls it): a score of how much this node
 * itself seems to be struggling. Failed probes and missed Nacks raise it, successful probes lower
 * it; probe interval and timeout are multiplied by score + 1, so a node that is slow (a stalled
 * event loop, a saturated link) waits longer before it blames others.
 *
 * Invariant: 0 ≤ score ≤ maxMultiplier − 1, an integer.
 */
import type { Milliseconds } from '../config.js';

/** A node's local health score (0 = healthy). */
export class Awareness {
  readonly #maxMultiplier: number;
  #score = 0;

  /**
   * @param maxMultiplier the most probe timeouts are ever multiplied by; the score runs
   *   0..maxMultiplier − 1. 1 disables awareness (the score stays 0).
   */
  constructor(maxMultiplier: number) {
    if (!Number.isInteger(maxMultiplier) || maxMultiplier < 1) {
      throw new RangeError('maxMultiplier must be a positive integer');
    }
    this.#maxMultiplier = maxMultiplier;
  }

  /** The current score, 0 (healthy) to maxMultiplier − 1. */
  get score(): number {
    return this.#score;
  }

  /** Adds `delta` (negative to lower) and clamps the score to its bounds. */
  applyDelta(delta: number): void {
    const next = this.#score + Math.trunc(delta);
    this.#score = Math.min(this.#maxMultiplier - 1, Math.max(0, next));
  }

  /** `ms` multiplied by score + 1: what a probe timeout or interval becomes at this health. */
  scale(ms: Milliseconds): Milliseconds {
    return ms * (this.#score + 1);
  }
}
