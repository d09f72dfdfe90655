/**
 * Load statistics of the mesh: the keys and bytes each peer last reported (NodeStats frames, which
 * every node broadcasts each `statsIntervalMs`), the rows of `MESH NODES`, and the partition
 * balance (max / mean of keys and of bytes over the owners that reported).
 *
 * Invariants: a peer's figures are its latest report, and are dropped when it dies or leaves, so
 * a departed node is never counted; this node's own figures are read from its cache when asked,
 * never from a report.
 */
import type { Member } from './membership.js';
import type { NodeStatsBody } from './wire.js';

/** One line of `MESH NODES`. */
export interface MeshNodeInfo {
  nodeId: string;
  address: string;
  state: Member['state'];
  incarnation: bigint;
  self: boolean;
  keys: number | null;
  bytes: number | null;
}

/** Partition balance over the owning members that reported (see `balanceOf`). */
export interface MeshBalance {
  /** Owners whose figures are known. */
  nodes: number;
  /** Keys on the fullest owner over the mean (1 is perfect; 2: twice the average). 1 when no keys. */
  keysMaxOverMean: number;
  /** Bytes on the fullest owner over the mean. 1 when no bytes. */
  bytesMaxOverMean: number;
  /** Keys over those owners. */
  keys: number;
  /** Bytes over those owners. */
  bytes: number;
}

/** This node's own figures, and whether it is leaving (its row then says `left`). */
export interface SelfStats {
  nodeId: string;
  keys: number;
  bytes: number;
  leaving: boolean;
}

/** The figures peers last reported; see the file comment. */
export class PeerStats {
  /** Peer id → its last NodeStats and when it came (ms since the epoch). */
  readonly #byPeer = new Map<string, { keys: number; bytes: number; at: number }>();

  /** Keeps `nodeId`'s latest report. */
  record(nodeId: string, body: NodeStatsBody, at = Date.now()): void {
    this.#byPeer.set(nodeId, { keys: Number(body.keys), bytes: Number(body.bytes), at });
  }

  /** Drops a peer that died or left. */
  forget(nodeId: string): void {
    this.#byPeer.delete(nodeId);
  }

  /** Every member as a `MESH NODES` row with the keys and bytes it last reported, sorted by id. */
  rows(members: readonly Member[], self: SelfStats): MeshNodeInfo[] {
    return members.map((m): MeshNodeInfo => {
      const isSelf = m.nodeId === self.nodeId;
      const st = isSelf ? self : this.#byPeer.get(m.nodeId);
      return {
        nodeId: m.nodeId, address: m.address, state: isSelf && self.leaving ? 'left' : m.state, incarnation: m.incarnation,
        self: isSelf, keys: st?.keys ?? null, bytes: st?.bytes ?? null,
      };
    }).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }
}

/** Balance over the rows of `owners` whose figures are known: max / mean of keys and of bytes. */
export function balanceOf(rows: readonly MeshNodeInfo[], owners: ReadonlySet<string>): MeshBalance {
  const known = rows.filter((n) => owners.has(n.nodeId) && n.keys !== null);
  const keys = known.map((r) => r.keys!);
  const bytes = known.map((r) => r.bytes!);
  const ratio = (xs: number[]) => {
    const sum = xs.reduce((a, b) => a + b, 0);
    return sum === 0 ? 1 : Math.max(...xs) / (sum / xs.length);
  };
  return {
    nodes: known.length, keysMaxOverMean: ratio(keys), bytesMaxOverMean: ratio(bytes),
    keys: keys.reduce((a, b) => a + b, 0), bytes: bytes.reduce((a, b) => a + b, 0),
  };
}
