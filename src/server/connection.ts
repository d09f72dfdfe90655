/**
 * One client connection: bytes → commands (the resumable parser) → handlers → replies (one
 * writer, flushed once per batch of pipelined commands). A protocol error gets its error reply
 * and closes only this connection. Output is bounded like Redis's client-output-buffer-limit:
 * past the soft limit the connection stops reading (so a slow reader cannot make the server
 * buffer without end) and is disconnected if it stays there `softSeconds`; past the hard limit it
 * is disconnected at once.
 */
import type { Socket } from 'node:net';
import { RespParser } from '../resp/parser.js';
import { RespWriter } from '../resp/writer.js';
import { CacheError } from '../errors.js';
import { ERR, type ClientState, type CommandContext, type CommandTable, type ServerState } from './commands/registry.js';

/** Commands a client may send before AUTH when a password is set. */
const NO_AUTH_NEEDED = new Set(['auth', 'hello', 'quit']);

export interface OutputLimits {
  hardBytes: number;
  softBytes: number;
  softSeconds: number;
}

/** What the server wants to hear about each connection. */
export interface ConnectionHooks {
  onCommand(name: string, ns: number, ok: boolean): void;
  onClose(conn: Connection): void;
  onClientError(conn: Connection, kind: string, detail: string): void;
}

export class Connection implements CommandContext {
  readonly client: ClientState;
  readonly out = new RespWriter();
  readonly #parser: RespParser;
  readonly #socket: Socket;
  readonly #table: CommandTable;
  readonly #limits: OutputLimits;
  readonly #hooks: ConnectionHooks;
  #softSince = 0;
  #paused = false;
  #closed = false;

  constructor(
    socket: Socket, id: number, readonly cache: CommandContext['cache'], readonly server: ServerState,
    parser: RespParser, limits: OutputLimits, hooks: ConnectionHooks,
  ) {
    this.#socket = socket;
    this.#parser = parser;
    this.#table = server.commands;
    this.#limits = limits;
    this.#hooks = hooks;
    const now = Date.now();
    this.client = {
      id, name: '', libName: '', libVersion: '',
      addr: `${socket.remoteAddress}:${socket.remotePort}`,
      laddr: `${socket.localAddress}:${socket.localPort}`,
      createdAt: now, lastCommandAt: now, lastCommand: 'NULL',
      authenticated: server.requirepass === null, db: 0, resp: 2, closing: false,
    };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#onDrain());
    socket.on('error', (err) => this.#hooks.onClientError(this, 'socket', err.message));
    socket.on('close', () => {
      this.#closed = true;
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

  #onData(chunk: Buffer): void {
    this.server.counters.netInputBytes += chunk.length;
    this.#parser.push(chunk);
    let args: Buffer[] | undefined;
    while (!this.client.closing && !this.#closed && (args = this.#parser.next()) !== undefined) {
      this.#execute(args);
      if (this.out.length > this.#limits.softBytes) this.#flush();
    }
    const err = this.#parser.error;
    if (err !== null && !this.client.closing) {
      this.server.counters.protocolErrors++;
      this.#hooks.onClientError(this, 'protocol', err.reply);
      this.out.error(err.reply);
      this.client.closing = true;
    }
    this.#flush();
  }

  #execute(args: Buffer[]): void {
    const started = process.hrtime.bigint();
    const name = args[0].toString('latin1').toLowerCase();
    const spec = this.#table.get(name);
    this.server.counters.commandsProcessed++;
    this.client.lastCommandAt = Date.now();
    this.client.lastCommand = name;
    let ok = true;
    if (spec === undefined) {
      this.out.error(ERR.unknownCommand(args[0].toString('latin1'), args.slice(1)));
      ok = false;
    } else if (!this.client.authenticated && !NO_AUTH_NEEDED.has(name)) {
      this.out.error(ERR.noAuth);
      ok = false;
    } else if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) {
      this.out.error(ERR.wrongArity(name));
      ok = false;
    } else {
      try {
        spec.handler(this, args);
      } catch (err) {
        ok = false;
        this.out.error(errorReply(err));
        if (!(err instanceof RangeError || err instanceof TypeError || err instanceof CacheError)) {
          this.#hooks.onClientError(this, 'handler', `${name}: ${(err as Error)?.stack ?? String(err)}`);
        }
      }
    }
    this.#hooks.onCommand(name, Number(process.hrtime.bigint() - started), ok);
  }

  #flush(): void {
    if (this.out.length > 0 && !this.#closed) {
      const data = this.out.take();
      this.server.counters.netOutputBytes += data.length;
      this.#socket.write(data);
    }
    const pending = this.#socket.writableLength;
    if (pending > this.#limits.hardBytes) {
      this.#disconnectSlow(`output buffer ${pending} bytes over the hard limit ${this.#limits.hardBytes}`);
      return;
    }
    if (pending > this.#limits.softBytes) {
      if (this.#softSince === 0) this.#softSince = Date.now();
      else if (Date.now() - this.#softSince > this.#limits.softSeconds * 1000) {
        this.#disconnectSlow(`output buffer over the soft limit ${this.#limits.softBytes} for ${this.#limits.softSeconds} s`);
        return;
      }
      if (!this.#paused) {
        this.#paused = true;
        this.#socket.pause();
        const timer = setTimeout(() => { if (this.#paused) this.#flush(); }, this.#limits.softSeconds * 1000 + 10);
        timer.unref();
      }
    } else {
      this.#softSince = 0;
    }
    if (this.client.closing && !this.#closed) this.#socket.end();
  }

  #onDrain(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#softSince = 0;
    this.#socket.resume();
  }

  #disconnectSlow(why: string): void {
    this.server.counters.outputLimitDisconnections++;
    this.#hooks.onClientError(this, 'output-limit', why);
    this.#socket.destroy();
  }

  /** Ends the connection after the replies already queued (graceful shutdown). */
  end(): void {
    this.client.closing = true;
    this.#flush();
    if (!this.#closed) this.#socket.end();
  }

  /** Closes at once. */
  destroy(): void {
    this.#socket.destroy();
  }
}

/** The RESP error text for an exception a handler threw. */
export function errorReply(err: unknown): string {
  const code = (err as { code?: string })?.code;
  const message = (err as Error)?.message ?? String(err);
  switch (code) {
    case 'ERR_VALUE_TOO_LARGE':
      return 'ERR string exceeds maximum allowed size';
    case 'ERR_KEY_TOO_LARGE':
      return 'ERR key exceeds maximum allowed size';
    case 'ERR_OUT_OF_MEMORY':
      return "OOM command not allowed when used memory > 'maxmemory'.";
    case 'ERR_LOCK_TIMEOUT':
      return 'BUSY ' + message;
    default:
      return message.startsWith('ERR ') || /^[A-Z]+ /.test(message) ? message : 'ERR ' + message;
  }
}
