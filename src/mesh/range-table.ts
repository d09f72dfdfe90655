/**
 * The range table: keys kept in byte-lexicographic order (as `Buffer.compare` orders them) and cut
 * into contiguous ranges, each owned by one node. `RangeTable` is an immutable value; every change
 * (`split`, `withOwner`, `reassign`) returns a new table at the next version.
 *
 * Algorithms: a range's owner is found by binary search over the starts; `RangeTable.splitPoint`
 * cuts at the median of a range's sampled keys; `reassign` hands ranges to a member set moving as
 * few as possible (shares ⌊r/m⌋ / ⌈r/m⌉, takers from a min-heap of (load, id)), a pure function of
 * (table, members) so that every node computes the same result; `newerThan` totally orders tables
 * (version, then the lower coordinator id, then the layout) so that versioned adoption converges.
 *
 * Invariants every table keeps (checked by `fromBody` on tables from peers, and kept by
 * construction everywhere else):
 * - at least one range, at most MAX_RANGES; starts strictly ascending; the first start is the empty
 *   key, so every key falls in exactly one range `[start, next.start)`;
 * - every start is at most MAX_KEY_BYTES; every owner is a non-empty node id.
 */
import { MAX_KEY_BYTES, MAX_NODE_ID_BYTES, MAX_RANGES, type RangeTableBody } from './wire.js';

const U64_MAX = (1n << 64n) - 1n;
const EMPTY_KEY = new Uint8Array(0);

/**
 * A plain copy of a key. Not `key.slice()`: on a Buffer (decoded frames hold Buffer views) that is
 * a view of the same memory, not a copy.
 */
export function copyKey(key: Uint8Array): Uint8Array {
  return new Uint8Array(key);
}

/** Orders two keys byte by byte, a shorter prefix first (the order of `Buffer.compare`). */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Orders node ids by UTF-16 code units: the same on every node, whatever its locale. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorted, de-duplicated node ids; a caller's mistake throws. */
export function checkNodeIds(ids: unknown, what: string): string[] {
  if (!Array.isArray(ids)) throw new TypeError(`${what} must be an array of node ids`);
  for (const id of ids) {
    if (typeof id !== 'string') throw new TypeError(`${what} must be an array of node ids`);
    if (id.length === 0) throw new RangeError(`${what} must not hold an empty node id`);
  }
  return [...new Set(ids as string[])].sort(compareIds);
}

function checkNodeId(id: unknown, what: string): string {
  if (typeof id !== 'string') throw new TypeError(`${what} must be a node id string`);
  if (id.length === 0) throw new RangeError(`${what} must not be empty`);
  return id;
}

/** What `RangeTable.describe` reports. */
export interface RangeTableFacts {
  /** Number of ranges. */
  ranges: number;
  /** The version, as a decimal string (INFO values are strings or numbers). */
  version: string;
  coordinator: string;
  /** Ranges owned per node id. */
  rangesByNode: Record<string, number>;
}

/** An immutable table of ordered key ranges and their owners at a version. See the file comment. */
export class RangeTable {
  /** Bumped by every change; the higher version wins (see `newerThan`). */
  readonly version: bigint;
  /** The node that produced this version (breaks ties between equal versions). */
  readonly coordinator: string;
  readonly #starts: readonly Uint8Array[];
  readonly #owners: readonly string[];

  /** Trusts its arguments: every caller has checked the invariants and owns the arrays. */
  private constructor(version: bigint, coordinator: string, starts: Uint8Array[], owners: string[]) {
    this.version = version;
    this.coordinator = coordinator;
    this.#starts = Object.freeze(starts);
    this.#owners = Object.freeze(owners);
  }

