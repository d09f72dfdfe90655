/**
 * Serving peers' forwarded work: the Forward, Command and CommandBatch frames other nodes send
 * for keys they believe this node owns, and the Rebalance batches previous owners hand over.
 *
 * A request is served here if this node's own view agrees that it owns the key (after pulling the
 * key from its previous owner during a hand-off window); if its view names another owner and the
 * frame has no NoReroute flag, it is forwarded once more with NoReroute set, so two views that
 * disagree while gossip converges cannot bounce a request for ever. A NoReroute request is served
 * here whatever the view says.
 *
 * Invariant: a peer's commands take effect in arrival order. Commands run synchronously as they
 * arrive while nothing waits; one that must wait for a hand-off pull holds back that peer's later
 * commands (and, in a CommandBatch, the batch's later commands) until it settles (InOrder).
 * A handed-over entry is stored only where the key is absent, so a write made here since wins.
 */
import type { Cache } from '../cache/cache.js';
import { kGetEncoded, kStoreEncoded } from '../cache/internal.js';
import { peerClient, peerExecutor, standaloneState, type CommandExecutor } from '../commands/executor.js';
import { kOrdered, type ServerState } from '../commands/registry.js';
import { errorBuffer, errorReply } from '../commands/reply.js';
import { InOrder, keyIndexes, routeCommand } from './command-router.js';
import type { MeshLogger } from './options.js';
import type { OutgoingFrame, PeerInfo } from './transport.js';
import {
  ForwardOp, ForwardStatus, FrameFlag, MessageType, type BatchedCommand, type ForwardBody, type ForwardReplyBody,
  type MeshFrame, type RebalanceBody,
} from './wire.js';

/** The node's counters a PeerService keeps (the node's own counters object, shared). */
export interface PeerServiceCounters {
  /** Requests peers forwarded here. */
  served: number;
  /** Requests that arrived here for a key this node does not own and were forwarded on. */
  rerouted: number;
}

/** What a PeerService needs from its node. */
export interface PeerServiceHost {
  /** The cache forwarded operations run on. */
  readonly cache: Cache;
  readonly counters: PeerServiceCounters;
  readonly logger: MeshLogger | null;
  /** The node that must serve `key`, or undefined when this node does. */
  remoteOwner(key: Uint8Array): string | undefined;
  /** Fetches owned keys still on their previous owner; null when none need it (MeshNode.pullMoved). */
  pullMoved(keys: Buffer[]): Promise<void> | null;
  /** Forwards a command to its owner (MeshNode.forwardCommand). */
  forwardCommand(nodeId: string, args: Buffer[], resp: 2 | 3, flags: number): Promise<Buffer>;
  /** Forwards a cache operation to its owner (MeshNode.forwardOp). */
  forwardOp(nodeId: string, body: ForwardBody, flags: number): Promise<ForwardReplyBody>;
  /** Hears how many handed-over keys a Rebalance batch stored (the rebalancer counts them). */
  handedOver(stored: number): void;
}

/** A frame handler's outcome for InOrder: when it is done, and whether later commands must wait. */
type Task = { done: Promise<void>; ordered: boolean };

/** Answers peers' forwarded requests; see the file comment. */
export class PeerService {
  readonly #host: PeerServiceHost;
  #executor: CommandExecutor;
  #server: ServerState;
  /** Per peer: its forwarded commands, run in arrival order. */
  readonly #peerOrder = new Map<string, InOrder>();

  constructor(host: PeerServiceHost) {
    this.#host = host;
    this.#server = standaloneState();
    this.#executor = peerExecutor(host.cache, this.#server);
  }

  /** Runs commands from peers against the sidecar's command table and state (INFO counters…). */
  useServer(server: ServerState): void {
    this.#server = server;
    this.#executor = peerExecutor(this.#host.cache, server);
  }

  /** Forgets a peer that died or left (its ordering state). */
  forgetPeer(nodeId: string): void {
    this.#peerOrder.delete(nodeId);
  }

