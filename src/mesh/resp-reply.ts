/**
 * Just enough of a RESP2/RESP3 reply reader to merge the replies of a command split across
 * owners: find where one reply ends (so an MGET array can be cut into its elements and put back
 * in the caller's key order), read an integer reply (DEL, EXISTS… sum them) and tell errors apart.
 * The replies come from our own peers' writers, but they crossed the network: every function
 * here returns -1 / null on bytes it does not understand instead of throwing.
 */

const CR = 13;

/** Deepest nesting followed (our split commands reply with flat arrays). */
const MAX_DEPTH = 8;

/** The index just past the CRLF that ends the line starting at `pos`, or -1. */
function lineEnd(buf: Uint8Array, pos: number): number {
  for (let i = pos; i + 1 < buf.length; i++) if (buf[i] === CR && buf[i + 1] === 10) return i + 2;
  return -1;
}

/** The decimal number between `from` and the CR at `end - 2`, or NaN. */
function lineNumber(buf: Uint8Array, from: number, end: number): number {
  const text = Buffer.from(buf.buffer, buf.byteOffset + from, end - 2 - from).toString('latin1');
  // 15 digits stay exact in a double; no length or count of ours comes near that.
  return /^-?\d{1,15}$/.test(text) ? Number(text) : NaN;
}

/** The index just past the reply that starts at `pos`, or -1 when it is malformed or cut short. */
export function skipReply(buf: Uint8Array, pos: number, depth = 0): number {
  if (pos >= buf.length || depth > MAX_DEPTH) return -1;
  const end = lineEnd(buf, pos);
  if (end < 0) return -1;
  const type = String.fromCharCode(buf[pos]);
  switch (type) {
    case '+': case '-': case ':': case '_': case '#': case ',': case '(':
      return end;
    case '$': case '=': case '!': {
      const n = lineNumber(buf, pos + 1, end);
      if (n === -1) return end; // RESP2 null bulk
      if (!(n >= 0) || end + n + 2 > buf.length) return -1;
      if (buf[end + n] !== CR || buf[end + n + 1] !== 10) return -1;
      return end + n + 2;
    }
    case '*': case '~': case '>': case '%': case '|': {
      const n = lineNumber(buf, pos + 1, end);
      if (n === -1 && type === '*') return end; // RESP2 null array
      if (!(n >= 0)) return -1;
      const items = type === '%' || type === '|' ? n * 2 : n;
      let at = end;
      for (let i = 0; i < items; i++) {
        at = skipReply(buf, at, depth + 1);
        if (at < 0) return -1;
      }
      // An attribute map is not a reply of its own: it prefixes the reply that follows.
      return type === '|' ? skipReply(buf, at, depth + 1) : at;
    }
    default:
      return -1;
  }
}

/** Whether `reply` is one error reply (`-ERR …`). */
export function isErrorReply(reply: Uint8Array): boolean {
  return reply.length > 0 && reply[0] === 0x2d;
}

/** The value of an integer reply (`:n`), or null. */
export function integerReply(reply: Uint8Array): number | null {
  if (reply.length < 4 || reply[0] !== 0x3a) return null;
  const end = lineEnd(reply, 0);
  if (end !== reply.length) return null;
  const n = lineNumber(reply, 1, end);
  return Number.isNaN(n) ? null : n;
}

/** The elements of a flat array reply as byte slices (views), or null when it is not one. */
export function arrayElements(reply: Uint8Array): Uint8Array[] | null {
  if (reply.length < 4 || reply[0] !== 0x2a) return null;
  const end = lineEnd(reply, 0);
  if (end < 0) return null;
  const n = lineNumber(reply, 1, end);
  if (!(n >= 0)) return null;
  const out: Uint8Array[] = [];
  let at = end;
  for (let i = 0; i < n; i++) {
    const next = skipReply(reply, at, 1);
    if (next < 0) return null;
    out.push(reply.subarray(at, next));
    at = next;
  }
  return at === reply.length ? out : null;
}
