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
