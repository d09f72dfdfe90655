/**
 * The command table. Each command has Redis's exact arity (positive: exactly that many words,
 * command name included; negative: at least that many), flags and key positions (for COMMAND
 * INFO), and a synchronous handler that writes its reply. Registering a name twice is refused.
 *
 * A reply that may be large or slow to compute (MGET of big values, KEYS over a big keyspace) is
 * produced in slices: the handler writes what fits in one slice and hands the rest to
 * `ctx.stream(step)`. The server then calls `step` once per event-loop turn, while the client's
 * output has room, and writes each part to the socket as it comes, so that no command holds the
 * event loop for more than about one slice (SLICE_BUDGET_MS, or one value) and no reply is built
 * whole in memory. Steps are synchronous: a peer (runSpec) gets the whole reply by calling them
 * until the last, in one go.
 */
import type { RespWriter } from '../resp/writer.js';
import type { Cache } from '../cache/cache.js';

/** One connected client, as commands see it. */
export interface ClientState {
  readonly id: number;
  name: string;
  libName: string;
  libVersion: string;
  readonly addr: string;
  readonly laddr: string;
  readonly createdAt: number;
  lastCommandAt: number;
  lastCommand: string;
  authenticated: boolean;
  /** Whose permissions apply (the `default` user until AUTH / HELLO AUTH names another). */
  user: AclSubject;
  db: number;
  /** Protocol chosen with HELLO. */
  resp: 2 | 3;
  /** Set by QUIT: close once the reply is flushed. */
  closing: boolean;
}

/**
 * About how long one slice of a streamed reply may run (ms): a handler that would run longer
 * stops there and streams the rest. A single value is never split, so a slice that copies one
 * large value out of the cache may take longer (about 1 ms per 2 MB here).
 */
export const SLICE_BUDGET_MS = 4;

/**
 * About how many reply bytes one slice writes: a reply that would be larger is streamed, one part
 * of about this size (or one value) at a time, each handed to the socket as soon as it is written.
 */
export const SLICE_BYTES = 1024 * 1024;

/**
 * The next slice of a streamed reply: writes the next part into `out` (the context's writer) and
 * returns true once the reply is complete. Called once per event-loop turn by a connection, in a
 * loop by runSpec.
 */
export type ReplyStep = (out: RespWriter) => boolean;

/** What every handler gets. */
export interface CommandContext {
  readonly cache: Cache;
  readonly client: ClientState;
  readonly out: RespWriter;
  readonly server: ServerState;
  /**
   * Continues this command's reply in slices (see the file comment): the handler writes the
   * first part into `out`, calls this last and returns. The commands after it on the same
   * connection wait until `step` has returned true. If the client goes away meanwhile, `step` is
   * not called again. At most once per command.
   */
  stream(step: ReplyStep): void;
  /**
   * Whether `bytes` more reply bytes may be queued for this client: false when they would take
   * its output past the hard output limit, in which case the client is being disconnected and
   * the handler (or step) writes nothing more. Ask before copying a large value into `out`, so
   * that a reply over the limit is never allocated.
   */
  admit(bytes: number): boolean;
}

/** Server-wide state the handlers read (INFO, CLIENT LIST, CONFIG GET…). */
export interface ServerState {
  readonly startedAt: number;
  readonly port: number;
  readonly host: string;
  readonly version: string;
  /** Which server thread this is (0 = the main one). */
  readonly threadIndex: number;
  readonly requirepass: string | null;
  /** The users AUTH and HELLO check passwords against, and ACL manages (src/commands/acl.ts). */
  readonly users: UserDirectory;
  readonly config: ReadonlyMap<string, string>;
  clients(): Iterable<ClientState>;
  /** Counters for INFO stats. */
  readonly counters: ServerCounters;
  /** Command table, for COMMAND. */
  readonly commands: CommandTable;
  /** Text of INFO's meshcache section and others the server adds. */
  infoSections(): Array<[string, Array<[string, string | number]>]>;
  /** The mesh node routing keyed commands to their owners; null without a mesh. */
  mesh: CommandRouting | null;
}

/**
 * The routing port: how a connection hands a keyed command to the mesh. The mesh implements it
 * (src/mesh/node.ts, and src/mesh/thread-routing.ts on server threads); the command layer and the
 * server only know this interface.
 */
export interface CommandRouting {
  /**
   * null: run it here, synchronously; else the whole RESP reply, computed elsewhere. A reply
   * marked with kOrdered holds back the connection's next commands until it
   * settles.
   */
  routeCommand(spec: CommandSpec, args: Buffer[], client: ClientState, server: ServerState): RoutedReply | null;
}

