/**
 * Random and mutated RESP request streams, for the fuzz tests (test/server/connection.fuzz.test.ts)
 * and the long protocol fuzz run against a server process (`npm run fuzz:server`): a generator of
 * valid pipelines and their mutations (flipped, truncated, spliced, over-long, huge counts,
 * garbage), and an in-process parse of an input as the server's parser would see it.
 */
import { RespParser } from '../../src/resp/parser.js';
import { RespClient, decodeReply, encode, type Reply } from './resp-client.js';
import { prng } from './prng.js';

/** The server's caps, lowered so that random input reaches every one of them. */
export const LIMITS = { maxInlineBytes: 512, maxArgs: 64 };

export const PROTOCOL_ERRORS = [
  'ERR Protocol error: invalid multibulk length', 'ERR Protocol error: invalid bulk length',
  'ERR Protocol error: too big inline request', 'ERR Protocol error: too big mbulk count string',
  'ERR Protocol error: too big bulk count string', 'ERR Protocol error: unbalanced quotes in request',
];

export function isProtocolError(text: string): boolean {
  return PROTOCOL_ERRORS.includes(text) || /^ERR Protocol error: expected '\$', got '[\s\S]'$/.test(text);
}

export class Gen {
  readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = prng(seed);
  }

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  text(max: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789:-_ '): string {
    let s = '';
    for (let i = this.int(max + 1); i > 0; i--) s += alphabet[this.int(alphabet.length)];
    return s;
  }

  bytes(max: number): Buffer {
    const b = Buffer.alloc(this.int(max + 1));
    for (let i = 0; i < b.length; i++) b[i] = this.int(256);
    return b;
  }

  /** A command from the families that exist, with fuzz-only keys (`fz:`), sometimes malformed. */
  command(): string[] {
    const key = () => `fz:${this.int(50)}`;
    switch (this.int(16)) {
      case 0: return ['PING'];
      case 1: return ['PING', this.text(20)];
      case 2: return ['ECHO', this.text(40)];
      case 3: case 4: return ['GET', key()];
      case 5: case 6: return ['SET', key(), this.rnd() < 0.05 ? 'v'.repeat(2000 + this.int(3000)) : this.text(60)];
      case 7: return ['DBSIZE'];
      case 8: return this.rnd() < 0.5 ? ['INFO'] : ['INFO', this.pick(['server', 'clients', 'stats', 'nosuch', 'everything'])];
      case 9: return ['CLIENT', this.pick(['ID', 'GETNAME', 'INFO', 'LIST', 'HELP', 'NOPE'])];
      case 10: return ['CLIENT', 'SETNAME', this.text(10, 'abcxyz -\n')];
      case 11: return ['HELLO', ...(this.rnd() < 0.5 ? [] : [this.pick(['2', '3', '4', 'x'])])];
      case 12: return [this.pick(['get', 'Set', 'echo', 'ping', 'client', 'hello', 'dbsize', 'auth', 'select'])];
      case 13: return [this.text(8, 'ABCXYZ'), this.text(5)];
      case 14: return ['AUTH', this.text(8)];
      default: return ['SELECT', this.pick(['0', '1', 'x'])];
    }
  }

  /** `args` as a multibulk or, sometimes, an inline request with quoting. */
  encodeCommand(args: string[]): Buffer {
    if (this.rnd() < 0.7 || args.some((a) => a.includes('\n') || a.length > 200)) return encode(...args);
    const words = args.map((a) => (a === '' || a.includes(' ') || this.rnd() < 0.2 ? `"${a.replace(/[\\"]/g, (c) => '\\' + c)}"` : a));
    return Buffer.from(words.join(this.pick([' ', '  ', '\t'])) + this.pick(['\r\n', '\n']), 'latin1');
  }

  /** 1-8 valid commands pipelined. */
  pipeline(): Buffer {
    return Buffer.concat(Array.from({ length: 1 + this.int(8) }, () => this.encodeCommand(this.command())));
  }

  /** One fuzz input: a valid pipeline, a mutation of one, or garbage. */
  input(): Buffer {
    const base = this.pipeline();
    switch (this.int(12)) {
      case 0: case 1: return base;
      case 2: { // flip 1-5 bytes
        const b = Buffer.from(base);
        for (let i = 1 + this.int(5); i > 0; i--) b[this.int(b.length)] = this.int(256);
        return b;
      }
      case 3: return base.subarray(0, this.int(base.length)); // truncate
      case 4: { // a count replaced by a huge, negative or malformed one
        const s = base.toString('latin1');
        const counts = [...s.matchAll(/[*$](\d+)\r\n/g)];
        if (counts.length === 0) return base;
        const m = this.pick(counts);
        const repl = this.pick(['999999999999', '2147483648', '4294967296', '-1', '-2', '100000', '5000000', '1e3', '0x10', '', '01', '9'.repeat(30)]);
        const at = m.index! + 1;
        return Buffer.from(s.slice(0, at) + repl + s.slice(at + m[1].length), 'latin1');
      }
      case 5: return this.bytes(200); // random garbage
      case 6: // inline junk: quotes, backslashes, escapes, CR/LF
        return Buffer.from(this.text(120, 'ab "\'\\x4Z\r\n\t*$:+-0123'), 'latin1');
      case 7: { // splice two pipelines at random points
        const other = this.pipeline();
        return Buffer.concat([base.subarray(0, this.int(base.length + 1)), other.subarray(this.int(other.length + 1))]);
      }
      case 8: { // delete a range
        const from = this.int(base.length);
        return Buffer.concat([base.subarray(0, from), base.subarray(from + 1 + this.int(20))]);
      }
      case 9: { // insert CR, LF, * or $ at random places
        let b = base;
        for (let i = 1 + this.int(4); i > 0; i--) {
          const at = this.int(b.length + 1);
          b = Buffer.concat([b.subarray(0, at), Buffer.from(this.pick(['\r', '\n', '\r\n', '*', '$', '"', '\0'])), b.subarray(at)]);
        }
        return b;
      }
      case 10: // an over-long inline line or count line
        return Buffer.from(this.pick(['PING ', '*', '*1\r\n$']) + '1'.repeat(LIMITS.maxInlineBytes + this.int(200)) + (this.rnd() < 0.5 ? '\r\n' : ''), 'latin1');
      default: // too many arguments, or a count with nothing after it
        return Buffer.from(this.pick([`*${LIMITS.maxArgs + 1 + this.int(1000)}\r\n`, `*${1 + this.int(LIMITS.maxArgs)}\r\n`, '*1\r\n$3\r\n']), 'latin1');
    }
  }
}

