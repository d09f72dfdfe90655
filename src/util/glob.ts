/**
 * Redis-style glob patterns (KEYS, SCAN MATCH, `cache.scan({ match })`), matched on bytes.
 *
 * Semantics (those of Redis's `stringmatchlen` in util.c): a pattern is a sequence of elements,
 * each of which matches exactly one key byte, except `*`, which matches any run of bytes (empty
 * included):
 *  - `?` any byte;
 *  - `\x` the byte `x` itself (a `\` that ends the pattern is a literal `\`);
 *  - `[...]` one byte of a class, `[^...]` one byte not in it. Inside, `\x` is the byte `x`,
 *    `a-z` a range (a reversed one, `z-a`, means the same), anything else itself; `]` closes the
 *    class, except where it is the end of a range (`[a-]` is the range `a` to `]`, and the class
 *    goes on). A class that is never closed takes the rest of the pattern (`[ab` = `[ab]`), and a
 *    `[` that ends the pattern is an empty class, which matches nothing;
 *  - any other byte matches itself (`-`, `]`, `^` outside a class are ordinary bytes).
 * Bytes compare as unsigned 0-255. Two deliberate differences from Redis: a run of stars matches
 * the empty key (Redis's loop never looks at the pattern when the key is empty, so only its KEYS
 * and SCAN shortcut for exactly `*` lists an empty key: redis/redis#15643), and ranges compare
 * unsigned bytes (on x86 Redis's `char` is signed, so `[a-\xff]` there means 0x00-0x61 and 0xff).
 *
 * Algorithm: the pattern is compiled once into its elements, split at the stars into segments
 * S0 * S1 * … * Sn, each segment a fixed number of single-byte elements. A key matches iff S0
 * matches its start, Sn its end, and S1 … Sn-1 occur in order, without overlap, in between;
 * placing each middle segment at its leftmost occurrence is enough (it leaves the most room for
 * the segments after it), so nothing is ever retried. Invariant: the search position only moves
 * forward, so a call tests at most (elements + 1) × (key bytes + 1) element/byte pairs — the
 * time is bounded by pattern length × key length, unlike a backtracking RegExp, which is
 * exponential in the number of stars (`a*a*a*…b` against a run of `a`s).
 */

/** Tests one key, given as its bytes, against a compiled pattern. */
export type GlobMatcher = (key: Uint8Array) => boolean;

// Element kinds.
const LITERAL = 0;
const ANY = 1;
const CLASS = 2;

/** A byte class is a 256-bit set: 32 bytes, bit `b & 7` of byte `b >> 3`. */
const CLASS_BYTES = 32;

const STAR = 0x2a; // *
const QUESTION = 0x3f; // ?
const BACKSLASH = 0x5c; // \
const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]
const CARET = 0x5e; // ^
const DASH = 0x2d; // -

/** A pattern compiled to its elements (star-free) and the segment bounds the stars make. */
interface Program {
  /** Per element: LITERAL, ANY or CLASS. */
  kind: Uint8Array;
  /** Per element: the literal byte, or the offset of its class in `classes`. */
  arg: Int32Array;
  /** The byte classes, CLASS_BYTES each, negation already applied. */
  classes: Uint8Array;
  /** Segment i is elements bounds[i] to bounds[i + 1]; a star stands between two segments. */
  bounds: number[];
}

/**
 * Compiles `pattern` (a string is taken as its UTF-8 bytes) into a matcher of keys given as bytes.
 * No pattern is invalid (Redis gives every byte string a meaning); only a pattern of another type
 * throws, a TypeError. Compile once, match many keys.
 */
