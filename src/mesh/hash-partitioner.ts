/**
 * The consistent-hash partitioner: every member gets `vnodes` points on a 64-bit ring and a key
 * belongs to the member of the first point at or after its hash. The ring is built into the
 * cache's shared memory (SharedRing), so every thread attached to the cache routes a key with
 * one lookup in the WebAssembly core and no copy of the ring.
 */
import type { Cache } from '../cache/cache.js';
import { HashRing, SharedRing } from '../core/ring.js';
import type { Partitioner } from './partitioner.js';

export interface HashPartitionerOptions {
  /** Points per member on the ring. More points: a more even spread, a larger ring to rebuild. */
  vnodes: number;
}

export class HashPartitioner implements Partitioner {
  readonly kind = 'hash';
  #epoch = 0;
  #members: string[] = [];
  readonly #ring: SharedRing;
  readonly #vnodes: number;

  constructor(cache: Cache, options: HashPartitionerOptions) {
    this.#ring = SharedRing.of(cache);
    this.#vnodes = options.vnodes;
  }

  get epoch(): number {
    return this.#epoch;
  }

  ownerOf(key: Uint8Array): string | undefined {
    return this.#ring.lookup(key);
  }

  setMembers(nodeIds: readonly string[]): void {
    const next = [...new Set(nodeIds)].sort();
    if (next.length === this.#members.length && next.every((id, i) => id === this.#members[i])) return;
    this.#members = next;
    this.#ring.setNodes(next, { vnodes: this.#vnodes });
    this.#epoch++;
  }

  /** The current ownership, frozen (for rebalance hand-offs). */
  snapshot(): (key: Uint8Array) => string | undefined {
    return lazyRing(this.#members, this.#vnodes);
  }

  /** Ownership without `nodeId`: on a ring, exactly where its keys were before it joined. */
  snapshotWithout(nodeId: string): (key: Uint8Array) => string | undefined {
    return lazyRing(this.#members.filter((id) => id !== nodeId), this.#vnodes);
  }

  handleFrame(): boolean {
    return false;
  }

  describe(): Record<string, string | number> {
    return { partitioner: 'hash', vnodes: this.#vnodes, ring_points: this.#ring.size, ring_members: this.#members.length };
  }
}

/**
 * The owner lookup of a private ring over `members`, built on its first lookup: most snapshots
 * are never asked.
 */
function lazyRing(members: readonly string[], vnodes: number): (key: Uint8Array) => string | undefined {
  let ring: HashRing | null = null;
  return (key) => {
    if (ring === null) {
      ring = new HashRing({ vnodes });
      for (const m of members) ring.add(m);
    }
    return ring.lookup(key);
  };
}
