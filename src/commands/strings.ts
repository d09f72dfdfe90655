/**
 * String commands with Redis 7's options, replies and error texts: GET, SET, SETNX, SETEX,
 * PSETEX, GETSET, GETDEL, GETEX, MGET, MSET, MSETNX, INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT,
 * APPEND, STRLEN, GETRANGE, SETRANGE.
 *
 * Every value is stored as bytes; a value another thread stored as a JS string or object reads
 * back as its stored payload (UTF-8, or the serializer's bytes). A plain SET (no EX/PX/EXAT/PXAT/
 * KEEPTTL) gets the cache's default `ttl`, as `Cache.set` does; with the default of 0 that is no
 * expiry, as in Redis. Commands that rewrite a value (APPEND, INCR…, SETRANGE) keep its TTL.
 * The largest string is the cache's `maxValueBytes` (Redis: proto-max-bulk-len, 512 MB).
 *
 * GET and SET are the benchmark's hot path: SET without options stores the argument Buffer (a
 * slice of the socket chunk, which the cache copies) with no parsing and no allocation; GET
 * copies the value out of shared memory once.
 *
 * Large replies: GET, MGET and GETRANGE copy each value from the cache's scratch area straight
 * into the reply (one copy), after asking the connection whether it fits under the client's hard
 * output limit (ctx.admit), so a reply over it is never allocated. An MGET whose reply passes
 * SLICE_BYTES, or whose lookups pass SLICE_BUDGET_MS, streams the rest value by value (ctx.stream):
 * it stays atomic while it fits in one slice; a larger one reads each value when it writes it,
 * so another client's write may land between two of its values.
 */
import {
  command, ERR, word, SLICE_BUDGET_MS, SLICE_BYTES, type CommandContext, type CommandSpec, type ReplyStep,
} from './registry.js';
import { kGetEncoded, kGetView } from '../cache/internal.js';
import {
  DEFAULT_EXPIRY, NO_EXPIRY, STORE_ALWAYS, STORE_NX, STORE_XX, expiryOf, parseInt64, readValue, readView, setExpiry, storeValue,
} from './keys.js';

const LLONG_MAX = 9223372036854775807n;
const LLONG_MIN = -9223372036854775808n;
const EMPTY = Buffer.alloc(0);
const ERR_TOO_BIG = 'ERR string exceeds maximum allowed size';
/** Values over this size are checked against the client's hard output limit before they are copied. */
const ADMIT_CHECK_BYTES = 64 * 1024;
/** MGET reads the clock once per this many keys (a lookup costs well under a microsecond). */
const MGET_CLOCK_EVERY = 64;

// ─── SET / GETEX options ────────────────────────────────────────────────────────────────────

const OPT_NX = 1;
const OPT_XX = 2;
const OPT_GET = 4;
const OPT_KEEPTTL = 8;
const OPT_PERSIST = 16;
const OPT_EX = 32;
const OPT_PX = 64;
const OPT_EXAT = 128;
const OPT_PXAT = 256;
const OPT_ANY_EXPIRY = OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT;

interface StringOptions {
  flags: number;
  /** The EX/PX/EXAT/PXAT argument, or null. */
  time: Buffer | null;
}

/**
 * Redis's parseExtendedStringArgumentsOrReply: SET takes NX XX GET KEEPTTL EX PX EXAT PXAT, GETEX
 * takes PERSIST EX PX EXAT PXAT; a conflicting or unknown option is a syntax error. As in Redis, a
 * repeated option is allowed and the last time given wins.
 */
