/**
 * Hand-off windows: how a key's new owner finds the key while rebalancing still moves it.
 *
 * Algorithm. When ownership changes, the node opens a window on the previous ownership (a
 * `key → owner` function) for `windowMs`. While windows are open, a miss on a key this node owns
 * asks the key's previous owners — newest ownership first, skipping this node, dead members and
 * repeats — for the key, one after the other, and keeps the first answer. Several windows can be
 * open at once (changes in a row while gossip spreads; at most MAX_OPEN_WINDOWS), because the key
 * sits with whichever view had it last. Concurrent misses on one key share one pull.
 *
 * Early close. Every node broadcasts HandoffDone with the digest of its ownership when a
 * rebalance pass has handed over everything it no longer owns. Once every member that may still
 * hold keys for this node (every other member that is not dead, and not left before the newest
 * window) has said so under this node's own current digest, the windows close: from then on a miss
 * is a miss and costs no round trip. The time limit stays as the fallback.
 *
 * Invariants: a pulled value is stored only where the key is still absent, so a write made on the
 * new owner is never overwritten by the old copy; a closed (or expired) window is never asked.
 */
import type { Milliseconds } from '../config.js';
import type { Member } from './membership.js';
import type { MeshLogger } from './options.js';

/** Windows kept open at most: older ones are dropped first (their keys have had the longest to move). */
export const MAX_OPEN_WINDOWS = 4;

/** Which node owned a key under some ownership (undefined: none). */
export type OwnerOf = (key: Uint8Array) => string | undefined;

/** What `Handoffs` needs from its node. */
export interface HandoffHost {
  /** This node's id. */
  readonly nodeId: string;
  /** How long a window stays open. 0: windows close at once (misses never ask). */
  readonly windowMs: Milliseconds;
  /** Whether the key is present here (a present key is never pulled). */
  has(key: Buffer): boolean;
  /** A member by id, if known. */
  member(nodeId: string): Member | undefined;
  /** Every known member. */
  members(): Iterable<Member>;
  /**
   * Asks `from` for `key` and stores it here only if still absent. Resolves true when `from`
   * answered with the key (ask no one else), false when it does not have it; rejects when it
   * cannot be reached (the next candidate is asked).
   */
  fetch(from: string, key: Buffer): Promise<boolean>;
  /** The digest of this node's current ownership (what HandoffDone carries). */
  digest(): bigint;
  /** Called when the windows close early because every previous owner is done. */
  onClosedEarly(): void;
  /** Wall clock, ms since the epoch (members' `stateChangedAt` is on it). @default Date.now */
  now?: () => number;
  logger?: MeshLogger | null;
}

/** A previous ownership, and until when new owners consult it. */
interface Window {
  until: number;
  ownerOf: OwnerOf;
}

/** The open hand-off windows of one node; see the file comment. */
export class Handoffs {
  readonly #host: HandoffHost;
  readonly #now: () => number;
  /** Newest first, while open. */
  #windows: Window[] = [];
  /** In-flight pulls by key (latin1), so concurrent misses on one key ask once. */
  readonly #pulls = new Map<string, Promise<void>>();
  /** Peer id → digest of the ownership under which it last finished handing keys over. */
  readonly #doneBy = new Map<string, bigint>();

  constructor(host: HandoffHost) {
    this.#host = host;
    this.#now = host.now ?? Date.now;
  }

  /** Until when (ms since the epoch) a window is open; 0 when none is. */
  get until(): number {
    let until = 0;
    for (const w of this.#windows) until = Math.max(until, w.until);
    return until > this.#now() ? until : 0;
  }

  /** Windows open now. */
  get openCount(): number {
    const now = this.#now();
    return this.#windows.filter((w) => w.until > now).length;
  }

  /**
   * Opens a window on the ownership before a change (`previous`). The caller then calls `check`
   * (once it has told its listeners about the change: an early close tells them again).
   */
  open(previous: OwnerOf): void {
    const now = this.#now();
    this.#windows = [{ until: now + this.#host.windowMs, ownerOf: previous }, ...this.#windows.filter((w) => w.until > now)].slice(0, MAX_OPEN_WINDOWS);
  }

  /** Records a peer's HandoffDone, then checks for an early close. */
  peerDone(nodeId: string, digest: bigint): void {
    this.#doneBy.set(nodeId, digest);
    this.check();
  }

  /**
   * For keys absent here that a previous owner may still hold: fetches each from that owner (see
   * `HandoffHost.fetch`). Null when there is nothing to wait for (no window open, no such key).
   */
  pullMoved(keys: Buffer[]): Promise<void> | null {
    if (this.#windows.length === 0) return null;
    const now = this.#now();
    if (this.#windows[0].until <= now) {
      this.#windows = this.#windows.filter((w) => w.until > now);
      if (this.#windows.length === 0) return null;
    }
    let pending: Promise<void>[] | null = null;
    for (const key of keys) {
      if (this.#host.has(key)) continue;
      const from = this.#previousOwners(key);
      if (from.length === 0) continue;
      const id = key.toString('latin1');
      let p = this.#pulls.get(id);
      if (p === undefined) {
        p = this.#pull(key, from).finally(() => this.#pulls.delete(id));
        this.#pulls.set(id, p);
      }
      (pending ??= []).push(p);
    }
    return pending === null ? null : Promise.all(pending).then(() => undefined);
  }

  /**
   * Closes the windows early once every member that may still hold keys for this node has said it
   * handed everything over under the same ownership. Returns whether it closed them.
   */
  check(): boolean {
    if (this.#windows.length === 0) return false;
    const digest = this.#host.digest();
    const recent = this.#now() - this.#host.windowMs;
    for (const m of this.#host.members()) {
      if (m.nodeId === this.#host.nodeId || m.state === 'dead') continue;
      if (m.state === 'left' && m.stateChangedAt < recent) continue;
      if (this.#doneBy.get(m.nodeId) !== digest) return false;
    }
    this.#windows = [];
    this.#host.logger?.debug?.({ digest: String(digest) }, 'mesh: every previous owner has handed its keys over');
    this.#host.onClosedEarly();
    return true;
  }

  /**
   * The previous owners of `key` that are other reachable members, newest ownership first and
   * without repeats.
   */
  #previousOwners(key: Uint8Array): string[] {
    const out: string[] = [];
    for (const w of this.#windows) {
      const o = w.ownerOf(key);
      if (o === undefined || o === this.#host.nodeId || out.includes(o)) continue;
      const m = this.#host.member(o);
      // A leaving node stays reachable while it hands its keys over; a dead one is not asked.
      if (m !== undefined && m.state !== 'dead') out.push(o);
    }
    return out;
  }

  /** Asks each candidate in turn for `key` and keeps the first answer here (if still absent). */
  async #pull(key: Buffer, candidates: string[]): Promise<void> {
    for (const from of candidates) {
      try {
        if (await this.#host.fetch(from, key)) return;
      } catch (err) {
        this.#host.logger?.debug?.({ from, err: (err as Error).message }, 'mesh: hand-off pull failed');
      }
    }
  }
}
