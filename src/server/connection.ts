/**
 * One client connection: bytes → commands (the resumable parser) → handlers → replies (one
 * writer, handed to the socket once per batch of pipelined commands, or every FLUSH_BYTES). A
 * protocol error gets its error reply and closes only this connection. Output is bounded like
 * Redis's client-output-buffer-limit (a limit of 0 is off, as in Redis): past the soft limit the
 * connection stops executing its pipeline and stops reading (so a slow reader cannot make the
 * server buffer without end) until its output drains back under the limit, and is disconnected
 * if it stays over it `softSeconds`; past the hard limit it is disconnected at once.
 *
 * Input is accounted as it arrives: after every read (and every run of the pipeline) the bytes the
 * parser holds for this client (`inputBytes`: buffered chunks, arguments of a partial request and
 * their bookkeeping) are reported to the server through `onInput`, which applies the per-client
 * and total limits; the connection also says since when a partial request has waited
 * (`partialSince`) and when bytes last came (`lastInputAt`), for the server's timeouts. A closed
 * connection lets go of every input buffer at once.
 *
 * A streamed reply (ctx.stream: MGET of big values, KEYS…) holds back the commands after it like
 * an ordered routed reply, and is produced one slice per event-loop turn, each slice handed to the
 * socket at once. The same limits pace it: past the soft limit the producer waits for the client
 * to read (and the client is cut if it stays there `softSeconds`), past the hard limit the client
 * is cut; a client that goes away stops the producer. A client that reads gets the whole reply
 * while holding no more than about the soft limit plus one slice.
 */
import type { Socket } from 'node:net';
import { RespParser } from '../resp/parser.js';
import { RespWriter } from '../resp/writer.js';
import { CacheError } from '../errors.js';
import {
  ERR, kOrdered, type RoutedReply, type ClientState, type CommandContext, type CommandTable, type ReplyStep, type ServerState,
} from '../commands/registry.js';
import { errorReply } from '../commands/reply.js';

/** Commands a client may send before AUTH when a password is set. */
const NO_AUTH_NEEDED = new Set(['auth', 'hello', 'quit']);

/**
 * Replies gathered mid-batch before they are handed to the socket and the output limits checked
 * (or the soft / hard limit, when smaller). Larger batches mean fewer writes; smaller ones, less
 * memory held in the writer and earlier pausing.
 */
const FLUSH_BYTES = 64 * 1024;

/**
 * How long a connection we have ended (QUIT, protocol error, shutdown) waits, once its last reply
 * is handed to the kernel, for the peer to close its side before it is destroyed. A peer that
 * never closes would otherwise hold the socket half-open for ever.
 */
const CLOSE_LINGER_MS = 1000;

/**
 * Commands of one connection that may wait on the mesh at once (forwarded to their owners). Past
 * it the connection stops executing its pipeline until replies come back, as it does past the
 * soft output limit.
 */
const MAX_ROUTED_IN_FLIGHT = 1024;

/**
 * With no output limit at all, how far a streamed reply may run ahead of the socket (bytes
 * waiting to be written) before its producer waits for the client to read.
 */
const STREAM_WINDOW_BYTES = 8 * 1024 * 1024;

/** A reply slot in order: filled at once for replies computed here, later for routed ones. */
interface ReplySlot { data: Buffer | null }

/** A reply being produced in slices (ctx.stream). */
interface ActiveStream { step: ReplyStep; name: string; started: number }

/** Output buffer limits of one client, like Redis's `client-output-buffer-limit normal`. */
export interface OutputLimits {
  /** Disconnect at once when more bytes than this wait to be written; 0 = no hard limit. */
  hardBytes: number;
  /** Stop reading past this many waiting bytes, and disconnect after `softSeconds` there; 0 = no soft limit. */
  softBytes: number;
  /** How long a client may stay over the soft limit, in seconds. */
  softSeconds: number;
}

/** What the server wants to hear about each connection. */
export interface ConnectionHooks {
  /** `routed`: the command was answered by another mesh node, and `ns` includes that round trip. */
  onCommand(name: string, ns: number, ok: boolean, routed: boolean): void;
  onClose(conn: Connection): void;
  onClientError(conn: Connection, kind: string, detail: string): void;
  /**
   * The bytes the parser holds for this client changed by `delta` (now `conn.inputBytes`): called
   * after each read and each run of the pipeline, and with the negative of what was held when the
   * connection closes. The server applies its input limits here (it may close `conn` at once).
   */
  onInput?(conn: Connection, delta: number): void;
}

