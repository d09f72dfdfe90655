/**
 * The MESH command of a sidecar in a mesh:
 * - `MESH NODES`: one line per member, like CLUSTER NODES:
 *   `<node id> <address> <state> <incarnation> keys=<n|?> bytes=<n|?>[ myself]`.
 * - `MESH OWNER <key>`: the id of the node that owns the key now.
 * - `MESH BALANCE`: partition balance (max / mean of keys and of bytes over the owning members).
 * - `MESH HELP`.
 */
import { command, ERR, word, type CommandSpec } from '../server/commands/registry.js';
import type { MeshNode } from './node.js';

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

/** The MESH command bound to `node`. */
export function meshCommand(node: MeshNode): CommandSpec {
  return command('mesh', -2, ['admin', 'stale'], [0, 0, 0], 'cluster', 'Mesh membership, ownership and balance', (ctx, args) => {
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
