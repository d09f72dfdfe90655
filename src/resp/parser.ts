/**
 * A resumable RESP request parser: feed it socket chunks with `push`, take complete commands with
 * `next`. It knows no command names; a command is an array of argument Buffers. Both request forms
 * are read: multibulk (`*<n>` then `$<len>` arguments) and inline (a text line, split like
 * redis-cli's sdssplitargs). Every length from the wire is checked against a named cap before
 * anything is buffered for it. A malformed stream sets `error` (with Redis's reply text) and stops
 * the parser; it never throws. Partial input simply waits: no byte is examined twice (a line end is
 * searched for in each new chunk once, without merging), and a large bulk is assembled once from
 * its chunks when its last byte has arrived.
 *
 * Memory held for input is accounted (`heldBytes`) so that the server can bound it per client and
 * in total: the buffers the parser references (a Buffer view pins its whole allocation, so the
 * allocation's length counts), plus a bookkeeping cost per argument and per chunk. It keeps no
 * more than it needs: a buffer whose bytes have all been parsed is let go while the parser waits,
 * and a large buffer of which only a small part is still needed (the start of the next request
 * behind a big value) is copied down so that the large allocation can be freed.
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

/**
 * Caps while the client has not authenticated (set `RespParser.unauthenticated`), as in Redis 7:
 * a client that has not proven it knows the password cannot make the server buffer more than a
 * few small arguments.
 */
export const UNAUTHENTICATED_MAX_ARGS = 10;
/** Largest bulk argument, in bytes, before AUTH (Redis: 16 KiB). */
export const UNAUTHENTICATED_MAX_BULK_BYTES = 16 * 1024;

/**
 * Bytes of JavaScript heap one argument of a partial request costs beyond its own bytes: a Buffer
 * view (~96 B on Node 20, x64) and its array slot (8 B), with the array's growth slack; measured at
 * ~106 B per argument for 1M one-byte arguments. Each chunk waiting to be merged costs the same.
 * A request of 1M arguments thus counts ~112 MB before its bytes.
 */
export const ARG_OVERHEAD_BYTES = 112;

/**
 * A buffer at least this large is copied down, when the parser waits, if no more than a quarter
 * of it is still needed: a few bytes of the next request must not pin an 8 MB value's buffer.
 * Above a socket read (64 KiB), so that only buffers merged for a large bulk are ever copied.
 */
