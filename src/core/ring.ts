/**
 * Consistent hashing of keys onto named nodes, looked up in the WebAssembly core
 * (assembly/ring.ts). The mesh routes keys with it, and clients can use it to pick a node.
 *
 * Every node gets `round(vnodes × weight)` points on a 64-bit ring, point i being
 * xxh64(UTF-8 of `${node}#${i}`, seed); a key goes to the node of the first point at or after
 * xxh64(key bytes, seed), wrapping around. Nodes are numbered in sorted name order and equal points
 * are ordered by that number, so **the lookup of a given key returns the same node in every process
 * for the same node set (names and weights), vnodes and seed**: a client and the mesh agree without
 * talking. Adding an n-th node takes ~1/n of the keys, all to the new node, and moves no other key;
 * removing it gives exactly those keys back.
 *
 * Two rings share that definition (the same stage and the same point and sort code in the core):
 *
 * - `HashRing` lives in a small shared WebAssembly.Memory of its own with its own core instance
 *   (the cache's table is never initialised on it): key scratch at 1 MiB, the sorted ring right
 *   after it, the memory growing as the ring does. Adding or removing a node rebuilds the ring.
 *   `memory`, `ringPtr` and `size` describe the ring for a thread that instantiates the core over
 *   the same memory and calls `ringLookup` itself.
 * - `SharedRing` lives in a cache's own shared memory (assembly/shared-ring.ts): every thread
 *   attached to the cache looks keys up in the one ring without copying it, and any thread may
 *   publish a new node set. Readers never lock; a lookup never mixes two published rings.
 */
import {
  coreModule, instantiateCore, type CoreExports, ST_MISS, ST_STALE, ST_SCRATCH, ST_BUSY, ST_NO_MEMORY,
  ST_LOCK_TIMEOUT,
} from './wasm.js';
import { statusError, type CoreTable } from './table.js';
import { kTable } from './handle.js';
import { CacheError, rangeError, typeError } from '../errors.js';

const PAGE = 65536;
/** Where keys are written for hashing, and how many bytes they may take. */
const KEY_AT = 1 << 20;
const KEY_CAP = 64 * 1024;
/** Where the sorted ring starts (8-byte aligned, right after the key scratch). */
const RING_AT = KEY_AT + KEY_CAP;
const ENTRY_BYTES = 16;
/** The memory's maximum: 1 GiB (about 67M vnode points). */
const MAX_PAGES = 16384;
const MAX_POINTS = Math.floor((MAX_PAGES * PAGE - RING_AT) / ENTRY_BYTES);
/** Longest node name in UTF-8 bytes (assembly/ring.ts MAX_NODE_NAME_BYTES). */
export const MAX_NODE_NAME_BYTES = 0xfff0;
/** Work bytes the core needs past the longest name to hash `${name}#${i}` (assembly/ring.ts). */
const VNODE_SUFFIX_BYTES = 11;
/** Most points a SharedRing may have: 16 MiB of ring entries (assembly/shared-ring.ts). */
export const SHARED_RING_MAX_POINTS = 1 << 20;
/** Most bytes of node names a SharedRing may have: 4 + Σ (2 + UTF-8 length) (assembly/shared-ring.ts). */
export const SHARED_RING_MAX_NAMES_BYTES = 1 << 20;
const MAX_VNODES = 1_000_000;

export interface HashRingOptions {
  /** Points per node at weight 1 (default 160). */
  vnodes?: number;
  /** xxh64 seed for both the points and the keys: a non-negative integer below 2^64 (default 0). */
  seed?: number | bigint;
}

/** HashRingOptions with the defaults filled in and the seed split for the core. */
interface ResolvedRingOptions {
  vnodes: number;
  seed: bigint;
  seedLo: number;
  seedHi: number;
}

