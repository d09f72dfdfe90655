/**
 * Pure-JS eviction-policy simulators, for hit-ratio comparisons only (not caches: no values).
 *
 * Each one counts capacity in entries and answers `access(key)` with hit (true) or miss (false),
 * admitting the key on a miss, which is what a cache driven by `get() ?? set()` does.
 *  - S3FIFO: Yang et al., "FIFO queues are all you need for cache eviction", SOSP '23 (the
 *    libCacheSim form: small FIFO 10 %, main FIFO 90 % with 2-bit reinsertion, ghost FIFO of 90 %).
 *  - WTinyLFU: Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache Admission Policy",
 *    ToS 2017, as Caffeine does it: 1 % window LRU, segmented-LRU main (20 % probation, 80 %
 *    protected), admission by a count-min sketch of 4-bit counters halved every 10 × capacity
 *    increments. No doorkeeper, no random admission of warm candidates.
 *  - ARC: Megiddo & Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST '03, Fig. 4,
 *    with the real-valued target p of the paper, to cross-check the reference figures.
 *
 * All keep their queues as doubly linked lists over typed arrays (`Lists`) and one Map from key to
 * node, so a policy over 32k entries runs a 13M-request trace in seconds.
 */

/** A replacement policy under simulation. */
export interface Policy {
  readonly name: string;
  /** Records one request; true on a hit. A miss admits the key (or lets the policy refuse it). */
  access(key: number): boolean;
}

/**
 * Doubly linked lists over typed arrays. Nodes 0..lists-1 are the lists' sentinels (head side is
 * the most recent); nodes after them come from a free stack. `where[n]` is the list holding n.
 */
class Lists {
  readonly prev: Int32Array;
  readonly next: Int32Array;
  readonly key: Float64Array;
  readonly where: Uint8Array;
  readonly freq: Uint8Array;
  readonly size: Int32Array;
  private readonly free: Int32Array;
  private freeTop = 0;

  constructor(nodes: number, lists: number) {
    const total = lists + nodes;
    this.prev = new Int32Array(total);
    this.next = new Int32Array(total);
    this.key = new Float64Array(total);
    this.where = new Uint8Array(total);
    this.freq = new Uint8Array(total);
    this.size = new Int32Array(lists);
    for (let l = 0; l < lists; l++) this.prev[l] = this.next[l] = l;
    this.free = new Int32Array(nodes);
    for (let n = total - 1; n >= lists; n--) this.free[this.freeTop++] = n;
  }

  alloc(key: number): number {
    if (this.freeTop === 0) throw new Error('policy simulator: node pool exhausted (a capacity bug)');
    const n = this.free[--this.freeTop];
    this.key[n] = key;
    this.freq[n] = 0;
    return n;
  }

  release(n: number): void {
    this.free[this.freeTop++] = n;
  }

  pushFront(list: number, n: number): void {
    const first = this.next[list];
    this.prev[n] = list;
    this.next[n] = first;
    this.prev[first] = n;
    this.next[list] = n;
    this.where[n] = list;
    this.size[list]++;
  }

  remove(n: number): void {
    const p = this.prev[n];
    const q = this.next[n];
    this.next[p] = q;
    this.prev[q] = p;
    this.size[this.where[n]]--;
  }

  /** The least recent node of `list`, or -1 when it is empty. */
  tail(list: number): number {
    const n = this.prev[list];
    return n === list ? -1 : n;
  }

  moveToFront(list: number, n: number): void {
    this.remove(n);
    this.pushFront(list, n);
  }
}

// ---------------------------------------------------------------------------------------------

const SMALL = 0;
const MAIN = 1;
const GHOST = 2;

/**
 * S3-FIFO. Invariant: |S| + |M| <= capacity, |G| <= ghostCapacity. A miss whose key is in G goes
 * to M, any other miss to S. Eviction takes from M when M is over its share (or S is empty),
 * else from S: the tail of S moves to M if it was hit at least `moveToMainThreshold` times while
 * in S, else it leaves to G. M is a CLOCK with a 2-bit counter: a tail with freq > 0 is put back
 * at the head with freq − 1.
 */
export class S3FIFO implements Policy {
  readonly name: string;
  private readonly lists: Lists;
  private readonly index = new Map<number, number>();
  private readonly smallCapacity: number;
  private readonly ghostCapacity: number;

  constructor(
    private readonly capacity: number,
    private readonly moveToMainThreshold = 1,
    smallRatio = 0.1,
    ghostRatio = 0.9,
  ) {
    this.name = `S3-FIFO(t=${moveToMainThreshold})`;
    this.smallCapacity = Math.max(1, Math.floor(capacity * smallRatio));
    this.ghostCapacity = Math.floor(capacity * ghostRatio);
    this.lists = new Lists(capacity + this.ghostCapacity + 1, 3);
  }

