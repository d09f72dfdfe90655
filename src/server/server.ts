/**
 * The sidecar: a RESP2/RESP3 server over a Cache. One thread accepts and serves connections (the
 * multi-threaded accept path needs the native addon; see native/). Start with `listen()`, stop
 * with `close()`: stop accepting, let every connection flush the replies already computed, end
 * the sockets, and resolve when the last one has closed (or destroy stragglers after a grace
 * period).
 *
 * Clients connect in plain TCP on `port`, over TLS on `tls.port` (Redis 6's tls-port), or both.
 * A TLS socket is a Duplex like a TCP one: once its handshake is done it goes through the same
 * Connection code.
 *
 * Input is bounded like Redis 7 bounds it: each client's query buffer (`clientQueryBufferLimit`,
 * Redis's client-query-buffer-limit), all clients' query buffers together (`maxMemoryClients`,
 * Redis's maxmemory-clients: over it the client with the largest buffer is disconnected first,
 * until the total is under it again), idle clients (`timeoutSeconds`, Redis's timeout) and requests
 * left unfinished (`partialRequestTimeoutSeconds`, which also bounds how long a client that has not
 * authenticated may stay silent when a password is set). Limits are checked as bytes arrive; the
 * timeouts by a sweep over the connections (like Redis's clientsCron).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { BroadcastChannel } from 'node:worker_threads';
import { Cache } from '../cache/cache.js';
import type { CacheOptions } from '../config.js';
import { RespParser, DEFAULT_LIMITS } from '../resp/parser.js';
import { Connection, type OutputLimits } from './connection.js';
import { CommandTable, type ClientState, type CommandRouting, type ServerCounters, type ServerState } from '../commands/registry.js';
import { registerAll } from '../commands/index.js';
import { meshCommand, meshPlaceholder, type AttachableMesh, type MeshAdmin } from '../commands/mesh.js';
import { Acl, type AclChange } from '../commands/acl.js';
import { configureMalloc, trimMemory } from '../native/binding.js';
import { collectGarbage } from '../native/memory.js';

/**
 * Whether a TLS client must show a certificate signed by `ca` (Redis's tls-auth-clients):
 * `yes` requires one, `optional` accepts a connection without one but refuses an invalid one,
 * `no` neither asks for nor checks one.
 */
export type TlsAuthClients = 'yes' | 'no' | 'optional';

/** The TLS listener for RESP clients. */
export interface ServerTlsOptions {
  /** TCP port of the TLS listener (0 = any free port). */
  port: number;
  /** Address to bind. @default the server's `host` */
  host?: string;
  /** PEM certificate chain the server presents. */
  cert: string | Buffer;
  /** PEM private key of `cert`. */
  key: string | Buffer;
  /** PEM CA certificate(s) that sign client certificates; needed unless authClients is 'no'. */
  ca?: string | Buffer;
  /** @default 'yes' when `ca` is given, else 'no' (as in Redis) */
  authClients?: TlsAuthClients;
}

/** Longest time a TLS client has to finish its handshake, in ms (Node's default is 120 s). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** TLS connections still in their handshake allowed beyond maxClients; more are dropped at accept. */
export const TLS_MAX_PENDING_HANDSHAKES = 256;

