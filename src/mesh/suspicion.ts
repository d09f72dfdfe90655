/**
 * Lifeguard's suspicion timer (memberlist's `suspicion`): how long a suspected member gets to
 * refute before it is declared dead. The timeout starts at `maxMs` and shrinks logarithmically
 * towards `minMs` with every independent confirmation (a Suspect for the same member and
 * incarnation from another node):
 * ```
 *   timeout(c) = max(minMs, maxMs − (maxMs − minMs) × ln(c + 1) / ln(k + 1))
 * ```
 * where c is the number of confirmations so far and k the number expected. A node that suspects
 * alone (maybe because it is the sick one) waits the longest; once k others agree it waits `minMs`.
 *
 * Invariants: the timer fires at most once; a node confirms at most once, and the node that raised
 * the suspicion never confirms it; the deadline only ever moves earlier.
 */
import type { Milliseconds } from '../config.js';
import { REAL_CLOCK, type Clock, type ClockTimer } from './clock.js';

/**
 * The shortest suspicion timeout, reached with k confirmations:
 * suspicionMult × max(1, log10(max(1, n))) × probeIntervalMs, where n is the number of live members.
 * The log term makes a large mesh wait longer, since its gossip takes longer to reach everyone.
 */
export function suspicionMinTimeoutMs(suspicionMult: number, n: number, probeIntervalMs: Milliseconds): Milliseconds {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(suspicionMult * nodeScale * probeIntervalMs);
}

/**
 * The suspicion timeout after `confirmations` independent confirmations out of `k` expected.
 * k < 1 means no confirmations are expected: the timeout is `minMs` from the start.
 */
export function suspicionTimeoutMs(confirmations: number, k: number, minMs: Milliseconds, maxMs: Milliseconds): Milliseconds {
  if (k < 1) return minMs;
  const fraction = Math.log(confirmations + 1) / Math.log(k + 1);
  const raw = Math.floor(maxMs - fraction * (maxMs - minMs));
  return Math.max(minMs, raw);
}

/** What a `Suspicion` needs. */
export interface SuspicionOptions {
  /** The node that raised the suspicion: its later Suspects do not count as confirmations. */
  from: string;
  /** Confirmations expected (suspicionMult − 2, or 0 in a mesh too small to give them). */
  k: number;
  /** Timeout with k confirmations. */
  minMs: Milliseconds;
  /** Timeout with none. */
  maxMs: Milliseconds;
  /** Called once, when the timeout expires (not after `cancel`). */
  onTimeout: (confirmations: number) => void;
  /** The clock the deadline is kept and the timer armed on. @default REAL_CLOCK */
  clock?: Clock;
}

/** One member's suspicion timer. Starts on construction. */
export class Suspicion {
  readonly #confirmedBy = new Set<string>();
  readonly #k: number;
  readonly #minMs: Milliseconds;
  readonly #maxMs: Milliseconds;
  readonly #startedAt: number;
  readonly #clock: Clock;
  readonly #onTimeout: (confirmations: number) => void;
  #timer: ClockTimer;
  #timeoutMs: Milliseconds;
  #done = false;

  constructor(options: SuspicionOptions) {
    this.#k = options.k;
    this.#minMs = options.minMs;
    this.#maxMs = Math.max(options.minMs, options.maxMs);
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#onTimeout = options.onTimeout;
    // The suspector itself is recorded so that its repeated gossip is never taken for agreement.
    this.#confirmedBy.add(options.from);
    this.#startedAt = this.#clock.now();
    this.#timeoutMs = suspicionTimeoutMs(0, this.#k, this.#minMs, this.#maxMs);
    this.#arm(this.#timeoutMs);
  }

  /** Independent confirmations received so far. */
  get confirmations(): number {
    return this.#confirmedBy.size - 1;
  }

  /** The whole timeout as it stands now (from the start of the suspicion). */
  get timeoutMs(): Milliseconds {
    return this.#timeoutMs;
  }

  /** Time left before the member is declared dead (0 once fired or cancelled). */
  remainingMs(): Milliseconds {
    if (this.#done) return 0;
    return Math.max(0, this.#timeoutMs - (this.#clock.now() - this.#startedAt));
  }

  /**
   * Records a Suspect for the same member and incarnation from `from`. Returns true when it was a
   * new, independent confirmation (and the deadline moved earlier), false for a repeat, for the
   * original suspector, once k confirmations were already counted, or after the timer ended.
   */
  confirm(from: string): boolean {
    if (this.#done || this.confirmations >= this.#k || this.#confirmedBy.has(from)) return false;
    this.#confirmedBy.add(from);
    this.#timeoutMs = suspicionTimeoutMs(this.confirmations, this.#k, this.#minMs, this.#maxMs);
    this.#clock.clearTimeout(this.#timer);
    this.#arm(Math.max(0, this.#timeoutMs - (this.#clock.now() - this.#startedAt)));
    return true;
  }

  /** Stops the timer (the member refuted, or the node stops); `onTimeout` will not be called. */
  cancel(): void {
    this.#done = true;
    this.#clock.clearTimeout(this.#timer);
  }

  #arm(delayMs: Milliseconds): void {
    this.#timer = this.#clock.setTimeout(() => {
      if (this.#done) return;
      this.#done = true;
      this.#onTimeout(this.confirmations);
    }, delayMs);
  }
}