/**
 * Set on a routed reply whose part for this node waits for a hand-off pull before it runs. The
 * commands after it on the same connection must wait for it too: run now, they could act on a
 * key before it (MGET x y waiting to pull x, then SET y running first, would read the new y).
 * Forwarded parts need no such care: a peer runs one connection's commands in arrival order.
 */
export const kOrdered = Symbol('meshcache.routedOrdered');

/** What routeCommand returns when the reply comes later. */
export type RoutedReply = Promise<Buffer> & { [kOrdered]?: true };

/** Marks `p` as holding back the commands after it. */
export function ordered(p: Promise<Buffer>): RoutedReply {
  (p as RoutedReply)[kOrdered] = true;
  return p;
}

export interface ServerCounters {
  connectionsReceived: number;
  commandsProcessed: number;
  rejectedConnections: number;
  protocolErrors: number;
  outputLimitDisconnections: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  netInputBytes: number;
  netOutputBytes: number;
  /** Clients disconnected for a query buffer over client-query-buffer-limit. */
  queryBufferLimitDisconnections: number;
  /** Clients disconnected because all clients' input was over maxmemory-clients (largest first). */
  evictedClients: number;
  /** Clients closed by timeout, partial-request-timeout or the unauthenticated bound. */
  timeoutDisconnections: number;
  /** Bytes all clients' input holds now: a gauge, not a count. */
  clientInputBytes: number;
}

export type Handler = (ctx: CommandContext, args: Buffer[]) => void;

/**
 * What a connection checks before it runs a command: a user's permissions, computed when its
 * rules change (ACL SETUSER), never per command.
 */
export interface AclSubject {
  readonly name: string;
  /**
   * Every command on every key (`+@all ~*`, the default user's rules): the connection skips the
   * check, so an unrestricted user costs one property read per command.
   */
  readonly unrestricted: boolean;
  /** Redis's NOPERM error text when this user may not run `args` (looked up as `spec`), else null. */
  deny(spec: CommandSpec, args: Buffer[]): string | null;
}

/** The users AUTH and HELLO authenticate against (implemented by src/commands/acl.ts). */
export interface UserDirectory {
  /** The user a new connection starts as. */
  readonly defaultUser: AclSubject;
  /**
   * Whether a new connection starts authenticated: the default user is on and needs no password
   * (Redis's rule; --requirepass gives the default user a password).
   */
  readonly openByDefault: boolean;
  /** The user named `name` when it is on and `password` is one of its passwords (or it is nopass); else null. */
  authenticate(name: string, password: Buffer): AclSubject | null;
}

/**
 * Redis's ACL categories, in Redis's order (ACL CAT lists them so). A command's categories are a
 * bit mask over this list: bit i is ACL_CATEGORIES[i].
 */
export const ACL_CATEGORIES = [
  'keyspace', 'read', 'write', 'set', 'sortedset', 'list', 'hash', 'string', 'bitmap', 'hyperloglog',
  'geo', 'stream', 'pubsub', 'admin', 'fast', 'slow', 'blocking', 'dangerous', 'connection',
  'transaction', 'scripting',
] as const;

/** The bit of a category name (lower-case, without '@'), or 0 for an unknown one. */
export function categoryBit(name: string): number {
  const i = (ACL_CATEGORIES as readonly string[]).indexOf(name);
  return i < 0 ? 0 : 1 << i;
}

/** Command groups that are ACL categories of the same name (Redis's `generic` group is @keyspace). */
const GROUP_CATEGORIES: Record<string, number> = {
  keyspace: categoryBit('keyspace'), generic: categoryBit('keyspace'), string: categoryBit('string'),
  connection: categoryBit('connection'), hash: categoryBit('hash'), list: categoryBit('list'), set: categoryBit('set'),
  'sorted-set': categoryBit('sortedset'), bitmap: categoryBit('bitmap'), hyperloglog: categoryBit('hyperloglog'),
  geo: categoryBit('geo'), stream: categoryBit('stream'), pubsub: categoryBit('pubsub'),
  transactions: categoryBit('transaction'), scripting: categoryBit('scripting'),
};

/**
 * A command's ACL categories, derived as Redis derives them: its group's category, the categories
 * written in its flags as '@name' (Redis's explicit acl_categories, such as FLUSHALL's
 * @dangerous), then from the flags: write → @write, readonly → @read, admin → @admin @dangerous,
 * fast → @fast, and @slow for every command that is not @fast.
 */