function parseOptions(ctx: CommandContext, args: Buffer[], from: number, isSet: boolean): StringOptions | null {
  let flags = 0;
  let time: Buffer | null = null;
  for (let i = from; i < args.length; i++) {
    const opt = word(args[i]);
    const more = i + 1 < args.length;
    if (isSet && opt === 'NX' && !(flags & OPT_XX)) flags |= OPT_NX;
    else if (isSet && opt === 'XX' && !(flags & OPT_NX)) flags |= OPT_XX;
    else if (isSet && opt === 'GET') flags |= OPT_GET;
    else if (isSet && opt === 'KEEPTTL' && !(flags & (OPT_PERSIST | OPT_ANY_EXPIRY))) flags |= OPT_KEEPTTL;
    else if (!isSet && opt === 'PERSIST' && !(flags & (OPT_KEEPTTL | OPT_ANY_EXPIRY))) flags |= OPT_PERSIST;
    else if (opt === 'EX' && more && !(flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EXAT | OPT_PX | OPT_PXAT))) {
      flags |= OPT_EX;
      time = args[++i];
    } else if (opt === 'PX' && more && !(flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PXAT))) {
      flags |= OPT_PX;
      time = args[++i];
    } else if (opt === 'EXAT' && more && !(flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_PX | OPT_PXAT))) {
      flags |= OPT_EXAT;
      time = args[++i];
    } else if (opt === 'PXAT' && more && !(flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PX))) {
      flags |= OPT_PXAT;
      time = args[++i];
    } else {
      ctx.out.error(ERR.syntax);
      return null;
    }
  }
  return { flags, time };
}

/**
 * Redis's getExpireMillisecondsOrReply: the absolute expiry in Unix ms of an EX/PX/EXAT/PXAT
 * argument (or of SETEX's seconds), or null after replying with the error. Zero, negative and
 * overflowing times are "invalid expire time in '<command>' command".
 */
function expireArgument(ctx: CommandContext, arg: Buffer, seconds: boolean, relative: boolean, name: string): number | null {
  let n = parseInt64(arg);
  if (n === null) {
    ctx.out.error(ERR.notInteger);
    return null;
  }
  if (n <= 0n || (seconds && n > LLONG_MAX / 1000n)) {
    ctx.out.error(ERR.invalidExpire(name));
    return null;
  }
  if (seconds) n *= 1000n;
  if (relative) {
    n += BigInt(Date.now());
    if (n > LLONG_MAX) {
      ctx.out.error(ERR.invalidExpire(name));
      return null;
    }
  }
  return Number(n);
}

function set(ctx: CommandContext, args: Buffer[]): void {
  const key = args[1];
  if (args.length === 3) {
    ctx.cache.set(key, args[2]);
    return ctx.out.simple('OK');
  }
  const opts = parseOptions(ctx, args, 3, true);
  if (opts === null) return;
  const { flags } = opts;
  let expiresAt = DEFAULT_EXPIRY;
  let exact = false;
  if (flags & OPT_ANY_EXPIRY) {
    const at = expireArgument(ctx, opts.time!, (flags & (OPT_EX | OPT_EXAT)) !== 0, (flags & (OPT_EX | OPT_PX)) !== 0, 'set');
    if (at === null) return;
    expiresAt = at;
    exact = (flags & (OPT_EXAT | OPT_PXAT)) !== 0;
  }
  let old: Uint8Array | null = null;
  if (flags & OPT_GET) old = readValue(ctx, key);
  if (flags & OPT_KEEPTTL) {
    // The key's current expiry, or none: a missing key is stored as by a plain SET.
    const current = expiryOf(ctx.cache, key);
    if (current !== null) {
      expiresAt = current;
      exact = current !== NO_EXPIRY;
    }
  }
  const mode = flags & OPT_NX ? STORE_NX : flags & OPT_XX ? STORE_XX : STORE_ALWAYS;
  const stored = storeValue(ctx.cache, key, args[2], expiresAt, exact, mode);
  if (flags & OPT_GET) {
    if (old === null) ctx.out.nil();
    else ctx.out.bulk(old);
  } else if (stored) {
    ctx.out.simple('OK');
  } else {
    ctx.out.nil();
  }
}

function setWithTime(ctx: CommandContext, args: Buffer[], seconds: boolean): void {
  const name = seconds ? 'setex' : 'psetex';
  const at = expireArgument(ctx, args[2], seconds, true, name);
  if (at === null) return;
  storeValue(ctx.cache, args[1], args[3], at);
  ctx.out.simple('OK');
}

