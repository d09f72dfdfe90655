/**
 * A mesh node: one process's membership in the mesh, around its Cache. It owns the transport
 * (ws), the SWIM membership, the partitioner and the rebalancer, and it answers peers: forwarded
 * cache operations and RESP commands, rebalance hand-offs, node statistics.
 *
 * Ownership: the partitioner's members are the alive and suspect members that are not leaving
 * (a suspect may be alive; moving its keys on every suspicion would make a false suspicion
 * expensive). Any node accepts any key: a request for a key another node owns is forwarded there
 * once; the receiver serves it if its own view agrees, else forwards once more with NoReroute
 * set, so two views that disagree while gossip converges cannot bounce a request for ever.
 *
 * Rebalancing: when ownership changes, every node streams the keys it holds but no longer owns
 * to their new owners (rebalancer.ts), and the new owner, for a key it owns but does not have,
 * asks the key's previous owner first (the hand-off window, handoff.ts) — so reads during the move still
 * find the key, and writes made on the new owner are never overwritten by the old copy
 * (hand-offs store only absent keys).
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Cache } from '../cache/cache.js';
import { kGetEncoded, kStoreEncoded } from '../cache/internal.js';
import { kOrdered, type ClientState, type CommandSpec, type RoutedReply, type ServerState } from '../commands/registry.js';
import type { AttachableMesh } from '../commands/mesh.js';
import { errorBuffer, errorReply } from '../commands/reply.js';
import { peerClient, peerExecutor, runSpec, standaloneState, type CommandExecutor } from '../commands/executor.js';
import { isLoopback } from './auth.js';
import { InOrder, keyIndexes, routeCommand, type RouteTarget } from './command-router.js';
import { Handoffs } from './handoff.js';
import { HashPartitioner } from './hash-partitioner.js';
import { Membership, type Member } from './membership.js';
import { resolveMeshOptions, type MeshLogger, type MeshOptions, type ResolvedMeshOptions } from './options.js';
import type { Partitioner } from './partitioner.js';
import { RangePartitioner } from './range.js';
import { Rebalancer } from './rebalancer.js';
import { TransportError, type OutgoingFrame, type PeerInfo, type Transport } from './transport.js';
import {
  ForwardOp, ForwardStatus, FrameFlag, MAX_BATCH_COMMANDS, MessageType, type BatchedCommand, type ForwardBody,
  type ForwardReplyBody, type MeshFrame, type RebalanceBody,
} from './wire.js';
import { WsTransport } from './ws-transport.js';

export { resolveMeshOptions, type MeshLogger, type MeshOptions, type ResolvedMeshOptions };

/** Bytes of forwarded commands gathered in one CommandBatch at most (a larger command goes alone). */
const BATCH_MAX_BYTES = 4 * 1024 * 1024;

/** Counters of the node's own work (INFO mesh, /metrics). */
export interface MeshCounters {
  /** Requests this node forwarded to an owner (commands and cache operations). */
  forwarded: number;
  /** Forwarded requests that failed (owner unreachable, timeout). */
  forwardErrors: number;
  /** Requests peers forwarded here. */
  served: number;
  /** Requests that arrived here for a key this node does not own and were forwarded on. */
  rerouted: number;
  /** Keys fetched from their previous owner during a hand-off window. */
  handoffPulls: number;
  /** Frames from peers this node did not expect (unknown to every handler). */
  unexpectedFrames: number;
  /** Hand-off windows closed because every previous owner reported its hand-over done. */
  handoffsClosedEarly: number;
}

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