  access(key: number): boolean {
    const L = this.lists;
    const n = this.index.get(key);
    if (n !== undefined && L.where[n] !== GHOST) {
      if (L.freq[n] < 3) L.freq[n]++;
      return true;
    }
    // Take a ghost out of G before evicting, so that eviction cannot recycle its node.
    if (n !== undefined) L.remove(n);
    while (L.size[SMALL] + L.size[MAIN] >= this.capacity) this.evict();
    if (n !== undefined) {
      L.freq[n] = 0;
      L.pushFront(MAIN, n);
    } else {
      const m = L.alloc(key);
      this.index.set(key, m);
      L.pushFront(SMALL, m);
    }
    return false;
  }

  private evict(): void {
    const L = this.lists;
    if (L.size[MAIN] > this.capacity - this.smallCapacity || L.size[SMALL] === 0) this.evictMain();
    else this.evictSmall();
  }

  private evictSmall(): void {
    const L = this.lists;
    for (let t = L.tail(SMALL); t >= 0; t = L.tail(SMALL)) {
      L.remove(t);
      if (L.freq[t] >= this.moveToMainThreshold) {
        L.freq[t] = 0;
        L.pushFront(MAIN, t);
      } else {
        this.toGhost(t);
        return;
      }
    }
  }

  private evictMain(): void {
    const L = this.lists;
    for (let t = L.tail(MAIN); t >= 0; t = L.tail(MAIN)) {
      if (L.freq[t] > 0) {
        L.freq[t]--;
        L.moveToFront(MAIN, t);
      } else {
        L.remove(t);
        this.index.delete(L.key[t]);
        L.release(t);
        return;
      }
    }
  }