export interface ServerOptions {
  /** TCP port (0 = any free port; null = no plain listener, only `tls`). @default 6380 */
  port?: number | null;
  /** Address to bind. @default '127.0.0.1' */
  host?: string;
  /** A TLS listener for RESP clients, beside the plain one (or instead of it, with `port: null`). */
  tls?: ServerTlsOptions | null;
  /** The cache to serve, or options for a new one. */
  cache?: Cache | CacheOptions;
  /** Password clients must AUTH with (user `default`); null = none. */
  requirepass?: string | null;
  /**
   * Users besides `default`, or rules for `default` itself: each `name rule rule…` in Redis's ACL
   * rule syntax (`alice on >secret ~* +@all -@dangerous`), applied in order after requirepass.
   * A bad rule throws a RangeError. @default []
   */
  users?: readonly string[];
  /**
   * Like Redis's rename-command: `[name, newName]` pairs; clients call `name` as `newName`, or not
   * at all when `newName` is ''. ACL rules still name the command by its own name. @default []
   */
  renameCommands?: ReadonlyArray<readonly [string, string]>;
  /**
   * Name of the BroadcastChannel over which the server threads of one sidecar keep their users in
   * step (ACL SETUSER / DELUSER on one thread apply on every thread); null = none.
   */
  aclChannel?: string | null;
  /** Most simultaneous clients; more are refused with an error. @default 10000 */
  maxClients?: number;
  /**
   * Output buffer limits per client (like Redis's client-output-buffer-limit): `hardBytes`
   * (disconnect at once), `softBytes` and `softSeconds` (stop reading from the client past
   * softBytes; disconnect if it stays there softSeconds). 0 turns a limit off.
   * @default { hardBytes: 256 MiB, softBytes: 64 MiB, softSeconds: 60 }
   */
  outputLimits?: Partial<OutputLimits>;
  /** Longest inline request line and count line, in bytes. @default 65536 */
  maxInlineBytes?: number;
  /** Most arguments in one request. @default 1048576 */
  maxArgs?: number;
  /**
   * Most bytes one client's unparsed and partial input may hold (Redis's client-query-buffer-limit),
   * counted as RespParser.heldBytes (bytes plus ~112 B per pending argument); past it the client is
   * disconnected at once. 0 = no limit. The default lets one request carry its largest legal value
   * twice over (MSET of two), as Redis's 1 GB does for its 512 MB bulk; 64 MiB holds a request of
   * ~500K small arguments, more need a higher limit.
   * @default max(64 MiB, 2 × proto-max-bulk-len)
   */
  clientQueryBufferLimit?: number;
  /**
   * Most bytes all clients' input may hold together on this server thread (Redis's
   * maxmemory-clients, here input only: output is bounded per client by outputLimits). Past it the
   * clients with the largest input are disconnected, largest first, until the total is under it.
   * 0 = no limit.
   * @default max(256 MiB, clientQueryBufferLimit)
   */
  maxMemoryClients?: number;
  /** Close a client after this many seconds without input (Redis's timeout). 0 = never. @default 0 */
  timeoutSeconds?: number;
  /**
   * Close a client whose request has stayed unfinished this many seconds (slow-loris clients);
   * with a password set, also a client that has not authenticated and has sent nothing for as
   * long. Reset whenever a request completes. 0 = never. 30 s carries the largest default value
   * (8 MiB) at ~2.3 Mbit/s.
   * @default 30
   */
  partialRequestTimeoutSeconds?: number;
  /**
   * Listen on this already-listening socket descriptor instead of binding host:port (the native
   * addon's SO_REUSEPORT sockets, one per server thread).
   */
  fd?: number;
  /** This server's thread number when several threads serve (client ids and INFO show it). */
  threadIndex?: number;
  /** Grace period for connections to close during close(), in ms. @default 5000 */
  closeTimeoutMs?: number;
  /** Called for every command with its duration (metrics). */
  onCommand?: (name: string, ns: number, ok: boolean, routed: boolean) => void;
  /** Called for client-side problems (protocol errors, slow readers, handler crashes). */
  onClientError?: (client: ClientState, kind: string, detail: string) => void;
  /** Called when a TLS client fails its handshake (no or a bad certificate, not TLS, too slow). */
  onTlsError?: (err: Error, remoteAddress: string) => void;
}

const PACKAGE_VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

export { REDIS_COMPAT_VERSION } from '../commands/version.js';

export const DEFAULT_OUTPUT_LIMITS: OutputLimits = { hardBytes: 256 * 1024 * 1024, softBytes: 64 * 1024 * 1024, softSeconds: 60 };

