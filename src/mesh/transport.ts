/**
 * The mesh transport interface: how a node exchanges frames with its peers. Membership, routing
 * and rebalancing are written against this interface only; `ws-transport.ts` implements it over
 * WebSocket (ws), and tests use an in-memory implementation.
 *
 * Model: a peer is reached by its address (`host:port`). The transport keeps at most one outgoing
 * connection per address, opened on first use and authenticated before any frame is delivered.
 * Requests carry a fresh `requestId`; the reply comes back on the same connection with the same
 * `requestId`. A frame that arrives gets a `reply` function that answers on the connection it
 * came from. Nothing here ever throws at a peer: a malformed frame closes that peer's connection
 * with the wire error's close code and is counted.
 */
import type { Milliseconds } from '../config.js';
import type { MeshFrame } from './wire.js';

/** A frame to send: version, flags and requestId may be left to the transport. */
export type OutgoingFrame = Omit<MeshFrame, 'version' | 'requestId' | 'flags'> & { flags?: number };

/** Who sent an incoming frame (known once the connection has authenticated). */
export interface PeerInfo {
  /** The peer's node id, from its Hello. */
  readonly nodeId: string;
  /** The address the peer advertises (its mesh `host:port`). */
  readonly address: string;
  /** The peer's incarnation, from its Hello. */
  readonly incarnation: bigint;
}

/** Called for every authenticated incoming frame that is not a reply to one of our requests. */
export type FrameHandler = (frame: MeshFrame, from: PeerInfo, reply: (frame: OutgoingFrame) => void) => void;

/** Why a transport operation failed; `code` is stable. */
export class TransportError extends Error {
  constructor(
    readonly code:
      | 'ERR_MESH_CONNECT' // could not connect (refused, unreachable, handshake timeout)
      | 'ERR_MESH_AUTH' // the peer failed, or refused, authentication
      | 'ERR_MESH_TIMEOUT' // no reply within the request's timeout
      | 'ERR_MESH_CLOSED' // the connection closed before the reply, or the transport is closed
      | 'ERR_MESH_BACKPRESSURE', // too many bytes queued to that peer
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** Counters a transport keeps (INFO mesh, /metrics). */
export interface TransportStats {
  /** Connections currently open, both directions. */
  connections: number;
  /** Incoming connections refused: bad proof, no secret and a non-loopback peer, handshake timeout. */
  authFailures: number;
  /** Malformed frames received (each closed its connection). */
  malformedFrames: number;
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Requests that ended in ERR_MESH_TIMEOUT. */
  requestTimeouts: number;
}

export interface Transport {
  /** This node's id. */
  readonly nodeId: string;
  /** The address peers reach this node at (`host:port`), once started. */
  readonly address: string;
  /** This node's incarnation, sent in Hello (membership bumps it to refute suspicion). */
  incarnation: bigint;
  /** Starts listening. */
  start(): Promise<void>;
  /** Handles incoming frames (one handler; set before start). */
  onFrame(handler: FrameHandler): void;
  /** Called when an authenticated connection to or from a peer closes without a Leave (a hint for membership). */
  onPeerDisconnect(handler: (peer: PeerInfo) => void): void;
  /**
   * Sends a frame to the peer at `address` and does not wait for a reply. Rejects with a
   * TransportError when the peer cannot be reached or authenticated.
   */
  send(address: string, frame: OutgoingFrame): Promise<void>;
  /**
   * Sends a frame with a fresh requestId and resolves with the peer's reply frame (the one with
   * the same requestId), or rejects with ERR_MESH_TIMEOUT after `timeoutMs` (the whole time,
   * connecting included), ERR_MESH_CLOSED when the connection drops first, ERR_MESH_CONNECT /
   * ERR_MESH_AUTH when it cannot be opened.
   */
  request(address: string, frame: OutgoingFrame, timeoutMs: Milliseconds): Promise<MeshFrame>;
  /** Bytes queued to `address` and not yet written (for backpressure); 0 when not connected. */
  bufferedBytes(address: string): number;
  /** Drops the outgoing connection to `address`, if any (a restarted peer is redialled fresh). */
  disconnect(address: string): void;
  stats(): TransportStats;
  /** Closes every connection and stops listening. Pending requests reject with ERR_MESH_CLOSED. */
  close(): Promise<void>;
}