export function commandCategories(flags: readonly string[], group: string): number {
  let bits = GROUP_CATEGORIES[group] ?? 0;
  for (const f of flags) {
    if (f.startsWith('@')) {
      const bit = categoryBit(f.slice(1));
      if (bit === 0) throw new Error(`unknown ACL category ${f}`);
      bits |= bit;
    } else if (f === 'write') bits |= categoryBit('write');
    else if (f === 'readonly') bits |= categoryBit('read');
    else if (f === 'admin') bits |= categoryBit('admin') | categoryBit('dangerous');
    else if (f === 'fast') bits |= categoryBit('fast');
    else if (f === 'blocking') bits |= categoryBit('blocking');
    else if (f === 'pubsub') bits |= categoryBit('pubsub');
  }
  if ((bits & categoryBit('fast')) === 0) bits |= categoryBit('slow');
  return bits;
}

/** The names of the categories in `bits`, each with its '@'. */
export function categoryNames(bits: number): string[] {
  return ACL_CATEGORIES.filter((_, i) => (bits & (1 << i)) !== 0).map((c) => '@' + c);
}

/**
 * A subcommand that ACL rules can name on its own (`-client|kill`, `+config|get`). It has its own
 * flags and so its own categories; its handler is its container's.
 */
export interface SubcommandSpec {
  /** `container|sub`, lower-case. */
  readonly name: string;
  /** Unique in the process, like CommandSpec.id: the index of its bit in a user's permissions. */
  readonly id: number;
  readonly flags: readonly string[];
  readonly categories: number;
}

export interface CommandSpec {
  /** Lower-case name. */
  name: string;
  /**
   * Unique in the process (given by `command()`): the index of this command's bit in each user's
   * precomputed permissions.
   */
  readonly id: number;
  arity: number;
  /** Redis's command flags, and explicit ACL categories written '@name' (not shown as flags). */
  flags: string[];
  /** ACL categories (bits over ACL_CATEGORIES), from the flags and the group. */
  readonly categories: number;
  /** Subcommands with permissions of their own, by upper-case name; null when none. */
  readonly subcommands: ReadonlyMap<string, SubcommandSpec> | null;
  firstKey: number;
  lastKey: number;
  step: number;
  /** One-line summary (COMMAND DOCS). */
  summary: string;
  group: string;
  handler: Handler;
}

export class CommandTable {
  readonly #commands = new Map<string, CommandSpec>();
  /** The specs under the lower-case names clients call them by (their own, or the renamed ones). */
  readonly #names = new Map<string, CommandSpec>();
  /** The same specs under upper-case names: what clients send, found without a case change. */
  readonly #upper = new Map<string, CommandSpec>();
  /** rename-command: a command's name → the name clients call it by ('' = disabled). */
  readonly #renames = new Map<string, string>();

