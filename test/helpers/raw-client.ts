/**
 * A minimal RESP2/RESP3 client for the command tests: sends commands as arrays of bulk strings and
 * parses replies into plain values, keeping the raw reply text too for byte-exact checks.
 */
import { connect, type Socket } from 'node:net';

const REPLY_TIMEOUT_MS = 3000;

export type Reply = string | number | bigint | boolean | null | { error: string } | Reply[] | Map<Reply, Reply>;

/** A minimal RESP2/RESP3 client: sends commands as arrays of bulk strings, parses the replies. */
export class RawClient {
  /** How bulk strings become text: 'utf8', or 'latin1' for one char per byte (binary keys). */
  readonly encoding: BufferEncoding;
  #buf = Buffer.alloc(0);
  #waiting: Array<{ resolve: (r: [Reply, string]) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];

  private constructor(readonly socket: Socket, encoding: BufferEncoding) {
    this.encoding = encoding;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      for (;;) {
        const w = this.#waiting[0];
        if (w === undefined) break;
        const parsed = parse(this.#buf, 0, this.encoding);
        if (parsed === undefined) break;
        const raw = this.#buf.subarray(0, parsed[1]).toString('latin1');
        this.#buf = this.#buf.subarray(parsed[1]);
        this.#waiting.shift();
        clearTimeout(w.timer);
        w.resolve([parsed[0], raw]);
      }
    });
  }

  static open(port: number, encoding: BufferEncoding = 'utf8'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawClient(s, encoding)));
      s.once('error', reject);
    });
  }

  #send(args: Array<string | Buffer>): Promise<[Reply, string]> {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = typeof a === 'string' ? Buffer.from(a) : a;
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${args.join(' ')}`)), REPLY_TIMEOUT_MS);
      this.#waiting.push({ resolve, reject, timer });
      this.socket.write(Buffer.concat(parts));
    });
  }

  /** The parsed reply: bulk strings as text (see encoding), errors as { error }, nulls as null. */
  async call(...args: Array<string | Buffer>): Promise<Reply> {
    return (await this.#send(args))[0];
  }

  /** The reply exactly as it came over the wire. */
  async raw(...args: Array<string | Buffer>): Promise<string> {
    return (await this.#send(args))[1];
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Parses one reply at `at`: [value, end], or undefined while incomplete. */
function parse(buf: Buffer, at: number, encoding: BufferEncoding): [Reply, number] | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('latin1', at + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+': return [line, next];
    case '-': return [{ error: line }, next];
    case ':': {
      const n = BigInt(line);
      return [n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n, next];
    }
    case '_': return [null, next];
    case '#': return [line === 't', next];
    case ',': return [Number(line), next];
    case '$': case '=': {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return undefined;
      const text = buf.toString(encoding, next, next + n);
      return [type === '=' ? text.slice(4) : text, next + n + 2];
    }
    case '*': case '~': case '%': {
      const n = Number(line);
      if (n < 0) return [null, next];
      const items: Reply[] = [];
      let p = next;
      for (let i = 0; i < (type === '%' ? 2 * n : n); i++) {
        const r = parse(buf, p, encoding);
        if (r === undefined) return undefined;
        items.push(r[0]);
        p = r[1];
      }
      if (type !== '%') return [items, p];
      const m = new Map<Reply, Reply>();
      for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
      return [m, p];
    }
    default: throw new Error(`unexpected reply type ${type}`);
  }
}

export const err = (error: string) => ({ error });
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
