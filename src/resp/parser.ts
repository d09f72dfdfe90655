/**
 * A resumable RESP request parser: feed it socket chunks with `push`, take complete commands with
 * `next`. It knows no command names; a command is an array of argument Buffers. Both request forms
 * are read: multibulk (`*<n>` then `$<len>` arguments) and inline (a text line, split like
 * redis-cli's sdssplitargs). Every length from the wire is checked against a named cap before
 * anything is buffered for it. A malformed stream sets `error` (with Redis's reply text) and stops
 * the parser; it never throws. Partial input simply waits: no byte is examined twice except while
 * looking for a line end, and a large bulk is assembled once from its chunks.
 */

/** Caps on untrusted lengths. */
export interface ParserLimits {
  /** Most arguments in one multibulk request (Redis: 1024 × 1024). */
  maxArgs: number;
  /** Largest bulk argument in bytes (Redis's proto-max-bulk-len; here the value limit + slack). */
  maxBulkBytes: number;
  /** Longest inline request line, and longest `*`/`$` count line (Redis: 64 KiB). */
  maxInlineBytes: number;
}

export const DEFAULT_LIMITS: ParserLimits = {
  maxArgs: 1024 * 1024,
  maxBulkBytes: 512 * 1024 * 1024,
  maxInlineBytes: 64 * 1024,
};

/** A malformed request stream: reply with `message` (Redis's text) and close the connection. */
export class RespProtocolError extends Error {
  readonly code = 'ERR_PROTOCOL';
  constructor(readonly reply: string) {
    super(reply);
    this.name = 'RespProtocolError';
  }
}

const CR = 13;
const LF = 10;
const EMPTY = Buffer.alloc(0);

export class RespParser {
  readonly limits: ParserLimits;
  /** Set once the stream is malformed; no command is returned after it. */
  error: RespProtocolError | null = null;
  #buf: Buffer = EMPTY;
  #pos = 0;
  /** Chunks received but not yet merged into #buf. */
  #chunks: Buffer[] = [];
  #chunkBytes = 0;
  /** The multibulk being read: its arguments so far and how many are left. */
  #args: Buffer[] | null = null;
  #remaining = 0;
  /** Length of the bulk being read, or -1 before its `$` line. */
  #bulkLen = -1;

  constructor(limits: ParserLimits = DEFAULT_LIMITS) {
    this.limits = limits;
  }

  /** Bytes received and not yet parsed. */
  get buffered(): number {
    return this.#buf.length - this.#pos + this.#chunkBytes;
  }

  push(chunk: Buffer): void {
    if (this.error !== null || chunk.length === 0) return;
    if (this.#pos === this.#buf.length && this.#chunks.length === 0) {
      this.#buf = chunk;
      this.#pos = 0;
    } else {
      this.#chunks.push(chunk);
      this.#chunkBytes += chunk.length;
    }
  }