/** The smallest default client-query-buffer-limit, in bytes (raised to 2 × proto-max-bulk-len). */
export const MIN_DEFAULT_CLIENT_QUERY_BUFFER_LIMIT = 64 * 1024 * 1024;
/** The default maxmemory-clients, in bytes (raised to the client-query-buffer-limit). */
export const DEFAULT_MAX_MEMORY_CLIENTS = 256 * 1024 * 1024;
/** The default bound on a partial request, in seconds. */
export const DEFAULT_PARTIAL_REQUEST_TIMEOUT_SECONDS = 30;
/** The timeout sweep runs at a quarter of the shortest timeout, within these bounds (ms). */
const SWEEP_MIN_MS = 10;
const SWEEP_MAX_MS = 1000;
/**
 * Giving memory back (#releaseMemory): after client input shrank by this many bytes from its peak,
 * or a reply of this many bytes went out, V8 collects and glibc's malloc_trim runs (native addon).
 */
const RELEASE_AFTER_BYTES = 32 * 1024 * 1024;
/** Only commands that ran this long (ns) are checked for a big reply: producing 32 MiB takes longer. */
const RELEASE_CHECK_COMMAND_NS = 1_000_000;
/** The collection comes this long after something large went, at least this long after the last. */
const RELEASE_DELAY_MS = 300;
const RELEASE_INTERVAL_MS = 1000;
/** The trim comes this long after the collection: V8 frees ArrayBuffers on a background thread. */
const RELEASE_TRIM_AFTER_GC_MS = 200;