function getex(ctx: CommandContext, args: Buffer[]): void {
  const opts = parseOptions(ctx, args, 2, false);
  if (opts === null) return;
  const { flags } = opts;
  let at = 0;
  if (flags & OPT_ANY_EXPIRY) {
    const t = expireArgument(ctx, opts.time!, (flags & (OPT_EX | OPT_EXAT)) !== 0, (flags & (OPT_EX | OPT_PX)) !== 0, 'getex');
    if (t === null) return;
    at = t;
  }
  const key = args[1];
  const value = readValue(ctx, key);
  if (value === null) return ctx.out.nil();
  if (flags & OPT_ANY_EXPIRY) {
    if (at <= Date.now()) ctx.cache.delete(key);
    else setExpiry(ctx.cache, key, at);
  } else if (flags & OPT_PERSIST) {
    setExpiry(ctx.cache, key, NO_EXPIRY);
  }
  ctx.out.bulk(value);
}

/** MSET / MSETNX refuse oversized keys and values before storing anything. */
function checkPairs(ctx: CommandContext, args: Buffer[], name: string): boolean {
  if (args.length % 2 === 0) {
    ctx.out.error(ERR.wrongArity(name));
    return false;
  }
  const { maxKeyBytes, maxValueBytes } = ctx.cache.options;
  for (let i = 1; i < args.length; i += 2) {
    if (args[i].length > maxKeyBytes) {
      ctx.out.error('ERR key exceeds maximum allowed size');
      return false;
    }
    if (args[i + 1].length > maxValueBytes) {
      ctx.out.error(ERR_TOO_BIG);
      return false;
    }
  }
  return true;
}

// ─── rewriting a value in place, keeping its TTL ────────────────────────────────────────────

/** The current value (no keyspace stats, as Redis's lookupKeyWrite) and its expiry. */
function current(ctx: CommandContext, key: Buffer): { value: Uint8Array | null; expiresAt: number } {
  const v = ctx.cache[kGetEncoded](key);
  if (v === null) return { value: null, expiresAt: DEFAULT_EXPIRY };
  const at = expiryOf(ctx.cache, key);
  return { value: v[0], expiresAt: at === null ? DEFAULT_EXPIRY : at };
}

function rewrite(ctx: CommandContext, key: Buffer, value: Uint8Array, expiresAt: number): void {
  storeValue(ctx.cache, key, value, expiresAt, expiresAt !== NO_EXPIRY && expiresAt !== DEFAULT_EXPIRY);
}

function incrBy(ctx: CommandContext, key: Buffer, by: bigint): void {
  const cur = current(ctx, key);
  let value = 0n;
  if (cur.value !== null) {
    const v = parseInt64(cur.value);
    if (v === null) return ctx.out.error(ERR.notInteger);
    value = v;
  }
  if ((by < 0n && value < 0n && by < LLONG_MIN - value) || (by > 0n && value > 0n && by > LLONG_MAX - value)) {
    return ctx.out.error(ERR.overflow);
  }
  const next = value + by;
  rewrite(ctx, key, Buffer.from(next.toString(), 'latin1'), cur.expiresAt);
  ctx.out.integer(next);
}

function incrByArg(ctx: CommandContext, args: Buffer[], negate: boolean): void {
  const by = parseInt64(args[2]);
  if (by === null) return ctx.out.error(ERR.notInteger);
  if (negate && by === LLONG_MIN) return ctx.out.error('ERR decrement would overflow');
  incrBy(ctx, args[1], negate ? -by : by);
}

function incrByFloat(ctx: CommandContext, args: Buffer[]): void {
  const key = args[1];
  const cur = current(ctx, key);
  const base = cur.value === null ? LD_ZERO : parseLongDouble(cur.value);
  if (base === null) return ctx.out.error(ERR.notFloat);
  const by = parseLongDouble(args[2]);
  if (by === null) return ctx.out.error(ERR.notFloat);
  const sum = addLongDouble(base, by);
  if (sum === null) return ctx.out.error('ERR increment would produce NaN or Infinity');
  const text = Buffer.from(formatLongDouble(sum), 'latin1');
  rewrite(ctx, key, text, cur.expiresAt);
  ctx.out.bulk(text);
}