  add(spec: CommandSpec): void {
    if (spec.name !== spec.name.toLowerCase()) throw new Error(`command ${spec.name}: names are lower-case`);
    if (this.#commands.has(spec.name)) throw new Error(`command ${spec.name} is registered twice`);
    this.#commands.set(spec.name, spec);
    const callName = this.#renames.get(spec.name) ?? spec.name;
    if (callName !== '') this.#call(callName, spec);
  }

  #call(name: string, spec: CommandSpec): void {
    if (this.#names.has(name)) throw new Error(`command name ${name} is taken`);
    this.#names.set(name, spec);
    this.#upper.set(name.toUpperCase(), spec);
  }

  /**
   * Like Redis's rename-command: clients call command `name` (its own name, any case) as `to`
   * from now on, or not at all when `to` is ''. The command keeps its own name in ACL rules,
   * COMMAND and error replies, as in Redis. A name not registered yet is renamed when it is.
   * Throws a RangeError when `to` is taken.
   */
  rename(name: string, to: string): void {
    const from = name.toLowerCase();
    const target = to.toLowerCase();
    if (this.#renames.has(from)) throw new RangeError(`command ${name} is renamed twice`);
    if (target !== '' && target !== from && (this.#names.has(target) || [...this.#renames.values()].includes(target))) {
      throw new RangeError(`cannot rename ${name} to ${to}: that name is taken`);
    }
    this.#renames.set(from, target);
    const spec = this.#commands.get(from);
    if (spec === undefined) return;
    this.#names.delete(from);
    this.#upper.delete(from.toUpperCase());
    if (target !== '') this.#call(target, spec);
  }

  /** The spec for a lower-case name (the command's own name, whatever it is renamed to). */
  get(name: string): CommandSpec | undefined {
    return this.#commands.get(name);
  }

  /** The spec for a name as a client sent it, in any case (a renamed command by its new name). */
  lookup(raw: string): CommandSpec | undefined {
    return this.#upper.get(raw) ?? this.#names.get(raw) ?? this.#names.get(raw.toLowerCase());
  }

  get size(): number {
    return this.#commands.size;
  }

  all(): IterableIterator<CommandSpec> {
    return this.#commands.values();
  }
}

/** The next command or subcommand id (ids are unique in the process, whichever table holds the spec). */
let nextCommandId = 0;

/** The common way to declare a command in a family file. */
export function command(
  name: string, arity: number, flags: string[], keys: [number, number, number], group: string, summary: string,
  handler: Handler,
): CommandSpec {
  return {
    name, id: nextCommandId++, arity, flags, categories: commandCategories(flags, group), subcommands: null,
    firstKey: keys[0], lastKey: keys[1], step: keys[2], group, summary, handler,
  };
}

/**
 * `spec` with subcommands that ACL rules can allow or deny on their own: `flags` by lower-case
 * subcommand name, in the same form as a command's (Redis's flags and '@category' entries). As in
 * Redis, the container itself is only @slow (so `-@admin` leaves CLIENT ID and ACL WHOAMI
 * allowed), and a rule naming the container (`-client`) applies to all of its subcommands. A
 * subcommand not listed counts as its container.
 */
export function withSubcommands(spec: CommandSpec, flags: Record<string, string[]>): CommandSpec {
  const subs = new Map<string, SubcommandSpec>();
  for (const [sub, f] of Object.entries(flags)) {
    subs.set(sub.toUpperCase(), { name: `${spec.name}|${sub}`, id: nextCommandId++, flags: f, categories: commandCategories(f, spec.group) });
  }
  return { ...spec, categories: commandCategories([], ''), subcommands: subs };
}

/** The flags COMMAND INFO shows: the spec's flags without its explicit '@category' entries. */
export function shownFlags(flags: readonly string[]): string[] {
  return flags.filter((f) => !f.startsWith('@'));
}

/** Errors with Redis's exact texts, so clients and scripts react as they do against Redis. */
export const ERR = {
  syntax: 'ERR syntax error',
  notInteger: 'ERR value is not an integer or out of range',
  notFloat: 'ERR value is not a valid float',
  overflow: 'ERR increment or decrement would overflow',
  noSuchKey: 'ERR no such key',
  noAuth: 'NOAUTH Authentication required.',
  /** Redis 7.2's texts. */
  noPermCommand: (user: string, command: string) => `NOPERM User ${user} has no permissions to run the '${command}' command`,
  noPermKey: (user: string, key: string) => `NOPERM User ${user} has no permissions to access the '${key}' key`,
  wrongPass: 'WRONGPASS invalid username-password pair or user is disabled.',
  dbIndex: 'ERR DB index is out of range',
  wrongArity: (name: string) => `ERR wrong number of arguments for '${name}' command`,
  unknownSubcommand: (sub: string, cmd: string) => `ERR unknown subcommand '${sub}'. Try ${cmd.toUpperCase()} HELP.`,
  invalidExpire: (name: string) => `ERR invalid expire time in '${name}' command`,
  /** Redis appends arguments while the list is under 128 characters, each cut to what is left. */
  unknownCommand: (name: string, args: Buffer[]) => {
    let shown = '';
    for (let i = 0; i < args.length && shown.length < 128; i++) {
      shown += `'${args[i].toString('latin1').slice(0, 128 - shown.length)}' `;
    }
    return `ERR unknown command '${name.slice(0, 128)}', with args beginning with: ${shown}`;
  },
} as const;

/** Parses a Redis integer argument (no spaces, no '+', fits in a signed 64-bit); null if not. */
export function parseInteger(b: Buffer): bigint | null {
  const s = b.toString('latin1');
  if (!/^-?(0|[1-9][0-9]{0,19})$/.test(s)) return null;
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return null;
  return n;
}

/** parseInteger as a JS number when it fits safely; null otherwise. */
export function parseSafeInteger(b: Buffer): number | null {
  const n = parseInteger(b);
  if (n === null || n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) return null;
  return Number(n);
}

/** Upper-case ASCII of an option word. */
export function word(b: Buffer): string {
  return b.toString('latin1').toUpperCase();
}