  /** Merges the pending chunks into #buf (after the parse position). */
  #merge(): void {
    this.#buf = Buffer.concat([this.#buf.subarray(this.#pos), ...this.#chunks]);
    this.#pos = 0;
    this.#chunks = [];
    this.#chunkBytes = 0;
  }

  #fail(reply: string): undefined {
    this.error = new RespProtocolError(reply);
    this.#buf = EMPTY;
    this.#pos = 0;
    this.#chunks = [];
    this.#chunkBytes = 0;
    this.#args = null;
    return undefined;
  }

  /** Index of the next LF at or after #pos, merging chunks as needed; -1 if none yet. */
  #lineEnd(): number {
    let at = this.#buf.indexOf(LF, this.#pos);
    if (at < 0 && this.#chunks.length > 0) {
      const searched = this.#buf.length - this.#pos;
      this.#merge();
      at = this.#buf.indexOf(LF, searched);
    }
    return at;
  }

  /** Parses a decimal count in #buf[from, to); NaN when it is not one. */
  #count(from: number, to: number): number {
    if (to > from && this.#buf[to - 1] === CR) to--;
    if (to <= from || to - from > 20) return NaN;
    let negative = false;
    let i = from;
    if (this.#buf[i] === 0x2d) {
      negative = true;
      i++;
      if (i === to) return NaN;
    }
    let n = 0;
    for (; i < to; i++) {
      const d = this.#buf[i] - 0x30;
      if (d < 0 || d > 9) return NaN;
      n = n * 10 + d;
    }
    return negative ? -n : n;
  }

  /** The next complete command, or undefined (need more bytes, or `error` is set). */
  next(): Buffer[] | undefined {
    for (;;) {
      if (this.error !== null) return undefined;
      if (this.#args === null) {
        if (this.#pos >= this.#buf.length) {
          if (this.#chunks.length === 0) return undefined;
          this.#merge();
        }
        const nl = this.#lineEnd();
        if (this.#buf[this.#pos] === 0x2a) {
          if (nl < 0) {
            if (this.buffered > this.limits.maxInlineBytes) return this.#fail('ERR Protocol error: too big mbulk count string');
            return undefined;
          }
          const n = this.#count(this.#pos + 1, nl);
          if (Number.isNaN(n) || n > this.limits.maxArgs) return this.#fail('ERR Protocol error: invalid multibulk length');
          this.#pos = nl + 1;
          if (n <= 0) continue; // `*0` and `*-1` are empty requests
          this.#args = [];
          this.#remaining = n;
          this.#bulkLen = -1;
        } else {
          if (nl < 0) {
            if (this.buffered > this.limits.maxInlineBytes) return this.#fail('ERR Protocol error: too big inline request');
            return undefined;
          }
          if (nl - this.#pos > this.limits.maxInlineBytes) return this.#fail('ERR Protocol error: too big inline request');
          let end = nl;
          if (end > this.#pos && this.#buf[end - 1] === CR) end--;
          const line = this.#buf.toString('latin1', this.#pos, end);
          this.#pos = nl + 1;
          const args = splitInline(line);
          if (args === null) return this.#fail('ERR Protocol error: unbalanced quotes in request');
          if (args.length === 0) continue;
          return args;
        }
      }
      while (this.#remaining > 0) {
        if (this.#bulkLen < 0) {
          if (this.#pos >= this.#buf.length) {
            if (this.#chunks.length === 0) return undefined;
            this.#merge();
          }
          const c = this.#buf[this.#pos];
          if (c !== 0x24) return this.#fail(`ERR Protocol error: expected '$', got '${String.fromCharCode(c)}'`);
          const nl = this.#lineEnd();
          if (nl < 0) {
            if (this.buffered > this.limits.maxInlineBytes) return this.#fail('ERR Protocol error: too big bulk count string');
            return undefined;
          }
          const n = this.#count(this.#pos + 1, nl);
          if (Number.isNaN(n) || n < 0 || n > this.limits.maxBulkBytes) return this.#fail('ERR Protocol error: invalid bulk length');
          this.#bulkLen = n;
          this.#pos = nl + 1;
        }
        const need = this.#bulkLen + 2;
        if (this.#buf.length - this.#pos < need) {
          if (this.buffered < need) return undefined; // wait: chunks stay unmerged until complete
          this.#merge();
        }
        this.#args!.push(this.#buf.subarray(this.#pos, this.#pos + this.#bulkLen));
        this.#pos += need;
        this.#bulkLen = -1;
        this.#remaining--;
      }
      const args = this.#args!;
      this.#args = null;
      return args;
    }
  }
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', a: '\x07' };

/**
 * Splits an inline request like sdssplitargs: arguments separated by whitespace; "double quotes"
 * with \n \r \t \b \a \\ \" and \xHH escapes; 'single quotes' with \' only. A closing quote must be
 * followed by whitespace or the end. Returns null for unbalanced quotes.
 */
export function splitInline(line: string): Buffer[] | null {
  const out: Buffer[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    while (i < n && /\s/.test(line[i])) i++;
    if (i >= n) return out;
    let cur = '';
    const q = line[i];
    if (q === '"' || q === "'") {
      i++;
      for (;;) {
        if (i >= n) return null;
        const c = line[i];
        if (q === '"' && c === '\\' && i + 3 < n && line[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
          cur += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
          i += 4;
        } else if (c === '\\' && i + 1 < n && (q === '"' || line[i + 1] === "'")) {
          const e = line[i + 1];
          cur += q === '"' && ESCAPES[e] !== undefined ? ESCAPES[e] : e;
          i += 2;
        } else if (c === q) {
          i++;
          if (i < n && !/\s/.test(line[i])) return null;
          break;
        } else {
          cur += c;
          i++;
        }
      }
    } else {
      while (i < n && !/\s/.test(line[i])) cur += line[i++];
    }
    out.push(Buffer.from(cur, 'latin1'));
  }
}
