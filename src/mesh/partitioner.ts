/**
 * The partitioner interface: which node owns a key. Two implementations: the consistent-hash ring
 * (`HashPartitioner`, lookups in the WebAssembly core over the cache's shared memory) and ordered
 * key ranges (`RangePartitioner`, range.ts). The mesh node calls `setMembers` whenever the set of
 * members that may own keys changes, routes every key with `ownerOf`, and rebalances when `epoch`
 * moves.
 */
import type { MeshFrame } from './wire.js';
import type { OutgoingFrame } from './transport.js';

export interface Partitioner {
  /** `hash` (consistent-hash ring) or `range` (ordered key ranges). */
  readonly kind: 'hash' | 'range';
  /**
   * Changes on every change of key ownership (a member set change, a split or a table from a
   * peer). The node compares epochs to know when to rebalance.
   */
  readonly epoch: number;
  /** The node id owning `key`, or undefined with no members. Pure and synchronous: the hot path. */
  ownerOf(key: Uint8Array): string | undefined;
  /**
   * The node ids that may own keys now (alive members not leaving, this node included when it
   * is), in any order. Deterministic: every node given the same set (and, for ranges, the same
   * table) computes the same ownership.
   */
  setMembers(nodeIds: readonly string[]): void;
  /**
   * Handles a partitioner frame from a peer (RangeTable, RangeSplit); false when the frame is not
   * one of this partitioner's. May call the `broadcast` it was given.
   */
  handleFrame(frame: MeshFrame, from: string): boolean;
  /**
   * The current ownership, frozen: after the next change the node still asks it who owned a key
   * before, to fetch keys that have not been handed over yet.
   */
  snapshot(): (key: Uint8Array) => string | undefined;
  /**
   * Ownership as it would be without `nodeId` (same members otherwise). For a node that has just
   * joined, this is where the keys it now owns were before: whom to ask for them.
   */
  snapshotWithout(nodeId: string): (key: Uint8Array) => string | undefined;
  /** Balance and layout facts for INFO / stats (ranges, vnodes…). */
  describe(): Record<string, string | number>;
}

/** What a partitioner may ask of the node it lives in. */
export interface PartitionerHost {
  /** This node's id. */
  readonly nodeId: string;
  /** Sends a frame to every alive peer (best effort). */
  broadcast(frame: OutgoingFrame): void;
}