function append(ctx: CommandContext, args: Buffer[]): void {
  const [, key, tail] = args;
  const cur = current(ctx, key);
  const head = cur.value ?? EMPTY;
  const length = head.length + tail.length;
  if (length > ctx.cache.options.maxValueBytes) return ctx.out.error(ERR_TOO_BIG);
  const next = Buffer.allocUnsafe(length);
  next.set(head, 0);
  next.set(tail, head.length);
  rewrite(ctx, key, next, cur.expiresAt);
  ctx.out.integer(length);
}

function setRange(ctx: CommandContext, args: Buffer[]): void {
  const [, key, , patch] = args;
  const offsetArg = parseInt64(args[2]);
  if (offsetArg === null) return ctx.out.error(ERR.notInteger);
  if (offsetArg < 0n) return ctx.out.error('ERR offset is out of range');
  const cur = current(ctx, key);
  const oldLength = cur.value?.length ?? 0;
  if (patch.length === 0) return ctx.out.integer(oldLength);
  if (offsetArg + BigInt(patch.length) > BigInt(ctx.cache.options.maxValueBytes)) return ctx.out.error(ERR_TOO_BIG);
  const offset = Number(offsetArg);
  const length = Math.max(oldLength, offset + patch.length);
  const next = Buffer.alloc(length);
  if (cur.value !== null) next.set(cur.value, 0);
  next.set(patch, offset);
  rewrite(ctx, key, next, cur.expiresAt);
  ctx.out.integer(length);
}

/**
 * MGET: the values in order, as many as fit in one slice (SLICE_BYTES of reply, SLICE_BUDGET_MS of
 * lookups) now, the rest streamed. Each value goes from the scratch area into the reply.
 */
function mget(ctx: CommandContext, args: Buffer[]): void {
  ctx.out.array(args.length - 1);
  let i = 1;
  const step: ReplyStep = (out) => {
    const startedAt = out.length;
    const deadline = performance.now() + SLICE_BUDGET_MS;
    for (let n = 1; i < args.length; i++, n++) {
      if (out.length - startedAt >= SLICE_BYTES || (n % MGET_CLOCK_EVERY === 0 && performance.now() > deadline)) return false;
      const v = readView(ctx, args[i]);
      if (v === null) out.nil();
      else if (v.length > ADMIT_CHECK_BYTES && !ctx.admit(v.length)) return true;
      else out.bulk(v);
    }
    return true;
  };
  if (!step(ctx.out)) ctx.stream(step);
}

/** GETRANGE with Redis's index rules: negative counts from the end, out of range clamps. */
function getRange(ctx: CommandContext, args: Buffer[]): void {
  const startArg = parseInt64(args[2]);
  if (startArg === null) return ctx.out.error(ERR.notInteger);
  const endArg = parseInt64(args[3]);
  if (endArg === null) return ctx.out.error(ERR.notInteger);
  // A view: only the range asked for is copied, into the reply.
  const value = readView(ctx, args[1]);
  if (value === null) return ctx.out.bulk(EMPTY);
  // Values are at most 4 GiB: clamping to ±2^53 keeps every comparison below exact.
  const clamp = (n: bigint) => Number(n > 2n ** 53n ? 2n ** 53n : n < -(2n ** 53n) ? -(2n ** 53n) : n);
  let start = clamp(startArg);
  let end = clamp(endArg);
  const n = value.length;
  if (start < 0 && end < 0 && start > end) return ctx.out.bulk(EMPTY);
  if (start < 0) start = n + start;
  if (end < 0) end = n + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= n) end = n - 1;
  if (start > end || n === 0) return ctx.out.bulk(EMPTY);
  if (end + 1 - start > ADMIT_CHECK_BYTES && !ctx.admit(end + 1 - start)) return;
  ctx.out.bulk(value.subarray(start, end + 1));
}

