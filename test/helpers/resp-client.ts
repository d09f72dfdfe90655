/**
 * A minimal raw RESP client for server tests: it writes exactly the bytes a test gives it and
 * decodes replies (RESP2 and RESP3) in order, so that tests can send malformed input, pipeline
 * bursts, stop reading, and watch how and when the server closes the connection.
 */
import { connect, type Socket } from 'node:net';

/** An error reply (`-ERR …`), kept as a value so that tests can compare it. */
export class ReplyError {
  constructor(readonly message: string) {}
}

/** A decoded reply: bulk and simple strings as latin1 strings, RESP3 maps as Maps. */
export type Reply = string | number | bigint | boolean | null | ReplyError | Reply[] | Map<Reply, Reply>;

const CRLF = Buffer.from('\r\n');

/** The multibulk encoding of a command. */
export function encode(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

/** Decodes one reply at `pos`; undefined when it is not complete yet. */
export function decodeReply(buf: Buffer, pos: number): [Reply, number] | undefined {
  if (pos >= buf.length) return undefined;
  const nl = buf.indexOf('\r\n', pos);
  if (nl < 0) return undefined;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('latin1', pos + 1, nl);
  const after = nl + 2;
  switch (type) {
    case '+': return [line, after];
    case '-': return [new ReplyError(line), after];
    case ':': return [Number(line), after];
    case '(': return [BigInt(line), after];
    case ',': return [line === 'inf' ? Infinity : line === '-inf' ? -Infinity : Number(line), after];
    case '#': return [line === 't', after];
    case '_': return [null, after];
    case '$': case '=': {
      const n = Number(line);
      if (n < 0) return [null, after];
      if (buf.length < after + n + 2) return undefined;
      const text = buf.toString('latin1', after, after + n);
      return [type === '=' ? text.slice(4) : text, after + n + 2];
    }
    case '*': case '~': case '>': case '%': {
      const n = Number(line);
      if (n < 0) return [null, after];
      const items: Reply[] = [];
      let at = after;
      for (let i = 0; i < (type === '%' ? 2 * n : n); i++) {
        const r = decodeReply(buf, at);
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

export class RespClient {
  readonly socket: Socket;
  /** Resolves when the socket has closed (never rejects). */
  readonly closed: Promise<void>;
  /** The server ended its side (FIN) or the socket closed. */
  ended = false;
  /** The last socket error (ECONNRESET and the like), if any. */
  error: Error | null = null;
  /** Bytes received so far. */
  receivedBytes = 0;
  /** Set to false to count bytes without decoding them (fuzz connections). */
  decode = true;
  #buf: Buffer = Buffer.alloc(0);
  #replies: Reply[] = [];
  #waiters: Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void }> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => { this.error = err; });
    socket.on('end', () => { this.ended = true; });
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.ended = true;
      for (const w of this.#waiters.splice(0)) w.reject(new Error(`connection closed${this.error ? ` (${this.error.message})` : ''}`));
      resolve();
    }));
  }

  /** Connects to 127.0.0.1:`port`. */
  static connect(port: number, host = '127.0.0.1'): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RespClient(socket));
      });
    });
  }

  #onData(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    if (!this.decode) return;
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let pos = 0;
    for (let r = decodeReply(this.#buf, pos); r !== undefined; r = decodeReply(this.#buf, pos)) {
      pos = r[1];
      const w = this.#waiters.shift();
      if (w !== undefined) w.resolve(r[0]);
      else this.#replies.push(r[0]);
    }
    this.#buf = this.#buf.subarray(pos);
  }

  /** Writes raw bytes. */
  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** The next reply, waiting at most `timeoutMs`; rejects if the connection closes first. */
  next(timeoutMs = 5000): Promise<Reply> {
    if (this.#replies.length > 0) return Promise.resolve(this.#replies.shift() as Reply);
    if (this.socket.destroyed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: (r: Reply) => { clearTimeout(timer); resolve(r); },
        reject: (e: Error) => { clearTimeout(timer); reject(e); },
      };
      this.#waiters.push(waiter);
    });
  }

  /** The next `n` replies. */
  async replies(n: number, timeoutMs = 5000): Promise<Reply[]> {
    const out: Reply[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next(timeoutMs));
    return out;
  }

  /** Sends one command and waits for its reply. */
  call(...args: Array<string | Buffer>): Promise<Reply> {
    this.socket.write(encode(...args));
    return this.next();
  }

  /** Replies that arrived and were not taken yet. */
  get buffered(): Reply[] {
    return this.#replies;
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

  /** Closes at once. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 10 ms until it holds; throws `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
