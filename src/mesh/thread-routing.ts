/**
 * Mesh routing for the sidecar's extra server threads (`--threads N` with a mesh). The mesh node
 * (transport, membership, rebalancer) lives on the main thread; a server thread routes on its own
 * what it can and asks the main thread for the rest over a MessagePort:
 *
 * - With the hash partitioner the ring is in the cache's shared memory (SharedRing), so a thread
 *   looks the owner of every key up itself, without a copy of the ring and without a message.
 *   Commands whose keys are all this node's run in the thread, synchronously, as without a mesh
 *   — unless a hand-off window is open (a rebalance may still be moving a key here), which the
 *   main thread announces.
 * - Everything else (keys owned elsewhere, the range partitioner, the MESH command) is posted to
 *   the main thread, which routes it as it routes its own clients' commands and posts the RESP
 *   reply back.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Cache } from '../cache/cache.js';
import { SharedRing } from '../core/ring.js';
import { kOrdered, type ClientState, type CommandRouting, type CommandSpec, type RoutedReply, type ServerState } from '../commands/registry.js';
import { errorBuffer } from '../commands/reply.js';
import { peerClient, runSpec } from '../commands/executor.js';
import { InOrder, keyIndexes } from './command-router.js';
import type { MeshNode } from './node.js';

/**
 * Main → thread: what the thread needs to route alone, and the main thread's INFO mesh fields
 * (so INFO on a connection served by this thread shows the mesh too, at most a second old).
 */
interface StateMessage { kind: 'state'; nodeId: string; partitioner: 'hash' | 'range'; handoffUntil: number; info: Array<[string, string | number]> }
/** Thread → main: a command to route. */
interface RouteMessage { kind: 'route'; id: number; args: Uint8Array[]; resp: 2 | 3; db: number }
/** Main → thread: its RESP reply. */
interface ReplyMessage { kind: 'reply'; id: number; reply: Uint8Array }

/** How often the main thread re-announces its state (hand-off windows end without an event). */
const STATE_INTERVAL_MS = 1000;

/**
 * Main-thread side: answers one server thread's routing requests on `port` and keeps it told of
 * this node's id and open hand-off windows. Returns a function that stops it.
 */
export function serveThreadRouting(node: MeshNode, server: ServerState, port: MessagePort): () => void {
  const announce = () => port.postMessage({
    kind: 'state', nodeId: node.nodeId, partitioner: node.options.partitioner, handoffUntil: node.handoffUntil, info: node.info(),
  } satisfies StateMessage);
  announce();
  const unsubscribe = node.onOwnershipChange(announce);
  const timer = setInterval(announce, STATE_INTERVAL_MS);
  timer.unref();
  // The thread's requests run in the order they came; one whose part here waits for a hand-off
  // pull holds back the ones after it (as a connection does, see kOrdered).
  const order = new InOrder((err) => process.emitWarning(`meshcache: a server thread's routed command failed: ${(err as Error)?.stack ?? String(err)}`));
  const handle = (msg: RouteMessage): { done: Promise<void>; ordered: boolean } => {
    const args = msg.args.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    const client: ClientState = { ...peerClient(msg.resp), db: msg.db };
    const spec = server.commands.lookup(args[0].toString('latin1'));
    let reply: RoutedReply;
    if (spec === undefined) {
      reply = Promise.resolve(errorBuffer(`ERR unknown command '${args[0].toString('latin1')}'`));
    } else {
      try {
        reply = node.routeCommand(spec, args, client, server) ?? Promise.resolve(runSpec(spec, args, node.cache, client, server));
      } catch (err) {
        reply = Promise.reject(err);
      }
    }
    const done = reply.then(
      (r) => port.postMessage({ kind: 'reply', id: msg.id, reply: r } satisfies ReplyMessage),
      (err: unknown) => port.postMessage({ kind: 'reply', id: msg.id, reply: errorBuffer(`ERR ${(err as Error).message}`) } satisfies ReplyMessage),
    );
    return { done, ordered: reply[kOrdered] === true };
  };
  port.on('message', (msg: RouteMessage) => {
    if (msg?.kind === 'route') order.submit(() => handle(msg));
  });
  return () => {
    clearInterval(timer);
    unsubscribe();
    port.close();
  };
}

/** Server-thread side: the connection's CommandRouting. */
export class ThreadRouting implements CommandRouting {
  readonly #port: MessagePort;
  readonly #ring: SharedRing;
  readonly #pending = new Map<number, (reply: Buffer) => void>();
  #nextId = 1;
  #state: StateMessage | null = null;
  /**
   * Requests sent while a hand-off window was open and not answered yet. Until they are, the
   * thread keeps sending everything to the main thread even after the window closes: a command
   * run here could otherwise overtake one of them on the same key.
   */
  #windowRequests = 0;

  constructor(cache: Cache, port: MessagePort) {
    this.#port = port;
    this.#ring = SharedRing.of(cache);
    port.on('message', (msg: StateMessage | ReplyMessage) => {
      if (msg.kind === 'state') this.#state = msg;
      else if (msg.kind === 'reply') {
        const done = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        done?.(Buffer.from(msg.reply.buffer, msg.reply.byteOffset, msg.reply.byteLength));
      }
    });
    port.unref();
  }

  routeCommand(spec: CommandSpec, args: Buffer[], client: ClientState): Promise<Buffer> | null {
    const s = this.#state;
    const windowOpen = s !== null && s.handoffUntil > Date.now();
    if (s !== null && s.partitioner === 'hash' && spec.name !== 'mesh' && !windowOpen && this.#windowRequests === 0) {
      let local = true;
      for (const i of keyIndexes(spec, args.length)) {
        if (this.#ring.lookup(args[i]) !== s.nodeId) {
          local = false;
          break;
        }
      }
      if (local) return null;
    }
    const id = this.#nextId++;
    if (windowOpen) this.#windowRequests++;
    return new Promise<Buffer>((resolve) => {
      this.#pending.set(id, (reply) => {
        if (windowOpen) this.#windowRequests--;
        resolve(reply);
      });
      this.#port.postMessage({ kind: 'route', id, args, resp: client.resp, db: client.db } satisfies RouteMessage);
    });
  }

  /** INFO's Mesh section as the main thread last announced it (empty before the first). */
  info(): Array<[string, string | number]> {
    return this.#state?.info ?? [];
  }

  /** Ends every pending request with an error (the thread is closing). */
  close(): void {
    for (const done of this.#pending.values()) done(errorBuffer('ERR server thread closing'));
    this.#pending.clear();
    this.#port.close();
  }
}
