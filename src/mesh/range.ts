/**
 * The range partitioner: keys are kept in byte-lexicographic order (as `Buffer.compare` orders
 * them) and cut into contiguous ranges, each owned by one node. Unlike the hash ring, neighbouring
 * keys stay on one node (prefix scans stay local) and a hot key space can be split where its keys
 * actually are, instead of where a hash happens to put them.
 *
 * `RangeTable` is an immutable value. Invariants every table keeps (checked by `fromBody` on tables
 * from peers, and kept by construction everywhere else):
 * - at least one range, at most MAX_RANGES; starts strictly ascending; the first start is the empty
 *   key, so every key falls in exactly one range `[start, next.start)`;
 * - every start is at most MAX_KEY_BYTES; every owner is a non-empty node id.
 *
 * Agreement without a coordinator round trip. Each `RangePartitioner` keeps two tables:
 * - the *base*: the last table a split produced, here or at a peer (RangeTable frames carry it).
 *   Bases are totally ordered by `newerThan` (version, then the lower coordinator id, then the
 *   layout), so every node that has seen the same bases keeps the same one, whatever the order in
 *   which they arrived;
 * - the *effective* table: `base.reassign(members)`, which routes keys. `reassign` is a pure
 *   function of (table, member set), so nodes with the same base and the same member set route
 *   identically, even when they saw the membership changes in different orders or in different
 *   steps. That is why membership changes are never broadcast: a broadcast reassignment would race
 *   with every peer's own (identical) computation and only add traffic, while deriving from the
 *   base makes the result independent of the path. Only splits create a new base, and only splits
 *   broadcast (plus a push of the base when a member appears, so that a new node learns it).
 * Two nodes that split concurrently at the same base both broadcast; the `newerThan` order picks
 * one, and the losing split is made again the next time its range is over its limits.
 */
import { rangeError, typeError } from '../errors.js';
import type { Bytes } from '../config.js';
import type { Partitioner, PartitionerHost } from './partitioner.js';
import type { OutgoingFrame } from './transport.js';
import { MAX_KEY_BYTES, MAX_NODE_ID_BYTES, MAX_RANGES, MessageType, type MeshFrame, type RangeTableBody } from './wire.js';

const U64_MAX = (1n << 64n) - 1n;
const EMPTY_KEY = new Uint8Array(0);

/**
 * A plain copy of a key. Not `key.slice()`: on a Buffer (decoded frames hold Buffer views) that is
 * a view of the same memory, not a copy.
 */
