/**
 * RESP2 / RESP3 reply encoding into one growing buffer per connection, flushed once per batch of
 * pipelined commands. Each method appends one reply (or an aggregate's header); `protocol`
 * decides how RESP3-only types degrade for RESP2 clients (maps become flat arrays, doubles and
 * big numbers bulk strings, booleans integers, null a null bulk string).
 *
 * Memory: the buffer doubles for many small appends, but grows to exactly the size needed for one
 * large append (a big value), and `take()` hands a buffer over RETAIN_BYTES to the caller whole
 * (no copy) and starts again from INITIAL_BYTES. So a writer never keeps the memory of a big
 * reply once it is taken, and a big value costs one copy into the reply, not three.
 */

const CRLF = '\r\n';
const INITIAL_BYTES = 16 * 1024;
/** Largest buffer a writer keeps across take(); a larger one goes with the bytes taken. */
const RETAIN_BYTES = 1024 * 1024;

export class RespWriter {
  /** 2 or 3, as chosen by HELLO. */
  protocol: 2 | 3 = 2;
  #buf = Buffer.allocUnsafe(INITIAL_BYTES);
  #len = 0;

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.#len;
  }

  #reserve(n: number): void {
    const need = this.#len + n;
    if (need <= this.#buf.length) return;
    // Doubling keeps a run of small appends linear; one append larger than that gets its size.
    const size = Math.max(this.#buf.length * 2, need);
    const next = Buffer.allocUnsafe(size);
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
      this.#buf = Buffer.allocUnsafe(INITIAL_BYTES);
      return out;
    }
    return Buffer.from(this.#buf.subarray(0, len));
  }

  /** Bytes of buffer this writer holds (what it keeps between replies). */
  get capacity(): number {
    return this.#buf.length;
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
