/**
 * Keyspace commands: DEL, UNLINK, EXISTS, TOUCH, TYPE, RENAME, RENAMENX, the EXPIRE and TTL
 * families, PERSIST, KEYS, SCAN and RANDOMKEY; and the expiry helpers the string family shares.
 *
 * Expiry times are absolute Unix milliseconds, as Redis keeps them. The cache stores an absolute
 * expiry per entry, and its core's `ttl(key, now, setTo)` reads it relative to a `now` we pass and
 * can overwrite it with an absolute time, so EXPIREAT / PEXPIRETIME round-trip exactly. Storing a
 * value only takes a relative TTL (counted from the cache's clock, at most `ttlResolution` ms
 * stale): that is what EX / PX mean anyway, while a value stored with an absolute expiry (EXAT,
 * PXAT, KEEPTTL, or a rewrite that keeps the TTL) has it written again exactly afterwards.
 * Times past 2^53 ms (year 287396) lose precision: the core keeps a double.
 *
 * Every value the server stores is bytes. Multi-key commands are not atomic across shards; the
 * server runs one command at a time, so they are atomic with respect to other server commands,
 * not to other threads using the same cache in-process.
 *
 * KEYS, and SCAN with a COUNT over SCAN_SLICE_KEYS, walk the keyspace in slices of about
 * SLICE_BUDGET_MS (registry.ts), one per event-loop turn, and stream their reply: other clients
 * are served between two slices. So they are not atomic either: as with SCAN, a key present for
 * the whole walk is returned (KEYS returns it once), one added or removed meanwhile may or may
 * not be.
 */
import {
  command, ERR, parseInteger, word, SLICE_BUDGET_MS, SLICE_BYTES, type CommandContext, type CommandSpec, type ReplyStep,
} from './registry.js';
import type { Cache } from '../cache/cache.js';
import { kGetEncoded, kGetView, kStoreEncoded } from '../cache/internal.js';
import { RespWriter } from '../resp/writer.js';
import { compileGlob, type GlobMatcher } from '../util/glob.js';

/** `expiresAt` for storeValue: apply the cache's default TTL (what a plain SET gets). */
export const DEFAULT_EXPIRY = -1;
/** `expiresAt` meaning no expiry. */
export const NO_EXPIRY = 0;
/** Largest signed 64-bit integer, for Redis's overflow checks on expire times. */
const LLONG_MAX = 9223372036854775807n;
const LLONG_MIN = -9223372036854775808n;
/** Keys visited per scanStep call of a walk (one call holds one shard lock); the slice's clock is read between two. */
const WALK_BATCH = 1024;
/** SCAN visits up to this many keys in the command's own turn; a larger COUNT walks in slices. */
const SCAN_SLICE_KEYS = 4096;
/** SCAN's default COUNT, as in Redis. */
const SCAN_DEFAULT_COUNT = 10;