function copyKey(key: Uint8Array): Uint8Array {
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
function checkNodeIds(ids: unknown, what: string): string[] {
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

// ---------------------------------------------------------------------------------------------------
// The partitioner

/** Options of the range partitioner (`options.mesh` of the node). */
export interface RangePartitionerOptions {
  /**
   * Ranges per node in the first table. More ranges spread keys more evenly at the start and let a
   * leaving node's keys go to more nodes, at the cost of a larger table (about 8 B + the start key
   * per range in every RangeTable frame) and a longer lookup (log₂ of the range count).
   * @default 4
   */
  rangesPerNode?: number;
  /**
   * A range owned by this node splits when it holds more keys than this. Lower splits hot key
   * spaces sooner and spreads them over more nodes, at the cost of more ranges and more tables
   * broadcast.
   * @default 250_000
   */
  maxRangeKeys?: number;
  /**
   * A range owned by this node splits when its entries take more bytes than this (as the node
   * counts them: key plus value). The same trade-off as `maxRangeKeys`, for few large values.
   * @default 64 MiB
   */
  maxRangeBytes?: Bytes;
}

/** The options with every default filled in. */
export type FilledRangePartitionerOptions = Required<RangePartitionerOptions>;

/** The defaults of `RangePartitionerOptions`. */
export const RANGE_DEFAULTS: Readonly<FilledRangePartitionerOptions> = Object.freeze({
  rangesPerNode: 4,
  maxRangeKeys: 250_000,
  maxRangeBytes: 64 * 1024 * 1024,
});

function checkPositiveInt(v: unknown, name: string, max: number): number {
  const message = `options.mesh.${name} must be a positive integer`;
  if (typeof v !== 'number') throw typeError('ERR_INVALID_OPTION', message);
  if (!Number.isSafeInteger(v) || v < 1) throw rangeError('ERR_INVALID_OPTION', message);
  if (v > max) throw rangeError('ERR_INVALID_OPTION', `options.mesh.${name} must be at most ${max}`);
  return v;
}

/** Validates and fills the options; a caller's mistake throws TypeError / RangeError. */
export function resolveRangeOptions(options: unknown = {}): FilledRangePartitionerOptions {
  if (typeof options !== 'object' || options === null) throw typeError('ERR_INVALID_OPTION', 'options.mesh must be an object');
  const o = options as RangePartitionerOptions;
  const pick = (name: keyof RangePartitionerOptions, max: number): number =>
    o[name] === undefined ? RANGE_DEFAULTS[name] : checkPositiveInt(o[name], name, max);
  return {
    rangesPerNode: pick('rangesPerNode', MAX_RANGES),
    maxRangeKeys: pick('maxRangeKeys', Number.MAX_SAFE_INTEGER),
    maxRangeBytes: pick('maxRangeBytes', Number.MAX_SAFE_INTEGER),
  };
}

/** What this node holds in one range: from `collectStats`, for `maybeSplit`. */
export interface RangeStats {
  /** The range's index in the table the stats were taken against. */
  rangeIndex: number;
  /** Keys this node holds in the range. */
  keys: number;
  /** Bytes of those entries. */
  bytes: Bytes;
  /** A uniform sample of the range's keys (copies). */
  sample: Uint8Array[];
}

/**
 * Ordered key ranges as a `Partitioner`. See the file comment for how nodes agree on the table
 * without a coordinator. The node calls `setMembers` on membership changes, routes with
 * `ownerOf`, passes RangeTable / RangeSplit frames to `handleFrame`, and now and then runs
 * `maybeSplit(collectStats(its entries))`.
 */
export class RangePartitioner implements Partitioner {
  readonly kind = 'range' as const;
  readonly options: Readonly<FilledRangePartitionerOptions>;
  readonly #host: PartitionerHost;
  #epoch = 0;
  /** The last table a split produced (here or at a peer): what nodes agree on. */
  #base: RangeTable | null = null;
  /**
   * `#base.reassign(#members)`: what keys are routed with. Null with no base, or with members set to
   * none; the base as it is while `setMembers` has not been called yet.
   */
  #table: RangeTable | null = null;
  /** Sorted member ids; null until the first `setMembers`. */
  #members: string[] | null = null;
  #splits = 0;
  #invalidTables = 0;
  #invalidSplits = 0;

  constructor(host: PartitionerHost, options: RangePartitionerOptions = {}) {
    if (typeof host !== 'object' || host === null) throw new TypeError('host must be an object');
    if (typeof host.nodeId !== 'string' || host.nodeId.length === 0) throw new TypeError('host.nodeId must be a non-empty string');
    if (typeof host.broadcast !== 'function') throw new TypeError('host.broadcast must be a function');
    this.#host = host;
    this.options = Object.freeze(resolveRangeOptions(options));
  }

  /** Moves on every change of key ownership. */
  get epoch(): number {
    return this.#epoch;
  }

  /** The table keys are routed with, or null before the first members / table. */
  get table(): RangeTable | null {
    return this.#table;
  }

  /** The agreed table the routing table is derived from (the last split's). */
  get baseTable(): RangeTable | null {
    return this.#base;
  }

  /**
   * Sets the members that may own keys. The first call with members builds the first table;
   * every call derives the routing table from the agreed one (nothing is broadcast for that: each
   * node computes the same). When a member appears, this node pushes its agreed table, so that a
   * node that just joined (and built a first table of its own) adopts the mesh's.
   */
  setMembers(nodeIds: readonly string[]): void {
    const ids = checkNodeIds(nodeIds, 'nodeIds');
    const before = new Set(this.#members);
    this.#members = ids;
    if (this.#base === null && ids.length > 0) this.#base = RangeTable.initial(ids, this.options.rangesPerNode);
    this.#derive();
    if (this.#base !== null && ids.some((id) => id !== this.#host.nodeId && !before.has(id))) {
      this.#host.broadcast(this.tableFrame()!);
    }
  }

  /** The owner of `key`, or undefined with no members. */
  ownerOf(key: Uint8Array): string | undefined {
    return this.#table?.ownerOf(key);
  }

  /** Ownership as it would be with the same agreed table and members, but without `nodeId`. */
  snapshotWithout(nodeId: string): (key: Uint8Array) => string | undefined {
    const members = (this.#members ?? []).filter((id) => id !== nodeId);
    const table = this.#base === null || members.length === 0 ? null : this.#base.reassign(members, members[0]);
    return (key) => table?.ownerOf(key);
  }

  /**
   * The current ownership, frozen. Tables are immutable, so this is the current table's lookup;
   * later splits, tables and member changes do not affect it.
   */
  snapshot(): (key: Uint8Array) => string | undefined {
    const t = this.#table;
    return t === null ? () => undefined : (key) => t.ownerOf(key);
  }

  /** The index of the range holding `key` in `table`, or -1 with no table. */
  rangeOf(key: Uint8Array): number {
    return this.#table === null ? -1 : this.#table.indexOf(key);
  }

  /** A RangeTable frame of the agreed table (for anti-entropy pushes), or null before there is one. */
  tableFrame(): OutgoingFrame | null {
    return this.#base === null ? null : { type: MessageType.RangeTable, body: this.#base.toBody() };
  }

  /**
   * RangeTable: a valid table newer than the agreed one is adopted (and reassigned to this node's
   * members); an invalid one is ignored and counted. RangeSplit from the owner of the range that
   * holds `at` (in this node's table; the frame's `version` is not needed for that check): this
   * node makes the split and broadcasts the new table; one made already is acknowledged, any other
   * is ignored and counted. False for every other frame type.
   */
  handleFrame(frame: MeshFrame, from: string): boolean {
    if (frame.type === MessageType.RangeTable) {
      const t = RangeTable.fromBody(frame.body);
      if (!(t instanceof RangeTable)) {
        this.#invalidTables++;
        return true;
      }
      if (this.#base === null || t.newerThan(this.#base)) {
        this.#base = t;
        this.#derive();
      }
      return true;
    }
    if (frame.type === MessageType.RangeSplit) {
      const at = frame.body?.at;
      const t = this.#table;
      if (t === null || !(at instanceof Uint8Array) || at.length === 0 || at.length > MAX_KEY_BYTES || t.size >= MAX_RANGES) {
        this.#invalidSplits++;
        return true;
      }
      const i = t.indexOf(at);
      if (compareKeys(t.startOf(i), at) === 0) return true; // made already
      if (t.ownerAt(i) !== from) {
        this.#invalidSplits++;
        return true;
      }
      this.#commit(this.#splitAndPlace(t, i, at));
      return true;
    }
    return false;
  }

  /**
   * Splits every range this node owns whose stats are over `maxRangeKeys` or `maxRangeBytes`, at
   * the median of its sample; the upper half goes to the member owning the fewest ranges when that
   * member owns fewer than this node; then the table is rebalanced, adopted and broadcast. Stats
   * that no longer match the table (it changed since they were taken) are skipped. Returns the
   * number of splits made.
   */
  maybeSplit(localStats: readonly RangeStats[]): number {
    if (!Array.isArray(localStats)) throw new TypeError('localStats must be an array');
    for (const s of localStats) {
      if (typeof s !== 'object' || s === null) throw new TypeError('localStats items must be objects');
      if (!Number.isInteger(s.rangeIndex) || s.rangeIndex < 0) throw new RangeError('localStats[].rangeIndex must be a non-negative integer');
      if (typeof s.keys !== 'number' || typeof s.bytes !== 'number') throw new TypeError('localStats[].keys and .bytes must be numbers');
      if (!Array.isArray(s.sample) || !s.sample.every((k: unknown) => k instanceof Uint8Array)) {
        throw new TypeError('localStats[].sample must be an array of Uint8Array');
      }
    }
    let t = this.#table;
    if (t === null) return 0;
    const self = this.#host.nodeId;
    // Highest index first, so that a split does not shift the indexes still to visit.
    const hot = localStats
      .filter((s) => s.keys > this.options.maxRangeKeys || s.bytes > this.options.maxRangeBytes)
      .sort((a, b) => b.rangeIndex - a.rangeIndex);
    let splits = 0;
    let lastIndex = -1;
    for (const s of hot) {
      if (s.rangeIndex === lastIndex || s.rangeIndex >= t.size || t.ownerAt(s.rangeIndex) !== self || t.size >= MAX_RANGES) continue;
      lastIndex = s.rangeIndex;
      const at = RangeTable.splitPoint(s.sample);
      if (at === null || at.length > MAX_KEY_BYTES || t.indexOf(at) !== s.rangeIndex || compareKeys(t.startOf(s.rangeIndex), at) === 0) continue;
      t = this.#splitAndPlace(t, s.rangeIndex, at);
      splits++;
    }
    if (splits > 0) this.#commit(t);
    return splits;
  }

  /**
   * Per-range stats of this node's entries (`[key, bytes]` pairs) against the current table: key
   * and byte counts, and a uniform sample of up to `sampleSize` keys per range (reservoir sampling,
   * Algorithm R; `random` is injectable so tests reproduce). Ranges with no entries are left out.
   */
  collectStats(entries: Iterable<readonly [Uint8Array, number]>, sampleSize = 64, random: () => number = Math.random): RangeStats[] {
    const collector = this.statsCollector(sampleSize, random);
    for (const [key, bytes] of entries) collector.add(key, bytes);
    return collector.finish();
  }

  /**
   * The same as collectStats, one entry at a time: a rebalance pass feeds it as it scans, so its
   * memory is one sample per range, not the node's keys. Stats are taken against the table of the
   * moment the collector is made.
   */
  statsCollector(sampleSize = 64, random: () => number = Math.random): { add(key: Uint8Array, bytes: number): void; finish(): RangeStats[] } {
    if (!Number.isInteger(sampleSize) || sampleSize < 2) throw new RangeError('sampleSize must be an integer of at least 2');
    const t = this.#table;
    const byRange = new Map<number, RangeStats>();
    return {
      add(key, bytes) {
        if (t === null) return;
        const i = t.indexOf(key);
        let s = byRange.get(i);
        if (s === undefined) byRange.set(i, (s = { rangeIndex: i, keys: 0, bytes: 0, sample: [] }));
        s.keys++;
        s.bytes += bytes;
        if (s.sample.length < sampleSize) s.sample.push(copyKey(key));
        else {
          const j = Math.floor(random() * s.keys);
          if (j < sampleSize) s.sample[j] = copyKey(key);
        }
      },
      finish: () => [...byRange.values()].sort((a, b) => a.rangeIndex - b.rangeIndex),
    };
  }

  /** Kind, range count, version, ranges per node (`ranges.<id>`), splits made here, bad frames. */
  describe(): Record<string, string | number> {
    const out: Record<string, string | number> = {
      kind: this.kind,
      ranges: this.#table?.size ?? 0,
      version: (this.#table?.version ?? 0n).toString(),
      coordinator: this.#table?.coordinator ?? '',
      members: this.#members?.length ?? 0,
      splits: this.#splits,
      invalidTables: this.#invalidTables,
      invalidSplits: this.#invalidSplits,
    };
    if (this.#table !== null) for (const [id, n] of this.#table.countByOwner()) out[`ranges.${id}`] = n;
    return out;
  }

  /** Splits range `index` of `t` at `at`, hands the upper half to the least-loaded member when that helps, rebalances. */
  #splitAndPlace(t: RangeTable, index: number, at: Uint8Array): RangeTable {
    const self = this.#host.nodeId;
    let next = t.split(at, self);
    this.#splits++;
    const members = this.#members ?? [];
    if (members.length > 0) {
      const counts = next.countByOwner();
      const mine = counts.get(next.ownerAt(index)) ?? 0;
      let least = members[0];
      for (const id of members) if ((counts.get(id) ?? 0) < (counts.get(least) ?? 0)) least = id;
      if ((counts.get(least) ?? 0) < mine) next = next.withOwner(index + 1, least, self);
      next = next.reassign(members, self);
    }
    return next;
  }

  /** Makes `t` (made here by a split) the agreed table, routes with it, and broadcasts it. */
  #commit(t: RangeTable): void {
    this.#base = t;
    this.#derive();
    this.#host.broadcast({ type: MessageType.RangeTable, body: t.toBody() });
  }

  /**
   * Routing table = agreed table reassigned to the members. The reassignment's coordinator is the
   * lowest member id, so that every node's copy is identical, not only equivalent.
   */
  #derive(): void {
    const before = this.#table;
    const members = this.#members;
    this.#table = this.#base === null || members === null ? this.#base : members.length === 0 ? null : this.#base.reassign(members, members[0]);
    const changed = before === null || this.#table === null ? before !== this.#table : !before.sameLayout(this.#table);
    if (changed) this.#epoch++;
  }
}
