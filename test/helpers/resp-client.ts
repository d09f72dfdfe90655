/**
 * The RESP client of the tests. Two ways to talk to a server through one connection:
 *  - parsed replies: `call(...args)` sends a command and resolves to its decoded reply;
 *  - wire bytes: `write(bytes)` sends exactly what a test gives it (malformed input, pipelined
 *    bursts), `raw(...args)` / `nextRaw()` / `pipelineRaw(commands)` give replies exactly as they
 *    came over the wire, and `decode = false` only counts bytes.
 * Replies (RESP2 and RESP3) are decoded in order; tests can also stop reading (`socket.pause()`)
 * and watch how and when the server closes the connection (`ended`, `closed`, `closedWithin`).
 * Commands are encoded by the server's own RespWriter (an array of bulk strings).
 */
import { connect, type Socket } from 'node:net';
import { RespWriter } from '../../src/resp/writer.js';

/** An error reply (`-ERR …`), kept as a value so that tests can compare it. */
export class ReplyError {
  constructor(readonly message: string) {}
}

/** The error reply `message`, to compare a reply with (`assert.equal(reply, err('ERR …'))`). */
export function err(message: string): ReplyError {
  return new ReplyError(message);
}

/**
 * A decoded reply: simple and bulk strings as text (see `RespClientOptions.encoding`), integers as
 * numbers (bigints beyond 2^53), RESP3 big numbers as bigints, nulls as null, errors as
 * ReplyError, RESP3 maps as Maps, sets and pushes as arrays.
 */
export type Reply = string | number | bigint | boolean | null | ReplyError | Reply[] | Map<Reply, Reply>;

/** The multibulk encoding of a command (an array of bulk strings; strings as UTF-8). */
export function encode(...args: Array<string | Buffer>): Buffer {
  const w = new RespWriter();
  w.array(args.length);
  for (const a of args) w.bulk(a);
  return w.take();
}

/**
 * Decodes one reply at `pos`: [reply, end], or undefined while it is not complete. Bulk strings
 * become text in `encoding` ('latin1': one char per byte). Throws on a type byte it does not know.
 */
export function decodeReply(buf: Buffer, pos: number, encoding: BufferEncoding = 'latin1'): [Reply, number] | undefined {
  if (pos >= buf.length) return undefined;
  const nl = buf.indexOf('\r\n', pos);
  if (nl < 0) return undefined;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('latin1', pos + 1, nl);
  const after = nl + 2;
  switch (type) {
    case '+': return [line, after];
    case '-': return [new ReplyError(line), after];
    case ':': {
      const n = BigInt(line);
      return [n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n, after];
    }
    case '(': return [BigInt(line), after];
    case ',': return [line === 'inf' ? Infinity : line === '-inf' ? -Infinity : Number(line), after];
    case '#': return [line === 't', after];
    case '_': return [null, after];
    case '$': case '=': {
      const n = Number(line);
      if (n < 0) return [null, after];
      if (buf.length < after + n + 2) return undefined;
      const text = buf.toString(encoding, after, after + n);
      return [type === '=' ? text.slice(4) : text, after + n + 2];
    }
    case '*': case '~': case '>': case '%': {
      const n = Number(line);
      if (n < 0) return [null, after];
      const items: Reply[] = [];
      let at = after;
      for (let i = 0; i < (type === '%' ? 2 * n : n); i++) {
        const r = decodeReply(buf, at, encoding);
        if (r === undefined) return undefined;
        items.push(r[0]);
        at = r[1];
      }
      if (type !== '%') return [items, at];
      const map = new Map<Reply, Reply>();
      for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
      return [map, at];
    }
    default:
      throw new Error(`not a RESP reply: ${JSON.stringify(buf.toString('latin1', pos, Math.min(buf.length, pos + 40)))}`);
  }
}

export interface RespClientOptions {
  /** Host to connect to. @default '127.0.0.1' */
  host?: string;
  /** How bulk strings become text: 'latin1' keeps one char per byte (binary keys), 'utf8' reads text. @default 'latin1' */
  encoding?: BufferEncoding;
}

/** How long `next` / `call` wait for a reply by default. */
const REPLY_TIMEOUT_MS = 5000;

/** One decoded reply and its bytes as they came over the wire (a view). */
interface Received {
  reply: Reply;
  wire: Buffer;
}

