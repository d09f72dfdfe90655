/** String commands (placeholder: GET and SET without options; the full family replaces this). */
import { command, type CommandSpec } from './registry.js';
import { kGetEncoded } from '../../cache/internal.js';

export const stringCommands: CommandSpec[] = [
  command('get', 2, ['readonly', 'fast'], [1, 1, 1], 'string', 'Returns the string value of a key.', (ctx, args) => {
    const v = ctx.cache[kGetEncoded](args[1]);
    if (v === null) {
      ctx.server.counters.keyspaceMisses++;
      return ctx.out.nil();
    }
    ctx.server.counters.keyspaceHits++;
    ctx.out.bulk(v[0]);
  }),
  command('set', -3, ['write', 'denyoom'], [1, 1, 1], 'string', 'Sets the string value of a key.', (ctx, args) => {
    ctx.cache.set(args[1], Buffer.from(args[2]));
    ctx.out.simple('OK');
  }),
];
