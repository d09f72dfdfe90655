/**
 * The range partitioner: ordered key ranges (range-table.ts) as a `Partitioner`. Unlike the hash
 * ring, neighbouring keys stay on one node (prefix scans stay local) and a hot key space can be
 * split where its keys actually are, instead of where a hash happens to put them.
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
 *
 * Invariant: the effective table is always `base.reassign(members)` (or the base before the first
 * `setMembers`); the epoch bumps exactly when it routes some key differently.
 */
import type { Bytes } from '../config.js';
import { typeError } from '../errors.js';
import { checkMeshInteger, MESH_DEFAULTS } from './options.js';
import type { Partitioner, PartitionerHost } from './partitioner.js';
import { checkNodeIds, compareKeys, copyKey, RangeTable } from './range-table.js';
import type { OutgoingFrame } from './transport.js';
import { MAX_KEY_BYTES, MAX_RANGES, MessageType, type MeshFrame } from './wire.js';

/** Options of the range partitioner (`options.mesh` of the node). */
export interface RangePartitionerOptions {
  /**
   * Ranges per node in the first table. More ranges spread keys more evenly at the start and let a
   * leaving node's keys go to more nodes, at the cost of a larger table (about 8 B + the start key
   * per range in every RangeTable frame) and a longer lookup (log₂ of the range count).
   * @default MESH_DEFAULTS.rangesPerNode (4)
   */
  rangesPerNode?: number;
  /**
   * A range owned by this node splits when it holds more keys than this. Lower splits hot key
   * spaces sooner and spreads them over more nodes, at the cost of more ranges and more tables
   * broadcast.
   * @default MESH_DEFAULTS.maxRangeKeys (100000)
   */
  maxRangeKeys?: number;
  /**
   * A range owned by this node splits when its entries take more bytes than this (as the node
   * counts them: key plus value). The same trade-off as `maxRangeKeys`, for few large values.
   * @default MESH_DEFAULTS.maxRangeBytes (64 MiB)
   */
  maxRangeBytes?: Bytes;
}

/** The options with every default filled in. */
export type FilledRangePartitionerOptions = Required<RangePartitionerOptions>;

/** The defaults of `RangePartitionerOptions`: MESH_DEFAULTS's. */
export const RANGE_DEFAULTS: Readonly<FilledRangePartitionerOptions> = Object.freeze({
  rangesPerNode: MESH_DEFAULTS.rangesPerNode,
  maxRangeKeys: MESH_DEFAULTS.maxRangeKeys,
  maxRangeBytes: MESH_DEFAULTS.maxRangeBytes,
});

/**
 * Validates and fills the options with the mesh's own checks (`checkMeshInteger`, the one
 * `resolveMeshOptions` uses); a caller's mistake throws TypeError / RangeError.
 */
export function resolveRangeOptions(options: unknown = {}): FilledRangePartitionerOptions {
  if (typeof options !== 'object' || options === null) throw typeError('ERR_INVALID_OPTION', 'options.mesh must be an object');
  const o = options as RangePartitionerOptions;
  return {
    rangesPerNode: checkMeshInteger('rangesPerNode', o.rangesPerNode),
    maxRangeKeys: checkMeshInteger('maxRangeKeys', o.maxRangeKeys),
    maxRangeBytes: checkMeshInteger('maxRangeBytes', o.maxRangeBytes),
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
