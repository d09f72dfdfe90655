/**
 * An in-memory `Transport` for fast, deterministic-enough mesh tests: `MemoryNetwork` connects
 * `MemoryTransport`s by address inside one process. Every frame is encoded and decoded with the
 * real wire codec on its way (a frame the codec refuses is recorded in `network.errors` and the
 * send fails), so tests also prove that what membership sends is valid on the wire.
 *
 * Knobs: `kill(address)` (the address refuses at once: ERR_MESH_CONNECT; peers that exchanged
 * frames with it get the disconnect hint, pending requests to it fail ERR_MESH_CLOSED),
 * `partition(a, b)` (frames between the two are dropped, so requests time out), `latencyMs`
 * (added to every hop).
 */
import { decodeFrame, encodeFrame, type MeshFrame } from '../../src/mesh/wire.js';
import {
  TransportError,
  type FrameHandler,
  type OutgoingFrame,
  type PeerInfo,
  type Transport,
  type TransportStats,
} from '../../src/mesh/transport.js';
import type { Milliseconds } from '../../src/config.js';

interface Pending {
  resolve: (frame: MeshFrame) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  target: string;
}

/** A set of in-memory transports that reach each other by address. */
export class MemoryNetwork {
  /** Milliseconds added to every hop (request, reply, send). */
  latencyMs: Milliseconds;
  /** Frames the wire codec refused (a membership bug if not empty). */
  readonly errors: Error[] = [];
  readonly #nodes = new Map<string, MemoryTransport>();
  readonly #killed = new Set<string>();
  readonly #partitions = new Set<string>();
  readonly #links = new Set<string>();
  readonly #stalledUntil = new Map<string, number>();

  constructor(options: { latencyMs?: Milliseconds } = {}) {
    this.latencyMs = options.latencyMs ?? 0;
  }

  /**
   * A transport for `nodeId` at `address` (default `mem:<nodeId>`). A new transport at the address
   * of a killed one replaces it: a restarted process.
   */
  transport(nodeId: string, options: { address?: string; incarnation?: bigint } = {}): MemoryTransport {
    const address = options.address ?? `mem:${nodeId}`;
    const t = new MemoryTransport(this, nodeId, address, options.incarnation ?? 1n);
    this.#nodes.set(address, t);
    this.#killed.delete(address);
    return t;
  }

