/**
 * The clock the mesh's timers run on: a monotonic `now()` and one-shot timers. Injectable, so that
 * a test drives time by hand (test/helpers/fake-clock.ts) and asserts exact deadlines instead of
 * wall-clock windows; `REAL_CLOCK` (performance.now and unref'd Node timers) otherwise.
 */
import type { Milliseconds } from '../config.js';
import { typeError } from '../errors.js';

/** A timer a `Clock` armed; only that clock's `clearTimeout` understands it. */
export type ClockTimer = unknown;

/** Monotonic time and one-shot timers. */
export interface Clock {
  /** Monotonic time in ms (any origin: only differences mean something). */
  now(): Milliseconds;
  /** Calls `fn` once after `delayMs`. A real timer never keeps the process alive. */
  setTimeout(fn: () => void, delayMs: Milliseconds): ClockTimer;
  /** Stops a timer of this clock; undefined or an expired timer is ignored. */
  clearTimeout(timer: ClockTimer): void;
}

/** performance.now() and Node's timers, unref'd. */
export const REAL_CLOCK: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, delayMs: Milliseconds): ClockTimer => setTimeout(fn, delayMs).unref(),
  clearTimeout: (timer: ClockTimer) => clearTimeout(timer as NodeJS.Timeout | undefined),
});

/** Checks an optional `clock` option (`name` for the message); REAL_CLOCK when it is undefined. */
export function checkClock(clock: unknown, name = 'options.mesh.clock'): Clock {
  if (clock === undefined) return REAL_CLOCK;
  const c = clock as Partial<Clock> | null;
  if (c === null || typeof c !== 'object' || typeof c.now !== 'function' || typeof c.setTimeout !== 'function' || typeof c.clearTimeout !== 'function') {
    throw typeError('ERR_INVALID_OPTION', `${name} must have now(), setTimeout() and clearTimeout()`);
  }
  return c as Clock;
}
