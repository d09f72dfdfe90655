/**
 * Users and permissions, in the manner of Redis 6/7 ACLs: users with passwords (kept as SHA-256
 * hex, as Redis keeps them), on/off, command rules by category (`+@read`, `-@dangerous`), by
 * command (`+get`, `-flushall`) and by subcommand (`-client|kill`), and key patterns (`~cache:*`,
 * `allkeys`). The ACL command manages them; AUTH and HELLO authenticate against them.
 *
 * Rules are kept as given, compacted as Redis 7.2 compacts them (a base of `+@all` or `-@all`,
 * then each later rule, a repeated target replacing its earlier rule), and are the one source of
 * truth: ACL LIST prints them, and a user's permissions are computed from them when they change,
 * into one byte per command id. The connection then checks a command with one read of
 * `user.unrestricted` (true for the default user unless restricted) and, for a restricted user,
 * one array read by the spec's id. A command registered after the rules were set (MESH, when a
 * mesh attaches) is computed on its first check.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { compileGlob, type GlobMatcher } from '../util/glob.js';
import {
  ACL_CATEGORIES, categoryBit, command, ERR, withSubcommands, word,
  type AclSubject, type CommandContext, type CommandSpec, type CommandTable, type SubcommandSpec, type UserDirectory,
} from './registry.js';

/** Longest user name, password or pattern a rule may carry, in bytes (Redis caps passwords at 512 for AUTH). */
export const MAX_RULE_BYTES = 4096;

/** Permission bytes: a command id not computed yet, allowed, denied. */
const UNKNOWN = 0;
const ALLOWED = 1;
const DENIED = 2;

/** A parsed command rule. */
interface CommandRule {
  /** As written (lower-case): '+@read', '-flushall', '+client|id'. */
  readonly text: string;
  readonly allow: boolean;
  /** A category bit, or 0 for a command or subcommand rule. */
  readonly category: number;
  /** The command or `command|sub` named, or '' for a category rule. */
  readonly target: string;
}

/** SHA-256 hex of a password, as Redis stores it. */
export function hashPassword(password: Buffer | string): string {
  return createHash('sha256').update(password).digest('hex');
}

const HASH_RE = /^[0-9a-f]{64}$/;

/** One user. Its object stays the same across ACL SETUSER, so connected clients see new rules at once. */
export class AclUser implements AclSubject {
  readonly name: string;
  enabled = false;
  nopass = false;
  /** SHA-256 hex of each password, in the order added. */
  passwords: string[] = [];
  allKeys = false;
  keyPatterns: string[] = [];
  allChannels = false;
  channels: string[] = [];
  /** The base of the command rules: `+@all` (true) or `-@all`. */
  allCommands = false;
  rules: CommandRule[] = [];
  unrestricted = false;
  #keyMatchers: GlobMatcher[] = [];
  /** By command id: UNKNOWN, ALLOWED or DENIED. */
  #allowed = new Uint8Array(0);
  #table: CommandTable | null = null;

  constructor(name: string) {
    this.name = name;
  }