export class RespClient {
  readonly socket: Socket;
  /** How bulk strings are decoded (see RespClientOptions). */
  readonly encoding: BufferEncoding;
  /** Resolves when the socket has closed (never rejects). */
  readonly closed: Promise<void>;
  /** The server ended its side (FIN) or the socket closed. */
  ended = false;
  /** The last socket error (ECONNRESET and the like), if any. */
  error: Error | null = null;
  /** Bytes received so far. */
  receivedBytes = 0;
  /** Set to false to count bytes without decoding them (fuzz connections, huge backlogs). */
  decode = true;
  #buf: Buffer = Buffer.alloc(0);
  #received: Received[] = [];
  #waiters: Array<{ resolve: (r: Received) => void; reject: (e: Error) => void }> = [];

  private constructor(socket: Socket, encoding: BufferEncoding) {
    this.socket = socket;
    this.encoding = encoding;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => { this.error = err; });
    socket.on('end', () => { this.ended = true; });
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.ended = true;
      for (const w of this.#waiters.splice(0)) w.reject(new Error(`connection closed${this.error ? ` (${this.error.message})` : ''}`));
      resolve();
    }));
  }

  /** Connects to `port` on 127.0.0.1 (or `options.host`). */
  static connect(port: number, options: RespClientOptions = {}): Promise<RespClient> {
    const { host = '127.0.0.1', encoding = 'latin1' } = options;
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RespClient(socket, encoding));
      });
    });
  }

  #onData(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    if (!this.decode) return;
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let pos = 0;
    for (let r = decodeReply(this.#buf, pos, this.encoding); r !== undefined; r = decodeReply(this.#buf, pos, this.encoding)) {
      const received = { reply: r[0], wire: this.#buf.subarray(pos, r[1]) };
      pos = r[1];
      const w = this.#waiters.shift();
      if (w !== undefined) w.resolve(received);
      else this.#received.push(received);
    }
    this.#buf = this.#buf.subarray(pos);
  }

  #nextReceived(timeoutMs: number): Promise<Received> {
    if (this.#received.length > 0) return Promise.resolve(this.#received.shift() as Received);
    if (this.socket.destroyed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: (r: Received) => { clearTimeout(timer); resolve(r); },
        reject: (e: Error) => { clearTimeout(timer); reject(e); },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Writes raw bytes (a string as latin1: one byte per char). */
  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** The next reply, waiting at most `timeoutMs`; rejects if the connection closes first. */
  async next(timeoutMs = REPLY_TIMEOUT_MS): Promise<Reply> {
    return (await this.#nextReceived(timeoutMs)).reply;
  }

  /** The next reply exactly as it came over the wire (latin1: one char per byte). */
  async nextRaw(timeoutMs = REPLY_TIMEOUT_MS): Promise<string> {
    return (await this.#nextReceived(timeoutMs)).wire.toString('latin1');
  }

  /** The next `n` replies. */
  async replies(n: number, timeoutMs = REPLY_TIMEOUT_MS): Promise<Reply[]> {
    const out: Reply[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next(timeoutMs));
    return out;
  }

  /** Sends one command and waits for its decoded reply. */
  call(...args: Array<string | Buffer>): Promise<Reply> {
    this.socket.write(encode(...args));
    return this.next();
  }

  /** Sends one command and waits for its reply exactly as it came over the wire. */
  raw(...args: Array<string | Buffer>): Promise<string> {
    this.socket.write(encode(...args));
    return this.nextRaw();
  }

  /** Sends `commands` in one write; resolves to their replies' wire text, concatenated. */
  async pipelineRaw(commands: Array<Array<string | Buffer>>, timeoutMs = REPLY_TIMEOUT_MS): Promise<string> {
    this.socket.write(Buffer.concat(commands.map((args) => encode(...args))));
    let text = '';
    for (let i = 0; i < commands.length; i++) text += await this.nextRaw(timeoutMs);
    return text;
  }

  /** Decoded replies that arrived and were not taken yet. */
  get buffered(): Reply[] {
    return this.#received.map((r) => r.reply);
  }

  /** Resolves true once the socket has closed, false if it is still open after `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); }),
    ]);
    clearTimeout(timer);
    return r;
  }

  /** Closes at once (no FIN handshake waited for). */
  destroy(): void {
    this.socket.destroy();
  }
}
