/** Server commands: INFO, DBSIZE, FLUSHDB, FLUSHALL, TIME, COMMAND, CONFIG. */
import { arch, platform, release, totalmem } from 'node:os';
import { command, ERR, word, type CommandContext, type CommandSpec } from './registry.js';
import { categoryNames, shownFlags, withSubcommands } from './registry.js';
import { REDIS_COMPAT_VERSION } from './version.js';
import type { CacheStats } from '../cache/cache.js';

type Fields = Array<[string, string | number]>;

function sections(ctx: CommandContext): Array<[string, Fields]> {
  const s = ctx.cache.stats();
  const c = ctx.server.counters;
  const mem = process.memoryUsage();
  const now = Date.now();
  const clients = [...ctx.server.clients()];
  const out: Array<[string, Fields]> = [
    ['Server', [
      ['redis_version', REDIS_COMPAT_VERSION], ['meshcache_version', ctx.server.version], ['redis_mode', 'standalone'],
      ['os', `${platform()} ${release()} ${arch()}`], ['arch_bits', 64], ['process_id', process.pid],
      ['tcp_port', ctx.server.port], ['uptime_in_seconds', Math.floor((now - ctx.server.startedAt) / 1000)],
      ['uptime_in_days', Math.floor((now - ctx.server.startedAt) / 86_400_000)], ['executable', process.argv[1] ?? ''],
      ['node_version', process.version], ['server_thread', ctx.server.threadIndex],
    ]],
    ['Clients', [['connected_clients', clients.length], ['maxclients', ctx.server.config.get('maxclients') ?? '']]],
    ['Memory', memoryFields(s, mem)],
    ['Persistence', [['loading', 0], ['async_loading', 0], ['rdb_changes_since_last_save', 0], ['aof_enabled', 0]]],
    ['Stats', [
      ['total_connections_received', c.connectionsReceived], ['total_commands_processed', c.commandsProcessed],
      ['total_net_input_bytes', c.netInputBytes], ['total_net_output_bytes', c.netOutputBytes],
      ['rejected_connections', c.rejectedConnections], ['expired_keys', s.expirations], ['evicted_keys', s.evictions],
      ['keyspace_hits', c.keyspaceHits], ['keyspace_misses', c.keyspaceMisses],
      ['total_error_replies', c.protocolErrors], ['client_output_buffer_limit_disconnections', c.outputLimitDisconnections],
      ['client_query_buffer_limit_disconnections', c.queryBufferLimitDisconnections], ['evicted_clients', c.evictedClients],
    ]],
    ['Replication', [['role', 'master'], ['connected_slaves', 0]]],
    ['Keyspace', s.entries > 0 ? [['db0', `keys=${s.entries},expires=0,avg_ttl=0`]] : []],
    ['Meshcache', [
      ['cache_entries', s.entries], ['cache_bytes', s.bytes], ['cache_used_bytes', s.usedBytes], ['cache_budget_bytes', s.budget],
      ['cache_hits', s.hits], ['cache_misses', s.misses], ['cache_hit_ratio', s.hitRatio.toFixed(4)],
      ['cache_evictions', s.evictions], ['cache_expirations', s.expirations], ['cache_shards', s.shards.length],
      ['cache_shard_balance', s.balance.toFixed(3)], ['cache_compressed_entries', s.compressedEntries],
      ['cache_bytes_saved', s.bytesSaved], ['cache_lock_contended', s.contended],
      ['cache_workers', s.workers?.threads ?? 0], ['protocol_errors', c.protocolErrors],
      ['clients_input_buffer_bytes', c.clientInputBytes], ['client_timeout_disconnections', c.timeoutDisconnections],
    ]],
  ];
  for (const extra of ctx.server.infoSections()) out.push(extra);
  return out;
}

/**
 * INFO memory with Redis's field meanings, so that the usual alert (used_memory / maxmemory near 1)
 * means the same: `used_memory` is what maxmemory governs (entries, the shards' indexes and ghost
 * filters), which eviction keeps at or under maxmemory; `used_memory_dataset` the entries alone and
 * `used_memory_overhead` the rest of it. What the budget does not govern is reported beside it:
 * `mem_not_counted_for_evict` (the V8 heap and external memory: client buffers, replies in flight)
 * and, meshcache's own, `used_memory_wasm` (the shared WebAssembly memory, which reserves arena ahead
 * of use and never shrinks) and `used_memory_heap`.
 */
export function memoryFields(s: CacheStats, mem: NodeJS.MemoryUsage): Fields {
  const used = s.usedBytes;
  const overhead = Math.max(0, used - s.bytes);
  const system = totalmem();
  return [
    ['used_memory', used], ['used_memory_human', human(used)],
    ['used_memory_rss', mem.rss], ['used_memory_rss_human', human(mem.rss)],
    ['used_memory_overhead', overhead], ['used_memory_dataset', s.bytes],
    ['used_memory_dataset_perc', used === 0 ? '0.00%' : `${(s.bytes / used * 100).toFixed(2)}%`],
    ['total_system_memory', system], ['total_system_memory_human', human(system)],
    ['maxmemory', s.budget], ['maxmemory_human', human(s.budget)], ['maxmemory_policy', 's3-fifo'],
    ['mem_fragmentation_ratio', used === 0 ? '0.00' : (mem.rss / used).toFixed(2)],
    ['mem_not_counted_for_evict', mem.heapUsed + mem.external],
    ['mem_allocator', 'tlsf (webassembly)'],
    ['used_memory_wasm', s.memoryBytes], ['used_memory_heap', mem.heapUsed],
  ];
}

