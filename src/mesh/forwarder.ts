/**
 * Forwarding to owners: how a node sends a request for a key it does not own to the node that does.
 *
 * RESP commands are gathered per peer until the end of the tick and travel as one CommandBatch
 * frame (a pipeline's forwarded commands, many clients' at once: one frame, one reply, one write);
 * a lone command travels as a plain Command frame. A batch stays under BATCH_MAX_BYTES and
 * MAX_BATCH_COMMANDS: what would overflow it goes out after what is already queued. Cache
 * operations (ForwardOp) go one request each.
 *
 * Invariants: a peer's forwarded commands leave in the order they were forwarded (the receiver
 * runs them in arrival order, peer-service.ts), and every forwarded command resolves exactly once
 * — with the owner's reply, or with a CLUSTERDOWN error reply when the owner cannot be reached or
 * answers with the wrong frame — so a client is never left waiting past the forward timeout.
 */
import type { Milliseconds } from '../config.js';
import { errorBuffer } from '../commands/reply.js';
import { TransportError, type OutgoingFrame } from './transport.js';
import { MAX_BATCH_COMMANDS, MessageType, type BatchedCommand, type ForwardBody, type ForwardReplyBody, type MeshFrame } from './wire.js';

/** Bytes of forwarded commands gathered in one CommandBatch at most (a larger command goes alone). */
export const BATCH_MAX_BYTES = 4 * 1024 * 1024;

/** The node's counters a Forwarder keeps (the node's own counters object, shared). */
export interface ForwardCounters {
  /** Requests forwarded to an owner (commands and cache operations). */
  forwarded: number;
  /** Forwarded requests that failed (owner unreachable, timeout, wrong reply). */
  forwardErrors: number;
}

/** What a Forwarder needs from its node. */
export interface ForwarderHost {
  /** Sends a request frame to the peer at `address` (Transport.request). */
  request(address: string, frame: OutgoingFrame, timeoutMs: Milliseconds): Promise<MeshFrame>;
  /** The address of member `nodeId`; throws a TransportError when it is not a member. */
  addressOf(nodeId: string): string;
  /** How long a forwarded request may take before it fails. */
  readonly forwardTimeoutMs: Milliseconds;
  readonly counters: ForwardCounters;
}

/** A command waiting in a peer's out-batch, and who hears its reply. */
interface QueuedCommand {
  command: BatchedCommand;
  resolve: (reply: Buffer) => void;
}

/** Sends requests to key owners; see the file comment. */
export class Forwarder {
  readonly #host: ForwarderHost;
  /** Commands to forward, per peer, gathered until the end of the tick. */
  readonly #outBatches = new Map<string, { items: QueuedCommand[]; bytes: number }>();

  constructor(host: ForwarderHost) {
    this.#host = host;
  }

  /**
   * Runs `args` on `nodeId` and resolves with its RESP reply (a CLUSTERDOWN error reply when it
   * cannot be reached); never rejects. Commands for one peer within one tick travel as one
   * CommandBatch frame.
   */
  forwardCommand(nodeId: string, args: Buffer[], resp: 2 | 3, flags = 0): Promise<Buffer> {
    this.#host.counters.forwarded++;
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
    const host = this.#host;
    const fail = (err: unknown) => {
      host.counters.forwardErrors += batch.length;
      const out = errorBuffer(`CLUSTERDOWN the owner of this key (${nodeId}) cannot be reached: ${(err as Error).message}`);
      for (const b of batch) b.resolve(out);
    };
    try {
      const address = host.addressOf(nodeId);
      if (batch.length === 1) {
        const { command, resolve } = batch[0];
        const reply = await host.request(address, { type: MessageType.Command, flags: command.flags, body: { resp: command.resp, args: command.args } }, host.forwardTimeoutMs);
        if (reply.type !== MessageType.CommandReply) throw new Error(`unexpected reply type ${reply.type}`);
        resolve(Buffer.from(reply.body.reply));
        return;
      }
      const reply = await host.request(address, { type: MessageType.CommandBatch, body: { commands: batch.map((b) => b.command) } }, host.forwardTimeoutMs);
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
    const host = this.#host;
    host.counters.forwarded++;
    try {
      const reply = await host.request(host.addressOf(nodeId), { type: MessageType.Forward, flags, body }, host.forwardTimeoutMs);
      if (reply.type !== MessageType.ForwardReply) throw new TransportError('ERR_MESH_CLOSED', `unexpected reply type ${reply.type}`);
      return reply.body;
    } catch (err) {
      host.counters.forwardErrors++;
      throw err;
    }
  }
}
