/**
 * Runs a command on this node and returns its RESP reply bytes: for Command frames from peers
 * (which must only carry keyed commands — a peer may not run CONFIG or FLUSHALL here) and for the
 * local part of a command the router split. The command table and server state are the
 * sidecar's when there is one; an embedded node builds its own.
 */
import type { Cache } from '../cache/cache.js';
import { RespWriter } from '../resp/writer.js';
import { CacheError } from '../errors.js';
import { errorBuffer, errorReply } from './reply.js';
import { registerAll } from './index.js';
import { Acl } from './acl.js';
import {
  CommandTable, ERR, type AclSubject, type ClientState, type CommandContext, type CommandSpec, type ReplyStep, type ServerState,
} from './registry.js';

/** Runs `args` as client `client` would, returning the reply. */
export type CommandExecutor = (args: Buffer[], client: ClientState) => Buffer;

/**
 * Whom peers' commands run as: the mesh authenticated the peer (its handshake), and the client's
 * own node checked the command against the client's user before forwarding it.
 */
const MESH_PEER: AclSubject = { name: 'mesh', unrestricted: true, deny: () => null };

/** A client state for commands that arrive from peers (authenticated by the mesh handshake). */
export function peerClient(resp: 2 | 3): ClientState {
  const now = Date.now();
  return {
    id: 0, name: 'mesh', libName: '', libVersion: '', addr: 'mesh', laddr: 'mesh', createdAt: now,
    lastCommandAt: now, lastCommand: '', authenticated: true, user: MESH_PEER, db: 0, resp, closing: false,
  };
}

/** The command table and a minimal server state for an embedded node without a sidecar. */
export function standaloneState(): ServerState {
  const commands = new CommandTable();
  registerAll(commands);
  return {
    startedAt: Date.now(), port: 0, host: '', version: '', threadIndex: 0, requirepass: null, users: new Acl(commands),
    config: new Map(), clients: () => [], commands, infoSections: () => [], mesh: null,
    counters: {
      connectionsReceived: 0, commandsProcessed: 0, rejectedConnections: 0, protocolErrors: 0,
      outputLimitDisconnections: 0, keyspaceHits: 0, keyspaceMisses: 0, netInputBytes: 0, netOutputBytes: 0,
      queryBufferLimitDisconnections: 0, evictedClients: 0, timeoutDisconnections: 0, clientInputBytes: 0,
    },
  };
}

/**
 * Runs a looked-up, arity-checked spec into a fresh writer and returns the whole reply: a reply
 * the handler streams (ctx.stream) is produced here to the end, slice after slice, since a peer
 * or a split command needs it complete. No output limit applies (admit always says yes).
 */
export function runSpec(spec: CommandSpec, args: Buffer[], cache: Cache, client: ClientState, server: ServerState): Buffer {
  const out = new RespWriter();
  out.protocol = client.resp;
  const streamed: { step: ReplyStep | null } = { step: null };
  const ctx: CommandContext = {
    cache, client, out, server,
    stream(step) {
      if (streamed.step !== null) throw new Error(`${spec.name}: ctx.stream called twice`);
      streamed.step = step;
    },
    admit: () => true,
  };
  try {
    spec.handler(ctx, args);
    const step = streamed.step;
    let done = step === null;
    while (!done) done = step!(out);
  } catch (err) {
    if (!(err instanceof RangeError || err instanceof TypeError || err instanceof CacheError)) throw err;
    return errorBuffer(errorReply(err));
  }
  return out.take();
}

/**
 * An executor for commands from peers: the command must exist, have its exact arity and take
 * keys; anything else gets an error reply (never an exception).
 */
export function peerExecutor(cache: Cache, server: ServerState): CommandExecutor {
  return (args, client) => {
    if (args.length === 0) return errorBuffer('ERR mesh: empty command');
    const name = Buffer.from(args[0]).toString('latin1');
    const spec = server.commands.lookup(name);
    if (spec === undefined) return errorBuffer(ERR.unknownCommand(name, args.slice(1)));
    if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) return errorBuffer(ERR.wrongArity(spec.name));
    if (spec.firstKey <= 0) return errorBuffer(`ERR mesh: '${spec.name}' takes no key and is not run for peers`);
    try {
      return runSpec(spec, args, cache, client, server);
    } catch (err) {
      return errorBuffer(errorReply(err));
    }
  };
}