function human(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(2)}${units[i]}`;
}

function info(ctx: CommandContext, args: Buffer[]): void {
  const wanted = args.slice(1).map((a) => a.toString('latin1').toLowerCase());
  const all = wanted.length === 0 || wanted.some((w) => w === 'all' || w === 'everything' || w === 'default');
  let text = '';
  for (const [name, fields] of sections(ctx)) {
    if (!all && !wanted.includes(name.toLowerCase())) continue;
    if (text) text += '\r\n';
    text += `# ${name}\r\n`;
    for (const [k, v] of fields) text += `${k}:${v}\r\n`;
  }
  ctx.out.verbatim(text);
}

function flush(ctx: CommandContext, args: Buffer[], name: string): void {
  if (args.length > 2) return ctx.out.error(ERR.syntax);
  if (args.length === 2 && !['SYNC', 'ASYNC'].includes(word(args[1]))) return ctx.out.error(ERR.syntax);
  void name;
  ctx.cache.clear();
  ctx.out.simple('OK');
}

function commandInfo(ctx: CommandContext, spec: ReturnType<CommandContext['server']['commands']['get']>): void {
  const o = ctx.out;
  if (spec === undefined) return o.nil();
  o.array(10);
  o.bulk(spec.name);
  o.integer(spec.arity);
  const flags = shownFlags(spec.flags);
  o.set(flags.length);
  for (const f of flags) o.simple(f);
  o.integer(spec.firstKey);
  o.integer(spec.lastKey);
  o.integer(spec.step);
  // Redis's ACL categories slot.
  const categories = categoryNames(spec.categories);
  o.set(categories.length);
  for (const c of categories) o.simple(c);
  o.set(0);
  o.array(0);
  o.array(0);
}

export const serverCommands: CommandSpec[] = [
  command('info', -1, ['loading', 'stale', '@dangerous'], [0, 0, 0], 'server', 'Returns information and statistics about the server.', info),
  command('dbsize', 1, ['readonly', 'fast'], [0, 0, 0], 'keyspace', 'Returns the number of keys in the database.', (ctx) => ctx.out.integer(ctx.cache.size)),
  command('flushdb', -1, ['write', '@dangerous'], [0, 0, 0], 'keyspace', 'Removes all keys from the current database.', (ctx, args) => flush(ctx, args, 'flushdb')),
  command('flushall', -1, ['write', '@dangerous'], [0, 0, 0], 'keyspace', 'Removes all keys from all databases.', (ctx, args) => flush(ctx, args, 'flushall')),
  command('time', 1, ['fast', 'loading', 'stale'], [0, 0, 0], 'server', 'Returns the server time.', (ctx) => {
    const us = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
    ctx.out.array(2);
    ctx.out.bulk(String(us / 1_000_000n));
    ctx.out.bulk(String(us % 1_000_000n));
  }),
  withSubcommands(command('config', -2, ['admin', 'loading', 'stale'], [0, 0, 0], 'server', 'A container for server configuration commands.', (ctx, args) => {
    const sub = word(args[1]);
    if (sub === 'GET') {
      if (args.length < 3) return ctx.out.error(ERR.wrongArity('config|get'));
      const pairs: Array<[string, string]> = [];
      for (const p of args.slice(2)) {
        const re = new RegExp('^' + p.toString('latin1').toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
        for (const [k, v] of ctx.server.config) if (re.test(k) && !pairs.some((x) => x[0] === k)) pairs.push([k, v]);
      }
      ctx.out.map(pairs.length);
      for (const [k, v] of pairs) {
        ctx.out.bulk(k);
        ctx.out.bulk(v);
      }
      return;
    }
    if (sub === 'SET' || sub === 'RESETSTAT' || sub === 'REWRITE') return ctx.out.error(`ERR CONFIG ${sub} is not supported: meshcache's configuration is read-only at run time`);
    return ctx.out.error(ERR.unknownSubcommand(args[1].toString('latin1'), 'config'));
  }), {
    get: ['admin', 'noscript', 'loading', 'stale'], set: ['admin', 'noscript', 'loading', 'stale'],
    resetstat: ['admin', 'noscript', 'loading', 'stale'], rewrite: ['admin', 'noscript', 'loading', 'stale'],
    help: ['loading', 'stale'],
  }),
  command('command', -1, ['loading', 'stale', '@connection'], [0, 0, 0], 'server', 'Returns detailed information about all commands.', (ctx, args) => {
    const table = ctx.server.commands;
    const o = ctx.out;
    if (args.length === 1) {
      o.array(table.size);
      for (const spec of table.all()) commandInfo(ctx, spec);
      return;
    }
    const sub = word(args[1]);
    if (sub === 'COUNT') {
      if (args.length !== 2) return o.error(ERR.wrongArity('command|count'));
      return o.integer(table.size);
    }
    if (sub === 'INFO') {
      const names = args.length === 2 ? [...table.all()].map((s) => s.name) : args.slice(2).map((a) => a.toString('latin1').toLowerCase());
      o.array(names.length);
      for (const n of names) commandInfo(ctx, table.get(n));
      return;
    }
    if (sub === 'DOCS') {
      const names = args.length === 2 ? [...table.all()].map((s) => s.name) : args.slice(2).map((a) => a.toString('latin1').toLowerCase());
      const found = names.map((n) => table.get(n)).filter((s) => s !== undefined);
      o.map(found.length);
      for (const spec of found) {
        o.bulk(spec!.name);
        o.map(3);
        o.bulk('summary'); o.bulk(spec!.summary);
        o.bulk('since'); o.bulk('1.0.0');
        o.bulk('group'); o.bulk(spec!.group);
      }
      return;
    }
    if (sub === 'LIST') {
      o.array(table.size);
      for (const spec of table.all()) o.bulk(spec.name);
      return;
    }
    return o.error(ERR.unknownSubcommand(args[1].toString('latin1'), 'command'));
  }),
];
