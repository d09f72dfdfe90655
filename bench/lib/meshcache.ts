/**
 * Loads meshcache's `Cache` for the benches, or says clearly why it cannot.
 *
 * The benches import it dynamically so that they still run their peers (`--peers-only`) while
 * `src/` or `build/core.wasm` do not exist yet. The interfaces below are the subset of the public
 * API the benches use; they are declared here so that the bench files type-check on their own.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface MeshcacheOptions {
  maxMemory?: number | string;
  maxEntries?: number;
  shards?: number;
  ttl?: number;
  maxKeyBytes?: number;
  maxValueBytes?: number;
}

export interface MeshcacheStats {
  hits: number;
  misses: number;
  hitRatio: number;
  sets: number;
  deletes: number;
  evictions: number;
  expirations: number;
  entries: number;
  /** Bytes of live entries. */
  bytes: number;
  budget: number;
  /** Size of the WebAssembly.Memory. */
  memoryBytes: number;
  /** Arena bytes in use, entry headers included (present in the current src/). */
  usedBytes?: number;
  /** Arena bytes reserved by the shards (present in the current src/). */
  reservedBytes?: number;
  shards: Array<{ entries: number; bytes: number }>;
}

export interface Meshcache {
  get(key: string | Uint8Array): unknown;
  set(key: string | Uint8Array, value: unknown, options?: { ttl?: number }): unknown;
  has(key: string | Uint8Array): boolean;
  delete(key: string | Uint8Array): boolean;
  clear(): void;
  readonly size: number;
  stats(): MeshcacheStats;
  close(): void;
}

export type MeshcacheClass = new (options?: MeshcacheOptions) => Meshcache;

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INDEX = new URL('../../src/index.ts', import.meta.url);
const WASM = new URL('../../build/core.wasm', import.meta.url);

/** True when the bench was asked to skip meshcache and run only its peers. */
export const PEERS_ONLY = process.argv.includes('--peers-only');

/** Why meshcache cannot be loaded, or `undefined` when it can. */
export function meshcacheMissing(): string | undefined {
  if (!existsSync(INDEX)) return 'src/index.ts does not exist yet';
  if (!existsSync(WASM)) return 'build/core.wasm is missing: run `npm run build:wasm` first';
  return undefined;
}

/** The `Cache` class from src/index.ts; throws with the reason when it is not available. */
export async function loadMeshcache(): Promise<MeshcacheClass> {
  const missing = meshcacheMissing();
  if (missing) throw new Error(`meshcache is not available: ${missing} (or pass --peers-only)`);
  const mod = (await import(INDEX.href)) as { Cache?: MeshcacheClass };
  if (typeof mod.Cache !== 'function') throw new Error('src/index.ts does not export a Cache class');
  return mod.Cache;
}