/** Validates ring options for `where` (the caller's name, for messages). */
function resolveRingOptions(where: string, options: HashRingOptions): ResolvedRingOptions {
  if (options === null || typeof options !== 'object') throw typeError('ERR_INVALID_OPTION', `${where}: options must be an object`);
  const { vnodes = 160, seed = 0 } = options;
  if (typeof vnodes !== 'number') throw typeError('ERR_INVALID_OPTION', `${where}: vnodes must be a number`);
  if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > MAX_VNODES) {
    throw rangeError('ERR_INVALID_OPTION', `${where}: vnodes must be an integer in [1, ${MAX_VNODES}], got ${vnodes}`);
  }
  if (typeof seed !== 'number' && typeof seed !== 'bigint') throw typeError('ERR_INVALID_OPTION', `${where}: seed must be a number or a bigint`);
  if (typeof seed === 'number' && !Number.isSafeInteger(seed)) throw rangeError('ERR_INVALID_OPTION', `${where}: seed must be a safe integer, got ${seed}`);
  const s = BigInt(seed);
  if (s < 0n || s >= 1n << 64n) throw rangeError('ERR_INVALID_OPTION', `${where}: seed must be in [0, 2^64)`);
  return { vnodes, seed: s, seedLo: Number(s & 0xffffffffn) | 0, seedHi: Number(s >> 32n) | 0 };
}

/** Throws unless `name` can name a node. */
function checkNodeName(where: string, name: unknown): asserts name is string {
  if (typeof name !== 'string') throw typeError('ERR_INVALID_OPTION', `${where} must be a string`);
  if (name.length === 0) throw rangeError('ERR_INVALID_OPTION', `${where} must not be empty`);
}

/** Throws unless `weight` is a positive finite number. */
function checkWeight(where: string, weight: unknown): asserts weight is number {
  if (typeof weight !== 'number') throw typeError('ERR_INVALID_OPTION', `${where} must be a number`);
  if (!(weight > 0) || !Number.isFinite(weight)) throw rangeError('ERR_INVALID_OPTION', `${where} must be a positive finite number, got ${weight}`);
}

/** A node set laid out for the core: names in index order and the stage (assembly/ring.ts). */
interface Stage {
  names: string[];
  /** names block (nodes u32, then length u16 + UTF-8 per node), then a u32 point count per node. */
  bytes: Uint8Array;
  /** Bytes of the names block at the start of `bytes`. */
  namesBytes: number;
  points: number;
  /** Longest name in UTF-8 bytes (the core's work area holds it plus VNODE_SUFFIX_BYTES). */
  longest: number;
}

/**
 * Numbers the nodes in sorted name order, gives each round(vnodes × weight) points (at least 1)
 * and encodes the stage. Throws RangeError when the points pass `maxPoints` or a name is too long.
 */
function stageOf(where: string, weights: ReadonlyMap<string, number>, vnodes: number, maxPoints: number, what: string): Stage {
  const names = [...weights.keys()].sort();
  let points = 0;
  const counts = names.map((n) => {
    const c = Math.max(1, Math.round(vnodes * weights.get(n)!));
    points += c;
    return c;
  });
  if (points > maxPoints) throw rangeError('ERR_INVALID_OPTION', `${where}: ${points} points exceed ${what}'s ${maxPoints}`);
  const encoded = names.map((n) => encoder.encode(n));
  let namesBytes = 4;
  let longest = 0;
  for (let i = 0; i < encoded.length; i++) {
    const len = encoded[i].length;
    if (len > MAX_NODE_NAME_BYTES) throw rangeError('ERR_INVALID_OPTION', `${where}: node name takes ${len} bytes of UTF-8, more than ${MAX_NODE_NAME_BYTES}`);
    if (len > longest) longest = len;
    namesBytes += 2 + len;
  }
  const bytes = new Uint8Array(namesBytes + 4 * names.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, names.length, true);
  let at = 4;
  for (const e of encoded) {
    view.setUint16(at, e.length, true);
    bytes.set(e, at + 2);
    at += 2 + e.length;
  }
  for (const c of counts) {
    view.setUint32(at, c, true);
    at += 4;
  }
  return { names, bytes, namesBytes, points, longest };
}

const encoder = new TextEncoder();

export class HashRing {
  readonly vnodes: number;
  readonly seed: bigint;
  readonly memory: WebAssembly.Memory;
  readonly #x: CoreExports;
  readonly #seedLo: number;
  readonly #seedHi: number;
  /** Key scratch view (below the ring, so it stays valid when the memory grows). */
  readonly #keyView: Uint8Array;
  readonly #encoder = new TextEncoder();
  /** Node name → weight. */
  readonly #weights = new Map<string, number>();
  /** Node names by index on the ring (sorted). */
  #names: string[] = [];
  #count = 0;

