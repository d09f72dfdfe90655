/**
 * RESP2 / RESP3 reply encoding into one growing buffer per connection, flushed once per batch of
 * pipelined commands. Each method appends one reply (or an aggregate's header); `protocol`
 * decides how RESP3-only types degrade for RESP2 clients (maps become flat arrays, doubles and
 * big numbers bulk strings, booleans integers, null a null bulk string).
 *
 * Memory: the buffer doubles for many small appends, but grows to exactly the size needed for one
 * large append (a big value), and `take()` hands a buffer over RETAIN_BYTES to the caller whole
 * (no copy) and starts again from INITIAL_BYTES. So a writer never keeps the memory of a big
 * reply once it is taken, and a big value costs one copy into the reply, not three. A reply
 * streamed in large parts can give each part back once the socket has written it (`recycle`),
 * so that the next part reuses it instead of allocating: the bytes it allocates then stay about
 * what is in flight, not the size of the reply; `release()` drops those spares at its end.
 */

const CRLF = '\r\n';
const INITIAL_BYTES = 16 * 1024;
/** Largest buffer a writer keeps across take(); a larger one goes with the bytes taken. */
const RETAIN_BYTES = 1024 * 1024;
/** Large buffers given back by recycle() that a writer keeps for reuse, at most. */
const MAX_SPARES = 4;
/** Sizes of buffers over RETAIN_BYTES are rounded up to this, so that spares fit the next part. */
const LARGE_ROUNDING = 64 * 1024;