export class MeshcacheServer {
  readonly cache: Cache;
  readonly commands = new CommandTable();
  readonly counters: ServerCounters = {
    connectionsReceived: 0, commandsProcessed: 0, rejectedConnections: 0, protocolErrors: 0,
    outputLimitDisconnections: 0, keyspaceHits: 0, keyspaceMisses: 0, netInputBytes: 0, netOutputBytes: 0,
    queryBufferLimitDisconnections: 0, evictedClients: 0, timeoutDisconnections: 0, clientInputBytes: 0,
  };
  readonly #ownsCache: boolean;
  readonly #options: Required<Omit<ServerOptions, 'cache' | 'onCommand' | 'onClientError' | 'onTlsError' | 'outputLimits' | 'fd' | 'threadIndex' | 'port' | 'tls' | 'users' | 'renameCommands' | 'aclChannel'>> & {
    port: number | null; tls: FilledTlsOptions | null; outputLimits: OutputLimits; fd: number | null; threadIndex: number;
  };
  /** The users clients authenticate as. */
  readonly acl: Acl;
  #aclChannel: BroadcastChannel | null = null;
  /** Redis's proto-max-bulk-len: the largest bulk argument, in bytes. */
  readonly #protoMaxBulkLen: number;
  /** Checks the timeouts (null when every timeout is off, or not listening). */
  #sweepTimer: NodeJS.Timeout | null = null;
  readonly #connections = new Set<Connection>();
  readonly #extraInfo: Array<() => [string, Array<[string, string | number]>]> = [];
  readonly #onCommand: ServerOptions['onCommand'];
  readonly #onClientError: ServerOptions['onClientError'];
  readonly #onTlsError: ServerOptions['onTlsError'];
  /** CONFIG GET's view (state.config), kept writable here to fill in the bound ports. */
  readonly #config: Map<string, string>;
  #server: Server | null = null;
  #tlsServer: TlsServer | null = null;
  #nextId = 1;
  #startedAt = Date.now();
  #closing: Promise<void> | null = null;
  #mesh: MeshAdmin | null = null;
  /** #releaseMemory's state: on (the addon fixed malloc), the input peak, the next step, the last time. */
  readonly #release = { on: false, inputPeak: 0, timer: null as NodeJS.Timeout | null, lastAt: 0, outputSeen: new WeakMap<Socket, number>() };
  readonly state: ServerState;

  constructor(options: ServerOptions = {}) {
    const o = options;
    if (o.port !== undefined && o.port !== null && (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)) throw new RangeError('options.port must be an integer from 0 to 65535, or null');
    if (o.host !== undefined && typeof o.host !== 'string') throw new TypeError('options.host must be a string');
    const tls = o.tls === undefined || o.tls === null ? null : checkTls(o.tls);
    if (o.port === null && tls === null) throw new TypeError('options.port may be null only with options.tls (a server needs a listener)');
    if (o.port === null && o.fd !== undefined) throw new TypeError('options.port may not be null with options.fd');
    if (o.requirepass !== undefined && o.requirepass !== null && (typeof o.requirepass !== 'string' || o.requirepass === '')) throw new TypeError('options.requirepass must be a non-empty string or null');
    if (o.maxClients !== undefined && (!Number.isInteger(o.maxClients) || o.maxClients < 1)) throw new RangeError('options.maxClients must be a positive integer');
    for (const k of ['clientQueryBufferLimit', 'maxMemoryClients'] as const) {
      const v = o[k];
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new RangeError(`options.${k} must be an integer >= 0 (bytes; 0 = no limit)`);
    }
    for (const k of ['timeoutSeconds', 'partialRequestTimeoutSeconds'] as const) {
      const v = o[k];
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new RangeError(`options.${k} must be a number >= 0 (seconds; 0 = never)`);
    }
    this.#ownsCache = !(o.cache instanceof Cache);
    this.cache = o.cache instanceof Cache ? o.cache : new Cache(o.cache ?? {});
    const limits = { ...DEFAULT_OUTPUT_LIMITS, ...o.outputLimits };
    this.#protoMaxBulkLen = this.cache.options.maxValueBytes + this.cache.options.maxKeyBytes + 1024;
    const clientQueryBufferLimit = o.clientQueryBufferLimit ?? Math.max(MIN_DEFAULT_CLIENT_QUERY_BUFFER_LIMIT, 2 * this.#protoMaxBulkLen);
    for (const [k, v] of Object.entries(limits)) if (typeof v !== 'number' || !(v >= 0)) throw new RangeError(`options.outputLimits.${k} must be a number >= 0`);
    this.#options = {
      port: o.port === undefined ? 6380 : o.port,
      host: o.host ?? '127.0.0.1',
      tls,
      requirepass: o.requirepass ?? null,
      maxClients: o.maxClients ?? 10_000,
      outputLimits: limits,
      maxInlineBytes: o.maxInlineBytes ?? DEFAULT_LIMITS.maxInlineBytes,
      maxArgs: o.maxArgs ?? DEFAULT_LIMITS.maxArgs,
      clientQueryBufferLimit,
      maxMemoryClients: o.maxMemoryClients ?? Math.max(DEFAULT_MAX_MEMORY_CLIENTS, clientQueryBufferLimit),
      timeoutSeconds: o.timeoutSeconds ?? 0,
      partialRequestTimeoutSeconds: o.partialRequestTimeoutSeconds ?? DEFAULT_PARTIAL_REQUEST_TIMEOUT_SECONDS,
      closeTimeoutMs: o.closeTimeoutMs ?? 5000,
      fd: o.fd ?? null,
      threadIndex: o.threadIndex ?? 0,
    };
    // Client ids are unique across server threads: thread t hands out t × 10^9 + 1, + 2, …
    this.#nextId = this.#options.threadIndex * 1_000_000_000 + 1;
    if (o.fd !== undefined && (!Number.isInteger(o.fd) || o.fd < 0)) throw new RangeError('options.fd must be a non-negative integer');
    this.#onCommand = o.onCommand;
    this.#onClientError = o.onClientError;
    if (o.onTlsError !== undefined && typeof o.onTlsError !== 'function') throw new TypeError('options.onTlsError must be a function');
    this.#onTlsError = o.onTlsError;
    registerAll(this.commands);
    for (const pair of o.renameCommands ?? []) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') throw new TypeError('options.renameCommands must hold [name, newName] string pairs');
      const [name, to] = pair;
      // MESH is registered when a mesh attaches; renaming it before is valid.
      if (this.commands.get(name.toLowerCase()) === undefined && name.toLowerCase() !== 'mesh') throw new RangeError(`options.renameCommands: no command named ${name}`);
      if (/[\s\0]/.test(to)) throw new RangeError(`options.renameCommands: the new name of ${name} may not contain spaces`);
      this.commands.rename(name, to);
    }
    if (o.users !== undefined && !(Array.isArray(o.users) && o.users.every((u) => typeof u === 'string'))) throw new TypeError('options.users must be an array of strings');
    this.acl = new Acl(this.commands, this.#options.requirepass);
    try {
      this.acl.load(o.users ?? []);
    } catch (err) {
      throw new RangeError(`options.users: ${(err as Error).message}`);
    }
    if (o.aclChannel !== undefined && o.aclChannel !== null) {
      const channel = new BroadcastChannel(o.aclChannel);
      channel.unref();
      channel.onmessage = (e) => this.acl.applyChange((e as { data: AclChange }).data);
      this.acl.onChange((change) => channel.postMessage(change));
      this.#aclChannel = channel;
    }
    const self = this;
    const config = new Map<string, string>([
      ['port', String(this.#options.port ?? 0)],
      ['tls-port', String(tls?.port ?? 0)],
      ['tls-auth-clients', tls?.authClients ?? 'no'],
      ['bind', this.#options.host],
      ['maxmemory', String(this.cache.options.maxMemory)],
      ['maxmemory-policy', 's3-fifo'],
      ['maxclients', String(this.#options.maxClients)],
      ['databases', '1'],
      ['appendonly', 'no'],
      ['save', ''],
      ['proto-max-bulk-len', String(this.#protoMaxBulkLen)],
      ['client-output-buffer-limit', `normal ${limits.hardBytes} ${limits.softBytes} ${limits.softSeconds}`],
      ['requirepass', this.#options.requirepass === null ? '' : '********'],
      ['timeout', String(this.#options.timeoutSeconds)],
      ['client-query-buffer-limit', String(this.#options.clientQueryBufferLimit)],
      ['maxmemory-clients', String(this.#options.maxMemoryClients)],
      ['partial-request-timeout', String(this.#options.partialRequestTimeoutSeconds)],
    ]);
    this.#config = config;
    this.state = {
      get startedAt() { return self.#startedAt; },
      get port() { return self.address?.port ?? self.#options.port ?? 0; },
      host: this.#options.host,
      version: PACKAGE_VERSION,
      threadIndex: this.#options.threadIndex,
      requirepass: this.#options.requirepass,
      users: this.acl,
      config,
      clients: () => [...this.#connections].map((c) => c.client),
      counters: this.counters,
      commands: this.commands,
      infoSections: () => this.#extraInfo.map((f) => f()),
      mesh: null,
    };
  }

  /**
   * Joins this server to a started mesh node: keyed commands are routed to their owners, INFO
   * gains a Mesh section, MESH NODES / OWNER / BALANCE answer, and commands forwarded by peers
   * count in this server's INFO.
   */
  attachMesh(node: AttachableMesh): void {
    if (this.state.mesh !== null) throw new Error('attachMesh: a mesh node is attached already');
    if (node.cache !== this.cache) throw new Error('attachMesh: the node must be over this server\'s cache');
    this.state.mesh = node;
    this.#mesh = node;
    node.useServer(this.state);
    this.commands.add(meshCommand(node));
    this.addInfoSection(() => ['Mesh', node.info()]);
  }

  /**
   * A server thread's mesh routing (thread-routing.ts): keyed commands and MESH go through
   * `routing`, which answers what the thread can alone and asks the main thread for the rest;
   * `meshInfo` gives INFO's Mesh section.
   */
  attachRouting(routing: CommandRouting, meshInfo?: () => Array<[string, string | number]>): void {
    if (this.state.mesh !== null) throw new Error('attachRouting: mesh routing is attached already');
    this.state.mesh = routing;
    if (meshInfo !== undefined) this.addInfoSection(() => ['Mesh', meshInfo()]);
    // The main thread's MESH answers; this entry only gives the command its name and arity here.
    this.commands.add(meshPlaceholder('ERR MESH is answered by the main thread'));
  }

  /** The mesh node attached with attachMesh, or null. */
  get mesh(): MeshAdmin | null {
    return this.#mesh;
  }

  /** Adds an INFO section (name and fields), computed at each INFO. */
  addInfoSection(section: () => [string, Array<[string, string | number]>]): void {
    this.#extraInfo.push(section);
  }

  /** The plain listener's address, once listening (null when there is none). */
  get address(): AddressInfo | null {
    const a = this.#server?.address();
    return a !== null && typeof a === 'object' ? a : null;
  }

  /** The TLS listener's address, once listening (null when there is none). */
  get tlsAddress(): AddressInfo | null {
    const a = this.#tlsServer?.address();
    return a !== null && typeof a === 'object' ? a : null;
  }

  /** Number of connected clients. */
  get clientCount(): number {
    return this.#connections.size;
  }

  /**
   * Starts listening (plain, TLS, or both). Resolves to the plain listener's address, or the TLS
   * one's when there is no plain listener; `address` and `tlsAddress` give each.
   */
  async listen(): Promise<AddressInfo> {
    if (this.#server !== null || this.#tlsServer !== null) throw new Error('already listening');
    this.#startedAt = Date.now();
    this.#release.on = configureMalloc().backend === 'native';
    const o = this.#options;
    if (o.port !== null) {
      const server = createServer((socket) => this.#accept(socket));
      this.#server = server;
      await listenOn(server, o.fd !== null ? { fd: o.fd } : { port: o.port, host: o.host });
    }
    if (o.tls !== null) {
      const t = o.tls;
      const server = createTlsServer({
        cert: t.cert, key: t.key, ca: t.ca,
        requestCert: t.authClients !== 'no',
        rejectUnauthorized: t.authClients === 'yes',
        handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
      }, (socket) => this.#acceptTls(socket));
      server.maxConnections = o.maxClients + TLS_MAX_PENDING_HANDSHAKES;
      server.on('tlsClientError', (err, socket) => this.#onTlsError?.(err, peerOf(socket)));
      this.#tlsServer = server;
      try {
        await listenOn(server, { port: t.port, host: t.host ?? o.host });
      } catch (err) {
        this.#server?.close();
        throw err;
      }
    }
    this.#startSweep();
    // CONFIG GET port / tls-port answer the ports bound (port 0 means any free one).
    if (this.address !== null) this.#config.set('port', String(this.address.port));
    if (this.tlsAddress !== null) this.#config.set('tls-port', String(this.tlsAddress.port));
    return (this.address ?? this.tlsAddress)!;
  }

  #acceptTls(socket: TLSSocket): void {
    // 'optional' asks for a certificate without requiring one; one that was shown must be valid.
    if (!socket.authorized && this.#options.tls!.authClients === 'optional' && Object.keys(socket.getPeerCertificate()).length > 0) {
      this.#onTlsError?.(new Error(`client certificate refused: ${String(socket.authorizationError)}`), peerOf(socket));
      socket.destroy();
      return;
    }
    this.#accept(socket);
  }

  /** Bytes all clients' input holds now (the figure maxMemoryClients bounds). */
  get clientInputBytes(): number {
    return this.counters.clientInputBytes;
  }

  /** Applies the input limits after a connection's held input grew. */
  #onInput(conn: Connection, delta: number): void {
    this.counters.clientInputBytes += delta;
    if (delta < 0) this.#releaseMemory(null);
    if (delta <= 0 || conn.closed) return;
    const { clientQueryBufferLimit, maxMemoryClients } = this.#options;
    if (clientQueryBufferLimit > 0 && conn.inputBytes > clientQueryBufferLimit) {
      this.counters.queryBufferLimitDisconnections++;
      conn.closeForInput('query-buffer-limit', `query buffer ${conn.inputBytes} bytes over client-query-buffer-limit ${clientQueryBufferLimit}`);
      return;
    }
    // Over the total: disconnect the largest clients first (as Redis's client eviction does).
    while (maxMemoryClients > 0 && this.counters.clientInputBytes > maxMemoryClients) {
      let largest: Connection | null = null;
      for (const c of this.#connections) if (!c.closed && (largest === null || c.inputBytes > largest.inputBytes)) largest = c;
      if (largest === null || largest.inputBytes === 0) break;
      this.counters.evictedClients++;
      largest.closeForInput('evicted', `query buffer ${largest.inputBytes} bytes, the largest while all clients hold ${this.counters.clientInputBytes} bytes, over maxmemory-clients ${maxMemoryClients}`);
    }
  }

  /**
   * Gives memory back to the system once something large has gone (issue 11): the clients' input
   * shrank by RELEASE_AFTER_BYTES from its peak, or `socket` (a connection that ended a long
   * command, or closed) wrote that much since last looked at. Only with the native addon (which
   * fixed glibc's mmap threshold at listen()). V8 frees Buffers only when it collects, which an
   * idle server's small heap gives it no reason to do, so RELEASE_DELAY_MS later (at most once per
   * RELEASE_INTERVAL_MS, on unref'd timers) a collection runs (collectGarbage: a few ms to tens of
   * ms), and then malloc_trim gives the free pages of malloc's arenas back to the system.
   */
  #releaseMemory(socket: Socket | null): void {
    const r = this.#release;
    if (!r.on) return;
    const input = this.counters.clientInputBytes;
    if (input > r.inputPeak) r.inputPeak = input;
    let replied = 0;
    if (socket !== null) {
      const written = socket.bytesWritten ?? 0;
      replied = written - (r.outputSeen.get(socket) ?? 0);
      r.outputSeen.set(socket, written);
    }
    if (r.timer !== null || (r.inputPeak - input < RELEASE_AFTER_BYTES && replied < RELEASE_AFTER_BYTES)) return;
    r.timer = setTimeout(() => {
      r.inputPeak = this.counters.clientInputBytes; // what went until now is covered
      collectGarbage();
      r.timer = setTimeout(() => {
        r.timer = null;
        r.lastAt = Date.now();
        trimMemory();
      }, RELEASE_TRIM_AFTER_GC_MS);
      r.timer.unref();
    }, Math.max(RELEASE_DELAY_MS, r.lastAt + RELEASE_INTERVAL_MS - Date.now()));
    r.timer.unref();
  }

  /** Starts the timeout sweep, at a quarter of the shortest timeout set (none when all are off). */
  #startSweep(): void {
    const { timeoutSeconds, partialRequestTimeoutSeconds } = this.#options;
    const shortest = Math.min(timeoutSeconds || Infinity, partialRequestTimeoutSeconds || Infinity);
    if (shortest === Infinity) return;
    const every = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(shortest * 1000 / 4)));
    this.#sweepTimer = setInterval(() => this.#sweep(), every);
    this.#sweepTimer.unref();
  }

  /** Closes the clients past a timeout: idle, a partial request, or silent before AUTH. */
  #sweep(): void {
    const now = Date.now();
    const idleMs = this.#options.timeoutSeconds * 1000;
    const partialMs = this.#options.partialRequestTimeoutSeconds * 1000;
    for (const c of this.#connections) {
      if (c.closed) continue;
      let why: string | null = null;
      if (partialMs > 0 && c.partialSince > 0 && now - c.partialSince > partialMs) {
        why = `request left unfinished for ${now - c.partialSince} ms (partial-request-timeout ${this.#options.partialRequestTimeoutSeconds} s)`;
      } else if (idleMs > 0 && now - c.lastInputAt > idleMs) {
        why = `idle for ${now - c.lastInputAt} ms (timeout ${this.#options.timeoutSeconds} s)`;
      } else if (partialMs > 0 && !c.client.authenticated && now - c.lastInputAt > partialMs) {
        why = `not authenticated and silent for ${now - c.lastInputAt} ms (partial-request-timeout ${this.#options.partialRequestTimeoutSeconds} s)`;
      }
      if (why === null) continue;
      this.counters.timeoutDisconnections++;
      c.closeForInput('timeout', why);
    }
  }

  #accept(socket: Socket): void {
    this.counters.connectionsReceived++;
    if (this.#closing !== null || this.#connections.size >= this.#options.maxClients) {
      this.counters.rejectedConnections++;
      socket.end(this.#closing !== null ? '-ERR server is shutting down\r\n' : '-ERR max number of clients reached\r\n');
      return;
    }
    const parser = new RespParser({
      maxArgs: this.#options.maxArgs,
      maxBulkBytes: this.#protoMaxBulkLen,
      maxInlineBytes: this.#options.maxInlineBytes,
    });
    const conn = new Connection(socket, this.#nextId++, this.cache, this.state, parser, this.#options.outputLimits, {
      onCommand: (name, ns, ok, routed) => {
        if (ns >= RELEASE_CHECK_COMMAND_NS) this.#releaseMemory(socket);
        this.#onCommand?.(name, ns, ok, routed);
      },
      onClose: (c) => {
        this.#connections.delete(c);
        this.#releaseMemory(socket);
      },
      onClientError: (c, kind, detail) => this.#onClientError?.(c.client, kind, detail),
      onInput: (c, delta) => this.#onInput(c, delta),
    });
    this.#connections.add(conn);
  }

  /**
   * Stops accepting, ends every connection after the replies it already has, and resolves when
   * all have closed (connections still open after closeTimeoutMs are destroyed). Closes the cache
   * if the server created it.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#closing = (async () => {
      if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer);
      this.#sweepTimer = null;
      if (this.#release.timer !== null) clearTimeout(this.#release.timer);
      const stopped = Promise.all([this.#server, this.#tlsServer].map((server) =>
        server === null ? undefined : new Promise<void>((r) => server.close(() => r()))));
      for (const c of this.#connections) c.end();
      const deadline = Date.now() + this.#options.closeTimeoutMs;
      while (this.#connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const c of this.#connections) c.destroy();
      await stopped;
      this.#aclChannel?.close();
      if (this.#ownsCache) await this.cache.close();
    })();
    return this.#closing;
  }
}

interface FilledTlsOptions {
  port: number;
  host: string | undefined;
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer | undefined;
  authClients: TlsAuthClients;
}

/** `address:port` of a TLS peer ('unknown' once its socket is gone, as after a refused handshake). */
function peerOf(socket: TLSSocket): string {
  return socket.remoteAddress === undefined ? 'unknown' : `${socket.remoteAddress}:${socket.remotePort}`;
}

function isPem(v: unknown): v is string | Buffer {
  return (typeof v === 'string' && v !== '') || (Buffer.isBuffer(v) && v.length > 0);
}

function checkTls(t: ServerTlsOptions): FilledTlsOptions {
  if (typeof t !== 'object') throw new TypeError('options.tls must be an object or null');
  if (!Number.isInteger(t.port) || t.port < 0 || t.port > 65535) throw new RangeError('options.tls.port must be an integer from 0 to 65535');
  if (t.host !== undefined && (typeof t.host !== 'string' || t.host === '')) throw new TypeError('options.tls.host must be a non-empty string');
  if (!isPem(t.cert)) throw new TypeError('options.tls.cert must be a PEM string or Buffer');
  if (!isPem(t.key)) throw new TypeError('options.tls.key must be a PEM string or Buffer');
  if (t.ca !== undefined && !isPem(t.ca)) throw new TypeError('options.tls.ca must be a PEM string or Buffer');
  const authClients = t.authClients ?? (t.ca === undefined ? 'no' : 'yes');
  if (!['yes', 'no', 'optional'].includes(authClients)) throw new RangeError("options.tls.authClients must be 'yes', 'no' or 'optional'");
  if (authClients !== 'no' && t.ca === undefined) throw new TypeError(`options.tls.authClients '${authClients}' needs options.tls.ca (the CA that signs client certificates)`);
  // Parsed here so that a bad PEM or a key that does not match the certificate throws at once.
  try {
    createSecureContext({ cert: t.cert, key: t.key, ca: t.ca });
  } catch (err) {
    throw new TypeError(`options.tls: cannot use the certificate, key or CA: ${(err as Error).message}`, { cause: err });
  }
  return { port: t.port, host: t.host, cert: t.cert, key: t.key, ca: t.ca, authClients };
}

function listenOn(server: Server, where: { fd: number } | { port: number; host: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