// ─── INCRBYFLOAT's arithmetic: x87 80-bit long double, as Redis computes it ──────────────────
//
// Redis parses both operands with strtold, adds them in `long double` and prints the sum with
// "%.17Lf", trailing zeros (and a bare '.') removed: so 10.5 + 0.1 is "10.6" and 1e20 is
// "100000000000000000000", but 1e10 + 0.1 is "10000000000.09999999962747097". A JS double would
// differ in the last digits, so the format is emulated exactly with BigInt: a value is
// (-1)^neg * m * 2^e with a 64-bit significand, every operation rounds to nearest, ties to even.

/** A finite x87 extended-precision value: (-1)^neg * m * 2^e, m < 2^64. */
interface LongDouble {
  neg: boolean;
  m: bigint;
  e: number;
}

const LD_ZERO: LongDouble = { neg: false, m: 0n, e: 0 };
const LD_SIGNIFICAND_BITS = 64;
/** Exponent of the smallest subnormal (2^-16382 * 2^-63). */
const LD_MIN_EXPONENT = -16445;
/** Largest exponent of a finite value with a 64-bit significand (below 2^16384). */
const LD_MAX_EXPONENT = 16384 - LD_SIGNIFICAND_BITS;
/** Redis refuses float strings this long or longer (MAX_LONG_DOUBLE_CHARS). */
const MAX_LONG_DOUBLE_CHARS = 5 * 1024;
/** Decimal magnitudes beyond these overflow or underflow a long double whatever the digits. */
const LD_MAX_DECIMAL_MAGNITUDE = 4940;
const LD_MIN_DECIMAL_MAGNITUDE = -4960;
const DECIMAL = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;
const HEXADECIMAL = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?$/;
const INFINITY = /^[+-]?(inf|infinity)$/i;
const POW10_17 = 10n ** 17n;

function bitLength(n: bigint): number {
  return n.toString(2).length;
}

/**
 * The long double nearest to num / den * 2^shift (num, den > 0), ties to even; subnormals
 * included. Null when it overflows.
 */
function roundLongDouble(neg: boolean, num: bigint, den: bigint, shift: number): LongDouble | null {
  // value lies in (2^(L-1), 2^(L+1)): start with the exponent that gives q >= 2^63.
  let e = Math.max(bitLength(num) - bitLength(den) + shift - LD_SIGNIFICAND_BITS, LD_MIN_EXPONENT);
  for (;;) {
    const k = shift - e;
    const n = k >= 0 ? num << BigInt(k) : num;
    const d = k >= 0 ? den : den << BigInt(-k);
    let q = n / d;
    if (q >> BigInt(LD_SIGNIFICAND_BITS) !== 0n) {
      e++;
      continue;
    }
    const twice = (n - q * d) * 2n;
    if (twice > d || (twice === d && (q & 1n) === 1n)) q++;
    if (q >> BigInt(LD_SIGNIFICAND_BITS) !== 0n) {
      q >>= 1n;
      e++;
    }
    if (e > LD_MAX_EXPONENT) return null;
    return { neg, m: q, e };
  }
}

/**
 * Redis's string2ld (strtold): decimal or hexadecimal, optional sign and exponent, no spaces.
 * Null when it is not a number, or overflows, or underflows to zero. An infinity parses, as with
 * strtold, as 'inf': every sum with it is then refused.
 */