export class Connection implements CommandContext {
  readonly client: ClientState;
  readonly out = new RespWriter();
  readonly #parser: RespParser;
  readonly #socket: Socket;
  readonly #table: CommandTable;
  readonly #limits: OutputLimits;
  readonly #hooks: ConnectionHooks;
  /** Writer bytes that trigger a mid-batch flush. */
  readonly #flushBytes: number;
  /** When the output went over the soft limit (ms since the epoch); 0 when under it. */
  #softSince = 0;
  /** Over the soft limit: neither reading nor executing until the output drains under it. */
  #paused = false;
  /** Re-checks the soft limit when softSeconds run out while paused. */
  #softTimer: NodeJS.Timeout | null = null;
  #lingerTimer: NodeJS.Timeout | null = null;
  #ending = false;
  /** The socket closed, or we destroyed it: nothing more is executed or written. */
  #closed = false;
  /**
   * Replies in the order their commands came, while at least one routed command has not been
   * answered yet; empty otherwise (replies then go straight from `out` to the socket).
   */
  readonly #slots: ReplySlot[] = [];
  /** Routed commands waiting for their reply. */
  #routed = 0;
  /** Routed commands whose part here waits for a pull: nothing after them runs meanwhile. */
  #barriers = 0;
  /** A #flushSoon is pending. */
  #flushScheduled = false;
  /** The parser's heldBytes as last reported through onInput. */
  #inputBytes = 0;
  /** When bytes last arrived (ms since the epoch; the connection's start before any). */
  #lastInputAt = Date.now();
  /** Since when the parser has waited for the rest of a request (ms since the epoch); 0 = not waiting. */
  #partialSince = 0;
  /** The parser's `completed` when #partialSince was set: a request completed since restarts it. */
  #partialCompleted = 0;
  /** The step a handler passed to stream() during the current #execute. */
  #streamed: ReplyStep | null = null;
  /** The reply being streamed; it counts as a barrier while it lasts. */
  #stream: ActiveStream | null = null;
  /** A #pump is scheduled (setImmediate). */
  #pumpScheduled = false;

