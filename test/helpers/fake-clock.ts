/**
 * A `Clock` (src/mesh/clock.ts; its now() also serves as a cache's CacheOptions.clock) that moves only when told: `advance(ms)` runs, in deadline order,
 * every timer due by then, each seeing `now()` at its own deadline. Lets a test assert the exact
 * moment a timer fires instead of a wall-clock window.
 */
import type { Clock, ClockTimer } from '../../src/mesh/clock.js';

interface Pending { id: number; at: number; fn: () => void }

export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, Pending>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, delayMs: number): ClockTimer {
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, delayMs), fn });
    return id;
  }

  clearTimeout(timer: ClockTimer): void {
    this.#timers.delete(timer as number);
  }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer due on the way (ties in arming order). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const t of this.#timers.values()) if (t.at <= end && (next === undefined || t.at < next.at)) next = t;
      if (next === undefined) break;
      this.#timers.delete(next.id);
      this.#now = next.at;
      next.fn();
    }
    this.#now = end;
  }
}