function parseLongDouble(b: Uint8Array): LongDouble | 'inf' | null {
  if (b.length === 0 || b.length >= MAX_LONG_DOUBLE_CHARS) return null;
  const s = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  if (INFINITY.test(s)) return 'inf';
  let neg: boolean;
  let num: bigint;
  let den = 1n;
  let shift = 0;
  let m = HEXADECIMAL.exec(s);
  if (m !== null) {
    const [, sign, whole, frac = '', exp = '0'] = m;
    if (whole === '' && frac === '') return null;
    neg = sign === '-';
    num = BigInt('0x' + (whole + frac || '0'));
    if (num === 0n) return { neg, m: 0n, e: 0 };
    const p = exp.replace(/^[+-]?0*/, '').length > 6 ? (exp.startsWith('-') ? -1e6 : 1e6) : Number(exp);
    shift = p - 4 * frac.length;
    const magnitude = bitLength(num) + shift;
    if (magnitude > 16385) return null;
    if (magnitude < LD_MIN_EXPONENT - 1) return null;
  } else {
    m = DECIMAL.exec(s);
    if (m === null) return null;
    const [, sign, whole, frac = '', exp = '0'] = m;
    if (whole === '' && frac === '') return null;
    neg = sign === '-';
    const digits = (whole + frac).replace(/^0+/, '');
    if (digits === '') return { neg, m: 0n, e: 0 };
    const e10 = exp.replace(/^[+-]?0*/, '').length > 6 ? (exp.startsWith('-') ? -1e6 : 1e6) : Number(exp);
    const k = e10 - frac.length;
    const magnitude = digits.length - 1 + k;
    if (magnitude > LD_MAX_DECIMAL_MAGNITUDE || magnitude < LD_MIN_DECIMAL_MAGNITUDE) return null;
    num = BigInt(digits);
    if (k >= 0) num *= 10n ** BigInt(k);
    else den = 10n ** BigInt(-k);
  }
  const x = roundLongDouble(neg, num, den, shift);
  if (x === null || x.m === 0n) return null;
  return x;
}

/** a + b rounded to a long double; null when it is infinite (or NaN, for inf - inf). */
function addLongDouble(a: LongDouble | 'inf', b: LongDouble | 'inf'): LongDouble | null {
  if (a === 'inf' || b === 'inf') return null;
  const e = Math.min(a.e, b.e);
  const av = (a.neg ? -a.m : a.m) << BigInt(a.e - e);
  const bv = (b.neg ? -b.m : b.m) << BigInt(b.e - e);
  const sum = av + bv;
  if (sum === 0n) return { neg: a.neg && b.neg, m: 0n, e: 0 };
  return roundLongDouble(sum < 0n, sum < 0n ? -sum : sum, 1n, e);
}

/** printf("%.17Lf") with trailing zeros and a bare '.' removed, and "-0" written "0" (ld2string). */
function formatLongDouble(x: LongDouble): string {
  let scaled: bigint;
  if (x.e >= 0) {
    scaled = (x.m << BigInt(x.e)) * POW10_17;
  } else {
    const n = x.m * POW10_17;
    const bits = BigInt(-x.e);
    scaled = n >> bits;
    const twice = (n - (scaled << bits)) * 2n;
    const unit = 1n << bits;
    if (twice > unit || (twice === unit && (scaled & 1n) === 1n)) scaled++;
  }
  const digits = scaled.toString().padStart(18, '0');
  const whole = digits.slice(0, -17);
  const frac = digits.slice(-17).replace(/0+$/, '');
  const text = (x.neg ? '-' : '') + whole + (frac === '' ? '' : '.' + frac);
  return text === '-0' ? '0' : text;
}

/** Exposed for unit tests of the long-double emulation. @internal */
export const longDouble = { parse: parseLongDouble, add: addLongDouble, format: formatLongDouble };

// ─── the table ──────────────────────────────────────────────────────────────────────────────