  /** Handles a Forward, Command, CommandBatch or Rebalance frame; false for any other frame. */
  handleFrame(frame: MeshFrame, from: PeerInfo, reply: (f: OutgoingFrame) => void): boolean {
    switch (frame.type) {
      case MessageType.Forward:
        void this.#onForward(frame.body, frame.flags, reply);
        return true;
      case MessageType.Command: {
        const { args, resp } = frame.body;
        this.#inPeerOrder(from.nodeId, () => this.#onCommand(args, resp as 2 | 3, frame.flags, reply));
        return true;
      }
      case MessageType.CommandBatch: {
        const { commands } = frame.body;
        this.#inPeerOrder(from.nodeId, () => this.#onCommandBatch(commands, reply));
        return true;
      }
      case MessageType.Rebalance:
        reply({ type: MessageType.RebalanceAck, body: this.#onRebalance(frame.body) });
        return true;
      default:
        return false;
    }
  }

  async #onForward(body: ForwardBody, flags: number, reply: (f: OutgoingFrame) => void): Promise<void> {
    const host = this.#host;
    host.counters.served++;
    const key = Buffer.from(body.key.buffer, body.key.byteOffset, body.key.byteLength);
    try {
      const owner = host.remoteOwner(key);
      if (owner !== undefined && (flags & FrameFlag.NoReroute) === 0) {
        host.counters.rerouted++;
        reply({ type: MessageType.ForwardReply, body: await host.forwardOp(owner, body, FrameFlag.NoReroute) });
        return;
      }
      if (owner === undefined) {
        const pull = host.pullMoved([key]);
        if (pull !== null) await pull;
      }
      reply({ type: MessageType.ForwardReply, body: this.#applyOp(key, body) });
    } catch (err) {
      reply({ type: MessageType.ForwardReply, body: { status: ForwardStatus.Error, valueType: 0, ttlMs: 0, value: Buffer.from(errorReply(err)) } });
    }
  }

  /** Runs a forwarded cache operation on this node's cache. */
  #applyOp(key: Buffer, body: ForwardBody): ForwardReplyBody {
    const cache = this.#host.cache;
    const none = new Uint8Array(0);
    switch (body.op) {
      case ForwardOp.Get: {
        const got = cache[kGetEncoded](key);
        if (got === null) return { status: ForwardStatus.NotFound, valueType: 0, ttlMs: 0, value: none };
        const ttl = cache.ttl(key);
        const ttlMs = ttl === undefined || ttl === Infinity ? 0 : Math.max(1, Math.min(0xffff_ffff, Math.ceil(ttl)));
        return { status: ForwardStatus.Ok, valueType: got[1], ttlMs, value: got[0] };
      }
      case ForwardOp.Set:
        cache[kStoreEncoded](key, body.value, body.valueType, body.ttlMs);
        return { status: ForwardStatus.Ok, valueType: 0, ttlMs: 0, value: none };
      case ForwardOp.Delete:
        return { status: cache.delete(key) ? ForwardStatus.Ok : ForwardStatus.NotFound, valueType: 0, ttlMs: 0, value: none };
      case ForwardOp.Has:
        return { status: cache.has(key) ? ForwardStatus.Ok : ForwardStatus.NotFound, valueType: 0, ttlMs: 0, value: none };
      default:
        return { status: ForwardStatus.Error, valueType: 0, ttlMs: 0, value: Buffer.from('ERR unknown forward op') };
    }
  }

  /**
   * Runs a command a peer forwarded: the reply (now, or a promise) and whether it had to wait for
   * a hand-off pull before running here (`ordered`: the peer's later commands wait too).
   */
  #runCommand(rawArgs: Uint8Array[], resp: 2 | 3, flags: number): { reply: Buffer | Promise<Buffer>; ordered: boolean } {
    const host = this.#host;
    host.counters.served++;
    const args = rawArgs.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    const client = peerClient(resp);
    const spec = args.length > 0 ? this.#server.commands.lookup(args[0].toString('latin1')) : undefined;
    const keyed = spec !== undefined && spec.firstKey > 0 && (spec.arity > 0 ? args.length === spec.arity : args.length >= -spec.arity);
    if (keyed && (flags & FrameFlag.NoReroute) !== 0) {
      // Served here whatever our view says; the keys we own may still be on their previous owner.
      const owned = keyIndexes(spec, args.length).map((i) => args[i]).filter((k) => host.remoteOwner(k) === undefined);
      const pull = owned.length === 0 ? null : host.pullMoved(owned);
      if (pull === null) return { reply: this.#executor(args, client), ordered: false };
      return { reply: pull.then(() => this.#executor(args, client)), ordered: true };
    }
    if (!keyed) return { reply: this.#executor(args, client), ordered: false };
    // Route with our own view: forwards once more (NoReroute) if it disagrees with the sender's.
    const routed = routeCommand(spec, args, {
      remoteOwner: (k) => host.remoteOwner(k),
      forwardCommand: (id, a, r) => { host.counters.rerouted++; return host.forwardCommand(id, a, r, FrameFlag.NoReroute); },
      pullMoved: (keys) => host.pullMoved(keys),
    }, resp, (a) => this.#executor(a, client));
    if (routed === null) return { reply: this.#executor(args, client), ordered: false };
    return { reply: routed, ordered: routed[kOrdered] === true };
  }

  /** A Command frame: runs it and sends the reply. */
  #onCommand(args: Uint8Array[], resp: 2 | 3, flags: number, reply: (f: OutgoingFrame) => void): Task {
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
  #onCommandBatch(commands: BatchedCommand[], reply: (f: OutgoingFrame) => void): Task {
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

  /** Stores a hand-off batch: only keys absent here (a write made here since wins). */
  #onRebalance(body: RebalanceBody): { epoch: bigint; stored: number } {
    let stored = 0;
    for (const e of body.entries) {
      try {
        if (this.#host.cache[kStoreEncoded](Buffer.from(e.key.buffer, e.key.byteOffset, e.key.byteLength), e.value, e.valueType, e.ttlMs, true)) stored++;
      } catch (err) {
        this.#host.logger?.warn({ err: (err as Error).message }, 'mesh: a handed-over entry could not be stored');
      }
    }
    this.#host.handedOver(stored);
    return { epoch: body.epoch, stored };
  }

  /** Runs a peer's commands in arrival order (see InOrder). */
  #inPeerOrder(peer: string, run: () => Task): void {
    let order = this.#peerOrder.get(peer);
    if (order === undefined) {
      order = new InOrder((err) => this.#host.logger?.warn({ peer, err: (err as Error)?.message }, 'mesh: a forwarded command failed'));
      this.#peerOrder.set(peer, order);
    }
    order.submit(run);
  }
}