  deny(spec: CommandSpec, args: Buffer[]): string | null {
    let sub: SubcommandSpec | undefined;
    if (spec.subcommands !== null && args.length > 1) sub = spec.subcommands.get(args[1].toString('latin1').toUpperCase());
    const id = sub === undefined ? spec.id : sub.id;
    let v = id < this.#allowed.length ? this.#allowed[id] : UNKNOWN;
    if (v === UNKNOWN) v = this.#compute(spec, sub);
    if (v === DENIED) return ERR.noPermCommand(this.name, sub === undefined ? spec.name : sub.name);
    if (this.allKeys || spec.firstKey <= 0) return null;
    const last = spec.lastKey < 0 ? args.length + spec.lastKey : Math.min(spec.lastKey, args.length - 1);
    const step = spec.step > 0 ? spec.step : 1;
    for (let i = spec.firstKey; i <= last; i += step) {
      const key = args[i];
      if (!this.#keyMatchers.some((match) => match(key))) return ERR.noPermKey(this.name, key.toString('latin1'));
    }
    return null;
  }

  /** Whether the user may run `spec` (or its subcommand `sub`), from the rules; remembers it. */
  #compute(spec: CommandSpec, sub: SubcommandSpec | undefined): number {
    let allow = this.allCommands;
    // As in Redis, commands any client may send before AUTH (AUTH, HELLO, QUIT) are never denied.
    if (spec.flags.includes('noauth')) allow = true;
    else {
      for (const r of this.rules) {
        if (r.category !== 0 ? ((spec.categories | (sub?.categories ?? 0)) & r.category) !== 0 : r.target === spec.name || r.target === sub?.name) {
          allow = r.allow;
        }
      }
    }
    const v = allow ? ALLOWED : DENIED;
    const id = sub === undefined ? spec.id : sub.id;
    if (id >= this.#allowed.length) {
      const grown = new Uint8Array(Math.max(id + 1, this.#allowed.length * 2));
      grown.set(this.#allowed);
      this.#allowed = grown;
    }
    this.#allowed[id] = v;
    return v;
  }

  /** Recomputes the permissions of every command in `table` (after a change of rules). */
  refresh(table: CommandTable | null): void {
    this.#table = table;
    this.#allowed = new Uint8Array(this.#allowed.length);
    this.unrestricted = this.allCommands && this.allKeys && this.rules.every((r) => r.allow);
    // Rule text is read byte for byte (latin1), as keys are: a pattern matches the key's bytes.
    this.#keyMatchers = this.keyPatterns.map((p) => compileGlob(Buffer.from(p, 'latin1')));
    if (table === null) return;
    for (const spec of table.all()) {
      this.#compute(spec, undefined);
      if (spec.subcommands !== null) for (const sub of spec.subcommands.values()) this.#compute(spec, sub);
    }
  }

  /** Whether `password` is one of this user's (compared by hash, in constant time). */
  checkPassword(password: Buffer): boolean {
    if (this.nopass) return true;
    const h = Buffer.from(hashPassword(password), 'latin1');
    let ok = false;
    for (const p of this.passwords) if (timingSafeEqual(h, Buffer.from(p, 'latin1'))) ok = true;
    return ok;
  }

  /** The command rules as ACL LIST and ACL GETUSER show them: `+@all -@dangerous`. */
  describeCommands(): string {
    return [this.allCommands ? '+@all' : '-@all', ...this.rules.map((r) => r.text)].join(' ');
  }

  /** The key patterns as ACL GETUSER shows them. */
  describeKeys(): string {
    return this.allKeys ? '~*' : this.keyPatterns.map((p) => '~' + p).join(' ');
  }

  /** The channel patterns as ACL GETUSER shows them. */
  describeChannels(): string {
    return this.allChannels ? '&*' : this.channels.map((p) => '&' + p).join(' ');
  }

  /** The user's rules in Redis's ACL LIST order (flags, passwords, keys, channels, commands). */
  describe(): string {
    const parts = [this.enabled ? 'on' : 'off'];
    if (this.nopass) parts.push('nopass');
    for (const p of this.passwords) parts.push('#' + p);
    if (this.allKeys) parts.push('~*');
    else for (const p of this.keyPatterns) parts.push('~' + p);
    if (this.allChannels) parts.push('&*');
    else {
      parts.push('resetchannels');
      for (const c of this.channels) parts.push('&' + c);
    }
    parts.push(this.describeCommands());
    return parts.join(' ');
  }

  /** A copy to stage changes on (ACL SETUSER applies all of its rules or none). */
  clone(): AclUser {
    const u = new AclUser(this.name);
    u.copyFrom(this);
    return u;
  }

  /** Takes `src`'s rules and passwords (keeping this object, which clients hold), and recomputes. */
  copyFrom(src: AclUser): void {
    this.enabled = src.enabled;
    this.nopass = src.nopass;
    this.passwords = [...src.passwords];
    this.allKeys = src.allKeys;
    this.keyPatterns = [...src.keyPatterns];
    this.allChannels = src.allChannels;
    this.channels = [...src.channels];
    this.allCommands = src.allCommands;
    this.rules = [...src.rules];
    this.refresh(this.#table);
  }

  /**
   * Applies one rule (Redis's ACL SETUSER syntax); returns Redis's error description when it is
   * not valid, else null. `table` resolves command names. Does not recompute the permissions.
   */
  apply(rule: string, table: CommandTable): string | null {
    if (rule === '') return null;
    if (Buffer.byteLength(rule) > MAX_RULE_BYTES) return `Rule longer than ${MAX_RULE_BYTES} bytes`;
    const lower = rule.toLowerCase();
    switch (lower) {
      case 'on': this.enabled = true; return null;
      case 'off': this.enabled = false; return null;
      case 'nopass': this.nopass = true; this.passwords = []; return null;
      case 'resetpass': this.nopass = false; this.passwords = []; return null;
      case 'allkeys': case '~*': this.allKeys = true; this.keyPatterns = []; return null;
      case 'resetkeys': this.allKeys = false; this.keyPatterns = []; return null;
      case 'allchannels': case '&*': this.allChannels = true; this.channels = []; return null;
      case 'resetchannels': this.allChannels = false; this.channels = []; return null;
      case 'allcommands': case '+@all': this.allCommands = true; this.rules = []; return null;
      case 'nocommands': case '-@all': this.allCommands = false; this.rules = []; return null;
      case 'reset':
        for (const r of ['resetpass', 'resetkeys', 'resetchannels', 'off', '-@all']) this.apply(r, table);
        return null;
      case 'sanitize-payload': case 'skip-sanitize-payload': return null;
    }
    const c = rule[0];
    if (c === '>' || c === '#' || c === '<' || c === '!') {
      let hash: string;
      if (c === '>' || c === '<') hash = hashPassword(Buffer.from(rule.slice(1), 'latin1'));
      else {
        hash = rule.slice(1);
        if (!HASH_RE.test(hash)) return 'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters';
      }
      if (c === '>' || c === '#') {
        if (!this.passwords.includes(hash)) this.passwords.push(hash);
        this.nopass = false;
      } else {
        const i = this.passwords.indexOf(hash);
        if (i < 0) return 'The password you are trying to remove from the user does not exist';
        this.passwords.splice(i, 1);
      }
      return null;
    }
    if (c === '~') {
      if (this.allKeys) return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
      const p = rule.slice(1);
      if (/[\s\0]/.test(p)) return 'Syntax error';
      if (!this.keyPatterns.includes(p)) this.keyPatterns.push(p);
      return null;
    }
    if (c === '&') {
      if (this.allChannels) return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
      const p = rule.slice(1);
      if (/[\s\0]/.test(p)) return 'Syntax error';
      if (!this.channels.includes(p)) this.channels.push(p);
      return null;
    }
    if (c === '+' || c === '-') {
      const allow = c === '+';
      let category = 0;
      let target = '';
      if (lower[1] === '@') {
        category = categoryBit(lower.slice(2));
        if (category === 0) return 'Unknown command or category name in ACL';
      } else {
        const name = lower.slice(1);
        const bar = name.indexOf('|');
        const spec = table.get(bar < 0 ? name : name.slice(0, bar));
        if (spec === undefined) return 'Unknown command or category name in ACL';
        if (bar >= 0) {
          const sub = name.slice(bar + 1);
          if (sub === '' || sub.includes('|')) return 'Syntax error';
          if (spec.subcommands === null || !spec.subcommands.has(sub.toUpperCase())) {
            return allow ? `Allowing first-arg of a command is not supported (${name})` : 'Unknown command or category name in ACL';
          }
        }
        target = name;
      }
      const text = lower;
      // Redis 7.2 keeps one rule per target: a later rule for the same target replaces the earlier one.
      this.rules = this.rules.filter((r) => !(r.category === category && r.target === target));
      this.rules.push({ text, allow, category, target });
      return null;
    }
    return 'Syntax error';
  }
}

/** Splits an ACL rule line as Redis's sdssplitargs does: spaces between words, "double" or 'single' quotes around one. */
export function splitRuleLine(line: string): string[] | null {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length) break;
    let w = '';
    const q = line[i];
    if (q === '"' || q === "'") {
      i++;
      while (i < line.length && line[i] !== q) {
        if (q === '"' && line[i] === '\\' && i + 1 < line.length) i++;
        w += line[i++];
      }
      if (i >= line.length) return null;
      i++;
      if (i < line.length && !/\s/.test(line[i])) return null;
    } else {
      while (i < line.length && !/\s/.test(line[i])) w += line[i++];
    }
    words.push(w);
  }
  return words;
}

/** A user name Redis accepts: no spaces or null characters, not empty. */
function validUserName(name: string): boolean {
  return name !== '' && !/[\s\0]/.test(name) && Buffer.byteLength(name) <= MAX_RULE_BYTES;
}

/** What a change to the users was, for ACL stores kept in step across server threads. */
export type AclChange = { name: string; rules: string[] } | { name: string; deleted: true };

/**
 * The users of one server: the default user (`on nopass ~* &* +@all`, or with a password under
 * --requirepass) and those added by --user, --aclfile or ACL SETUSER.
 */
export class Acl implements UserDirectory {
  readonly #users = new Map<string, AclUser>();
  readonly #table: CommandTable | null;
  readonly #listeners: Array<(change: AclChange) => void> = [];
  readonly defaultUser: AclUser;

  /** `table` resolves command names in rules; null checks nothing but categories (tests of the rules alone). */
  constructor(table: CommandTable | null, requirepass: string | null = null) {
    this.#table = table;
    const d = new AclUser('default');
    for (const r of ['on', 'nopass', '~*', '&*', '+@all']) d.apply(r, table!);
    if (requirepass !== null) d.apply('>' + requirepass, table!);
    d.refresh(table);
    this.defaultUser = d;
    this.#users.set('default', d);
  }

  get openByDefault(): boolean {
    return this.defaultUser.enabled && this.defaultUser.nopass;
  }

  authenticate(name: string, password: Buffer): AclUser | null {
    const u = this.#users.get(name);
    if (u === undefined || !u.enabled || !u.checkPassword(password)) return null;
    return u;
  }

  /** The user named `name`, if any. */
  get(name: string): AclUser | undefined {
    return this.#users.get(name);
  }

  /** Users sorted by name (ACL LIST and ACL USERS order). */
  users(): AclUser[] {
    return [...this.#users.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Creates or changes user `name` with `rules` (all or none apply). Returns Redis's ACL SETUSER
   * error text, or null when done.
   */
  setUser(name: string, rules: string[], notify = true): string | null {
    if (!validUserName(name)) return "ERR Usernames can't contain spaces or null characters";
    const existing = this.#users.get(name);
    const staged = existing === undefined ? new AclUser(name) : existing.clone();
    for (const r of rules) {
      const why = staged.apply(r, this.#table!);
      if (why !== null) return `ERR Error in ACL SETUSER modifier '${r}': ${why}`;
    }
    const user = existing ?? new AclUser(name);
    user.copyFrom(staged);
    user.refresh(this.#table);
    this.#users.set(name, user);
    if (notify) this.#emit({ name, rules: ['reset', ...splitRuleLine(user.describe())!] });
    return null;
  }

  /**
   * Deletes users; returns how many existed. Their connected clients keep the user object, now
   * reset to `off -@all`: every command but AUTH, HELLO and QUIT gets NOPERM until they
   * authenticate again.
   */
  deleteUsers(names: string[], notify = true): number {
    let n = 0;
    for (const name of names) {
      const u = this.#users.get(name);
      if (u === undefined || u === this.defaultUser) continue;
      this.#users.delete(name);
      u.apply('reset', this.#table!);
      u.refresh(this.#table);
      n++;
      if (notify) this.#emit({ name, deleted: true });
    }
    return n;
  }

  /** Calls `fn` after each change made here (not for changes applied with `applyChange`). */
  onChange(fn: (change: AclChange) => void): void {
    this.#listeners.push(fn);
  }

  /** Applies a change made by another server thread's store. */
  applyChange(change: AclChange): void {
    if ('deleted' in change) this.deleteUsers([change.name], false);
    else this.setUser(change.name, change.rules, false);
  }

  #emit(change: AclChange): void {
    for (const fn of this.#listeners) fn(change);
  }

  /**
   * Adds the users of startup config: each line `name rule rule…` (a --user value, or an ACL file
   * line without its `user` word). Throws a RangeError naming the line's problem.
   */
  load(lines: readonly string[]): void {
    for (const line of lines) {
      const why = checkUserLine(line, this.#table!);
      if (why !== null) throw new RangeError(why);
      const [name, ...rules] = splitRuleLine(line)!;
      this.setUser(name, rules, false);
    }
  }
}

/**
 * Why a `name rule rule…` line is not valid against `table`'s commands (Redis's words), or null.
 * For the CLI's checks of --user and --aclfile before anything starts.
 */
export function checkUserLine(line: string, table: CommandTable): string | null {
  const words = splitRuleLine(line);
  if (words === null) return 'unbalanced quotes';
  if (words.length === 0) return 'a user name is missing';
  const [name, ...rules] = words;
  if (!validUserName(name)) return `user name '${name}' may not contain spaces or null characters`;
  const u = new AclUser(name);
  for (const r of rules) {
    const why = u.apply(r, table);
    if (why !== null) return `Error in ACL rule '${r}': ${why}`;
  }
  return null;
}

/**
 * The users of an ACL file in Redis's users.acl format: one `user <name> <rules…>` line per user;
 * blank lines and lines starting with '#' are skipped. Returns the `name rules…` lines, or the
 * first problem as `line N: …`.
 */
export function parseAclFile(text: string, table: CommandTable): { users: string[] } | { error: string } {
  const users: string[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = splitRuleLine(line);
    if (words === null || words[0] !== 'user' || words.length < 2) return { error: `line ${i + 1}: should start with 'user <name>'` };
    const rest = line.slice(line.indexOf('user') + 4).trim();
    if (seen.has(words[1])) return { error: `line ${i + 1}: Duplicate user '${words[1]}' found` };
    seen.add(words[1]);
    const why = checkUserLine(rest, table);
    if (why !== null) return { error: `line ${i + 1}: ${why}` };
    users.push(rest);
  }
  return { users };
}

// ─── the ACL command ────────────────────────────────────────────────────────────────────────

const HELP = [
  'ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'CAT [<category>]',
  '    List all commands that belong to <category>, or all command categories',
  '    when no category is specified.',
  'DELUSER <username> [<username> ...]',
  '    Delete a list of users.',
  'GETUSER <username>',
  "    Get the user's details.",
  'LIST',
  '    Show users details in config file format.',
  'USERS',
  '    List all the registered usernames.',
  'SETUSER <username> <attribute> [<attribute> ...]',
  '    Create or modify a user with the specified attributes.',
  'WHOAMI',
  '    Return the current connection username.',
  'HELP',
  '    Print this help.',
];

function store(ctx: CommandContext): Acl {
  const acl = ctx.server.users;
  if (!(acl instanceof Acl)) throw new Error('ACL: this server has no user store');
  return acl;
}

function getUser(ctx: CommandContext, u: AclUser): void {
  const o = ctx.out;
  o.map(6);
  o.bulk('flags');
  const flags = [u.enabled ? 'on' : 'off', ...(u.nopass ? ['nopass'] : [])];
  o.set(flags.length);
  for (const f of flags) o.bulk(f);
  o.bulk('passwords');
  o.array(u.passwords.length);
  for (const p of u.passwords) o.bulk(p);
  o.bulk('commands'); o.bulk(u.describeCommands());
  o.bulk('keys'); o.bulk(u.describeKeys());
  o.bulk('channels'); o.bulk(u.describeChannels());
  o.bulk('selectors'); o.array(0);
}

/** Flags of the ACL subcommands: the reading ones are not @admin, as in Redis. */
const ADMIN = ['admin', 'noscript', 'loading', 'stale'];
const PLAIN = ['noscript', 'loading', 'stale'];

/** The ACL command (Redis's subcommands SETUSER, DELUSER, GETUSER, LIST, USERS, WHOAMI, CAT, HELP). */
export const aclCommands: CommandSpec[] = [
  withSubcommands(command('acl', -2, ['admin', 'noscript', 'loading', 'stale'], [0, 0, 0], 'server', 'A container for Access List Control commands.', (ctx, args) => {
    const sub = word(args[1]);
    const o = ctx.out;
    const arity = (ok: boolean) => {
      if (!ok) o.error(ERR.wrongArity(`acl|${sub.toLowerCase()}`));
      return ok;
    };
    switch (sub) {
      case 'SETUSER': {
        if (!arity(args.length >= 3)) return;
        const why = store(ctx).setUser(args[2].toString('latin1'), args.slice(3).map((a) => a.toString('latin1')));
        return why === null ? o.simple('OK') : o.error(why);
      }
      case 'DELUSER': {
        if (!arity(args.length >= 3)) return;
        const names = args.slice(2).map((a) => a.toString('latin1'));
        if (names.includes('default')) return o.error("ERR The 'default' user cannot be removed");
        return o.integer(store(ctx).deleteUsers(names));
      }
      case 'GETUSER': {
        if (!arity(args.length === 3)) return;
        const u = store(ctx).get(args[2].toString('latin1'));
        return u === undefined ? o.nil() : getUser(ctx, u);
      }
      case 'LIST':
      case 'USERS': {
        if (!arity(args.length === 2)) return;
        const users = store(ctx).users();
        o.array(users.length);
        for (const u of users) o.bulk(sub === 'USERS' ? u.name : `user ${u.name} ${u.describe()}`);
        return;
      }
      case 'WHOAMI':
        if (!arity(args.length === 2)) return;
        return o.bulk(ctx.client.user.name);
      case 'CAT': {
        if (!arity(args.length === 2 || args.length === 3)) return;
        if (args.length === 2) {
          o.array(ACL_CATEGORIES.length);
          for (const c of ACL_CATEGORIES) o.bulk(c);
          return;
        }
        const bit = categoryBit(args[2].toString('latin1').toLowerCase());
        if (bit === 0) return o.error(`ERR Unknown category '${args[2].toString('latin1').slice(0, 128)}'`);
        const names: string[] = [];
        for (const spec of ctx.server.commands.all()) {
          if ((spec.categories & bit) !== 0) names.push(spec.name);
          if (spec.subcommands !== null) for (const s of spec.subcommands.values()) if ((s.categories & bit) !== 0) names.push(s.name);
        }
        o.array(names.length);
        for (const n of names) o.bulk(n);
        return;
      }
      case 'HELP':
        o.array(HELP.length);
        for (const l of HELP) o.simple(l);
        return;
      default:
        return o.error(ERR.unknownSubcommand(args[1].toString('latin1'), 'acl'));
    }
  }), {
    setuser: ADMIN, deluser: ADMIN, getuser: ADMIN, list: ADMIN, users: ADMIN,
    whoami: PLAIN, cat: PLAIN, help: ['loading', 'stale'],
  }),
];
