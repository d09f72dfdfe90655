/**
 * Rebalancing: after an ownership change, hands every key this node holds but no longer owns to
 * its new owner. A pass scans the local cache (the scan holds one shard lock per small batch, so
 * the cache keeps serving), groups misplaced entries per owner, and sends each group as Rebalance
 * batches, waiting for each batch's ack before reading on — that wait is the backpressure: a slow
 * receiver slows the pass instead of filling memory or the socket. A key is deleted here only
 * after its owner acknowledged it, and only if it did not change meanwhile (else the next pass
 * sends the newer value). The receiver stores only keys it does not have, so a write made on the
 * new owner during the move is never overwritten by the old copy.
 *
 * Passes run after each change (debounced), again a little later (requests forwarded under an
 * older view may have written misplaced keys meanwhile), and then every `sweepIntervalMs` (checked
 * on the node's stats tick).
 */
import type { Cache } from '../cache/cache.js';
import { kGetEncoded, kGetView } from '../cache/internal.js';
import type { MeshLogger } from './options.js';
import type { OutgoingFrame } from './transport.js';
import { MessageType, type MeshFrame, type RebalanceEntry } from './wire.js';

/** Wait after a change before the pass starts (changes come in bursts while gossip spreads). */
const DEBOUNCE_MS = 100;
/** A second pass this long after the last change, for keys written under an older view. */
const SETTLE_MS = 2000;
/** How long one batch may wait for its ack. */
const BATCH_TIMEOUT_MS = 10_000;
/** Keys read per scan step. */
const SCAN_COUNT = 512;

export interface RebalancerDeps {
  nodeId: string;
  batchEntries: number;
  /** A pass runs at least this often even without a change (misplaced keys, range split checks). */
  sweepIntervalMs: number;
  ownerOf(key: Uint8Array): string | undefined;
  addressOf(nodeId: string): string | undefined;
  request(address: string, frame: OutgoingFrame, timeoutMs: number): Promise<MeshFrame>;
  /** The partitioner's epoch (a pass started under an older one restarts). */
  epoch(): number;
  logger: MeshLogger | null;
  /**
   * Range partitioner only: a collector the pass feeds every locally owned key and its size to;
   * `finish` splits the ranges that grew too large. Null for the hash partitioner.
   */
  rangeStats: (() => { add(key: Uint8Array, bytes: number): void; finish(): void }) | null;
  /** After a pass that left nothing pending and ran under one ownership throughout. */
  onPassComplete(): void;
}

export interface RebalanceStats {
  /** Passes completed. */
  passes: number;
  /** Keys handed over to their new owner (acknowledged). */
  sent: number;
  /** Keys received from previous owners and stored. */
  received: number;
  /** Keys that could not be handed over in the last pass (owner unreachable): retried later. */
  pending: number;
  /** Batches that failed (timeout, connection lost). */
  failures: number;
  /** 1 while a pass runs. */
  inProgress: number;
  /** Duration of the last pass, in ms. */
  lastPassMs: number;
}

export class Rebalancer {
  /** Keys received and stored (the node counts them; shown with the rest). */
  received = 0;
  readonly #cache: Cache;
  readonly #d: RebalancerDeps;
  #running: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #settleTimer: NodeJS.Timeout | null = null;
  #stopped = false;
  #lastPassAt = Date.now();
  #stats = { passes: 0, sent: 0, pending: 0, failures: 0, lastPassMs: 0 };

  constructor(cache: Cache, deps: RebalancerDeps) {
    this.#cache = cache;
    this.#d = deps;
  }