export const COMPACT_MIN_BYTES = 256 * 1024;

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
  /**
   * The client has not authenticated yet: the UNAUTHENTICATED_* caps apply to the requests read
   * from now on. The connection sets it before each `next()`.
   */
  unauthenticated = false;
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
  /** #buf holds no LF before this index (a line end is searched for once per byte). */
  #searched = 0;
  /** #chunks[0, #chunksSearched) hold no LF. */
  #chunksSearched = 0;
  /** Length of the buffers, other than #buf, that arguments in #args still reference. */
  #pinnedBytes = 0;
  /** #args[#bufArgsFrom, …) were taken from #buf; #bufArgBytes is their length. */
  #bufArgsFrom = 0;
  #bufArgBytes = 0;
  /** The last `next()` returned undefined for want of bytes (not for an error). */
  #waiting = false;
  /** Requests returned by `next()` so far. */
  #completed = 0;

  constructor(limits: ParserLimits = DEFAULT_LIMITS) {
    this.limits = limits;
  }

  /** Bytes received and not yet parsed. */
  get buffered(): number {
    return this.#buf.length - this.#pos + this.#chunkBytes;
  }

  /**
   * Bytes of memory the parser holds for requests not yet returned: the buffers it references
   * (whole allocations, parsed bytes that a pending argument still points into included) plus
   * ARG_OVERHEAD_BYTES per pending argument and per unmerged chunk. 0 once everything received
   * has been returned (or after `discard()` or an error).
   */
  get heldBytes(): number {
    const pieces = this.#chunks.length + (this.#args === null ? 0 : this.#args.length);
    return this.#buf.length + this.#chunkBytes + this.#pinnedBytes + pieces * ARG_OVERHEAD_BYTES;
  }

  /**
   * A request has begun and the parser waits for the rest of it: the last `next()` returned
   * undefined for want of bytes, and bytes of an unfinished request are held.
   */
  get partial(): boolean {
    return this.#waiting && this.error === null && this.heldBytes > 0;
  }

  /** Requests `next()` has returned so far (progress: it grows whenever a request completes). */
  get completed(): number {
    return this.#completed;
  }

  push(chunk: Buffer): void {
    if (this.error !== null || chunk.length === 0) return;
    if (this.#pos === this.#buf.length && this.#chunks.length === 0) {
      this.#setBuf(chunk);
    } else {
      this.#chunks.push(chunk);
      this.#chunkBytes += chunk.length;
    }
  }

  /**
   * Makes `buf` the buffer parsed from (at 0). The old one stays counted (in #pinnedBytes) while
   * arguments of the pending request point into it.
   */
  #setBuf(buf: Buffer): void {
    if (this.#args !== null && this.#args.length > this.#bufArgsFrom) this.#pinnedBytes += this.#buf.length;
    this.#buf = buf;
    this.#pos = 0;
    this.#searched = 0;
    this.#bufArgsFrom = this.#args === null ? 0 : this.#args.length;
    this.#bufArgBytes = 0;
  }

  /** Merges the pending chunks into #buf (after the parse position). */
  #merge(): void {
    const merged = Buffer.concat([this.#buf.subarray(this.#pos), ...this.#chunks]);
    this.#chunks = [];
    this.#chunkBytes = 0;
    this.#chunksSearched = 0;
    this.#setBuf(merged);
  }

  /** Lets go of every byte received (the connection closed): nothing is referenced any more. */
  discard(): void {
    this.#buf = EMPTY;
    this.#pos = 0;
    this.#searched = 0;
    this.#chunks = [];
    this.#chunkBytes = 0;
    this.#chunksSearched = 0;
    this.#args = null;
    this.#pinnedBytes = 0;
    this.#bufArgsFrom = 0;
    this.#bufArgBytes = 0;
    this.#waiting = false;
  }

  #fail(reply: string): undefined {
    this.error = new RespProtocolError(reply);
    this.discard();
    return undefined;
  }

  /**
   * next() has to wait for more bytes: let go of what the partial request no longer needs. A
   * fully parsed #buf that no pending argument points into is dropped; a large #buf of which at
   * most a quarter is still needed (its unparsed tail and the pending arguments taken from it) has
   * those parts copied out, so that the large allocation can be freed.
   */
  #wait(): undefined {
    this.#waiting = true;
    const buf = this.#buf;
    const tail = buf.length - this.#pos;
    const argsInBuf = this.#args === null ? 0 : this.#args.length - this.#bufArgsFrom;
    if (tail === 0 && argsInBuf === 0) {
      if (buf !== EMPTY) this.#setBuf(EMPTY);
      return undefined;
    }
    // A copied argument takes at least 8 bytes (allocations are 8-byte aligned).
    if (buf.length < COMPACT_MIN_BYTES || (tail + this.#bufArgBytes + 8 * argsInBuf) * 4 > buf.length) return undefined;
    const args = this.#args;
    if (args !== null) {
      for (let i = this.#bufArgsFrom; i < args.length; i++) args[i] = Buffer.from(args[i]);
      this.#pinnedBytes += this.#bufArgBytes;
    }
    const searched = Math.max(0, this.#searched - this.#pos);
    this.#buf = tail === 0 ? EMPTY : Buffer.from(buf.subarray(this.#pos));
    this.#pos = 0;
    this.#searched = searched;
    this.#bufArgsFrom = args === null ? 0 : args.length;
    this.#bufArgBytes = 0;
    return undefined;
  }

  /**
   * Index in #buf of the next LF at or after #pos, merging the pending chunks once one of them
   * holds it; -1 if none has arrived yet. Bytes already searched are not searched again, so a
   * line trickling in a byte at a time costs linear time, not quadratic.
   */
  #lineEnd(): number {
    const at = this.#buf.indexOf(LF, Math.max(this.#pos, this.#searched));
    if (at >= 0) return at;
    this.#searched = this.#buf.length;
    for (; this.#chunksSearched < this.#chunks.length; this.#chunksSearched++) {
      if (this.#chunks[this.#chunksSearched].indexOf(LF) < 0) continue;
      let before = this.#buf.length - this.#pos;
      for (let i = 0; i < this.#chunksSearched; i++) before += this.#chunks[i].length;
      this.#merge();
      return this.#buf.indexOf(LF, before);
    }
    return -1;
  }

  /**
   * Parses a decimal count in #buf[from, to) (a trailing CR dropped) as Redis's string2ll does: an
   * optional '-', then no leading zero ("0" alone aside), at most 20 characters. NaN when it is
   * not one; a value beyond 2^53 is imprecise but still above every cap.
   */
  #count(from: number, to: number): number {
    if (to > from && this.#buf[to - 1] === CR) to--;
    if (to <= from || to - from > 20) return NaN;
    if (to - from === 1 && this.#buf[from] === 0x30) return 0;
    let negative = false;
    let i = from;
    if (this.#buf[i] === 0x2d) {
      negative = true;
      i++;
      if (i === to) return NaN;
    }
    if (this.#buf[i] === 0x30) return NaN;
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
    this.#waiting = false;
    for (;;) {
      if (this.error !== null) return undefined;
      if (this.#args === null) {
        if (this.#pos >= this.#buf.length) {
          if (this.#chunks.length === 0) return this.#wait();
          this.#merge();
        }
        const nl = this.#lineEnd();
        if (this.#buf[this.#pos] === 0x2a) {
          if (nl < 0) {
            if (this.buffered > this.limits.maxInlineBytes) return this.#fail('ERR Protocol error: too big mbulk count string');
            return this.#wait();
          }
          const n = this.#count(this.#pos + 1, nl);
          if (Number.isNaN(n) || n > this.limits.maxArgs) return this.#fail('ERR Protocol error: invalid multibulk length');
          if (this.unauthenticated && n > UNAUTHENTICATED_MAX_ARGS) return this.#fail('ERR Protocol error: unauthenticated multibulk length');
          this.#pos = nl + 1;
          if (n <= 0) continue; // `*0` and `*-1` are empty requests
          this.#args = [];
          this.#bufArgsFrom = 0;
          this.#bufArgBytes = 0;
          this.#remaining = n;
          this.#bulkLen = -1;
        } else {
          if (nl < 0) {
            if (this.buffered > this.limits.maxInlineBytes) return this.#fail('ERR Protocol error: too big inline request');
            return this.#wait();
          }
          if (nl - this.#pos > this.limits.maxInlineBytes) return this.#fail('ERR Protocol error: too big inline request');
          let end = nl;
          if (end > this.#pos && this.#buf[end - 1] === CR) end--;
          const line = this.#buf.subarray(this.#pos, end);
          this.#pos = nl + 1;
          const args = splitInline(line);
          if (args === null) return this.#fail('ERR Protocol error: unbalanced quotes in request');
          if (args.length === 0) continue;
          this.#completed++;
          return args;
        }
      }
      while (this.#remaining > 0) {
        if (this.#bulkLen < 0) {
          if (this.#pos >= this.#buf.length) {
            if (this.#chunks.length === 0) return this.#wait();
            this.#merge();
          }
          const c = this.#buf[this.#pos];
          if (c !== 0x24) return this.#fail(`ERR Protocol error: expected '$', got '${String.fromCharCode(c)}'`);
          const nl = this.#lineEnd();
          if (nl < 0) {
            if (this.buffered > this.limits.maxInlineBytes) return this.#fail('ERR Protocol error: too big bulk count string');
            return this.#wait();
          }
          const n = this.#count(this.#pos + 1, nl);
          if (Number.isNaN(n) || n < 0 || n > this.limits.maxBulkBytes) return this.#fail('ERR Protocol error: invalid bulk length');
          if (this.unauthenticated && n > UNAUTHENTICATED_MAX_BULK_BYTES) return this.#fail('ERR Protocol error: unauthenticated bulk length');
          this.#bulkLen = n;
          this.#pos = nl + 1;
        }
        const need = this.#bulkLen + 2;
        if (this.#buf.length - this.#pos < need) {
          if (this.buffered < need) return this.#wait(); // chunks stay unmerged until complete
          this.#merge();
        }
        this.#args!.push(this.#buf.subarray(this.#pos, this.#pos + this.#bulkLen));
        this.#bufArgBytes += this.#bulkLen;
        this.#pos += need;
        this.#bulkLen = -1;
        this.#remaining--;
      }
      const args = this.#args!;
      this.#args = null;
      this.#pinnedBytes = 0;
      this.#bufArgsFrom = 0;
      this.#bufArgBytes = 0;
      this.#completed++;
      return args;
    }
  }
}

/** isspace() in the C locale: space, \t, \n, \v, \f, \r. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Value of an ASCII hex digit, or -1. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  return c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
}

/** The byte a double-quoted `\<c>` stands for (n r t b a; any other byte is itself). */
function unescape(c: number): number {
  switch (c) {
    case 0x6e: return 0x0a; // \n
    case 0x72: return 0x0d; // \r
    case 0x74: return 0x09; // \t
    case 0x62: return 0x08; // \b
    case 0x61: return 0x07; // \a
    default: return c;
  }
}

const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;

/**
 * Splits an inline request (its line end removed) exactly as Redis's sdssplitargs does, byte for
 * byte: words are separated by isspace() bytes, but only space, \t, \r and \n end an unquoted
 * word; a quote inside a word opens a quoted part (`a"b c"` is `ab c`); "double quotes" take
 * \n \r \t \b \a \xHH and \<any> escapes; 'single quotes' take only \'; a closing quote must be
 * followed by whitespace or the end. As for the C string sdssplitargs reads, the line ends at
 * its first NUL byte (Redis 7.0 goes further and, looking for the newline with strchr, never sees
 * a line holding a NUL at all). Returns null for unbalanced quotes. The arguments share one new
 * buffer.
 */
export function splitInline(line: Uint8Array): Buffer[] | null {
  let n = line.indexOf(0);
  if (n < 0) n = line.length;
  const at = (i: number) => (i < n ? line[i] : 0); // 0 past the end, as in a C string
  const bytes = Buffer.allocUnsafe(n); // arguments never take more bytes than the line
  const out: Buffer[] = [];
  let w = 0;
  let i = 0;
  for (;;) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) return out;
    const start = w;
    let quote = 0; // the open quote character, or 0
    for (;;) {
      const c = at(i);
      if (quote === DQUOTE) {
        if (c === BACKSLASH && at(i + 1) === 0x78 && hexDigit(at(i + 2)) >= 0 && hexDigit(at(i + 3)) >= 0) {
          bytes[w++] = hexDigit(at(i + 2)) * 16 + hexDigit(at(i + 3));
          i += 4;
        } else if (c === BACKSLASH && at(i + 1) !== 0) {
          bytes[w++] = unescape(at(i + 1));
          i += 2;
        } else if (c === DQUOTE) {
          if (at(i + 1) !== 0 && !isSpace(at(i + 1))) return null;
          i++;
          break;
        } else if (c === 0) {
          return null;
        } else {
          bytes[w++] = c;
          i++;
        }
      } else if (quote === SQUOTE) {
        if (c === BACKSLASH && at(i + 1) === SQUOTE) {
          bytes[w++] = SQUOTE;
          i += 2;
        } else if (c === SQUOTE) {
          if (at(i + 1) !== 0 && !isSpace(at(i + 1))) return null;
          i++;
          break;
        } else if (c === 0) {
          return null;
        } else {
          bytes[w++] = c;
          i++;
        }
      } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0) {
        if (c !== 0) i++;
        break;
      } else if (c === DQUOTE || c === SQUOTE) {
        quote = c;
        i++;
      } else {
        bytes[w++] = c;
        i++;
      }
    }
    out.push(bytes.subarray(start, w));
  }
}