/** Redis's string2ll: registry's parseInteger, except that `-0` is not an integer either. */
export function parseInt64(b: Uint8Array): bigint | null {
  if (b.length === 2 && b[0] === 0x2d && b[1] === 0x30) return null;
  return parseInteger(Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/**
 * The key's absolute expiry in Unix ms: NO_EXPIRY when it has none, null when the key is absent.
 * Reads no value, counts nothing and leaves eviction state alone (like Redis's LOOKUP_NOTOUCH).
 */
export function expiryOf(cache: Cache, key: Uint8Array): number | null {
  const at = cache.expiresAt(key);
  if (at === undefined) return null;
  return at === Infinity ? NO_EXPIRY : at;
}

/** Sets an existing key's absolute expiry (NO_EXPIRY removes it). False when the key is absent. */
export function setExpiry(cache: Cache, key: Uint8Array, expiresAt: number): boolean {
  return cache.expireAt(key, expiresAt === NO_EXPIRY ? Infinity : expiresAt);
}

/** storeValue's conditions: always, only when absent (NX), only when present (XX). */
export const STORE_ALWAYS = 0;
export const STORE_NX = 1;
export const STORE_XX = 2;
const NO_TTL = Object.freeze({ ttl: 0 });

/**
 * Stores `value` (bytes) under `key` when `mode` allows; returns whether it did. `expiresAt` is
 * DEFAULT_EXPIRY (the cache's default TTL, what a plain SET gets), NO_EXPIRY, or Unix ms: with
 * `exact`, that time is written again after the store (EXAT, PXAT, KEEPTTL); without, it becomes
 * a TTL counted by the cache's clock (EX, PX), which saves a call. A time already past deletes
 * the key instead of storing, as Redis does (and counts as stored).
 */
export function storeValue(
  cache: Cache, key: Uint8Array, value: Uint8Array, expiresAt: number, exact = false, mode = STORE_ALWAYS,
): boolean {
  let options: { ttl: number } | undefined;
  if (expiresAt === NO_EXPIRY) {
    options = NO_TTL;
  } else if (expiresAt !== DEFAULT_EXPIRY) {
    const ms = expiresAt - Date.now();
    if (ms <= 0) {
      const found = cache.has(key);
      if ((mode === STORE_NX && found) || (mode === STORE_XX && !found)) return false;
      if (found) cache.delete(key);
      return true;
    }
    options = { ttl: ms };
  }
  let stored = true;
  if (mode === STORE_NX) stored = cache.add(key, value, options);
  else if (mode === STORE_XX) stored = cache.replace(key, value, options);
  else cache.set(key, value, options);
  if (stored && exact && options !== NO_TTL && options !== undefined) setExpiry(cache, key, expiresAt);
  return stored;
}

/** Reads a key's value bytes as a read command does: counts a keyspace hit or miss. */
export function readValue(ctx: CommandContext, key: Uint8Array): Uint8Array | null {
  const v = ctx.cache[kGetEncoded](key);
  if (v === null) {
    ctx.server.counters.keyspaceMisses++;
    return null;
  }
  ctx.server.counters.keyspaceHits++;
  return v[0];
}

/**
 * Like readValue without the copy: the value as a view into the cache's scratch area, valid only
 * until the next call on the cache. Copy it into the reply at once (RespWriter.bulk does).
 */
export function readView(ctx: CommandContext, key: Uint8Array): Uint8Array | null {
  const v = ctx.cache[kGetView](key);
  if (v === null) {
    ctx.server.counters.keyspaceMisses++;
    return null;
  }
  ctx.server.counters.keyspaceHits++;
  return v;
}

/** True when the key is present, counting a keyspace hit or miss (EXISTS, TYPE, TTL…). */
function present(ctx: CommandContext, key: Uint8Array): boolean {
  const found = ctx.cache.has(key);
  if (found) ctx.server.counters.keyspaceHits++;
  else ctx.server.counters.keyspaceMisses++;
  return found;
}

const EXPIRE_NX = 1;
const EXPIRE_XX = 2;
const EXPIRE_GT = 4;
const EXPIRE_LT = 8;

/**
 * EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT, as Redis 7's expireGenericCommand: options first, then
 * the time (with its overflow checks), then NX / XX / GT / LT against the current expiry (none
 * counts as infinite). A time already past deletes the key and replies 1.
 */
function expireGeneric(ctx: CommandContext, args: Buffer[], relative: boolean, unitMs: 1 | 1000): void {
  const o = ctx.out;
  let flags = 0;
  for (let i = 3; i < args.length; i++) {
    const opt = word(args[i]);
    if (opt === 'NX') flags |= EXPIRE_NX;
    else if (opt === 'XX') flags |= EXPIRE_XX;
    else if (opt === 'GT') flags |= EXPIRE_GT;
    else if (opt === 'LT') flags |= EXPIRE_LT;
    else return o.error(`ERR Unsupported option ${args[i].toString('latin1')}`);
  }
  if ((flags & EXPIRE_NX) && (flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
    return o.error('ERR NX and XX, GT or LT options at the same time are not compatible');
  }
  if ((flags & EXPIRE_GT) && (flags & EXPIRE_LT)) return o.error('ERR GT and LT options at the same time are not compatible');
  let when = parseInt64(args[2]);
  if (when === null) return o.error(ERR.notInteger);
  const name = args[0].toString('latin1').toLowerCase();
  if (unitMs === 1000) {
    if (when > LLONG_MAX / 1000n || when < LLONG_MIN / 1000n) return o.error(ERR.invalidExpire(name));
    when *= 1000n;
  }
  const now = Date.now();
  if (relative) {
    if (when > LLONG_MAX - BigInt(now)) return o.error(ERR.invalidExpire(name));
    when += BigInt(now);
  }
  const key = args[1];
  const current = expiryOf(ctx.cache, key);
  if (current === null) return o.integer(0);
  const at = Number(when);
  if (flags !== 0) {
    if ((flags & EXPIRE_NX) && current !== NO_EXPIRY) return o.integer(0);
    if ((flags & EXPIRE_XX) && current === NO_EXPIRY) return o.integer(0);
    if ((flags & EXPIRE_GT) && (current === NO_EXPIRY || at <= current)) return o.integer(0);
    if ((flags & EXPIRE_LT) && current !== NO_EXPIRY && at >= current) return o.integer(0);
  }
  if (at <= now) ctx.cache.delete(key);
  else setExpiry(ctx.cache, key, at);
  o.integer(1);
}

/** TTL / PTTL / EXPIRETIME / PEXPIRETIME, as Redis 7's ttlGenericCommand (seconds are rounded). */
function ttlGeneric(ctx: CommandContext, key: Buffer, ms: boolean, absolute: boolean): void {
  const now = Date.now();
  const at = expiryOf(ctx.cache, key);
  if (at === null) {
    ctx.server.counters.keyspaceMisses++;
    return ctx.out.integer(-2);
  }
  ctx.server.counters.keyspaceHits++;
  if (at === NO_EXPIRY) return ctx.out.integer(-1);
  const v = Math.max(0, absolute ? at : at - now);
  ctx.out.integer(ms ? v : Math.floor((v + 500) / 1000));
}

function rename(ctx: CommandContext, args: Buffer[], nx: boolean): void {
  const [, src, dst] = args;
  const value = ctx.cache[kGetEncoded](src);
  if (value === null) return ctx.out.error(ERR.noSuchKey);
  if (src.equals(dst)) return nx ? ctx.out.integer(0) : ctx.out.simple('OK');
  const expiresAt = expiryOf(ctx.cache, src);
  if (nx && ctx.cache.has(dst)) return ctx.out.integer(0);
  // Stored with its original type flag, so a value another thread stored as a string (or an
  // object) stays one under its new name.
  const ms = expiresAt === null || expiresAt === NO_EXPIRY ? 0 : Math.max(1, expiresAt - Date.now());
  ctx.cache[kStoreEncoded](dst, value[0], value[1], ms);
  if (ms > 0) setExpiry(ctx.cache, dst, expiresAt!);
  ctx.cache.delete(src);
  return nx ? ctx.out.integer(1) : ctx.out.simple('OK');
}

/**
 * A walk over the keyspace from a cursor, in slices: each `slice()` visits keys for about
 * SLICE_BUDGET_MS (WALK_BATCH at a time, each batch holding one shard lock) and encodes those
 * matching `match` (null: all) as bulk strings into `body`, until the walk has visited `limit` keys
 * or come back to cursor 0. With `unique`, a key is kept once: a walk yields a key twice when a
 * shard's index grows between two batches (another thread, or, between slices, another client).
 */
class KeyWalk {
  readonly body = new RespWriter();
  /** Keys encoded into body. */
  matched = 0;
  cursor: number;
  #visited = 0;
  readonly #seen: Set<string> | null;

  constructor(readonly cache: Cache, cursor: number, readonly match: GlobMatcher | null, readonly limit: number, unique: boolean) {
    this.cursor = cursor;
    this.#seen = unique ? new Set() : null;
  }

  /** Visits the next keys; true when the walk is over. */
  slice(): boolean {
    const deadline = performance.now() + SLICE_BUDGET_MS;
    do {
      const step = this.cache.scanStep(this.cursor, Math.min(WALK_BATCH, this.limit - this.#visited));
      this.#visited += step.keys.length;
      for (const k of step.keys) {
        if (this.match === null && this.#seen === null) {
          this.body.bulk(k);
          this.matched++;
          continue;
        }
        const text = k.toString('latin1');
        if ((this.match !== null && !this.match(k)) || this.#seen?.has(text)) continue;
        this.#seen?.add(text);
        this.body.bulk(k);
        this.matched++;
      }
      this.cursor = step.cursor;
      // An empty step that did not end the walk cannot happen (scanStep crosses empty shards).
      if (this.cursor === 0 || this.#visited >= this.limit || step.keys.length === 0) return true;
    } while (performance.now() < deadline);
    return false;
  }
}

/**
 * Streams `head` (written now by the caller) followed by the walk's keys: walks in slices until it
 * is over, then writes the array header and the encoded keys, SLICE_BYTES per slice.
 */
function streamWalk(ctx: CommandContext, walk: KeyWalk, head: (out: RespWriter) => void): void {
  let body: Buffer | null = null;
  let at = 0;
  const step: ReplyStep = (out) => {
    if (body === null) {
      if (!walk.slice()) return false;
      head(out);
      out.array(walk.matched);
      body = walk.body.take();
    }
    const end = Math.min(body.length, at + SLICE_BYTES);
    if (end > at) {
      if (!ctx.admit(end - at)) return true;
      out.raw(body.subarray(at, end));
      at = end;
    }
    return at === body.length;
  };
  if (!step(ctx.out)) ctx.stream(step);
}

/** A glob compiled once, matching keys byte for byte as Redis does; null for `*` (every key). */
/** A matcher that keeps no key (SCAN TYPE of a type no key has). */
const NO_KEY: GlobMatcher = () => false;

function globOf(pattern: Buffer): GlobMatcher | null {
  return pattern.length === 1 && pattern[0] === 0x2a ? null : compileGlob(pattern);
}

function scan(ctx: CommandContext, args: Buffer[]): void {
  const o = ctx.out;
  const cursorText = args[1].toString('latin1');
  // Redis reads the cursor with strtoul: digits, an optional sign (a negative one wraps around).
  if (!/^[+-]?[0-9]+$/.test(cursorText) || BigInt(cursorText) > 18446744073709551615n) return o.error('ERR invalid cursor');
  let count = SCAN_DEFAULT_COUNT;
  let match: GlobMatcher | null = null;
  let typeMatches = true;
  for (let i = 2; i < args.length; i++) {
    const opt = word(args[i]);
    const more = i + 1 < args.length;
    if (opt === 'COUNT' && more) {
      const n = parseInt64(args[++i]);
      if (n === null) return o.error(ERR.notInteger);
      if (n < 1n) return o.error(ERR.syntax);
      count = n > 1_000_000n ? 1_000_000 : Number(n);
    } else if (opt === 'MATCH' && more) {
      match = globOf(args[++i]);
    } else if (opt === 'TYPE' && more) {
      typeMatches = word(args[++i]) === 'STRING';
    } else {
      return o.error(ERR.syntax);
    }
  }
  // A negative cursor wraps to one past every shard; so does any cursor beyond them: the walk ends.
  const start = cursorText.startsWith('-') ? -1 : BigInt(cursorText);
  const cursor = start === -1 || start > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(start);
  // Visits about `count` keys (before MATCH / TYPE filter them).
  if (count > SCAN_SLICE_KEYS) {
    // TYPE other than string: every key is visited, none kept (a pattern that matches nothing).
    const walk = new KeyWalk(ctx.cache, cursor, typeMatches ? match : NO_KEY, count, false);
    streamWalk(ctx, walk, (out) => {
      out.array(2);
      out.bulk(String(walk.cursor));
    });
    return;
  }
  const step = ctx.cache.scanStep(cursor, count);
  const keys = typeMatches ? step.keys.filter((k) => match === null || match(k)) : [];
  o.array(2);
  o.bulk(String(step.cursor));
  o.array(keys.length);
  for (const k of keys) o.bulk(k);
}

function deleteKeys(ctx: CommandContext, args: Buffer[]): void {
  let n = 0;
  for (let i = 1; i < args.length; i++) if (ctx.cache.delete(args[i])) n++;
  ctx.out.integer(n);
}

/** The keyspace family, with Redis 7's arity, flags and key positions. */
export const keyCommands: CommandSpec[] = [
  command('del', -2, ['write'], [1, -1, 1], 'keyspace', 'Deletes one or more keys.', deleteKeys),
  command('unlink', -2, ['write', 'fast'], [1, -1, 1], 'keyspace', 'Asynchronously deletes one or more keys.', deleteKeys),
  command('exists', -2, ['readonly', 'fast'], [1, -1, 1], 'keyspace', 'Determines whether one or more keys exist.', (ctx, args) => {
    let n = 0;
    for (let i = 1; i < args.length; i++) if (present(ctx, args[i])) n++;
    ctx.out.integer(n);
  }),
  command('touch', -2, ['readonly', 'fast'], [1, -1, 1], 'keyspace', 'Returns the number of existing keys out of those specified after updating the time they were last accessed.', (ctx, args) => {
    let n = 0;
    for (let i = 1; i < args.length; i++) if (readValue(ctx, args[i]) !== null) n++;
    ctx.out.integer(n);
  }),
  command('type', 2, ['readonly', 'fast'], [1, 1, 1], 'keyspace', 'Determines the type of value stored at a key.', (ctx, args) => {
    ctx.out.simple(present(ctx, args[1]) ? 'string' : 'none');
  }),
  command('rename', 3, ['write'], [1, 2, 1], 'keyspace', 'Renames a key and overwrites the destination.', (ctx, args) => rename(ctx, args, false)),
  command('renamenx', 3, ['write', 'fast'], [1, 2, 1], 'keyspace', 'Renames a key only when the target key name doesn\'t exist.', (ctx, args) => rename(ctx, args, true)),
  command('expire', -3, ['write', 'fast'], [1, 1, 1], 'keyspace', 'Sets the expiration time of a key in seconds.', (ctx, args) => expireGeneric(ctx, args, true, 1000)),
  command('pexpire', -3, ['write', 'fast'], [1, 1, 1], 'keyspace', 'Sets the expiration time of a key in milliseconds.', (ctx, args) => expireGeneric(ctx, args, true, 1)),
  command('expireat', -3, ['write', 'fast'], [1, 1, 1], 'keyspace', 'Sets the expiration time of a key to a Unix timestamp.', (ctx, args) => expireGeneric(ctx, args, false, 1000)),
  command('pexpireat', -3, ['write', 'fast'], [1, 1, 1], 'keyspace', 'Sets the expiration time of a key to a Unix milliseconds timestamp.', (ctx, args) => expireGeneric(ctx, args, false, 1)),
  command('ttl', 2, ['readonly', 'fast'], [1, 1, 1], 'keyspace', 'Returns the expiration time in seconds of a key.', (ctx, args) => ttlGeneric(ctx, args[1], false, false)),
  command('pttl', 2, ['readonly', 'fast'], [1, 1, 1], 'keyspace', 'Returns the expiration time in milliseconds of a key.', (ctx, args) => ttlGeneric(ctx, args[1], true, false)),
  command('expiretime', 2, ['readonly', 'fast'], [1, 1, 1], 'keyspace', 'Returns the expiration time of a key as a Unix timestamp.', (ctx, args) => ttlGeneric(ctx, args[1], false, true)),
  command('pexpiretime', 2, ['readonly', 'fast'], [1, 1, 1], 'keyspace', 'Returns the expiration time of a key as a Unix milliseconds timestamp.', (ctx, args) => ttlGeneric(ctx, args[1], true, true)),
  command('persist', 2, ['write', 'fast'], [1, 1, 1], 'keyspace', 'Removes the expiration time of a key.', (ctx, args) => {
    const at = expiryOf(ctx.cache, args[1]);
    if (at === null || at === NO_EXPIRY) return ctx.out.integer(0);
    setExpiry(ctx.cache, args[1], NO_EXPIRY);
    ctx.out.integer(1);
  }),
  command('keys', 2, ['readonly', '@dangerous'], [0, 0, 0], 'keyspace', 'Returns all key names that match a pattern.', (ctx, args) => {
    streamWalk(ctx, new KeyWalk(ctx.cache, 0, globOf(args[1]), Infinity, true), () => undefined);
  }),
  command('scan', -2, ['readonly'], [0, 0, 0], 'keyspace', 'Iterates over the key names in the database.', scan),
  command('randomkey', 1, ['readonly'], [0, 0, 0], 'keyspace', 'Returns a random key name from the database.', (ctx) => {
    const k = ctx.cache.randomKey();
    if (k === undefined) ctx.out.nil();
    else ctx.out.bulk(k);
  }),
];