  /**
   * The table a mesh starts from: version 1, `nodes.length × rangesPerNode` ranges with evenly
   * spaced boundaries (on the first key byte while there are at most 256 ranges, on the first two
   * bytes beyond), owned round-robin over the sorted node ids, so that neighbouring ranges sit on
   * different nodes. Deterministic: the same ids in any order give the same table. The coordinator
   * is the lowest node id. Throws RangeError with no nodes or over MAX_RANGES ranges.
   */
  static initial(nodes: readonly string[], rangesPerNode = 4): RangeTable {
    const ids = checkNodeIds(nodes, 'nodes');
    if (ids.length === 0) throw new RangeError('nodes must hold at least one node id');
    if (!Number.isInteger(rangesPerNode) || rangesPerNode < 1) throw new RangeError('rangesPerNode must be a positive integer');
    const n = ids.length * rangesPerNode;
    if (n > MAX_RANGES) throw new RangeError(`${ids.length} nodes × ${rangesPerNode} ranges is over the ${MAX_RANGES}-range cap`);
    const starts: Uint8Array[] = [EMPTY_KEY];
    const owners: string[] = [ids[0]];
    for (let i = 1; i < n; i++) {
      if (n <= 256) {
        starts.push(Uint8Array.of(Math.floor((i * 256) / n)));
      } else {
        // n ≤ MAX_RANGES < 65536, so these 16-bit points are distinct and above 0.
        const p = Math.floor((i * 65536) / n);
        starts.push((p & 0xff) === 0 ? Uint8Array.of(p >>> 8) : Uint8Array.of(p >>> 8, p & 0xff));
      }
      owners.push(ids[i % ids.length]);
    }
    return new RangeTable(1n, ids[0], starts, owners);
  }

  /**
   * Checks a table from a peer (untrusted) and builds it, or says what is wrong; never throws. The
   * starts are copied, so the table keeps no reference to the frame's buffer.
   */
  static fromBody(body: unknown): RangeTable | { error: string } {
    if (typeof body !== 'object' || body === null) return { error: 'range table is not an object' };
    const { version, coordinator, ranges } = body as Record<string, unknown>;
    if (typeof version !== 'bigint' || version < 1n || version > U64_MAX) return { error: 'range table version must be a bigint in 1..2^64-1' };
    if (typeof coordinator !== 'string' || coordinator.length === 0 || Buffer.byteLength(coordinator) > MAX_NODE_ID_BYTES) {
      return { error: `range table coordinator must be a non-empty node id of at most ${MAX_NODE_ID_BYTES} UTF-8 bytes` };
    }
    if (!Array.isArray(ranges)) return { error: 'range table ranges must be an array' };
    if (ranges.length === 0) return { error: 'range table has no ranges' };
    if (ranges.length > MAX_RANGES) return { error: `range table has ${ranges.length} ranges, over the cap of ${MAX_RANGES}` };
    const starts: Uint8Array[] = [];
    const owners: string[] = [];
    for (let i = 0; i < ranges.length; i++) {
      const r: unknown = ranges[i];
      if (typeof r !== 'object' || r === null) return { error: `range ${i} is not an object` };
      const { start, owner } = r as Record<string, unknown>;
      if (!(start instanceof Uint8Array)) return { error: `range ${i} start is not bytes` };
      if (start.length > MAX_KEY_BYTES) return { error: `range ${i} start is ${start.length} bytes, over the ${MAX_KEY_BYTES}-byte cap` };
      if (typeof owner !== 'string' || owner.length === 0) return { error: `range ${i} owner must be a non-empty node id` };
      if (Buffer.byteLength(owner) > MAX_NODE_ID_BYTES) return { error: `range ${i} owner is over ${MAX_NODE_ID_BYTES} UTF-8 bytes` };
      if (i === 0 && start.length !== 0) return { error: 'the first range must start at the empty key' };
      if (i > 0 && compareKeys(starts[i - 1], start) >= 0) {
        return { error: `range ${i} start is not above range ${i - 1}'s (starts must be strictly ascending)` };
      }
      starts.push(copyKey(start));
      owners.push(owner);
    }
    return new RangeTable(version, coordinator, starts, owners);
  }

  /**
   * The key that splits a range's sampled keys in half: the median (the upper one of an even
   * count) of the distinct sorted samples, or null with fewer than 2 distinct keys. Being above the
   * lowest sample, it is never the empty key, and it lies strictly inside the range the samples
   * came from, past its start. Returns a copy.
   */
  static splitPoint(sampleKeys: readonly Uint8Array[]): Uint8Array | null {
    if (!Array.isArray(sampleKeys)) throw new TypeError('sampleKeys must be an array of Uint8Array');
    for (const k of sampleKeys) if (!(k instanceof Uint8Array)) throw new TypeError('sampleKeys must be an array of Uint8Array');
    const sorted = [...sampleKeys].sort(compareKeys);
    const distinct: Uint8Array[] = [];
    for (const k of sorted) if (distinct.length === 0 || compareKeys(distinct[distinct.length - 1], k) !== 0) distinct.push(k);
    if (distinct.length < 2) return null;
    return copyKey(distinct[distinct.length >>> 1]);
  }

  /** Number of ranges. */
  get size(): number {
    return this.#starts.length;
  }

  /** The start key of range `index` (a view: do not modify). */
  startOf(index: number): Uint8Array {
    return this.#starts[index];
  }

