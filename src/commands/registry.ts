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
}

export type Handler = (ctx: CommandContext, args: Buffer[]) => void;

export interface CommandSpec {
  /** Lower-case name. */
  name: string;
  arity: number;
  flags: string[];
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
  /** The same specs under upper-case names: what clients send, found without a case change. */
  readonly #upper = new Map<string, CommandSpec>();

  add(spec: CommandSpec): void {
    if (spec.name !== spec.name.toLowerCase()) throw new Error(`command ${spec.name}: names are lower-case`);
    if (this.#commands.has(spec.name)) throw new Error(`command ${spec.name} is registered twice`);
    this.#commands.set(spec.name, spec);
    this.#upper.set(spec.name.toUpperCase(), spec);
  }

  /** The spec for a lower-case name. */
  get(name: string): CommandSpec | undefined {
    return this.#commands.get(name);
  }

  /** The spec for a name as a client sent it, in any case. */
  lookup(raw: string): CommandSpec | undefined {
    return this.#upper.get(raw) ?? this.#commands.get(raw) ?? this.#commands.get(raw.toLowerCase());
  }

  get size(): number {
    return this.#commands.size;
  }

  all(): IterableIterator<CommandSpec> {
    return this.#commands.values();
  }
}

/** The common way to declare a command in a family file. */
export function command(
  name: string, arity: number, flags: string[], keys: [number, number, number], group: string, summary: string,
  handler: Handler,
): CommandSpec {
  return { name, arity, flags, firstKey: keys[0], lastKey: keys[1], step: keys[2], group, summary, handler };
}

/** Errors with Redis's exact texts, so clients and scripts react as they do against Redis. */
export const ERR = {
  syntax: 'ERR syntax error',
  notInteger: 'ERR value is not an integer or out of range',
  notFloat: 'ERR value is not a valid float',
  overflow: 'ERR increment or decrement would overflow',
  noSuchKey: 'ERR no such key',
  noAuth: 'NOAUTH Authentication required.',
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