/** The string family, with Redis 7's arity, flags and key positions. */
export const stringCommands: CommandSpec[] = [
  command('get', 2, ['readonly', 'fast'], [1, 1, 1], 'string', 'Returns the string value of a key.', (ctx, args) => {
    // The value is copied once, from the cache's scratch straight into the reply buffer.
    const v = ctx.cache[kGetView](args[1]);
    if (v === null) {
      ctx.server.counters.keyspaceMisses++;
      return ctx.out.nil();
    }
    ctx.server.counters.keyspaceHits++;
    if (v.length > ADMIT_CHECK_BYTES && !ctx.admit(v.length)) return;
    ctx.out.bulk(v);
  }),
  command('set', -3, ['write', 'denyoom'], [1, 1, 1], 'string', 'Sets the string value of a key, ignoring its type. The key is created if it doesn\'t exist.', set),
  command('setnx', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], 'string', 'Set the string value of a key only when the key doesn\'t exist.', (ctx, args) => {
    ctx.out.integer(ctx.cache.add(args[1], args[2]) ? 1 : 0);
  }),
  command('setex', 4, ['write', 'denyoom'], [1, 1, 1], 'string', 'Sets the string value and expiration time of a key. Creates the key if it doesn\'t exist.', (ctx, args) => setWithTime(ctx, args, true)),
  command('psetex', 4, ['write', 'denyoom'], [1, 1, 1], 'string', 'Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn\'t exist.', (ctx, args) => setWithTime(ctx, args, false)),
  command('getset', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], 'string', 'Returns the previous string value of a key after setting it to a new value.', (ctx, args) => {
    const old = readValue(ctx, args[1]);
    ctx.cache.set(args[1], args[2]);
    if (old === null) ctx.out.nil();
    else ctx.out.bulk(old);
  }),
  command('getdel', 2, ['write', 'fast'], [1, 1, 1], 'string', 'Returns the string value of a key after deleting the key.', (ctx, args) => {
    const v = readValue(ctx, args[1]);
    if (v === null) return ctx.out.nil();
    ctx.cache.delete(args[1]);
    ctx.out.bulk(v);
  }),
  command('getex', -2, ['write', 'fast'], [1, 1, 1], 'string', 'Returns the string value of a key after setting its expiration time.', getex),
  command('mget', -2, ['readonly', 'fast'], [1, -1, 1], 'string', 'Atomically returns the string values of one or more keys.', mget),
  command('mset', -3, ['write', 'denyoom'], [1, -1, 2], 'string', 'Atomically creates or modifies the string values of one or more keys.', (ctx, args) => {
    if (!checkPairs(ctx, args, 'mset')) return;
    for (let i = 1; i < args.length; i += 2) ctx.cache.set(args[i], args[i + 1]);
    ctx.out.simple('OK');
  }),
  /*
   * MSETNX checks every key, then sets every key. The server runs one command at a time, so no
   * other server command sees it half done; a thread using the same cache in-process may.
   */
  command('msetnx', -3, ['write', 'denyoom'], [1, -1, 2], 'string', 'Atomically modifies the string values of one or more keys only when all keys don\'t exist.', (ctx, args) => {
    if (!checkPairs(ctx, args, 'msetnx')) return;
    for (let i = 1; i < args.length; i += 2) if (ctx.cache.has(args[i])) return ctx.out.integer(0);
    for (let i = 1; i < args.length; i += 2) ctx.cache.set(args[i], args[i + 1]);
    ctx.out.integer(1);
  }),
  command('incr', 2, ['write', 'denyoom', 'fast'], [1, 1, 1], 'string', 'Increments the integer value of a key by one. Uses 0 as initial value if the key doesn\'t exist.', (ctx, args) => incrBy(ctx, args[1], 1n)),
  command('decr', 2, ['write', 'denyoom', 'fast'], [1, 1, 1], 'string', 'Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn\'t exist.', (ctx, args) => incrBy(ctx, args[1], -1n)),
  command('incrby', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], 'string', 'Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn\'t exist.', (ctx, args) => incrByArg(ctx, args, false)),
  command('decrby', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], 'string', 'Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn\'t exist.', (ctx, args) => incrByArg(ctx, args, true)),
  command('incrbyfloat', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], 'string', 'Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn\'t exist.', incrByFloat),
  command('append', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], 'string', 'Appends a string to the value of a key. Creates the key if it doesn\'t exist.', append),
  command('strlen', 2, ['readonly', 'fast'], [1, 1, 1], 'string', 'Returns the length of a string value.', (ctx, args) => {
    ctx.out.integer(readValue(ctx, args[1])?.length ?? 0);
  }),
  command('getrange', 4, ['readonly'], [1, 1, 1], 'string', 'Returns a substring of the string stored at a key.', getRange),
  command('setrange', 4, ['write', 'denyoom'], [1, 1, 1], 'string', 'Overwrites a part of a string value with another by an offset. Creates the key if it doesn\'t exist.', setRange),
];
