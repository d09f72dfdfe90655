/**
 * Loads meshcache's optional native addon (native/, built at install by scripts/build-native.mjs)
 * and says which backend is in use and why. Every feature has a pure fallback; nothing here
 * throws on a missing or broken addon.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';

/** The addon's functions. */
export interface NativeAddon {
  /** A listening TCP socket with SO_REUSEPORT: its fd and bound port. */
  listenReusePort(host: string, port: number, backlog: number): { fd: number; port: number };
  closeFd(fd: number): void;
  /** glibc's mallopt(M_MMAP_THRESHOLD, n), once per process (later calls report the first). */
  configureMalloc(mmapThresholdBytes: number): { applied: boolean; mmapThresholdBytes: number; reason: string };
  /** glibc's malloc_trim(0): true when pages went back to the system. */
  trimMemory(): boolean;
}

export interface NativeStatus {
  /** 'native' when the addon loaded, else 'fallback'. */
  backend: 'native' | 'fallback';
  /** Why: the build outcome or the load error. */
  reason: string;
  addon: NativeAddon | null;
}

const ADDON = new URL('../../native/build/Release/meshcache_native.node', import.meta.url);
const STATUS = new URL('../../native/build/status.json', import.meta.url);

let cached: NativeStatus | undefined;

/** The addon, loaded once per thread (MESHCACHE_NATIVE=0 forces the fallback). */
export function nativeStatus(): NativeStatus {
  if (cached !== undefined) return cached;
  if (process.env.MESHCACHE_NATIVE === '0') return (cached = { backend: 'fallback', reason: 'MESHCACHE_NATIVE=0', addon: null });
  if (!existsSync(ADDON)) {
    let reason = 'the addon was not built';
    try {
      const s = JSON.parse(readFileSync(STATUS, 'utf8')) as { reason?: string };
      if (s.reason) reason += `: ${s.reason}`;
    } catch {
      reason += ' (no build status: run `npm run build:native`)';
    }
    return (cached = { backend: 'fallback', reason, addon: null });
  }
  try {
    const addon = createRequire(import.meta.url)(ADDON.pathname) as NativeAddon;
    return (cached = { backend: 'native', reason: 'native/build/Release/meshcache_native.node loaded', addon });
  } catch (err) {
    return (cached = { backend: 'fallback', reason: `the addon failed to load: ${(err as Error).message}`, addon: null });
  }
}

/**
 * glibc's mmap threshold as configureMalloc fixes it, in bytes: blocks this large and larger are
 * mmapped (and unmapped when freed), smaller ones come from malloc's arenas. 32 MiB is the most
 * glibc's dynamic threshold would reach after large frees; fixing it there from the start keeps
 * big Buffers in the arenas, where they are reused without new page faults, and keeps glibc's trim
 * threshold at 128 KiB (the dynamic rule raises it too). Measured: a 128 KiB threshold (every big
 * Buffer mmapped) served GETs of 1 MiB values at half the rate; the memory after big clients comes
 * back either way once malloc_trim runs after a collection (bench/memory-return.bench.ts).
 */
export const MALLOC_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024;

/** What configureMalloc did, and why. */
export interface MallocStatus {
  /**
   * 'native': the addon fixed glibc's mmap threshold (or found it fixed by MALLOC_MMAP_THRESHOLD_)
   * and trimMemory gives free pages back; 'fallback': malloc is left as it is.
   */
  backend: 'native' | 'fallback';
  /** The fixed mmap threshold in bytes, when one is known to be in force; null: glibc's dynamic one. */
  mmapThresholdBytes: number | null;
  reason: string;
}

let mallocStatus: MallocStatus | undefined;

/**
 * MALLOC_MMAP_THRESHOLD_ from the environment, which glibc read at start (null when unset). glibc
 * takes the leading digits, so that an empty value means 0: every block mmapped, RSS far higher.
 */
function envThreshold(): number | null {
  const v = process.env.MALLOC_MMAP_THRESHOLD_;
  return v === undefined ? null : Number(/^\d*/.exec(v)![0] || 0);
}

/**
 * Fixes glibc's mmap threshold at MALLOC_MMAP_THRESHOLD_BYTES, once per process (the setting is
 * process-wide; later calls, from any thread, report the first). Leaves it alone when
 * MALLOC_MMAP_THRESHOLD_ is set in the environment (glibc has applied that already), without the
 * addon, and on a C library other than glibc. Never throws.
 */
export function configureMalloc(): MallocStatus {
  if (mallocStatus !== undefined) return mallocStatus;
  const native = nativeStatus();
  const env = envThreshold();
  const fromEnv = env === null ? '' : `; MALLOC_MMAP_THRESHOLD_=${env} in the environment fixes glibc's mmap threshold`;
  if (native.addon === null) return (mallocStatus = { backend: 'fallback', mmapThresholdBytes: env, reason: `${native.reason}${fromEnv}` });
  if (typeof native.addon.configureMalloc !== 'function' || typeof native.addon.trimMemory !== 'function') {
    return (mallocStatus = { backend: 'fallback', mmapThresholdBytes: env, reason: `the addon was built without configureMalloc (run \`npm run build:native\`)${fromEnv}` });
  }
  if (env !== null) return (mallocStatus = { backend: 'native', mmapThresholdBytes: env, reason: `MALLOC_MMAP_THRESHOLD_=${env} in the environment, kept` });
  try {
    const r = native.addon.configureMalloc(MALLOC_MMAP_THRESHOLD_BYTES);
    return (mallocStatus = { backend: r.applied ? 'native' : 'fallback', mmapThresholdBytes: r.applied ? r.mmapThresholdBytes : null, reason: r.reason });
  } catch (err) {
    return (mallocStatus = { backend: 'fallback', mmapThresholdBytes: null, reason: `configureMalloc failed: ${(err as Error).message}` });
  }
}

/**
 * Gives the free pages of malloc's arenas back to the system (glibc's malloc_trim(0)): true when
 * some went back; false when none could, or without the addon (see configureMalloc's reason). It
 * walks every arena under its lock: call it after something large was freed, not per request.
 */
export function trimMemory(): boolean {
  const addon = nativeStatus().addon;
  return addon !== null && typeof addon.trimMemory === 'function' && addon.trimMemory();
}
