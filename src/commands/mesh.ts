/**
 * The MESH command of a sidecar in a mesh:
 * - `MESH NODES`: one line per member, like CLUSTER NODES:
 *   `<node id> <address> <state> <incarnation> keys=<n|?> bytes=<n|?>[ myself]`.
 * - `MESH OWNER <key>`: the id of the node that owns the key now.
 * - `MESH BALANCE`: partition balance (max / mean of keys and of bytes over the owning members).
 * - `MESH HELP`.
 */
import type { Cache } from '../cache/cache.js';
import { command, ERR, word, type CommandRouting, type CommandSpec, type ServerState } from './registry.js';

/** One member as MESH NODES, the dashboard and the metrics show it. */
export interface MeshMemberView {
  nodeId: string;
  address: string;
  /** SWIM state in this node's view: 'alive', 'suspect', 'dead' or 'left'. */
  state: string;
  incarnation: bigint;
  /** This node. */
  self: boolean;
  /** Keys and bytes the member last reported; null before it did. */
  keys: number | null;
  bytes: number | null;
}

/** Partition balance over the owning members (max over mean; 1 is even). */
export interface MeshBalanceView {
  nodes: number;
  keys: number;
  bytes: number;
  keysMaxOverMean: number;
  bytesMaxOverMean: number;
}

/**
 * The mesh-admin port: what the MESH command, INFO's Mesh section, the metrics and the dashboard
 * read of a mesh node. The mesh implements it (src/mesh/node.ts); the command layer and the
 * server know only this interface, so neither imports the mesh.
 */
export interface MeshAdmin {
  readonly nodeId: string;
  readonly address: string;
  nodes(): MeshMemberView[];
  /** The id of the node that owns `key` now, or undefined while no member is alive. */
  ownerOf(key: Uint8Array): string | undefined;
  balance(): MeshBalanceView;
  /** INFO's Mesh section, as field/value pairs. */
  info(): Array<[string, string | number]>;
  readonly counters: { readonly forwarded: number; readonly forwardErrors: number; readonly served: number; readonly handoffPulls: number };
  rebalanceStats(): { readonly sent: number; readonly received: number; readonly pending: number };
  membershipStats(): { readonly suspectEventsSeen: number; readonly refutations: number; readonly deathsDeclared: number; readonly localHealth: number };
  transportStats(): { readonly authFailures: number; readonly malformedFrames: number };
}

/**
 * A mesh node as a sidecar attaches it: it routes the server's keyed commands (the routing port),
 * answers MESH and monitoring (the admin port), runs peers' forwarded commands with the server's
 * command table once told of it, and works over the server's cache.
 */
export interface AttachableMesh extends MeshAdmin, CommandRouting {
  readonly cache: Cache;
  /** Runs peers' forwarded commands with this server's table and state from now on. */
  useServer(server: ServerState): void;
}

const HELP = [
  'MESH <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'NODES',
  '    One line per member: id, address, state, incarnation, keys, bytes ("myself" marks this node).',
  'OWNER <key>',
  '    The id of the node that owns <key>.',
  'BALANCE',
  '    Max over mean of keys and of bytes per owning node (1 is even).',
  'HELP',
  '    Print this help.',
];

const MESH_FLAGS = ['admin', 'stale'];
const MESH_SUMMARY = 'Mesh membership, ownership and balance';

/**
 * A MESH entry that only gives the command its name, arity and flags (ACL rules and COMMAND see
 * it), answering every call with the error `reply`: on a server thread, whose MESH the main
 * thread answers, and where rules are checked before a mesh exists.
 */
export function meshPlaceholder(reply: string): CommandSpec {
  return command('mesh', -2, MESH_FLAGS, [0, 0, 0], 'cluster', MESH_SUMMARY, (ctx) => ctx.out.error(reply));
}

/** The MESH command bound to `node`. */
export function meshCommand(node: MeshAdmin): CommandSpec {
  return command('mesh', -2, MESH_FLAGS, [0, 0, 0], 'cluster', MESH_SUMMARY, (ctx, args) => {
    const sub = word(args[1]);
    if (sub === 'NODES' && args.length === 2) {
      const lines = node.nodes().map((n) =>
        `${n.nodeId} ${n.address} ${n.state} ${n.incarnation} keys=${n.keys ?? '?'} bytes=${n.bytes ?? '?'}${n.self ? ' myself' : ''}`);
      ctx.out.bulk(lines.join('\n') + '\n');
    } else if (sub === 'OWNER' && args.length === 3) {
      const owner = node.ownerOf(args[2]);
      if (owner === undefined) ctx.out.nil();
      else ctx.out.bulk(owner);
    } else if (sub === 'BALANCE' && args.length === 2) {
      const b = node.balance();
      ctx.out.map(4);
      ctx.out.bulk('nodes'); ctx.out.integer(b.nodes);
      ctx.out.bulk('keys'); ctx.out.integer(b.keys);
      ctx.out.bulk('keys_max_over_mean'); ctx.out.bulk(b.keysMaxOverMean.toFixed(3));
      ctx.out.bulk('bytes_max_over_mean'); ctx.out.bulk(b.bytesMaxOverMean.toFixed(3));
    } else if (sub === 'HELP' && args.length === 2) {
      ctx.out.array(HELP.length);
      for (const line of HELP) ctx.out.simple(line);
    } else if (['NODES', 'OWNER', 'BALANCE', 'HELP'].includes(sub)) {
      ctx.out.error(`ERR wrong number of arguments for 'mesh|${sub.toLowerCase()}' command`);
    } else {
      ctx.out.error(ERR.unknownSubcommand(args[1].toString('latin1'), 'mesh'));
    }
  });
}
