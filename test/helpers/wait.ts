/**
 * Waiting in tests: a plain delay, and polling a condition until it holds or a deadline passes.
 * Every wait here is bounded; a test that waits for something the code under test must make
 * happen uses `waitFor` (which throws, naming what it waited for) rather than a fixed `sleep`.
 */
import { setTimeout as delay } from 'node:timers/promises';

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return delay(ms);
}

/** How long `waitFor` / `pollUntil` wait, and how often they look. */
export interface PollOptions {
  /** Give up after this many milliseconds. @default 5000 */
  timeoutMs?: number;
  /** Milliseconds between two checks. @default 10 */
  intervalMs?: number;
}

/** `PollOptions` plus what is awaited, for the timeout message. */
export interface WaitOptions extends PollOptions {
  /**
   * What the test waits for, as it reads after "waiting for" (`'the server to close'`); a function
   * is called only on timeout, so the message can show the state at that moment.
   */
  what: string | (() => string);
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_INTERVAL_MS = 10;

/**
 * Checks `check` at once, then every `intervalMs`, until it returns true (or a promise of true).
 * Resolves with the elapsed milliseconds; rejects with `timed out after <timeoutMs> ms waiting
 * for <what>` once `timeoutMs` has passed without it holding.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, options: WaitOptions): Promise<number> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = performance.now();
  if (await pollUntil(check, options)) return performance.now() - started;
  const what = typeof options.what === 'function' ? options.what() : options.what;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Like `waitFor`, but resolves false instead of throwing when `timeoutMs` passes: for tests that
 * wait a bounded time and then assert on the state they find, whatever it is.
 */
export async function pollUntil(check: () => boolean | Promise<boolean>, options: PollOptions = {}): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(intervalMs);
  }
}
