/** A clock that moves only when a test says so: `now()` for CacheOptions.clock, `advance(ms)` to move it. */
export class ManualClock {
  #now: number;

  /** Starts at `startMs` (Unix ms; a fixed, realistic default so expiry arithmetic looks like production). */
  constructor(startMs = 1_750_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance takes a non-negative ms (got ${ms})`);
    this.#now += ms;
  }
}