  /** Starts a pass soon (and a settling pass later); a running pass is redone once it ends. */
  schedule(): void {
    if (this.#stopped) return;
    if (this.#timer === null) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#kick();
      }, DEBOUNCE_MS);
      this.#timer.unref();
    }
    if (this.#settleTimer !== null) clearTimeout(this.#settleTimer);
    this.#settleTimer = setTimeout(() => {
      this.#settleTimer = null;
      this.#kick();
    }, SETTLE_MS);
    this.#settleTimer.unref();
  }

  /** Called periodically: a sweep when none ran for a while, or when keys are still pending. */
  tick(): void {
    if (this.#running !== null || this.#stopped) return;
    if (this.#stats.pending > 0 || Date.now() - this.#lastPassAt > this.#d.sweepIntervalMs) this.#kick();
  }

  #kick(): void {
    if (this.#stopped) return;
    if (this.#running !== null) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => { this.#running = null; });
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.#pass();
      } catch (err) {
        this.#d.logger?.warn({ err: (err as Error).message }, 'mesh: rebalance pass failed');
      }
    } while (this.#again && !this.#stopped);
  }

  /**
   * Runs passes until nothing is left to hand over or `deadline` (ms since the epoch) passes;
   * resolves with the keys handed over meanwhile. Used by a leaving node.
   */
  async drain(deadline: number): Promise<number> {
    const before = this.#stats.sent;
    while (!this.#stopped) {
      if (this.#running !== null) await this.#running;
      const pending = await this.#pass();
      if (pending === 0 || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    return this.#stats.sent - before;
  }

  /** One pass; returns the keys it could not hand over. */
  async #pass(): Promise<number> {
    const started = Date.now();
    const { nodeId, batchEntries } = this.#d;
    const epoch = this.#d.epoch();
    const batches = new Map<string, RebalanceEntry[]>();
    const local = this.#d.rangeStats === null ? null : this.#d.rangeStats();
    let pending = 0;
    for await (const key of this.#cache.scan({ keys: 'buffer', count: SCAN_COUNT })) {
      if (this.#stopped) return 0;
      const k = key as Buffer;
      const owner = this.#d.ownerOf(k);
      if (owner === undefined || owner === nodeId) {
        if (local !== null) {
          const view = this.#cache[kGetView](k);
          if (view !== null) local.add(k, k.length + view.length);
        }
        continue;
      }
      const got = this.#cache[kGetEncoded](k);
      if (got === null) continue;
      const ttl = this.#cache.ttl(k);
      if (ttl !== undefined && ttl !== Infinity && ttl < 1) continue;
      const ttlMs = ttl === undefined || ttl === Infinity ? 0 : Math.min(0xffff_ffff, Math.ceil(ttl));
      let batch = batches.get(owner);
      if (batch === undefined) batches.set(owner, batch = []);
      batch.push({ key: k, value: got[0], valueType: got[1], ttlMs });
      if (batch.length >= batchEntries) {
        pending += await this.#send(owner, batch, epoch);
        batches.set(owner, []);
      }
    }
    for (const [owner, batch] of batches) if (batch.length > 0) pending += await this.#send(owner, batch, epoch);
    if (local !== null) local.finish();
    this.#stats.passes++;
    this.#stats.pending = pending;
    this.#stats.lastPassMs = Date.now() - started;
    this.#lastPassAt = Date.now();
    if (this.#d.epoch() !== epoch) this.#again = true;
    else if (pending === 0 && !this.#stopped) this.#d.onPassComplete();
    return pending;
  }

  /** Sends one batch and, once acknowledged, drops the unchanged entries here. Returns how many are still here. */
  async #send(owner: string, entries: RebalanceEntry[], epoch: number): Promise<number> {
    const address = this.#d.addressOf(owner);
    if (address === undefined) return entries.length;
    try {
      const reply = await this.#d.request(address, { type: MessageType.Rebalance, body: { epoch: BigInt(epoch), entries } }, BATCH_TIMEOUT_MS);
      if (reply.type !== MessageType.RebalanceAck) throw new Error(`unexpected reply type ${reply.type}`);
    } catch (err) {
      this.#stats.failures++;
      this.#d.logger?.warn({ owner, entries: entries.length, err: (err as Error).message }, 'mesh: rebalance batch not acknowledged; retrying later');
      return entries.length;
    }
    let kept = 0;
    for (const e of entries) {
      // Still someone else's, and not rewritten here since it was read: the owner has it now.
      if (this.#d.ownerOf(e.key) === this.#d.nodeId) continue;
      const now = this.#cache[kGetView](e.key);
      if (now !== null && Buffer.compare(now, e.value) === 0) {
        this.#cache.delete(e.key);
        this.#stats.sent++;
      } else if (now !== null) {
        kept++;
      }
    }
    return kept;
  }

  stats(): RebalanceStats {
    return { ...this.#stats, received: this.received, inProgress: this.#running === null ? 0 : 1 };
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#settleTimer !== null) clearTimeout(this.#settleTimer);
  }
}