  private toGhost(n: number): void {
    const L = this.lists;
    if (this.ghostCapacity === 0) {
      this.index.delete(L.key[n]);
      L.release(n);
      return;
    }
    if (L.size[GHOST] >= this.ghostCapacity) {
      const old = L.tail(GHOST);
      L.remove(old);
      this.index.delete(L.key[old]);
      L.release(old);
    }
    L.pushFront(GHOST, n);
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Count-min sketch with depth 4 and 4-bit saturating counters (one per byte here, for clarity),
 * aged by halving every counter after `sampleSize` increments so that old popularity fades.
 */
class FrequencySketch {
  private readonly counters: Uint8Array;
  private readonly mask: number;
  private readonly width: number;
  private readonly sampleSize: number;
  private additions = 0;

  constructor(capacity: number) {
    // 16 counters per cached entry in all, as Caffeine's sketch has.
    this.width = 1 << Math.ceil(Math.log2(Math.max(16, 4 * capacity)));
    this.mask = this.width - 1;
    this.counters = new Uint8Array(4 * this.width);
    this.sampleSize = 10 * capacity;
  }

  private static slot(key: number, row: number): number {
    let h = Math.imul(key ^ Math.imul(row + 1, 0x9e3779b9), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  increment(key: number): void {
    let added = false;
    for (let row = 0; row < 4; row++) {
      const i = row * this.width + (FrequencySketch.slot(key, row) & this.mask);
      if (this.counters[i] < 15) {
        this.counters[i]++;
        added = true;
      }
    }
    if (added && ++this.additions >= this.sampleSize) this.halve();
  }

  estimate(key: number): number {
    let min = 15;
    for (let row = 0; row < 4; row++) {
      const c = this.counters[row * this.width + (FrequencySketch.slot(key, row) & this.mask)];
      if (c < min) min = c;
    }
    return min;
  }

  private halve(): void {
    for (let i = 0; i < this.counters.length; i++) this.counters[i] >>= 1;
    this.additions >>>= 1;
  }
}

const WINDOW = 0;
const PROBATION = 1;
const PROTECTED = 2;

/**
 * W-TinyLFU. Invariant: |W| <= windowCapacity, |P| + |R| <= capacity − windowCapacity,
 * |R| <= protectedCapacity. Every request counts in the sketch. A miss enters W; W's overflow is
 * a candidate for the main space, admitted if there is room, else only if the sketch rates it
 * strictly above the victim (probation's LRU end), which is then evicted. A hit in probation
 * promotes to protected, whose overflow is demoted back to probation.
 */
export class WTinyLFU implements Policy {
  readonly name = 'W-TinyLFU';
  private readonly lists: Lists;
  private readonly index = new Map<number, number>();
  private readonly sketch: FrequencySketch;
  private readonly windowCapacity: number;
  private readonly mainCapacity: number;
  private readonly protectedCapacity: number;

  constructor(capacity: number, windowRatio = 0.01, protectedRatio = 0.8) {
    this.windowCapacity = Math.max(1, Math.round(capacity * windowRatio));
    this.mainCapacity = capacity - this.windowCapacity;
    this.protectedCapacity = Math.floor(this.mainCapacity * protectedRatio);
    this.lists = new Lists(capacity + 1, 3);
    this.sketch = new FrequencySketch(capacity);
  }

  access(key: number): boolean {
    const L = this.lists;
    this.sketch.increment(key);
    const n = this.index.get(key);
    if (n !== undefined) {
      const where = L.where[n];
      if (where === PROBATION) {
        L.remove(n);
        L.pushFront(PROTECTED, n);
        if (L.size[PROTECTED] > this.protectedCapacity) {
          const demoted = L.tail(PROTECTED);
          L.remove(demoted);
          L.pushFront(PROBATION, demoted);
        }
      } else {
        L.moveToFront(where, n);
      }
      return true;
    }
    const m = L.alloc(key);
    this.index.set(key, m);
    L.pushFront(WINDOW, m);
    if (L.size[WINDOW] > this.windowCapacity) this.admitFromWindow();
    return false;
  }

  private admitFromWindow(): void {
    const L = this.lists;
    const candidate = L.tail(WINDOW);
    L.remove(candidate);
    if (L.size[PROBATION] + L.size[PROTECTED] < this.mainCapacity) {
      L.pushFront(PROBATION, candidate);
      return;
    }
    const victim = L.size[PROBATION] > 0 ? L.tail(PROBATION) : L.tail(PROTECTED);
    if (this.sketch.estimate(L.key[candidate]) > this.sketch.estimate(L.key[victim])) {
      this.drop(victim);
      L.pushFront(PROBATION, candidate);
    } else {
      this.index.delete(L.key[candidate]);
      L.release(candidate);
    }
  }

  private drop(n: number): void {
    this.lists.remove(n);
    this.index.delete(this.lists.key[n]);
    this.lists.release(n);
  }
}

// ---------------------------------------------------------------------------------------------

const T1 = 0;
const T2 = 1;
const B1 = 2;
const B2 = 3;

/**
 * ARC. Invariants: |T1| + |T2| <= c (cached), |T1| + |B1| <= c, total <= 2c. p is the adaptive
 * target size of T1: a ghost hit in B1 grows it, one in B2 shrinks it.
 */
export class ARC implements Policy {
  readonly name = 'ARC';
  private readonly lists: Lists;
  private readonly index = new Map<number, number>();
  private p = 0;

  constructor(private readonly c: number) {
    this.lists = new Lists(2 * c + 1, 4);
  }

  access(key: number): boolean {
    const L = this.lists;
    const c = this.c;
    const size = L.size;
    const n = this.index.get(key);
    if (n !== undefined) {
      const where = L.where[n];
      if (where === T1 || where === T2) {
        L.moveToFront(T2, n); // case I
        return true;
      }
      if (where === B1) {
        this.p = Math.min(c, this.p + Math.max(size[B2] / size[B1], 1)); // case II
        this.replace(false);
      } else {
        this.p = Math.max(0, this.p - Math.max(size[B1] / size[B2], 1)); // case III
        this.replace(true);
      }
      L.moveToFront(T2, n);
      return false;
    }
    // case IV
    if (size[T1] + size[B1] === c) {
      if (size[T1] < c) {
        this.drop(L.tail(B1));
        this.replace(false);
      } else {
        this.drop(L.tail(T1));
      }
    } else {
      const total = size[T1] + size[T2] + size[B1] + size[B2];
      if (total >= c) {
        if (total === 2 * c) this.drop(L.tail(B2));
        this.replace(false);
      }
    }
    const m = L.alloc(key);
    this.index.set(key, m);
    L.pushFront(T1, m);
    return false;
  }

  /** REPLACE(x, p): demotes T1's or T2's LRU end to its ghost list. */
  private replace(inB2: boolean): void {
    const L = this.lists;
    const t1 = L.size[T1];
    if (t1 > 0 && (t1 > this.p || (inB2 && t1 === this.p) || L.size[T2] === 0)) L.moveToFront(B1, L.tail(T1));
    else L.moveToFront(B2, L.tail(T2));
  }

  private drop(n: number): void {
    this.lists.remove(n);
    this.index.delete(this.lists.key[n]);
    this.lists.release(n);
  }
}

// ---------------------------------------------------------------------------------------------

/** Exact LRU, to check the simulators' plumbing against lru-cache and the reference figures. */
export class LRU implements Policy {
  readonly name = 'LRU(sim)';
  private readonly lists: Lists;
  private readonly index = new Map<number, number>();

  constructor(private readonly capacity: number) {
    this.lists = new Lists(capacity, 1);
  }

  access(key: number): boolean {
    const L = this.lists;
    const n = this.index.get(key);
    if (n !== undefined) {
      L.moveToFront(0, n);
      return true;
    }
    if (L.size[0] >= this.capacity) {
      const old = L.tail(0);
      L.remove(old);
      this.index.delete(L.key[old]);
      L.release(old);
    }
    const m = L.alloc(key);
    this.index.set(key, m);
    L.pushFront(0, m);
    return false;
  }
}