  /** Crashes the node at `address`: it refuses every frame, and peers linked to it get the disconnect hint. */
  kill(address: string): void {
    const victim = this.#nodes.get(address);
    this.#killed.add(address);
    if (victim === undefined) return;
    victim._crash();
    for (const link of [...this.#links]) {
      const [a, b] = link.split('\n');
      if (a !== address && b !== address) continue;
      this.#links.delete(link);
      const other = this.#nodes.get(a === address ? b : a);
      if (other !== undefined && !this.#killed.has(other.address)) other._peerDropped(victim);
    }
  }

  /**
   * Simulates an event-loop stall of the node at `address` for `ms`: frames to it (and so its
   * answers) are held until the stall ends, then delivered, as a stalled process reads its sockets.
   */
  stall(address: string, ms: Milliseconds): void {
    this.#stalledUntil.set(address, performance.now() + ms);
  }

  /** @internal ms until the node at `address` reads its input again (0: not stalled). */
  _stallLeft(address: string): Milliseconds {
    const until = this.#stalledUntil.get(address);
    return until === undefined ? 0 : Math.max(0, until - performance.now());
  }

  /** Drops every frame between `a` and `b` (both directions) until `heal`. */
  partition(a: string, b: string): void {
    this.#partitions.add(pairKey(a, b));
  }

  /** Undoes `partition(a, b)`. */
  heal(a: string, b: string): void {
    this.#partitions.delete(pairKey(a, b));
  }

  /** @internal the live transport at `address`, or undefined when it refuses connections. */
  _reachable(address: string): MemoryTransport | undefined {
    if (this.#killed.has(address)) return undefined;
    const t = this.#nodes.get(address);
    return t === undefined || t._closed ? undefined : t;
  }

  /** @internal */
  _partitioned(a: string, b: string): boolean {
    return this.#partitions.has(pairKey(a, b));
  }

  /** @internal records that two nodes have a connection (for disconnect hints). */
  _link(a: string, b: string): void {
    this.#links.add(pairKey(a, b));
  }

  /** @internal forgets the connection between two nodes. */
  _unlink(a: string, b: string): void {
    this.#links.delete(pairKey(a, b));
  }

  /** @internal the frame as the peer would decode it, or the codec's complaint. */
  _roundTrip(frame: OutgoingFrame, requestId: number): MeshFrame | Error {
    try {
      const decoded = decodeFrame(encodeFrame({ ...(frame as MeshFrame), requestId }));
      if (decoded.ok) return decoded.frame;
      const err = new Error(`${decoded.error.code}: ${decoded.error.message}`);
      this.errors.push(err);
      return err;
    } catch (err) {
      this.errors.push(err as Error);
      return err as Error;
    }
  }

  /**
   * @internal runs `fn` after one hop's latency, in the check phase as a socket read would land:
   * after the timers that fell due meanwhile (so an event-loop stall makes timeouts fire first, as
   * it does with real sockets).
   */
  _later(fn: () => void): void {
    if (this.latencyMs > 0) setTimeout(() => setImmediate(fn), this.latencyMs);
    else setImmediate(fn);
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\n${b}` : `${b}\n${a}`;
}

/** One node's end of a `MemoryNetwork`. */
export class MemoryTransport implements Transport {
  readonly nodeId: string;
  readonly address: string;
  incarnation: bigint;
  /** @internal */
  _closed = false;
  readonly #network: MemoryNetwork;
  #handler: FrameHandler | undefined;
  readonly #disconnectHandlers: ((peer: PeerInfo) => void)[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextRequestId = 1;
  readonly #stats: TransportStats = {
    connections: 0, authFailures: 0, malformedFrames: 0, framesSent: 0, framesReceived: 0,
    bytesSent: 0, bytesReceived: 0, requestTimeouts: 0,
  };

  constructor(network: MemoryNetwork, nodeId: string, address: string, incarnation: bigint) {
    this.#network = network;
    this.nodeId = nodeId;
    this.address = address;
    this.incarnation = incarnation;
  }

  /** Nothing to listen on: the network already routes to this address. */
  async start(): Promise<void> {}

  onFrame(handler: FrameHandler): void {
    this.#handler = handler;
  }

  /** Unlike a one-handler transport, every registered handler is called. */
  onPeerDisconnect(handler: (peer: PeerInfo) => void): void {
    this.#disconnectHandlers.push(handler);
  }

  async send(address: string, frame: OutgoingFrame): Promise<void> {
    if (this._closed) throw new TransportError('ERR_MESH_CLOSED', 'transport is closed');
    const peer = this.#network._reachable(address);
    if (peer === undefined) {
      await new Promise((r) => setImmediate(r));
      throw new TransportError('ERR_MESH_CONNECT', `connect ECONNREFUSED ${address}`);
    }
    const decoded = this.#network._roundTrip(frame, 0);
    if (decoded instanceof Error) throw decoded;
    this.#network._link(this.address, address);
    this.#stats.framesSent++;
    if (this.#network._partitioned(this.address, address)) return;
    this.#network._later(() => peer._receive(decoded, this, () => {}));
  }

  request(address: string, frame: OutgoingFrame, timeoutMs: Milliseconds): Promise<MeshFrame> {
    return new Promise<MeshFrame>((resolve, reject) => {
      if (this._closed) return reject(new TransportError('ERR_MESH_CLOSED', 'transport is closed'));
      const peer = this.#network._reachable(address);
      if (peer === undefined) {
        setImmediate(() => reject(new TransportError('ERR_MESH_CONNECT', `connect ECONNREFUSED ${address}`)));
        return;
      }
      const requestId = this.#nextRequestId++;
      const decoded = this.#network._roundTrip(frame, requestId);
      if (decoded instanceof Error) return reject(decoded);
      this.#network._link(this.address, address);
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        this.#stats.requestTimeouts++;
        reject(new TransportError('ERR_MESH_TIMEOUT', `no reply from ${address} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(requestId, { resolve, reject, timer, target: address });
      this.#stats.framesSent++;
      if (this.#network._partitioned(this.address, address)) return;
      this.#network._later(() => {
        peer._receive(decoded, this, (replyFrame) => {
          const reply = this.#network._roundTrip(replyFrame, requestId);
          if (reply instanceof Error) return;
          if (this.#network._partitioned(this.address, peer.address)) return;
          this.#network._later(() => this._replied(reply));
        });
      });
    });
  }

  bufferedBytes(): number {
    return 0;
  }

  disconnect(address: string): void {
    this.#network._unlink(this.address, address);
  }

  stats(): TransportStats {
    return { ...this.#stats };
  }

  async close(): Promise<void> {
    this._crash();
  }

  /** @internal a frame arrives from `sender`. */
  _receive(frame: MeshFrame, sender: MemoryTransport, reply: (frame: OutgoingFrame) => void): void {
    if (this._closed || this.#network._reachable(this.address) !== this) return;
    const stallMs = this.#network._stallLeft(this.address);
    if (stallMs > 0) {
      setTimeout(() => this._receive(frame, sender, reply), stallMs);
      return;
    }
    this.#stats.framesReceived++;
    const from: PeerInfo = { nodeId: sender.nodeId, address: sender.address, incarnation: sender.incarnation };
    this.#handler?.(frame, from, reply);
  }

  /** @internal the reply to one of our requests arrives. */
  _replied(frame: MeshFrame): void {
    const p = this.#pending.get(frame.requestId);
    if (p === undefined || this._closed) return;
    this.#pending.delete(frame.requestId);
    clearTimeout(p.timer);
    this.#stats.framesReceived++;
    p.resolve(frame);
  }

  /** @internal this process dies: pending requests fail, nothing more is sent or received. */
  _crash(): void {
    this._closed = true;
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(new TransportError('ERR_MESH_CLOSED', 'transport is closed'));
    }
  }

  /** @internal the connection to `peer` dropped: fail requests to it and give the hint. */
  _peerDropped(peer: MemoryTransport): void {
    for (const [id, p] of this.#pending) {
      if (p.target !== peer.address) continue;
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(new TransportError('ERR_MESH_CLOSED', `connection to ${peer.address} closed`));
    }
    const info: PeerInfo = { nodeId: peer.nodeId, address: peer.address, incarnation: peer.incarnation };
    for (const h of this.#disconnectHandlers) setImmediate(() => h(info));
  }
}