/** Parses `input` in-process as the server would, in the given chunks. */
export function parseLocally(chunks: Buffer[]): { commands: Buffer[][]; error: string | null; buffered: number } {
  const p = new RespParser({ maxArgs: LIMITS.maxArgs, maxBulkBytes: 16 * 1024 * 1024, maxInlineBytes: LIMITS.maxInlineBytes });
  const commands: Buffer[][] = [];
  for (const c of chunks) {
    p.push(c);
    for (let cmd = p.next(); cmd !== undefined; cmd = p.next()) commands.push(cmd);
  }
  return { commands, error: p.error?.reply ?? null, buffered: p.buffered };
}

/** An input that leaves the parser between requests, without error or QUIT: another may follow it. */
export function isClean(input: Buffer): boolean {
  const r = parseLocally([input]);
  return r.error === null && r.buffered === 0 && !r.commands.some((c) => c[0].toString('latin1').toLowerCase() === 'quit');
}

/**
 * Hands out `total` fuzz inputs in batches for one connection each: clean inputs (which leave the
 * parser between requests) are pipelined up to 32 at a time, and a batch ends after the first
 * input that may break the connection.
 */
export class FuzzBatches {
  sent = 0;
  constructor(readonly gen: Gen, readonly total: number) {}

  next(): Buffer[] | null {
    if (this.sent >= this.total) return null;
    const batch: Buffer[] = [];
    while (this.sent < this.total && batch.length < 32) {
      const input = this.gen.input();
      batch.push(input);
      this.sent++;
      if (!isClean(input)) break;
    }
    return batch;
  }
}

/** What a server did with one fuzz batch. */
export interface FuzzBatchOutcome {
  /** The server closed the connection within the bound after our side ended. */
  closed: boolean;
  /** Every complete RESP reply received, in order. */
  replies: Reply[];
  /** Bytes after the last complete reply (a partial reply), or null when there were none. */
  partial: Buffer | null;
}

/** Sends `batch` on a fresh connection to `port`, ends our side, and collects what comes back. */
export async function sendFuzzBatch(port: number, batch: Buffer[], closeWithinMs: number): Promise<FuzzBatchOutcome> {
  const c = await RespClient.connect(port);
  c.decode = false;
  const received: Buffer[] = [];
  c.socket.on('data', (d: Buffer) => received.push(d));
  c.write(Buffer.concat(batch));
  c.socket.end();
  const closed = await c.closedWithin(closeWithinMs);
  if (!closed) c.destroy();
  const out = Buffer.concat(received);
  const replies: Reply[] = [];
  let pos = 0;
  for (let r = decodeReply(out, pos); r !== undefined; r = decodeReply(out, pos)) {
    replies.push(r[0]);
    pos = r[1];
  }
  return { closed, replies, partial: pos === out.length ? null : out.subarray(pos) };
}

/** The text of an error reply, or null for any other reply. */
export function errorText(r: Reply | undefined): string | null {
  return typeof r === 'object' && r !== null && 'message' in r ? (r as { message: string }).message : null;
}
