/**
 * The embedded node (`MeshCache.join`): a Cache that is one member of a mesh, Hazelcast-embedded
 * style. Each operation goes to the key's owner: straight to the local cache when this node owns
 * the key (after fetching it from its previous owner if a rebalance is moving it here), over the
 * mesh otherwise. Values cross the mesh encoded as the cache stores them (bytes, strings, or the
 * serializer's output), so every member decodes them the same way.
 */
import { Cache, type CacheKey, type CacheStats, type SetOptions } from '../cache/cache.js';
import { kDecode, kEncode } from '../cache/internal.js';
import { checkTtl, type CacheOptions } from '../config.js';
import { CacheError, typeError } from '../errors.js';
import { MeshNode, type MeshNodeInfo, type MeshOptions } from './node.js';
import { ForwardOp, ForwardStatus, type ForwardReplyBody } from './wire.js';

/** `MeshCache.join` options: the cache's own, plus `mesh`. */
export interface JoinOptions extends CacheOptions {
  mesh: MeshOptions;
}

const NONE = new Uint8Array(0);

function keyBytes(key: CacheKey): Buffer {
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  throw typeError('ERR_INVALID_KEY', 'key must be a string or a Uint8Array');
}

/** A cache spread over the mesh; see the file comment. */
export class MeshCache<V = unknown> {
  /** This node's share of the data (and its stats). */
  readonly local: Cache<V>;
  /** The mesh node: members, balance, counters. */
  readonly node: MeshNode;

  /** @internal Use `MeshCache.join`. */
  constructor(local: Cache<V>, node: MeshNode) {
    this.local = local;
    this.node = node;
  }

  /**
   * An embedded mesh node: a cache that is one member of a mesh (`options.mesh`, see MeshOptions).
   * Resolves once the mesh endpoint listens and the seeds in `mesh.join` (if any) were reached.
   * Its get/set/delete route each key to the member that owns it, so they return promises.
   */
  static join<V = unknown>(options: JoinOptions): Promise<MeshCache<V>> {
    return joinMesh<V>(options);
  }

  /** The member owning `key` (this node's id when it is local). */
  ownerOf(key: CacheKey): string | undefined {
    return this.node.ownerOf(keyBytes(key));
  }

  async #remote(owner: string, op: number, key: Buffer, value: Uint8Array = NONE, valueType = 0, ttlMs = 0): Promise<ForwardReplyBody> {
    const r = await this.node.forwardOp(owner, { op: op as ForwardBodyOp, ttlMs, valueType, key, value });
    if (r.status === ForwardStatus.Error) throw new CacheError('ERR_MESH_REMOTE', `node ${owner}: ${Buffer.from(r.value).toString('utf8')}`);
    return r;
  }

  async #local(key: Buffer): Promise<void> {
    const pull = this.node.pullMoved([key]);
    if (pull !== null) await pull;
  }

  /** The value of `key` from its owner, or undefined. */
  async get(key: CacheKey): Promise<V | undefined> {
    const k = keyBytes(key);
    const owner = this.node.remoteOwner(k);
    if (owner === undefined) {
      await this.#local(k);
      return this.local.get(key);
    }
    const r = await this.#remote(owner, ForwardOp.Get, k);
    return r.status === ForwardStatus.Ok ? this.local[kDecode](r.value, r.valueType) : undefined;
  }

  /** Stores `value` under `key` on its owner (`options.ttl` in ms; the cache's default otherwise). */
  async set(key: CacheKey, value: V, options?: SetOptions): Promise<void> {
    const k = keyBytes(key);
    const owner = this.node.remoteOwner(k);
    if (owner === undefined) {
      this.local.set(key, value, options);
      return;
    }
    if (options !== undefined && (options === null || typeof options !== 'object')) throw typeError('ERR_INVALID_OPTION', 'options must be an object');
    const ttl = options?.ttl === undefined ? this.local.options.ttl : checkTtl('options.ttl', options.ttl);
    if (value === undefined) {
      // As Cache.set: storing undefined deletes.
      await this.#remote(owner, ForwardOp.Delete, k);
      return;
    }
    const [payload, type] = this.local[kEncode](value);
    if (payload.length > this.local.options.maxValueBytes) {
      throw new RangeError(`value is ${payload.length} bytes, over maxValueBytes ${this.local.options.maxValueBytes}`);
    }
    await this.#remote(owner, ForwardOp.Set, k, payload, type, Math.min(0xffff_ffff, Math.ceil(ttl)));
  }

  /** Deletes `key` on its owner; true when it was there. */
  async delete(key: CacheKey): Promise<boolean> {
    const k = keyBytes(key);
    const owner = this.node.remoteOwner(k);
    if (owner === undefined) {
      await this.#local(k);
      return this.local.delete(key);
    }
    return (await this.#remote(owner, ForwardOp.Delete, k)).status === ForwardStatus.Ok;
  }

  /** Whether `key` is on its owner. */
  async has(key: CacheKey): Promise<boolean> {
    const k = keyBytes(key);
    const owner = this.node.remoteOwner(k);
    if (owner === undefined) {
      await this.#local(k);
      return this.local.has(key);
    }
    return (await this.#remote(owner, ForwardOp.Has, k)).status === ForwardStatus.Ok;
  }

  /** Values of `keys` (undefined for misses), fetched from their owners concurrently. */
  getMany(keys: Iterable<CacheKey>): Promise<Array<V | undefined>> {
    return Promise.all([...keys].map((k) => this.get(k)));
  }

  /** Stores every entry on its owner, concurrently. */
  async setMany(entries: Iterable<readonly [CacheKey, V]>, options?: SetOptions): Promise<void> {
    await Promise.all([...entries].map(([k, v]) => this.set(k, v, options)));
  }

  /** Members with their state and reported sizes. */
  nodes(): MeshNodeInfo[] {
    return this.node.nodes();
  }

  /** This node's cache stats, plus the mesh's balance. */
  stats(): CacheStats & { mesh: ReturnType<MeshNode['balance']> } {
    return { ...this.local.stats(), mesh: this.node.balance() };
  }

  /** Leaves the mesh gracefully (hands its keys to their new owners), then closes the cache. */
  async leave(): Promise<void> {
    await this.node.leave();
    await this.local.close();
  }

  /** Stops at once, without handing keys over (others detect this node as failed). */
  async close(): Promise<void> {
    await this.node.close();
    await this.local.close();
  }
}

type ForwardBodyOp = (typeof ForwardOp)[keyof typeof ForwardOp];

/** Creates the cache, starts its mesh node and joins the seeds. */
export async function joinMesh<V>(options: JoinOptions): Promise<MeshCache<V>> {
  if (options === null || typeof options !== 'object') throw typeError('ERR_INVALID_OPTION', 'options must be an object');
  if (options.mesh === undefined) throw typeError('ERR_INVALID_OPTION', 'options.mesh must be an object (the mesh options)');
  const { mesh, ...cacheOptions } = options;
  const local = new Cache<V>(cacheOptions);
  let node: MeshNode | null = null;
  try {
    node = new MeshNode(local as Cache, mesh);
    await node.start();
  } catch (err) {
    try {
      await node?.close();
    } finally {
      await local.close();
    }
    throw err;
  }
  return new MeshCache<V>(local, node);
}