  /** The owner of range `index`. */
  ownerAt(index: number): string {
    return this.#owners[index];
  }

  /** The index of the range holding `key`: a binary search over the starts, O(log r), no allocation. */
  indexOf(key: Uint8Array): number {
    const starts = this.#starts;
    // Invariant: starts[lo] ≤ key (starts[0] is the empty key), and key < starts[hi] when hi < n.
    let lo = 0;
    let hi = starts.length;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(starts[mid], key) <= 0) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  /** The node owning `key`. */
  ownerOf(key: Uint8Array): string {
    return this.#owners[this.indexOf(key)];
  }

  /** The indexes of the ranges `node` owns, ascending. */
  ownedBy(node: string): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#owners.length; i++) if (this.#owners[i] === node) out.push(i);
    return out;
  }

  /** Ranges per owner, in owner id order. */
  countByOwner(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const o of [...this.#owners].sort(compareIds)) counts.set(o, (counts.get(o) ?? 0) + 1);
    return counts;
  }

  /**
   * Makes `at` the start of a new range, owned by the owner of the range it cuts (no key changes
   * owner at a split). Version + 1, coordinator `by`. Throws RangeError for an empty `at`, one over
   * MAX_KEY_BYTES, one that already starts a range, or when the table would pass MAX_RANGES.
   */
  split(at: Uint8Array, by: string): RangeTable {
    if (!(at instanceof Uint8Array)) throw new TypeError('at must be a Uint8Array');
    checkNodeId(by, 'by');
    if (at.length === 0) throw new RangeError('at must not be the empty key (it starts the first range already)');
    if (at.length > MAX_KEY_BYTES) throw new RangeError(`at must be at most ${MAX_KEY_BYTES} bytes, got ${at.length}`);
    if (this.#starts.length >= MAX_RANGES) throw new RangeError(`the table has ${this.#starts.length} ranges already, the cap is ${MAX_RANGES}`);
    const i = this.indexOf(at);
    if (compareKeys(this.#starts[i], at) === 0) throw new RangeError(`at already starts range ${i}`);
    const starts = [...this.#starts];
    const owners = [...this.#owners];
    starts.splice(i + 1, 0, copyKey(at));
    owners.splice(i + 1, 0, owners[i]);
    return new RangeTable(this.version + 1n, by, starts, owners);
  }

  /** Gives range `index` to `owner`. Version + 1, coordinator `by`; `this` when it is `owner`'s already. */
  withOwner(index: number, owner: string, by: string): RangeTable {
    if (!Number.isInteger(index) || index < 0 || index >= this.#starts.length) {
      throw new RangeError(`index must be an integer in 0..${this.#starts.length - 1}`);
    }
    checkNodeId(owner, 'owner');
    checkNodeId(by, 'by');
    if (this.#owners[index] === owner) return this;
    const owners = [...this.#owners];
    owners[index] = owner;
    return new RangeTable(this.version + 1n, by, [...this.#starts], owners);
  }

  /**
   * Hands the ranges to `members`, moving as few as possible. With r ranges and m members, every
   * member ends with ⌊r/m⌋ or ⌈r/m⌉ ranges; the members that own the most now (ties: the lower
   * id) are the ones that keep ⌈r/m⌉. Ranges that move: those of non-members, and the
   * highest-index ranges of members above their share. They go, in index order, each to the
   * member below its share that owns the fewest at that moment (ties: the lower id). Nothing else
   * moves, so a member that joins only takes ranges, and when a member leaves only its ranges move.
   * A pure function of (this table, the member set): every node computes the same result. Returns
   * `this` when nothing moves; otherwise version + 1 and coordinator `by`. Throws RangeError with
   * no members.
   */
  reassign(members: readonly string[], by: string): RangeTable {
    const ids = checkNodeIds(members, 'members');
    checkNodeId(by, 'by');
    if (ids.length === 0) throw new RangeError('members must hold at least one node id');
    const r = this.#owners.length;
    const m = ids.length;
    const count = new Map<string, number>(ids.map((id) => [id, 0]));
    for (const o of this.#owners) {
      const c = count.get(o);
      if (c !== undefined) count.set(o, c + 1);
    }
    // Shares: the `r mod m` members owning the most get one range more.
    const base = Math.floor(r / m);
    const byLoad = [...ids].sort((a, b) => count.get(b)! - count.get(a)! || compareIds(a, b));
    const target = new Map<string, number>(byLoad.map((id, i) => [id, base + (i < r % m ? 1 : 0)]));

    // The pool of ranges that move: non-members' ranges, and each over-share member's highest ones.
    const moving: number[] = [];
    const over = new Map<string, number>();
    for (const id of ids) over.set(id, Math.max(0, count.get(id)! - target.get(id)!));
    for (let i = r - 1; i >= 0; i--) {
      const o = this.#owners[i];
      const excess = over.get(o);
      if (excess === undefined) moving.push(i);
      else if (excess > 0) {
        moving.push(i);
        over.set(o, excess - 1);
        count.set(o, count.get(o)! - 1);
      }
    }
    if (moving.length === 0) return this;
    moving.reverse();

    const takers = new MinLoadHeap();
    for (const id of ids) if (count.get(id)! < target.get(id)!) takers.push(id, count.get(id)!);
    const owners = [...this.#owners];
    for (const i of moving) {
      const [id, c] = takers.pop();
      owners[i] = id;
      if (c + 1 < target.get(id)!) takers.push(id, c + 1);
    }
    return new RangeTable(this.version + 1n, by, [...this.#starts], owners);
  }

  /**
   * Whether this table should replace `other`: the higher version wins; at equal versions the lower
   * coordinator id; at equal coordinators (two nodes that each built a first table, say) the lower
   * layout, so that the order is total. Identical tables are equal: neither is newer.
   */
  newerThan(other: RangeTable): boolean {
    if (this.version !== other.version) return this.version > other.version;
    if (this.coordinator !== other.coordinator) return compareIds(this.coordinator, other.coordinator) < 0;
    return this.#compareLayout(other) < 0;
  }

  /** Whether both tables put every key on the same node (same starts, same owners; versions aside). */
  sameLayout(other: RangeTable): boolean {
    return this.#compareLayout(other) === 0;
  }

  /** The table as a RangeTable frame body (starts are copies). */
  toBody(): RangeTableBody {
    return {
      version: this.version,
      coordinator: this.coordinator,
      ranges: this.#starts.map((start, i) => ({ start: copyKey(start), owner: this.#owners[i] })),
    };
  }

  /** Size, version and ranges per node, for INFO. */
  describe(): RangeTableFacts {
    return {
      ranges: this.#starts.length,
      version: this.version.toString(),
      coordinator: this.coordinator,
      rangesByNode: Object.fromEntries(this.countByOwner()),
    };
  }

  /** A total order on layouts: range count, then starts, then owners; 0 when identical. */
  #compareLayout(other: RangeTable): number {
    if (this === other) return 0;
    const sa = this.#starts;
    const sb = other.#starts;
    if (sa.length !== sb.length) return sa.length - sb.length;
    for (let i = 0; i < sa.length; i++) {
      const d = compareKeys(sa[i], sb[i]);
      if (d !== 0) return d;
    }
    for (let i = 0; i < sa.length; i++) {
      const d = compareIds(this.#owners[i], other.#owners[i]);
      if (d !== 0) return d;
    }
    return 0;
  }
}

/** A binary min-heap of (load, id), ordered by load then id: `reassign`'s "fewest ranges, lower id". */
class MinLoadHeap {
  readonly #ids: string[] = [];
  readonly #loads: number[] = [];

  push(id: string, load: number): void {
    let i = this.#ids.length;
    this.#ids.push(id);
    this.#loads.push(load);
    while (i > 0) {
      const p = (i - 1) >>> 1;
      if (!this.#less(i, p)) break;
      this.#swap(i, p);
      i = p;
    }
  }

  /** The least (id, load). The heap must not be empty (reassign pushes exactly enough room). */
  pop(): [string, number] {
    const top: [string, number] = [this.#ids[0], this.#loads[0]];
    const last = this.#ids.length - 1;
    this.#swap(0, last);
    this.#ids.pop();
    this.#loads.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let s = i;
      if (l < last && this.#less(l, s)) s = l;
      if (r < last && this.#less(r, s)) s = r;
      if (s === i) break;
      this.#swap(i, s);
      i = s;
    }
    return top;
  }

  #less(i: number, j: number): boolean {
    return this.#loads[i] !== this.#loads[j] ? this.#loads[i] < this.#loads[j] : this.#ids[i] < this.#ids[j];
  }

  #swap(i: number, j: number): void {
    [this.#ids[i], this.#ids[j]] = [this.#ids[j], this.#ids[i]];
    [this.#loads[i], this.#loads[j]] = [this.#loads[j], this.#loads[i]];
  }
}