  constructor(
    socket: Socket, id: number, readonly cache: CommandContext['cache'], readonly server: ServerState,
    parser: RespParser, limits: OutputLimits, hooks: ConnectionHooks,
  ) {
    this.#socket = socket;
    this.#parser = parser;
    this.#table = server.commands;
    this.#limits = limits;
    this.#hooks = hooks;
    this.#flushBytes = Math.min(FLUSH_BYTES, limits.softBytes || Infinity, limits.hardBytes || Infinity);
    const now = Date.now();
    this.client = {
      id, name: '', libName: '', libVersion: '',
      addr: `${socket.remoteAddress}:${socket.remotePort}`,
      laddr: `${socket.localAddress}:${socket.localPort}`,
      createdAt: now, lastCommandAt: now, lastCommand: 'NULL',
      authenticated: server.users.openByDefault, user: server.users.defaultUser, db: 0, resp: 2, closing: false,
    };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#hooks.onClientError(this, 'socket', err.message));
    socket.on('close', () => {
      this.#closed = true;
      this.#releaseInput();
      if (this.#softTimer !== null) clearTimeout(this.#softTimer);
      if (this.#lingerTimer !== null) clearTimeout(this.#lingerTimer);
      this.#hooks.onClose(this);
    });
  }

  /** Bytes queued for this client and not yet written to the socket. */
  get outputBytes(): number {
    return this.#socket.writableLength + this.out.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes held for this client's input: what its query buffer costs (see RespParser.heldBytes). */
  get inputBytes(): number {
    return this.#inputBytes;
  }

  /** When bytes last arrived from the client (ms since the epoch), or when it connected. */
  get lastInputAt(): number {
    return this.#lastInputAt;
  }

  /**
   * Since when (ms since the epoch) the client has left a request unfinished while we read: reset
   * whenever a request completes; 0 when no request is partial, or while reading is paused (the
   * output limits), since then the rest cannot arrive.
   */
  get partialSince(): number {
    return this.#partialSince;
  }

  /**
   * Closes at once for an input limit or timeout (`kind`: 'query-buffer-limit', 'evicted',
   * 'timeout'), without a reply (as Redis does): its input buffers are released before this
   * returns, so the server's total drops at once.
   */
  closeForInput(kind: string, why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#releaseInput();
    this.#hooks.onClientError(this, kind, why);
    this.#socket.destroy();
  }

  /** Drops every input buffer and reports it (closing). */
  #releaseInput(): void {
    this.#parser.discard();
    this.#partialSince = 0;
    this.#accountInput();
  }

  /** Reports a change in the bytes held for input, and keeps #partialSince. */
  #accountInput(): void {
    const parser = this.#parser;
    if (!parser.partial || this.#paused || this.#closed) this.#partialSince = 0;
    else if (this.#partialSince === 0 || parser.completed !== this.#partialCompleted) {
      // Now, not the last read: after a pause, the clock starts when reading resumes.
      this.#partialSince = Date.now();
      this.#partialCompleted = parser.completed;
    }
    const held = parser.heldBytes;
    const delta = held - this.#inputBytes;
    if (delta === 0) return;
    this.#inputBytes = held;
    this.#hooks.onInput?.(this, delta);
  }

  #onData(chunk: Buffer): void {
    this.server.counters.netInputBytes += chunk.length;
    this.#lastInputAt = Date.now();
    // After QUIT, a protocol error or end(), input is read and dropped: buffering it would let a
    // peer grow our memory, and leaving it unread would turn our close into a reset.
    if (this.client.closing || this.#closed) return;
    this.#parser.push(chunk);
    this.#run();
  }

  /** Executes the commands received, until the input runs out, the connection closes or pauses. */
  #run(): void {
    // Idle time (CLIENT LIST) is stamped once per batch of pipelined commands, not per command.
    this.client.lastCommandAt = Date.now();
    while (!this.client.closing && !this.#closed && !this.#paused && this.#routed < MAX_ROUTED_IN_FLIGHT && this.#barriers === 0) {
      // Redis's caps for clients that have not authenticated apply to each request as it is read.
      this.#parser.unauthenticated = !this.client.authenticated;
      const args = this.#parser.next();
      if (args === undefined) break;
      this.#execute(args);
      if (this.out.length >= this.#flushBytes) this.#flush();
    }
    const err = this.#parser.error;
    if (err !== null && !this.client.closing && !this.#closed) {
      this.server.counters.protocolErrors++;
      this.#hooks.onClientError(this, 'protocol', err.reply);
      this.out.error(err.reply);
      this.client.closing = true;
    }
    this.#flush();
    this.#accountInput();
  }

  /** Checks in Redis's order: the command exists, its arity, authentication, then the user's permissions. */
  #execute(args: Buffer[]): void {
    const started = performance.now();
    const raw = args[0].toString('latin1');
    const spec = this.#table.lookup(raw);
    const name = spec === undefined ? raw.toLowerCase() : spec.name;
    this.server.counters.commandsProcessed++;
    this.client.lastCommand = name;
    let ok = true;
    let denied: string | null;
    if (spec === undefined) {
      this.out.error(ERR.unknownCommand(args[0].toString('latin1'), args.slice(1)));
      ok = false;
    } else if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) {
      this.out.error(ERR.wrongArity(name));
      ok = false;
    } else if (!this.client.authenticated && !NO_AUTH_NEEDED.has(name)) {
      this.out.error(ERR.noAuth);
      ok = false;
    } else if (!this.client.user.unrestricted && (denied = this.client.user.deny(spec, args)) !== null) {
      this.out.error(denied);
      ok = false;
    } else {
      try {
        this.#streamed = null;
        const mesh = this.server.mesh;
        if (mesh !== null && (spec.firstKey > 0 || spec.name === 'mesh')) {
          const routed = mesh.routeCommand(spec, args, this.client, this.server);
          if (routed !== null) {
            this.#awaitRouted(routed, name, started, (routed as RoutedReply)[kOrdered] === true);
            return;
          }
        }
        spec.handler(this, args);
        if (this.#streamed !== null) {
          this.#startStream(this.#streamed, name, started);
          this.#streamed = null;
          return;
        }
      } catch (err) {
        this.#streamed = null;
        ok = false;
        this.out.error(errorReply(err));
        if (!(err instanceof RangeError || err instanceof TypeError || err instanceof CacheError)) {
          this.#hooks.onClientError(this, 'handler', `${name}: ${(err as Error)?.stack ?? String(err)}`);
        }
      }
    }
    this.#hooks.onCommand(name, Math.round((performance.now() - started) * 1e6), ok, false);
  }