  constructor(options: HashRingOptions = {}) {
    const o = resolveRingOptions('HashRing', options);
    this.vnodes = o.vnodes;
    this.seed = o.seed;
    this.#seedLo = o.seedLo;
    this.#seedHi = o.seedHi;
    const initial = Math.ceil((RING_AT + 4096 * ENTRY_BYTES) / PAGE);
    this.memory = new WebAssembly.Memory({ initial, maximum: MAX_PAGES, shared: true });
    this.#x = instantiateCore(coreModule(), this.memory);
    this.#keyView = new Uint8Array(this.memory.buffer, KEY_AT, KEY_CAP);
  }

  /** The node names on the ring, sorted. */
  get nodes(): string[] {
    return this.#names.slice();
  }

  /** Points on the ring. */
  get size(): number {
    return this.#count;
  }

  /** Byte offset of the sorted ring in `memory` (entries: [point u64, node index u32, pad u32]). */
  get ringPtr(): number {
    return RING_AT;
  }

  /** Whether `node` is on the ring. */
  has(node: string): boolean {
    return this.#weights.has(node);
  }

  /** Adds `node` (or changes its weight): it gets round(vnodes × weight) points, at least 1. */
  add(node: string, weight = 1): this {
    checkNodeName('HashRing.add: node', node);
    checkWeight('HashRing.add: weight', weight);
    const previous = this.#weights.get(node);
    this.#weights.set(node, weight);
    try {
      this.#rebuild();
    } catch (err) {
      if (previous === undefined) this.#weights.delete(node);
      else this.#weights.set(node, previous);
      this.#rebuild();
      throw err;
    }
    return this;
  }

