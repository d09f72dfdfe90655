/**
 * V8's collector, run on demand without `--expose-gc`. Node's Buffers and the ArrayBuffers behind
 * them are freed only when V8 collects their JS objects, and V8 schedules that by its own heap:
 * after a client that held 160 MiB of input goes, an idle server's heap of a few tens of MiB gives
 * V8 no reason to collect (measured: nothing within 10 s after a 1.6 GiB MGET), so neither glibc nor
 * malloc_trim has anything to give back until it does. The collector is taken from a context made
 * while `--expose-gc` is briefly on: the flag goes off again at once, so that no other context or
 * worker thread gains a `gc` global.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

/**
 * Runs a full, blocking collection of this thread's V8 heap (a few ms to tens of ms: the cache's
 * data lives outside it, in WebAssembly memory), so that the Buffers nothing refers to any more
 * are freed now. False when the collector could not be had (then nothing ran). Never throws.
 */
export function collectGarbage(): boolean {
  if (gc === undefined) {
    const exposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
    try {
      if (exposed) {
        gc = (globalThis as unknown as { gc: () => void }).gc;
      } else {
        setFlagsFromString('--expose-gc');
        try {
          gc = runInNewContext('gc') as () => void;
        } finally {
          setFlagsFromString('--no-expose-gc');
        }
      }
      if (typeof gc !== 'function') gc = null;
    } catch {
      gc = null; // no collector on demand: V8 collects on its own schedule, as without this module
    }
  }
  if (gc === null) return false;
  gc();
  return true;
}