  /**
   * Keeps a slot for a routed command's reply; the replies after it wait behind it. An `ordered`
   * one (its part here waits for a hand-off pull) also holds back the execution of the commands
   * after it until it settles.
   */
  #awaitRouted(reply: Promise<Buffer>, name: string, started: number, ordered: boolean): void {
    if (this.out.length > 0) this.#slots.push({ data: this.out.take() });
    const slot: ReplySlot = { data: null };
    this.#slots.push(slot);
    this.#routed++;
    if (ordered) this.#barriers++;
    reply.then((data) => {
      slot.data = data;
      this.#hooks.onCommand(name, Math.round((performance.now() - started) * 1e6), data[0] !== 0x2d, true);
    }, (err: unknown) => {
      slot.data = Buffer.from(`-${errorReply(err).replace(/[\r\n]/g, ' ')}\r\n`);
      this.#hooks.onCommand(name, Math.round((performance.now() - started) * 1e6), false, true);
    }).finally(() => {
      this.#routed--;
      if (ordered) this.#barriers--;
      if (this.#closed) return;
      const resume = this.#routed === MAX_ROUTED_IN_FLIGHT - 1 || (ordered && this.#barriers === 0);
      this.#flushSoon();
      if (resume && !this.#paused) setImmediate(() => { if (!this.#closed && !this.#paused) this.#run(); });
    });
  }

  /** CommandContext.stream: the current command's reply continues in slices once it returns. */
  stream(step: ReplyStep): void {
    if (this.#streamed !== null) throw new Error(`${this.client.lastCommand}: ctx.stream called twice`);
    this.#streamed = step;
  }

  /** CommandContext.admit: false, and the client is cut, when `bytes` more would pass the hard limit. */
  admit(bytes: number): boolean {
    if (this.#closed) return false;
    const { hardBytes } = this.#limits;
    if (hardBytes > 0 && this.outputBytes + bytes > hardBytes) {
      this.#disconnectSlow(`a ${bytes}-byte reply part would take the output buffer over the hard limit ${hardBytes}`);
      return false;
    }
    return true;
  }

  /** A streamed reply starts: it holds back the commands after it until its last slice. */
  #startStream(step: ReplyStep, name: string, started: number): void {
    this.#stream = { step, name, started };
    this.#barriers++;
    this.#schedulePump();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // setImmediate, not nextTick: other clients' reads and timers run between two slices.
    setImmediate(this.#pump);
  }

  /**
   * Produces the next slice of the streamed reply, if the client's output has room: nothing of
   * an earlier command still waits in a slot, and the connection is not paused over the soft
   * limit (without any limit: under STREAM_WINDOW_BYTES waiting; with only a hard limit the
   * producer runs on and the client is cut when it passes it, as Redis does). Otherwise #flush
   * or #afterWrite calls again once the output drains.
   */
  #pump = (): void => {
    this.#pumpScheduled = false;
    const s = this.#stream;
    if (s === null) return;
    if (this.#closed) {
      this.#stream = null;
      return;
    }
    const { softBytes, hardBytes } = this.#limits;
    const unlimited = softBytes === 0 && hardBytes === 0;
    if (this.#slots.length > 0 || this.#paused || (unlimited && this.#socket.writableLength >= STREAM_WINDOW_BYTES)) return;
    let done: boolean;
    try {
      done = s.step(this.out);
    } catch (err) {
      // Part of the reply is on its way already: no error reply can follow it, so the client is
      // told the only way left, by closing the connection.
      this.#stream = null;
      this.#hooks.onClientError(this, 'handler', `${s.name} (streamed): ${(err as Error)?.stack ?? String(err)}`);
      this.#hooks.onCommand(s.name, Math.round((performance.now() - s.started) * 1e6), false, false);
      this.#closed = true;
      this.#socket.destroy();
      return;
    }
    if (this.#closed) {
      this.#stream = null;
      return;
    }
    if (done) {
      this.#stream = null;
      this.#barriers--;
      this.out.release();
      this.#hooks.onCommand(s.name, Math.round((performance.now() - s.started) * 1e6), true, false);
    }
    this.#flush();
    if (done && this.#barriers === 0 && !this.#closed && !this.#paused) {
      setImmediate(() => { if (!this.#closed && !this.#paused) this.#run(); });
    }
  };

  /**
   * Flushes at the end of this tick: the replies of many forwarded commands often arrive in one
   * mesh read, and one socket write for all of them costs far less than one each.
   */
  #flushSoon(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    process.nextTick(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Hands the replies to the socket, applies the output limits, and ends the socket if closing. */
  #flush(): void {
    if (this.#closed) return;
    if (this.#slots.length > 0) {
      if (this.out.length > 0) this.#slots.push({ data: this.out.take() });
      // Every ready slot in one write (a pipeline mixing local and forwarded commands leaves one
      // slot per run of local replies; one syscall each cost more than the forwarding itself).
      // While a routed reply is still awaited, the ready ones before it wait too (up to FLUSH_BYTES):
      // a pipelining client needs them all anyway, and one write for the batch costs half of two.
      let ready = 0;
      let readyBytes = 0;
      while (ready < this.#slots.length && this.#slots[ready].data !== null) readyBytes += this.#slots[ready++].data!.length;
      const waiting = ready < this.#slots.length;
      if (ready > 0 && (!waiting || readyBytes >= this.#flushBytes || this.client.closing)) {
        const parts = this.#slots.splice(0, ready).map((s) => s.data!);
        const data = parts.length === 1 ? parts[0] : Buffer.concat(parts);
        this.server.counters.netOutputBytes += data.length;
        this.#socket.write(data, this.#afterWrite);
      }
      if (!this.#checkOutput()) return;
      if (this.#stream !== null) this.#schedulePump();
      else if (this.client.closing && this.#slots.length === 0) this.#endSocket();
      return;
    }
    if (this.out.length > 0) {
      const data = this.out.take();
      this.server.counters.netOutputBytes += data.length;
      // A streamed reply's large parts go back to the writer once written, for the next part.
      if (this.#stream !== null && data.length > FLUSH_BYTES) {
        this.#socket.write(data, () => {
          if (this.#stream !== null) this.out.recycle(data);
          this.#afterWrite();
        });
      } else {
        this.#socket.write(data, this.#afterWrite);
      }
    }
    if (!this.#checkOutput()) return;
    if (this.#stream !== null) this.#schedulePump();
    else if (this.client.closing) this.#endSocket();
  }

  /** After each write reaches the kernel: a paused connection may resume, a waiting stream go on. */
  #afterWrite = (): void => {
    if (this.#closed || this.#socket.destroyed) return;
    if (this.#paused) this.#checkOutput();
    else if (this.#stream !== null) this.#schedulePump();
  };

  /** Applies the output limits to the bytes waiting in the socket; false if it disconnected. */
  #checkOutput(): boolean {
    const pending = this.#socket.writableLength;
    const { hardBytes, softBytes, softSeconds } = this.#limits;
    if (hardBytes > 0 && pending > hardBytes) {
      this.#disconnectSlow(`output buffer ${pending} bytes over the hard limit ${hardBytes}`);
      return false;
    }
    if (softBytes > 0 && pending > softBytes) {
      const now = Date.now();
      if (this.#softSince === 0) this.#softSince = now;
      else if (now - this.#softSince > softSeconds * 1000) {
        this.#disconnectSlow(`output buffer over the soft limit ${softBytes} for ${softSeconds} s`);
        return false;
      }
      if (!this.#paused) {
        this.#paused = true;
        this.#socket.pause();
      }
      if (this.#softTimer === null) {
        this.#softTimer = setTimeout(() => {
          this.#softTimer = null;
          if (!this.#closed && !this.#socket.destroyed) this.#checkOutput();
        }, Math.max(1, this.#softSince + softSeconds * 1000 + 10 - now));
        this.#softTimer.unref();
      }
      return true;
    }
    this.#softSince = 0;
    if (this.#paused) {
      this.#paused = false;
      if (this.#softTimer !== null) clearTimeout(this.#softTimer);
      this.#softTimer = null;
      this.#socket.resume();
      // The commands already received and not executed yet; never re-entered from #run.
      setImmediate(() => { if (!this.#closed && !this.#paused) this.#run(); });
    }
    return true;
  }

  /** Ends our side once the replies are written; destroys it if the peer lingers after that. */
  #endSocket(): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#socket.end(() => {
      if (this.#closed) return;
      this.#lingerTimer = setTimeout(() => this.#socket.destroy(), CLOSE_LINGER_MS);
      this.#lingerTimer.unref();
    });
  }

  #disconnectSlow(why: string): void {
    this.#closed = true;
    this.server.counters.outputLimitDisconnections++;
    this.#hooks.onClientError(this, 'output-limit', why);
    this.#socket.destroy();
  }

  /** Ends the connection after the replies already computed (graceful shutdown). */
  end(): void {
    if (this.#closed) return;
    this.client.closing = true;
    this.#flush();
  }

  /** Closes at once. */
  destroy(): void {
    this.#socket.destroy();
  }
}
