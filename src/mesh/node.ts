/**
 * A mesh node: one process's membership in the mesh, around its Cache. It is the composition
 * root: it owns the transport (ws), the SWIM membership, the partitioner, the rebalancer, the
 * forwarder (requests to key owners, forwarder.ts) and the peer service (peers' forwarded
 * requests and hand-offs, peer-service.ts) and the peers' load figures (node-stats.ts).
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
import { kStoreEncoded } from '../cache/internal.js';
import type { ClientState, CommandSpec, RoutedReply, ServerState } from '../commands/registry.js';
import type { AttachableMesh } from '../commands/mesh.js';
import { runSpec } from '../commands/executor.js';
import { isLoopback } from './auth.js';
import { routeCommand, type RouteTarget } from './command-router.js';
import { Forwarder } from './forwarder.js';
import { Handoffs } from './handoff.js';
import { HashPartitioner } from './hash-partitioner.js';
import { Membership, type Member } from './membership.js';
import { PeerStats, balanceOf, type MeshBalance, type MeshNodeInfo } from './node-stats.js';
import { PeerService } from './peer-service.js';
import { resolveMeshOptions, type MeshLogger, type MeshOptions, type ResolvedMeshOptions } from './options.js';
import type { Partitioner } from './partitioner.js';
import { RangePartitioner } from './range.js';
import { Rebalancer } from './rebalancer.js';
import { TransportError, type OutgoingFrame, type PeerInfo, type Transport } from './transport.js';
import {
  ForwardOp, ForwardStatus, FrameFlag, MessageType, type ForwardBody, type ForwardReplyBody, type MeshFrame,
} from './wire.js';
import { WsTransport } from './ws-transport.js';

export { resolveMeshOptions, type MeshLogger, type MeshOptions, type ResolvedMeshOptions };
export type { MeshBalance, MeshNodeInfo };

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

export class MeshNode implements RouteTarget, AttachableMesh {
  readonly cache: Cache;
  readonly options: ResolvedMeshOptions;
  readonly counters: MeshCounters = { forwarded: 0, forwardErrors: 0, served: 0, rerouted: 0, handoffPulls: 0, unexpectedFrames: 0, handoffsClosedEarly: 0 };
  #transport!: Transport;
  #membership!: Membership;
  #partitioner!: Partitioner;
  #rebalancer!: Rebalancer;
  readonly #log: MeshLogger | null;
  /** The hand-off windows (handoff.ts): previous ownerships new owners consult on a miss. */
  #handoffs: Handoffs | undefined;
  /** The keys and bytes each peer last reported. */
  readonly #peerStats = new PeerStats();
  #statsTimer: NodeJS.Timeout | null = null;
  #leaving = false;
  #started = false;
  #closed = false;
  readonly #ownershipListeners = new Set<() => void>();
  /** Whether ownership has ever included another member (false until the first join). */
  #metPeers = false;
  /** Sends requests for keys other nodes own to their owners. */
  readonly #forwarder: Forwarder;
  /** Answers the requests peers forward here. */
  readonly #peers: PeerService;
  /** The owners the partitioner was last given, sorted. */
  #owned: string[] = [];

  constructor(cache: Cache, options: MeshOptions = {}) {
    this.cache = cache;
    this.options = resolveMeshOptions(options);
    this.#log = options.logger ?? null;
    this.#forwarder = new Forwarder({
      request: (address, frame, timeoutMs) => this.#transport.request(address, frame, timeoutMs),
      addressOf: (id) => this.#addressOf(id),
      forwardTimeoutMs: this.options.forwardTimeoutMs,
      counters: this.counters,
    });
    this.#peers = new PeerService({
      cache,
      counters: this.counters,
      logger: this.#log,
      remoteOwner: (key) => this.remoteOwner(key),
      pullMoved: (keys) => this.pullMoved(keys),
      forwardCommand: (id, args, resp, flags) => this.forwardCommand(id, args, resp, flags),
      forwardOp: (id, body, flags) => this.forwardOp(id, body, flags),
      handedOver: (stored) => { this.#rebalancer.received += stored; },
    });
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
    this.#peers.useServer(server);
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
      this.#peerStats.forget(m.nodeId);
      this.#peers.forgetPeer(m.nodeId);
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
   * (forwarder.ts).
   */
  forwardCommand(nodeId: string, args: Buffer[], resp: 2 | 3, flags = 0): Promise<Buffer> {
    return this.#forwarder.forwardCommand(nodeId, args, resp, flags);
  }

  /** Sends a cache operation to `nodeId`; rejects with a TransportError when it cannot be reached. */
  forwardOp(nodeId: string, body: ForwardBody, flags = 0): Promise<ForwardReplyBody> {
    return this.#forwarder.forwardOp(nodeId, body, flags);
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
    if (this.#peers.handleFrame(frame, from, reply)) return;
    switch (frame.type) {
      case MessageType.NodeStats:
        this.#peerStats.record(from.nodeId, frame.body);
        return;
      case MessageType.HandoffDone:
        this.#handoffs!.peerDone(from.nodeId, frame.body.digest);
        return;
      default:
        this.counters.unexpectedFrames++;
    }
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
    const s = this.cache.stats();
    return this.#peerStats.rows(this.#membership.members(), { nodeId: this.nodeId, keys: s.entries, bytes: s.bytes, leaving: this.#leaving });
  }

  /**
   * Partition balance over the owning members that reported: max / mean of keys and of bytes
   * (1 is perfect; 2 means the fullest node holds twice the average).
   */
  balance(): MeshBalance {
    return balanceOf(this.nodes(), new Set(this.#owners()));
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