  /** Removes `node`; false when it was not on the ring. */
  remove(node: string): boolean {
    if (typeof node !== 'string') throw typeError('ERR_INVALID_OPTION', 'HashRing.remove: node must be a string');
    if (!this.#weights.delete(node)) return false;
    this.#rebuild();
    return true;
  }

  /**
   * The node owning `key` (a string, hashed as its UTF-8 bytes, or the bytes themselves), or
   * undefined when the ring is empty. Keys may take up to 64 KiB.
   */
  lookup(key: string | Uint8Array): string | undefined {
    let len: number;
    if (typeof key === 'string') {
      const r = this.#encoder.encodeInto(key, this.#keyView);
      if (r.read !== key.length) throw rangeError('ERR_KEY_TOO_LARGE', `HashRing.lookup: key takes more than ${KEY_CAP} bytes`);
      len = r.written;
    } else if (key instanceof Uint8Array) {
      if (key.length > KEY_CAP) throw rangeError('ERR_KEY_TOO_LARGE', `HashRing.lookup: key takes more than ${KEY_CAP} bytes`);
      this.#keyView.set(key);
      len = key.length;
    } else {
      throw typeError('ERR_INVALID_KEY', 'HashRing.lookup: key must be a string or a Uint8Array');
    }
    if (this.#count === 0) return undefined;
    const i = this.#x.ringLookup(RING_AT, this.#count, KEY_AT, len, this.#seedLo, this.#seedHi);
    return this.#names[i];
  }

  /** Stages the node set after the ring's end and lets the core fill and sort the ring at RING_AT. */
  #rebuild(): void {
    const stage = stageOf('HashRing.add', this.#weights, this.vnodes, MAX_POINTS, 'the ring');
    const stageAt = RING_AT + stage.points * ENTRY_BYTES;
    const workAt = stageAt + stage.bytes.length;
    const need = workAt + stage.longest + VNODE_SUFFIX_BYTES;
    const have = this.memory.buffer.byteLength;
    if (need > have) this.memory.grow(Math.ceil((need - have) / PAGE));
    new Uint8Array(this.memory.buffer).set(stage.bytes, stageAt);
    const n = this.#x.ringFill(stageAt, stage.bytes.length, RING_AT, workAt, this.#seedLo, this.#seedHi);
    if (n !== stage.points) throw new Error('HashRing: the core refused the ring region');
    this.#names = stage.names;
    this.#count = n;
  }
}

/** A node of `SharedRing.setNodes`: its name, or its name and weight (default 1). */
export type RingNode = string | { readonly name: string; readonly weight?: number };

/** What `SharedRing.of` takes: a Cache (any thread's, including one from `Cache.attach`). */
export interface SharedRingHost {
  [kTable](): CoreTable;
}

/** Lookups that find the ring republished under them this many times in a row give up. */
const MAX_STALE_RETRIES = 1000;
/** Bytes of a ring snapshot before its names block (assembly/shared-ring.ts). */
const SNAPSHOT_HEADER_BYTES = 16;

const sharedRings = new WeakMap<object, SharedRing>();

/**
 * This thread's view of a cache's consistent-hash ring, which lives in the cache's shared memory
 * (assembly/shared-ring.ts; layout in docs/memory-layout.md). Every thread attached to the cache
 * gets its own view with `SharedRing.of(cache)` and looks keys up in the same ring, with no copy;
 * any thread may publish a new node set with `setNodes`. Lookups agree with a `HashRing` of the
 * same nodes, weights, vnodes and seed.
 *
 * Readers never lock: a lookup reads the published ring and checks that it was not republished
 * meanwhile, trying again if it was, so it never returns a node from a half-written ring. Node
 * names are read from shared memory once per published epoch and cached in this view. Keys are
 * encoded into the cache's scratch area, so they are limited by the cache's `maxKeyBytes`.
 */
export class SharedRing {
  readonly #cache: SharedRingHost;
  /** Epoch of the names cached below (-1: none yet; 0: never published). */
  #epoch = -1;
  #names: string[] = [];
  #points = 0;
  #seed = 0n;

  private constructor(cache: SharedRingHost) {
    this.#cache = cache;
  }

  /** This thread's view of `cache`'s ring (one per cache object, created on first use). */
  static of(cache: SharedRingHost): SharedRing {
    if (cache === null || typeof cache !== 'object' || typeof (cache as Partial<SharedRingHost>)[kTable] !== 'function') {
      throw typeError('ERR_INVALID_OPTION', 'SharedRing.of: cache must be a Cache');
    }
    let ring = sharedRings.get(cache);
    if (ring === undefined) {
      cache[kTable](); // throws ERR_CACHE_CLOSED for a closed cache
      ring = new SharedRing(cache);
      sharedRings.set(cache, ring);
    }
    return ring;
  }

  /** The published ring's epoch: 0 before the first `setNodes`, then one more per publish (any thread's). */
  get epoch(): number {
    return this.#cache[kTable]().x.sharedRingEpoch();
  }

  /** The node names of the published ring, sorted: `lookupIndex` numbers them in this order. */
  get nodes(): string[] {
    this.#syncIfStale(this.#cache[kTable]());
    return this.#names.slice();
  }

  /** Points on the published ring. */
  get size(): number {
    this.#syncIfStale(this.#cache[kTable]());
    return this.#points;
  }

  /** The published ring's seed (for both its points and the keys). */
  get seed(): bigint {
    this.#syncIfStale(this.#cache[kTable]());
    return this.#seed;
  }

  /**
   * Builds the ring of `nodes` (names, or `{ name, weight }`; every node gets
   * round(vnodes × weight) points, at least 1) in the cache's shared memory and publishes it for
   * every thread. An empty list publishes an empty ring. Returns the new epoch. Concurrent calls
   * from several threads are serialized; the last to publish wins.
   */
  setNodes(nodes: ReadonlyArray<RingNode>, options: HashRingOptions = {}): number {
    const where = 'SharedRing.setNodes';
    if (!Array.isArray(nodes)) throw typeError('ERR_INVALID_OPTION', `${where}: nodes must be an array`);
    const o = resolveRingOptions(where, options);
    const weights = new Map<string, number>();
    for (let i = 0; i < nodes.length; i++) {
      const node: unknown = nodes[i];
      let name: unknown, weight: unknown = 1;
      if (typeof node === 'string') name = node;
      else if (node !== null && typeof node === 'object') {
        name = (node as { name?: unknown }).name;
        weight = (node as { weight?: unknown }).weight ?? 1;
      } else throw typeError('ERR_INVALID_OPTION', `${where}: nodes[${i}] must be a string or { name, weight? }`);
      checkNodeName(`${where}: nodes[${i}] name`, name);
      checkWeight(`${where}: nodes[${i}] weight`, weight);
      if (weights.has(name)) throw rangeError('ERR_INVALID_OPTION', `${where}: node ${JSON.stringify(name)} is listed twice`);
      weights.set(name, weight);
    }
    const stage = stageOf(where, weights, o.vnodes, SHARED_RING_MAX_POINTS, 'the shared ring');
    if (stage.namesBytes > SHARED_RING_MAX_NAMES_BYTES) {
      throw rangeError('ERR_INVALID_OPTION', `${where}: the node names take ${stage.namesBytes} bytes, more than the shared ring's ${SHARED_RING_MAX_NAMES_BYTES}`);
    }
    const t = this.#cache[kTable]();
    const workAt = stage.bytes.length;
    t.reserveScratch(workAt + stage.longest + VNODE_SUFFIX_BYTES);
    t.u8.set(stage.bytes, t.sp);
    const epoch = t.x.sharedRingPublish(t.sp, stage.bytes.length, t.sp + workAt, o.seedLo, o.seedHi);
    if (epoch < 0) throw ringError(epoch, where);
    this.#epoch = epoch;
    this.#names = stage.names;
    this.#points = stage.points;
    this.#seed = o.seed;
    return epoch;
  }

  /**
   * The node owning `key` (a string, hashed as its UTF-8 bytes, or the bytes themselves) on the
   * published ring, or undefined when the ring is empty or was never published.
   */
  lookup(key: string | Uint8Array): string | undefined {
    const i = this.lookupIndex(key);
    return i < 0 ? undefined : this.#names[i];
  }

  /** Like `lookup`, but the owner's index in `nodes`; -1 when the ring is empty. */
  lookupIndex(key: string | Uint8Array): number {
    const t = this.#cache[kTable]();
    const len = t.encodeKey(key);
    const i = t.x.sharedRingLookup(t.sp, len, this.#epoch);
    return i >= 0 ? i : this.#lookupSlow(t, key, i);
  }

  /** A lookup that did not find the cached epoch published: refresh the names and ask again. */
  #lookupSlow(t: CoreTable, key: string | Uint8Array, status: number): number {
    for (let tries = 0; tries < MAX_STALE_RETRIES; tries++) {
      if (status === ST_MISS) return -1;
      if (status !== ST_STALE) throw ringError(status, 'SharedRing.lookup');
      this.#sync(t);
      const len = t.encodeKey(key); // the snapshot overwrote the key in scratch
      status = t.x.sharedRingLookup(t.sp, len, this.#epoch);
      if (status >= 0) return status;
    }
    throw ringError(ST_BUSY, 'SharedRing.lookup');
  }

  #syncIfStale(t: CoreTable): void {
    if (t.x.sharedRingEpoch() !== this.#epoch) this.#sync(t);
  }

  /** Reads the published ring's epoch, points, seed and names (one consistent snapshot). */
  #sync(t: CoreTable): void {
    let n = t.x.sharedRingSnapshot(t.sp, t.scap);
    while (n === ST_SCRATCH) {
      t.reserveScratch(t.i32[t.resultIndex] >>> 0);
      n = t.x.sharedRingSnapshot(t.sp, t.scap);
    }
    if (n < 0) throw ringError(n, 'SharedRing');
    const b = t.scratch;
    const epoch = b.readUInt32LE(0);
    const points = b.readUInt32LE(4);
    const seed = b.readBigUInt64LE(8);
    const count = b.readUInt32LE(SNAPSHOT_HEADER_BYTES);
    const names = new Array<string>(count);
    let at = SNAPSHOT_HEADER_BYTES + 4;
    for (let i = 0; i < count; i++) {
      const len = b.readUInt16LE(at);
      names[i] = b.toString('utf8', at + 2, at + 2 + len);
      at += 2 + len;
    }
    this.#epoch = epoch;
    this.#names = names;
    this.#points = points;
    this.#seed = seed;
  }
}

/** The error for a negative status from a shared-ring call. */
function ringError(status: number, where: string): Error {
  switch (status) {
    case ST_NO_MEMORY:
      return new CacheError('ERR_OUT_OF_MEMORY', `${where}: the WebAssembly memory cannot grow to hold the ring`);
    case ST_LOCK_TIMEOUT:
      return new CacheError('ERR_LOCK_TIMEOUT', `${where}: another thread held the ring's writer lock longer than lockTimeout`);
    case ST_BUSY:
      return new CacheError('ERR_CORE', `${where}: the ring was republished during every try`);
    default:
      return statusError(status, where);
  }
}