export class MeshNode implements RouteTarget, AttachableMesh {
  readonly cache: Cache;
  readonly options: ResolvedMeshOptions;
  readonly counters: MeshCounters = { forwarded: 0, forwardErrors: 0, served: 0, rerouted: 0, handoffPulls: 0, unexpectedFrames: 0, handoffsClosedEarly: 0 };
  #transport!: Transport;
  #membership!: Membership;
  #partitioner!: Partitioner;
  #rebalancer!: Rebalancer;
  #server: ServerState;
  #executor: CommandExecutor;
  readonly #log: MeshLogger | null;
  /** The hand-off windows (handoff.ts): previous ownerships new owners consult on a miss. */
  #handoffs: Handoffs | undefined;
  /** Peer id → its last NodeStats and when it came. */
  readonly #peerStats = new Map<string, { keys: number; bytes: number; at: number }>();
  #statsTimer: NodeJS.Timeout | null = null;
  #leaving = false;
  #started = false;
  #closed = false;
  readonly #ownershipListeners = new Set<() => void>();
  /** Whether ownership has ever included another member (false until the first join). */
  #metPeers = false;
  /** Commands to forward, per peer, gathered until the end of the tick. */
  readonly #outBatches = new Map<string, { items: Array<{ command: BatchedCommand; resolve: (reply: Buffer) => void }>; bytes: number }>();
  /** Per peer: its forwarded commands, run in arrival order. */
  readonly #peerOrder = new Map<string, InOrder>();
  /** The owners the partitioner was last given, sorted. */
  #owned: string[] = [];

  constructor(cache: Cache, options: MeshOptions = {}) {
    this.cache = cache;
    this.options = resolveMeshOptions(options);
    this.#log = options.logger ?? null;
    this.#server = standaloneState();
    this.#executor = peerExecutor(cache, this.#server);
  }

  /** This node's id. */
  get nodeId(): string {
    return this.#transport.nodeId;
  }

  /** The address peers reach this node at (`host:port`). */
  get address(): string {
    return this.#transport.address;
  }

  /** The partitioner's epoch (bumps on every ownership change). */
  get epoch(): number {
    return this.#partitioner.epoch;
  }

  /** Until when (ms since the epoch) a hand-off window is open; 0 when none is. */
  get handoffUntil(): number {
    return this.#handoffs?.until ?? 0;
  }

  /** Calls `listener` after every change of key ownership; returns a function that unsubscribes. */
  onOwnershipChange(listener: () => void): () => void {
    this.#ownershipListeners.add(listener);
    return () => this.#ownershipListeners.delete(listener);
  }

  /** Whether this node is leaving (or has left) the mesh. */
  get leaving(): boolean {
    return this.#leaving;
  }

  /** Runs commands from peers against the sidecar's command table and state (INFO counters…). */
  useServer(server: ServerState): void {
    this.#server = server;
    this.#executor = peerExecutor(this.cache, server);
  }