export class RespWriter {
  /** 2 or 3, as chosen by HELLO. */
  protocol: 2 | 3 = 2;
  #buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  #len = 0;
  /** Large buffers given back by recycle(), reused before allocating. */
  #spares: Buffer[] = [];
  /** Backing stores of the large buffers take() handed over: only these may come back. */
  readonly #lent = new WeakSet<ArrayBufferLike>();

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.#len;
  }

  #reserve(n: number): void {
    const need = this.#len + n;
    if (need <= this.#buf.length) return;
    // Doubling keeps a run of small appends linear; one append larger than that gets its size.
    let size = Math.max(this.#buf.length * 2, need);
    if (size > RETAIN_BYTES) size = Math.ceil(size / LARGE_ROUNDING) * LARGE_ROUNDING;
    const spare = this.#spares.findIndex((b) => b.length >= size);
    const next = spare >= 0 ? this.#spares.splice(spare, 1)[0] : Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  #ascii(s: string): void {
    this.#reserve(s.length);
    this.#len += this.#buf.latin1Write(s, this.#len);
  }

  /** `+OK` style status. `s` must not contain CR or LF. */
  simple(s: string): void {
    this.#ascii('+' + s + CRLF);
  }

  /** An error reply: `msg` starts with its prefix (`ERR`, `WRONGTYPE`, `NOAUTH`…). */
  error(msg: string): void {
    // As Redis does: trim CR/LF at the ends, then each one left becomes a space.
    this.#ascii('-' + msg.replace(/^[\r\n]+|[\r\n]+$/g, '').replace(/[\r\n]/g, ' ') + CRLF);
  }

  integer(n: number | bigint): void {
    this.#ascii(':' + n.toString() + CRLF);
  }

  /** A bulk string from bytes or a string (UTF-8). */
  bulk(v: Uint8Array | string): void {
    if (typeof v === 'string') {
      const n = Buffer.byteLength(v);
      const head = '$' + n + CRLF;
      this.#reserve(head.length + n + 2);
      this.#len += this.#buf.latin1Write(head, this.#len);
      this.#len += this.#buf.utf8Write(v, this.#len);
      this.#len += this.#buf.latin1Write(CRLF, this.#len);
      return;
    }
    const head = '$' + v.length + CRLF;
    this.#reserve(head.length + v.length + 2);
    this.#len += this.#buf.latin1Write(head, this.#len);
    this.#buf.set(v, this.#len);
    this.#len += v.length;
    this.#len += this.#buf.latin1Write(CRLF, this.#len);
  }

  /** The null reply (`$-1` in RESP2, `_` in RESP3). */
  nil(): void {
    this.#ascii(this.protocol === 3 ? '_' + CRLF : '$-1' + CRLF);
  }

  /** The null array of RESP2 (`*-1`); `_` in RESP3. */
  nilArray(): void {
    this.#ascii(this.protocol === 3 ? '_' + CRLF : '*-1' + CRLF);
  }

  /** An array header; the caller then writes `n` elements. */
  array(n: number): void {
    this.#ascii('*' + n + CRLF);
  }

  /** A map header of `n` pairs (RESP2: an array of 2n); the caller writes key, value, … */
  map(n: number): void {
    this.#ascii(this.protocol === 3 ? '%' + n + CRLF : '*' + n * 2 + CRLF);
  }

  /** A set header (RESP2: an array). */
  set(n: number): void {
    this.#ascii(this.protocol === 3 ? '~' + n + CRLF : '*' + n + CRLF);
  }

  /** A double (RESP2: a bulk string in Redis's format). */
  double(x: number): void {
    const text = formatDouble(x);
    if (this.protocol === 3) this.#ascii(',' + text + CRLF);
    else this.bulk(text);
  }

  /** A boolean (RESP2: integer 1 / 0). */
  boolean(b: boolean): void {
    if (this.protocol === 3) this.#ascii(b ? '#t' + CRLF : '#f' + CRLF);
    else this.integer(b ? 1 : 0);
  }

  /** A verbatim string (RESP3 `=`, used by INFO and CLIENT INFO); RESP2: a bulk string. */
  verbatim(text: string, format = 'txt'): void {
    if (this.protocol !== 3) {
      this.bulk(text);
      return;
    }
    const n = Buffer.byteLength(text) + 4;
    this.#ascii('=' + n + CRLF + format + ':');
    this.#reserve(n + 2);
    this.#len += this.#buf.utf8Write(text, this.#len);
    this.#len += this.#buf.latin1Write(CRLF, this.#len);
  }

  /** Appends bytes that are already RESP (part of a reply encoded elsewhere). */
  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  /**
   * Takes everything written so far (a Buffer the socket may keep) and empties the writer. Up to
   * RETAIN_BYTES of buffer, the bytes are copied and the buffer reused; a larger buffer (at least
   * half full: it grew for them) is handed over as it is and the writer starts small again.
   */
  take(): Buffer {
    const len = this.#len;
    this.#len = 0;
    if (this.#buf.length > RETAIN_BYTES) {
      const out = this.#buf.subarray(0, len);
      this.#lent.add(out.buffer);
      this.#buf = Buffer.allocUnsafe(INITIAL_BYTES);
      return out;
    }
    return Buffer.from(this.#buf.subarray(0, len));
  }

  /**
   * Gives back a Buffer that take() returned, once nothing reads it any more (the socket has
   * written it): a large one is kept, up to MAX_SPARES, for the next large part. Anything else
   * is ignored.
   */
  recycle(taken: Uint8Array): void {
    const backing = taken.buffer;
    if (!this.#lent.has(backing)) return;
    this.#lent.delete(backing);
    if (this.#spares.length < MAX_SPARES) this.#spares.push(Buffer.from(backing, 0, backing.byteLength));
  }

  /** Drops the buffers kept by recycle(): the writer holds only its own small buffer again. */
  release(): void {
    this.#spares = [];
  }

  /** Bytes of buffer this writer holds (what it keeps between replies), spares included. */
  get capacity(): number {
    let n = this.#buf.length;
    for (const b of this.#spares) n += b.length;
    return n;
  }
}

/** Redis's textual form of a double: `inf`, `-inf`, `nan`, else the shortest round-trip form. */
export function formatDouble(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0';
  return String(x);
}

declare module 'node:buffer' {
  interface Buffer {
    latin1Write(s: string, offset?: number, length?: number): number;
    utf8Write(s: string, offset?: number, length?: number): number;
  }
}
