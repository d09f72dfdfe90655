/**
 * HashRing: consistent hashing of keys onto named nodes, looked up in the WebAssembly core
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
 * The ring lives in a small shared WebAssembly.Memory of its own with its own core instance (the
 * cache's table is never initialised on it): key scratch at 1 MiB, the sorted ring right after it,
 * the memory growing as the ring does. Adding or removing a node rebuilds the ring (O(n log n)).
 * `memory`, `ringPtr` and `size` describe the ring for a thread that instantiates the core over the
 * same memory and calls `ringLookup` itself.
 */
import { coreModule, instantiateCore, type CoreExports } from './wasm.js';
import { rangeError, typeError } from '../errors.js';

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

export interface HashRingOptions {
  /** Points per node at weight 1 (default 160). */
  vnodes?: number;
  /** xxh64 seed for both the points and the keys: a non-negative integer below 2^64 (default 0). */
  seed?: number | bigint;
}

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
    if (options === null || typeof options !== 'object') throw typeError('ERR_INVALID_OPTION', 'HashRing: options must be an object');
    const { vnodes = 160, seed = 0 } = options;
    if (typeof vnodes !== 'number') throw typeError('ERR_INVALID_OPTION', 'HashRing: vnodes must be a number');
    if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > 1_000_000) {
      throw rangeError('ERR_INVALID_OPTION', `HashRing: vnodes must be an integer in [1, 1000000], got ${vnodes}`);
    }
    if (typeof seed !== 'number' && typeof seed !== 'bigint') throw typeError('ERR_INVALID_OPTION', 'HashRing: seed must be a number or a bigint');
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) throw rangeError('ERR_INVALID_OPTION', `HashRing: seed must be a safe integer, got ${seed}`);
    const s = BigInt(seed);
    if (s < 0n || s >= 1n << 64n) throw rangeError('ERR_INVALID_OPTION', 'HashRing: seed must be in [0, 2^64)');
    this.vnodes = vnodes;
    this.seed = s;
    this.#seedLo = Number(s & 0xffffffffn) | 0;
    this.#seedHi = Number(s >> 32n) | 0;
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
    if (typeof node !== 'string') throw typeError('ERR_INVALID_OPTION', 'HashRing.add: node must be a string');
    if (node.length === 0) throw rangeError('ERR_INVALID_OPTION', 'HashRing.add: node must not be empty');
    if (typeof weight !== 'number') throw typeError('ERR_INVALID_OPTION', 'HashRing.add: weight must be a number');
    if (!(weight > 0) || !Number.isFinite(weight)) throw rangeError('ERR_INVALID_OPTION', `HashRing.add: weight must be a positive finite number, got ${weight}`);
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

  /** Lays out every node's points after RING_AT and sorts them in the core. */
  #rebuild(): void {
    const names = [...this.#weights.keys()].sort();
    let total = 0;
    const counts = names.map((n) => {
      const c = Math.max(1, Math.round(this.vnodes * this.#weights.get(n)!));
      total += c;
      return c;
    });
    if (total > MAX_POINTS) throw rangeError('ERR_INVALID_OPTION', `HashRing: ${total} points exceed the ring's ${MAX_POINTS}`);
    const need = RING_AT + total * ENTRY_BYTES;
    const have = this.memory.buffer.byteLength;
    if (need > have) this.memory.grow(Math.ceil((need - have) / PAGE));
    const buffer = this.memory.buffer;
    const view = new DataView(buffer);
    const seed = this.seed;
    const x = this.#x;
    let at = RING_AT;
    for (let n = 0; n < names.length; n++) {
      const prefix = `${names[n]}#`;
      for (let i = 0; i < counts[n]; i++) {
        const r = this.#encoder.encodeInto(`${prefix}${i}`, this.#keyView);
        if (r.read !== prefix.length + String(i).length) throw rangeError('ERR_INVALID_OPTION', 'HashRing.add: node name too long');
        view.setBigUint64(at, BigInt.asUintN(64, x.xxh64(KEY_AT, r.written, seed)), true);
        view.setUint32(at + 8, n, true);
        at += ENTRY_BYTES;
      }
    }
    if (x.ringBuild(RING_AT, total) !== total) throw new Error('HashRing: the core refused the ring region');
    this.#names = names;
    this.#count = total;
  }
}