export function compileGlob(pattern: string | Uint8Array): GlobMatcher {
  if (typeof pattern !== 'string' && !(pattern instanceof Uint8Array)) {
    throw new TypeError('pattern must be a string or a Uint8Array');
  }
  const prog = parse(typeof pattern === 'string' ? Buffer.from(pattern, 'utf8') : pattern);
  const { kind, arg, classes, bounds } = prog;
  const elements = kind.length;

  /** Whether elements from..to match key bytes at..at+(to-from). The caller checks the length. */
  const segmentAt = (key: Uint8Array, at: number, from: number, to: number): boolean => {
    for (let e = from, i = at; e < to; e++, i++) {
      const k = kind[e];
      const b = key[i];
      if (k === LITERAL) {
        if (arg[e] !== b) return false;
      } else if (k === CLASS) {
        if ((classes[arg[e] + (b >>> 3)] & (1 << (b & 7))) === 0) return false;
      }
    }
    return true;
  };

  const segments = bounds.length - 1;
  if (segments === 1) return (key) => key.length === elements && segmentAt(key, 0, 0, elements);
  const headEnd = bounds[1];
  const tailStart = bounds[segments - 1];
  const tailLength = elements - tailStart;
  // One star: `*`, `prefix*`, `*suffix`, `prefix*suffix`.
  if (segments === 2) {
    if (elements === 0) return () => true;
    return (key) => key.length >= elements && segmentAt(key, 0, 0, headEnd) && segmentAt(key, key.length - tailLength, tailStart, elements);
  }
  return (key) => {
    if (key.length < elements || !segmentAt(key, 0, 0, headEnd)) return false;
    const end = key.length - tailLength;
    if (!segmentAt(key, end, tailStart, elements)) return false;
    // Each middle segment at its leftmost place after the one before: `pos` never moves back.
    let pos = headEnd;
    for (let s = 1; s < segments - 1; s++) {
      const from = bounds[s];
      const to = bounds[s + 1];
      const last = end - (to - from);
      // A segment that starts with a literal byte can only start where that byte is.
      const first = kind[from] === LITERAL ? arg[from] : -1;
      for (;;) {
        if (first >= 0) while (pos <= last && key[pos] !== first) pos++;
        if (pos > last) return false;
        if (segmentAt(key, pos, from, to)) break;
        pos++;
      }
      pos += to - from;
    }
    return true;
  };
}

/** Splits `p` into elements and star-separated segments, with Redis's reading of each byte. */
function parse(p: Uint8Array): Program {
  const kinds: number[] = [];
  const args: number[] = [];
  const classList: Uint8Array[] = [];
  const bounds = [0];
  const n = p.length;
  let i = 0;
  while (i < n) {
    const c = p[i];
    if (c === STAR) {
      while (i < n && p[i] === STAR) i++;
      bounds.push(kinds.length);
      continue;
    }
    if (c === QUESTION) {
      kinds.push(ANY);
      args.push(0);
      i++;
    } else if (c === OPEN) {
      const [set, next] = parseClass(p, i + 1);
      kinds.push(CLASS);
      args.push(classList.length * CLASS_BYTES);
      classList.push(set);
      i = next;
    } else if (c === BACKSLASH && i + 1 < n) {
      kinds.push(LITERAL);
      args.push(p[i + 1]);
      i += 2;
    } else {
      kinds.push(LITERAL);
      args.push(c);
      i++;
    }
  }
  bounds.push(kinds.length);
  const classes = new Uint8Array(classList.length * CLASS_BYTES);
  classList.forEach((set, k) => classes.set(set, k * CLASS_BYTES));
  return { kind: Uint8Array.from(kinds), arg: Int32Array.from(args), classes, bounds };
}

/**
 * Reads the class whose body starts at `i` (just after its `[`): returns its byte set, negation
 * applied, and the index after the class (after its `]`, or the pattern's end when unclosed).
 */
function parseClass(p: Uint8Array, i: number): [Uint8Array, number] {
  const n = p.length;
  const set = new Uint8Array(CLASS_BYTES);
  const add = (lo: number, hi: number) => {
    for (let b = lo; b <= hi; b++) set[b >>> 3] |= 1 << (b & 7);
  };
  const negate = i < n && p[i] === CARET;
  if (negate) i++;
  while (i < n) {
    const c = p[i];
    if (c === BACKSLASH && i + 1 < n) {
      add(p[i + 1], p[i + 1]);
      i += 2;
    } else if (c === CLOSE) {
      i++;
      break;
    } else if (i + 2 < n && p[i + 1] === DASH) {
      // A range's end may be any byte, `]` and `\` included: it is taken as is.
      const end = p[i + 2];
      add(Math.min(c, end), Math.max(c, end));
      i += 3;
    } else {
      add(c, c);
      i++;
    }
  }
  if (negate) for (let k = 0; k < CLASS_BYTES; k++) set[k] ^= 0xff;
  return [set, i];
}