  /** Opens the mesh endpoint, starts the failure detector, and joins through the seeds. */
  async start(): Promise<void> {
    if (this.#started) throw new Error('MeshNode.start: already started');
    this.#started = true;
    try {
      await this.#start();
    } catch (err) {
      // Nothing may stay listening after a failed start (a bad override, no seed reachable).
      await this.close();
      throw err;
    }
  }

  async #start(): Promise<void> {
    const o = this.options;
    if (o.secret === null && !isLoopback(o.host) && o.host !== 'localhost') {
      this.#log?.warn({ host: o.host }, 'mesh: no secret set, so peers other than loopback will be refused (set --mesh-secret)');
    }
    this.#transport = WsTransport.fromResolved(o, {
      // Stable across restarts when the port is fixed, so a restarted node rejoins as itself.
      nodeId: o.nodeId ?? (o.port === 0 ? `${hostname()}-${randomBytes(4).toString('hex')}` : `${hostname()}:${o.port}`),
      // A restarted node must outrank everything said about its previous life: start at the clock.
      incarnation: BigInt(Date.now()),
      onRefused: (remote, reason) => this.#log?.warn({ remote, reason }, 'mesh: refused a peer'),
    });
    this.#transport.onFrame((frame, from, reply) => this.#onFrame(frame, from, reply));
    await this.#transport.start();
    this.#membership = new Membership(this.#transport, { preset: o.preset, ...o.membership, ...(this.#log === null ? {} : { logger: this.#log }) });
    this.#handoffs = this.#newHandoffs();
    const host = { nodeId: this.#transport.nodeId, broadcast: (f: OutgoingFrame) => this.#broadcast(f) };
    this.#partitioner = o.partitioner === 'hash'
      ? new HashPartitioner(this.cache, { vnodes: o.vnodes })
      : new RangePartitioner(host, { rangesPerNode: o.rangesPerNode, maxRangeKeys: o.maxRangeKeys, maxRangeBytes: o.maxRangeBytes });
    this.#rebalancer = new Rebalancer(this.cache, {
      nodeId: this.#transport.nodeId,
      batchEntries: o.rebalanceBatchEntries,
      sweepIntervalMs: o.sweepIntervalMs,
      ownerOf: (key) => this.#partitioner.ownerOf(key),
      addressOf: (id) => this.#membership.member(id)?.address,
      request: (address, frame, timeoutMs) => this.#transport.request(address, frame, timeoutMs),
      epoch: () => this.#partitioner.epoch,
      logger: this.#log,
      onPassComplete: () => this.#broadcast({ type: MessageType.HandoffDone, body: { digest: this.#ownershipDigest() } }),
      rangeStats: this.#partitioner instanceof RangePartitioner
        ? () => {
          const p = this.#partitioner as RangePartitioner;
          const collector = p.statsCollector();
          return { add: (key, bytes) => collector.add(key, bytes), finish: () => { p.maybeSplit(collector.finish()); } };
        }
        : null,
    });
    this.#partitioner.setMembers([this.nodeId]);
    this.#membership.onChange((m, previous) => this.#onMemberChange(m, previous ?? null));
    this.#membership.start();
    if (o.join.length > 0) {
      const seeds = o.join.filter((a) => a !== this.address);
      if (seeds.length > 0) await this.#membership.join(seeds);
    }
    this.#statsTimer = setInterval(() => this.#sendStats(), o.statsIntervalMs);
    this.#statsTimer.unref();
    this.#log?.info({ nodeId: this.nodeId, address: this.address, join: o.join, partitioner: o.partitioner, preset: o.preset }, 'mesh: node started');
  }

  // ---------------------------------------------------------------------------------------------
  // Membership → ownership

  #owners(): string[] {
    const ids: string[] = [];
    for (const m of this.#membership.aliveMembers()) {
      if (m.nodeId === this.nodeId && this.#leaving) continue;
      ids.push(m.nodeId);
    }
    if (!this.#leaving && !ids.includes(this.nodeId)) ids.push(this.nodeId);
    return ids;
  }

  #onMemberChange(m: Member, previous: Member['state'] | null): void {
    this.#log?.info({ nodeId: m.nodeId, address: m.address, state: m.state, previous, incarnation: String(m.incarnation) }, 'mesh: member state');
    if (m.state === 'dead' || m.state === 'left') {
      this.#peerStats.delete(m.nodeId);
      this.#peerOrder.delete(m.nodeId);
    }
    // A dead peer's connection is dropped, so that if it comes back it is dialled afresh. A
    // leaving one keeps its connection: requests in flight to it still get their replies.
    if (m.state === 'dead') this.#transport.disconnect(m.address);
    this.#updateOwnership();
  }

  /** Recomputes ownership from membership; on a change opens a hand-off window and rebalances. */
  #updateOwnership(): void {
    if (this.#closed) return;
    const before = this.#partitioner.epoch;
    let previous = this.#partitioner.snapshot();
    const owners = this.#owners();
    this.#partitioner.setMembers(owners);
    if (this.#partitioner.epoch === before) return;
    this.#owned = [...owners].sort();
    if (!this.#metPeers && owners.some((id) => id !== this.nodeId) && this.options.join.some((a) => a !== this.address)) {
      // This node has just joined (or rejoined after a restart): until now it owned everything in
      // its own view, but the keys it now owns are where the mesh had them without it. The members
      // keep arriving by gossip for a while, so that view follows the current member set.
      this.#metPeers = true;
      let epoch = -1;
      let without: (key: Uint8Array) => string | undefined = () => undefined;
      previous = (key) => {
        if (epoch !== this.#partitioner.epoch) {
          epoch = this.#partitioner.epoch;
          without = this.#partitioner.snapshotWithout(this.nodeId);
        }
        return without(key);
      };
    }
    this.#ownershipChanged(previous);
  }

  #ownershipChanged(previous: (key: Uint8Array) => string | undefined): void {
    const handoffs = this.#handoffs!;
    handoffs.open(previous);
    this.#rebalancer.schedule();
    for (const listener of this.#ownershipListeners) listener();
    handoffs.check();
  }

  // ---------------------------------------------------------------------------------------------
  // Routing

  /** The node that owns `key` now (this node's id when it does); undefined before start. */
  ownerOf(key: Uint8Array): string | undefined {
    return this.#partitioner?.ownerOf(key);
  }

  remoteOwner(key: Uint8Array): string | undefined {
    const owner = this.#partitioner.ownerOf(key);
    return owner === undefined || owner === this.nodeId ? undefined : owner;
  }

  #addressOf(nodeId: string): string {
    const m = this.#membership.member(nodeId);
    if (m === undefined) throw new TransportError('ERR_MESH_CONNECT', `node ${nodeId} is not a member`);
    return m.address;
  }

  /** Routes a RESP command (the sidecar's connections call this); null = run it here now. */
  routeCommand(spec: CommandSpec, args: Buffer[], client: ClientState, server: ServerState): RoutedReply | null {
    return routeCommand(spec, args, this, client.resp, (a) => runSpec(spec, a, this.cache, client, server));
  }

  /**
   * Runs `args` on `nodeId` and resolves with its RESP reply (a CLUSTERDOWN error reply when it
   * cannot be reached). Commands for one peer within one tick travel as one CommandBatch frame
   * (a pipeline's forwarded commands, many clients' at once): one frame, one reply, one write.
   */
  forwardCommand(nodeId: string, args: Buffer[], resp: 2 | 3, flags = 0): Promise<Buffer> {
    this.counters.forwarded++;
    let bytes = 8;
    for (const a of args) bytes += a.length + 4;
    let batch = this.#outBatches.get(nodeId);
    // A batch stays well under the frame's body cap: a large command goes out after what is queued.
    if (batch !== undefined && batch.bytes + bytes > BATCH_MAX_BYTES) {
      void this.#sendBatch(nodeId);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { items: [], bytes: 0 };
      this.#outBatches.set(nodeId, batch);
      process.nextTick(() => void this.#sendBatch(nodeId));
    }
    const b = batch;
    return new Promise<Buffer>((resolve) => {
      b.items.push({ command: { flags, resp, args }, resolve });
      b.bytes += bytes;
      if (b.items.length >= MAX_BATCH_COMMANDS) void this.#sendBatch(nodeId);
    });
  }

  /** Sends what is queued for `nodeId`: one Command, or a CommandBatch. */
  async #sendBatch(nodeId: string): Promise<void> {
    const queued = this.#outBatches.get(nodeId);
    if (queued === undefined || queued.items.length === 0) return;
    this.#outBatches.delete(nodeId);
    const batch = queued.items;
    const fail = (err: unknown) => {
      this.counters.forwardErrors += batch.length;
      const out = errorBuffer(`CLUSTERDOWN the owner of this key (${nodeId}) cannot be reached: ${(err as Error).message}`);
      for (const b of batch) b.resolve(out);
    };
    try {
      const address = this.#addressOf(nodeId);
      if (batch.length === 1) {
        const { command, resolve } = batch[0];
        const reply = await this.#transport.request(address, { type: MessageType.Command, flags: command.flags, body: { resp: command.resp, args: command.args } }, this.options.forwardTimeoutMs);
        if (reply.type !== MessageType.CommandReply) throw new Error(`unexpected reply type ${reply.type}`);
        resolve(Buffer.from(reply.body.reply));
        return;
      }
      const reply = await this.#transport.request(address, { type: MessageType.CommandBatch, body: { commands: batch.map((b) => b.command) } }, this.options.forwardTimeoutMs);
      if (reply.type !== MessageType.CommandBatchReply || reply.body.replies.length !== batch.length) {
        throw new Error(`unexpected reply to a batch of ${batch.length} (type ${reply.type})`);
      }
      batch.forEach((b, i) => b.resolve(Buffer.from(reply.body.replies[i])));
    } catch (err) {
      fail(err);
    }
  }

  /** Sends a cache operation to `nodeId`; rejects with a TransportError when it cannot be reached. */
  async forwardOp(nodeId: string, body: ForwardBody, flags = 0): Promise<ForwardReplyBody> {
    this.counters.forwarded++;
    try {
      const reply = await this.#transport.request(this.#addressOf(nodeId), { type: MessageType.Forward, flags, body }, this.options.forwardTimeoutMs);
      if (reply.type !== MessageType.ForwardReply) throw new TransportError('ERR_MESH_CLOSED', `unexpected reply type ${reply.type}`);
      return reply.body;
    } catch (err) {
      this.counters.forwardErrors++;
      throw err;
    }
  }

  /**
   * For keys this node owns that a previous owner may still hold (an open hand-off window, the
   * key absent here): fetches them from that owner and stores them here (only if still absent).
   */
  pullMoved(keys: Buffer[]): Promise<void> | null {
    return this.#handoffs?.pullMoved(keys) ?? null;
  }

  /** The hand-off windows, wired to this node's cache, membership and forwarding. */
  #newHandoffs(): Handoffs {
    return new Handoffs({
      nodeId: this.nodeId,
      windowMs: this.options.handoffWindowMs,
      has: (key) => this.cache.has(key),
      member: (id) => this.#membership.member(id),
      members: () => this.#membership.members(),
      fetch: async (from, key) => {
        const r = await this.forwardOp(from, { op: ForwardOp.Get, ttlMs: 0, valueType: 0, key, value: new Uint8Array(0) }, FrameFlag.NoReroute);
        if (r.status !== ForwardStatus.Ok) return false;
        if (this.cache[kStoreEncoded](key, r.value, r.valueType, r.ttlMs, true)) this.counters.handoffPulls++;
        return true;
      },
      digest: () => this.#ownershipDigest(),
      onClosedEarly: () => {
        this.counters.handoffsClosedEarly++;
        for (const listener of this.#ownershipListeners) listener();
      },
      logger: this.#log,
    });
  }

  /**
   * The digest of the current ownership: the sorted owners and, for ranges, the agreed table's
   * version. Two nodes with the same digest route every key the same way.
   */
  #ownershipDigest(): bigint {
    const version = this.#partitioner.kind === 'range' ? String(this.#partitioner.describe().version) : '';
    const h = createHash('sha256').update(this.#owned.join('\n')).update('\0').update(version).digest();
    return h.readBigUInt64LE(0);
  }

  // ---------------------------------------------------------------------------------------------
  // Frames from peers

  #onFrame(frame: MeshFrame, from: PeerInfo, reply: (f: OutgoingFrame) => void): void {
    if (this.#membership?.handleFrame(frame, from, reply)) return;
    if (this.#partitioner !== undefined && (frame.type === MessageType.RangeTable || frame.type === MessageType.RangeSplit)) {
      const before = this.#partitioner.epoch;
      const previous = this.#partitioner.snapshot();
      if (this.#partitioner.handleFrame(frame, from.nodeId)) {
        if (this.#partitioner.epoch !== before) this.#ownershipChanged(previous);
        return;
      }
    }
    switch (frame.type) {
      case MessageType.Forward:
        void this.#onForward(frame.body, frame.flags, reply);
        return;
      case MessageType.Command: {
        const { args, resp } = frame.body;
        this.#inPeerOrder(from.nodeId, () => this.#onCommand(args, resp as 2 | 3, frame.flags, reply));
        return;
      }
      case MessageType.CommandBatch: {
        const { commands } = frame.body;
        this.#inPeerOrder(from.nodeId, () => this.#onCommandBatch(commands, reply));
        return;
      }
      case MessageType.Rebalance:
        reply({ type: MessageType.RebalanceAck, body: this.#onRebalance(frame.body) });
        return;
      case MessageType.NodeStats:
        this.#peerStats.set(from.nodeId, { keys: Number(frame.body.keys), bytes: Number(frame.body.bytes), at: Date.now() });
        return;
      case MessageType.HandoffDone:
        this.#handoffs!.peerDone(from.nodeId, frame.body.digest);
        return;
      default:
        this.counters.unexpectedFrames++;
    }
  }

  async #onForward(body: ForwardBody, flags: number, reply: (f: OutgoingFrame) => void): Promise<void> {
    this.counters.served++;
    const key = Buffer.from(body.key.buffer, body.key.byteOffset, body.key.byteLength);
    try {
      const owner = this.remoteOwner(key);
      if (owner !== undefined && (flags & FrameFlag.NoReroute) === 0) {
        this.counters.rerouted++;
        reply({ type: MessageType.ForwardReply, body: await this.forwardOp(owner, body, FrameFlag.NoReroute) });
        return;
      }
      if (owner === undefined) {
        const pull = this.pullMoved([key]);
        if (pull !== null) await pull;
      }
      reply({ type: MessageType.ForwardReply, body: this.#applyOp(key, body) });
    } catch (err) {
      reply({ type: MessageType.ForwardReply, body: { status: ForwardStatus.Error, valueType: 0, ttlMs: 0, value: Buffer.from(errorReply(err)) } });
    }
  }

  /** Runs a forwarded cache operation on this node's cache. */
  #applyOp(key: Buffer, body: ForwardBody): ForwardReplyBody {
    const none = new Uint8Array(0);
    switch (body.op) {
      case ForwardOp.Get: {
        const got = this.cache[kGetEncoded](key);
        if (got === null) return { status: ForwardStatus.NotFound, valueType: 0, ttlMs: 0, value: none };
        const ttl = this.cache.ttl(key);
        const ttlMs = ttl === undefined || ttl === Infinity ? 0 : Math.max(1, Math.min(0xffff_ffff, Math.ceil(ttl)));
        return { status: ForwardStatus.Ok, valueType: got[1], ttlMs, value: got[0] };
      }
      case ForwardOp.Set:
        this.cache[kStoreEncoded](key, body.value, body.valueType, body.ttlMs);
        return { status: ForwardStatus.Ok, valueType: 0, ttlMs: 0, value: none };
      case ForwardOp.Delete:
        return { status: this.cache.delete(key) ? ForwardStatus.Ok : ForwardStatus.NotFound, valueType: 0, ttlMs: 0, value: none };
      case ForwardOp.Has:
        return { status: this.cache.has(key) ? ForwardStatus.Ok : ForwardStatus.NotFound, valueType: 0, ttlMs: 0, value: none };
      default:
        return { status: ForwardStatus.Error, valueType: 0, ttlMs: 0, value: Buffer.from('ERR unknown forward op') };
    }
  }

  /**
   * Runs a command a peer forwarded: the reply (now, or a promise) and whether it had to wait for
   * a hand-off pull before running here (`ordered`: the peer's later commands wait too).
   */
  #runCommand(rawArgs: Uint8Array[], resp: 2 | 3, flags: number): { reply: Buffer | Promise<Buffer>; ordered: boolean } {
    this.counters.served++;
    const args = rawArgs.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    const client = peerClient(resp);
    const spec = args.length > 0 ? this.#server.commands.lookup(args[0].toString('latin1')) : undefined;
    const keyed = spec !== undefined && spec.firstKey > 0 && (spec.arity > 0 ? args.length === spec.arity : args.length >= -spec.arity);
    if (keyed && (flags & FrameFlag.NoReroute) !== 0) {
      // Served here whatever our view says; the keys we own may still be on their previous owner.
      const owned = keyIndexes(spec, args.length).map((i) => args[i]).filter((k) => this.remoteOwner(k) === undefined);
      const pull = owned.length === 0 ? null : this.pullMoved(owned);
      if (pull === null) return { reply: this.#executor(args, client), ordered: false };
      return { reply: pull.then(() => this.#executor(args, client)), ordered: true };
    }
    if (!keyed) return { reply: this.#executor(args, client), ordered: false };
    // Route with our own view: forwards once more (NoReroute) if it disagrees with the sender's.
    const routed = routeCommand(spec, args, {
      remoteOwner: (k) => this.remoteOwner(k),
      forwardCommand: (id, a, r) => { this.counters.rerouted++; return this.forwardCommand(id, a, r, FrameFlag.NoReroute); },
      pullMoved: (keys) => this.pullMoved(keys),
    }, resp, (a) => this.#executor(a, client));
    if (routed === null) return { reply: this.#executor(args, client), ordered: false };
    return { reply: routed, ordered: routed[kOrdered] === true };
  }

  /** A Command frame: runs it and sends the reply. */
  #onCommand(args: Uint8Array[], resp: 2 | 3, flags: number, reply: (f: OutgoingFrame) => void): { done: Promise<void>; ordered: boolean } {
    const r = this.#runCommand(args, resp, flags);
    const send = (out: Buffer) => reply({ type: MessageType.CommandReply, body: { reply: out } });
    if (Buffer.isBuffer(r.reply)) {
      send(r.reply);
      return { done: Promise.resolve(), ordered: false };
    }
    return { done: r.reply.then(send, (err: unknown) => send(errorBuffer(errorReply(err)))), ordered: r.ordered };
  }

  /**
   * A CommandBatch frame: runs its commands in order (one waiting for a pull holds back the rest)
   * and answers once with every reply.
   */
  #onCommandBatch(commands: BatchedCommand[], reply: (f: OutgoingFrame) => void): { done: Promise<void>; ordered: boolean } {
    const replies: Array<Buffer | Promise<Buffer>> = [];
    let barrier: Promise<unknown> | null = null;
    for (const c of commands) {
      if (barrier === null) {
        const r = this.#runCommand(c.args, c.resp as 2 | 3, c.flags);
        replies.push(r.reply);
        if (r.ordered) barrier = r.reply as Promise<Buffer>;
      } else {
        const p: Promise<Buffer> = barrier.then(() => this.#runCommand(c.args, c.resp as 2 | 3, c.flags).reply);
        replies.push(p);
        barrier = p;
      }
    }
    const send = (out: Buffer[]) => reply({ type: MessageType.CommandBatchReply, body: { replies: out } });
    if (replies.every((r) => Buffer.isBuffer(r))) {
      send(replies as Buffer[]);
      return { done: Promise.resolve(), ordered: false };
    }
    const all = Promise.all(replies.map((r) => Promise.resolve(r).then(undefined, (err: unknown) => errorBuffer(errorReply(err)))));
    return { done: all.then(send), ordered: barrier !== null };
  }

  /** Runs a peer's commands in arrival order (see InOrder). */
  #inPeerOrder(peer: string, run: () => { done: Promise<void>; ordered: boolean }): void {
    let order = this.#peerOrder.get(peer);
    if (order === undefined) {
      order = new InOrder((err) => this.#log?.warn({ peer, err: (err as Error)?.message }, 'mesh: a forwarded command failed'));
      this.#peerOrder.set(peer, order);
    }
    order.submit(run);
  }



  /** Stores a hand-off batch: only keys absent here (a write made here since wins). */
  #onRebalance(body: RebalanceBody): { epoch: bigint; stored: number } {
    let stored = 0;
    for (const e of body.entries) {
      try {
        if (this.cache[kStoreEncoded](Buffer.from(e.key.buffer, e.key.byteOffset, e.key.byteLength), e.value, e.valueType, e.ttlMs, true)) stored++;
      } catch (err) {
        this.#log?.warn({ err: (err as Error).message }, 'mesh: a handed-over entry could not be stored');
      }
    }
    this.#rebalancer.received += stored;
    return { epoch: body.epoch, stored };
  }

  // ---------------------------------------------------------------------------------------------
  // Statistics

  #broadcast(frame: OutgoingFrame): void {
    for (const m of this.#membership.aliveMembers()) {
      if (m.nodeId === this.nodeId) continue;
      this.#transport.send(m.address, frame).catch((err: unknown) => this.#log?.debug?.({ to: m.nodeId, err: (err as Error).message }, 'mesh: broadcast failed'));
    }
  }

  #sendStats(): void {
    const s = this.cache.stats();
    this.#broadcast({ type: MessageType.NodeStats, body: { keys: BigInt(s.entries), bytes: BigInt(s.bytes), epoch: BigInt(this.#partitioner.epoch) } });
    this.#rebalancer.tick();
  }

  /** Every member with its state, and the keys and bytes it last reported. */
  nodes(): MeshNodeInfo[] {
    const self = this.cache.stats();
    return this.#membership.members().map((m) => {
      const isSelf = m.nodeId === this.nodeId;
      const st = isSelf ? { keys: self.entries, bytes: self.bytes } : this.#peerStats.get(m.nodeId);
      return {
        nodeId: m.nodeId, address: m.address, state: isSelf && this.#leaving ? 'left' : m.state, incarnation: m.incarnation,
        self: isSelf, keys: st?.keys ?? null, bytes: st?.bytes ?? null,
      };
    }).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  /**
   * Partition balance over the owning members that reported: max / mean of keys and of bytes
   * (1 is perfect; 2 means the fullest node holds twice the average).
   */
  balance(): { nodes: number; keysMaxOverMean: number; bytesMaxOverMean: number; keys: number; bytes: number } {
    const owners = new Set(this.#owners());
    const rows = this.nodes().filter((n) => owners.has(n.nodeId) && n.keys !== null);
    const keys = rows.map((r) => r.keys!);
    const bytes = rows.map((r) => r.bytes!);
    const ratio = (xs: number[]) => {
      const sum = xs.reduce((a, b) => a + b, 0);
      return sum === 0 ? 1 : Math.max(...xs) / (sum / xs.length);
    };
    return {
      nodes: rows.length, keysMaxOverMean: ratio(keys), bytesMaxOverMean: ratio(bytes),
      keys: keys.reduce((a, b) => a + b, 0), bytes: bytes.reduce((a, b) => a + b, 0),
    };
  }

  /** Everything INFO's mesh section shows. */
  info(): Array<[string, string | number]> {
    const ms = this.#membership.stats();
    const ts = this.#transport.stats();
    const bal = this.balance();
    const fields: Array<[string, string | number]> = [
      ['mesh_enabled', 1],
      ['mesh_node_id', this.nodeId],
      ['mesh_address', this.address],
      ['mesh_state', this.#leaving ? 'leaving' : 'alive'],
      ['mesh_preset', this.options.preset],
      ['mesh_tls', this.options.tls === null ? 0 : 1],
      ['mesh_auth', this.options.secret === null ? 'loopback-only' : 'hmac-sha256'],
      ['mesh_epoch', this.#partitioner.epoch],
    ];
    for (const [k, v] of Object.entries(this.#partitioner.describe())) fields.push([`mesh_${k}`, v]);
    for (const [k, v] of Object.entries(ms)) fields.push([`mesh_${snake(k)}`, typeof v === 'bigint' ? String(v) : v as number]);
    for (const [k, v] of Object.entries(ts)) fields.push([`mesh_transport_${snake(k)}`, v]);
    for (const [k, v] of Object.entries(this.counters)) fields.push([`mesh_${snake(k)}`, v]);
    for (const [k, v] of Object.entries(this.#rebalancer.stats())) fields.push([`mesh_rebalance_${snake(k)}`, v]);
    fields.push(['mesh_handoff_windows_open', this.#handoffs?.openCount ?? 0]);
    fields.push(['mesh_balance_nodes', bal.nodes]);
    fields.push(['mesh_balance_keys_max_over_mean', bal.keysMaxOverMean.toFixed(3)]);
    fields.push(['mesh_balance_bytes_max_over_mean', bal.bytesMaxOverMean.toFixed(3)]);
    return fields;
  }

  /** Membership counters (suspicions, refutations…), for tests and metrics. */
  membershipStats(): ReturnType<Membership['stats']> {
    return this.#membership.stats();
  }

  /** Transport counters (connections, auth failures, malformed frames, bytes). */
  transportStats(): ReturnType<Transport['stats']> {
    return this.#transport.stats();
  }

  /** Rebalance counters and whether a pass is running. */
  rebalanceStats(): ReturnType<Rebalancer['stats']> {
    return this.#rebalancer.stats();
  }

  // ---------------------------------------------------------------------------------------------
  // Leaving

  /**
   * Leaves gracefully: tells the members (they stop routing keys here), hands every key over to
   * its new owner (each batch acknowledged), keeps answering hand-off reads for `lingerMs`, then
   * closes. Resolves with how many keys were handed over.
   */
  async leave(options: { timeoutMs?: number; lingerMs?: number } = {}): Promise<number> {
    if (this.#closed) return 0;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const lingerMs = options.lingerMs ?? 500;
    this.#leaving = true;
    const deadline = Date.now() + timeoutMs;
    await this.#membership.leave(Math.min(2000, timeoutMs));
    this.#updateOwnership();
    const moved = await this.#rebalancer.drain(deadline);
    this.#log?.info({ moved, left: this.cache.stats().entries }, 'mesh: handed keys over, leaving');
    if (lingerMs > 0) await new Promise((r) => setTimeout(r, lingerMs));
    await this.close();
    return moved;
  }

  /** Stops everything without telling anyone (the others will detect it as failed). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#statsTimer !== null) clearInterval(this.#statsTimer);
    this.#rebalancer?.stop();
    this.#membership?.stop();
    await this.#transport?.close();
  }
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}
