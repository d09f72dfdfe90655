/**
 * The ACL rules on their own, against the real command table: how rules parse and compact, what
 * a user may run (by category, command, subcommand and key pattern), the descriptions ACL LIST
 * shows, the categories each command gets from its flags, and the ACL file format.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Acl, AclUser, checkUserLine, hashPassword, parseAclFile, splitRuleLine } from '../../src/commands/acl.js';
import { CommandTable, categoryNames, command } from '../../src/commands/registry.js';
import { registerAll } from '../../src/commands/index.js';

const TABLE = new CommandTable();
registerAll(TABLE);

const argv = (...words: string[]) => words.map((w) => Buffer.from(w));

/** A user set up with `rules` against TABLE. */
function user(...rules: string[]): AclUser {
  const acl = new Acl(TABLE);
  assert.is(acl.setUser('u', rules), null);
  return acl.get('u')!;
}

/** What `u` gets for the command `words`: null (allowed) or the NOPERM text. */
function check(u: AclUser, ...words: string[]): string | null {
  const spec = TABLE.lookup(words[0])!;
  assert.ok(spec !== undefined, `no command ${words[0]}`);
  return u.deny(spec, argv(...words));
}

// ---------------------------------------------------------------------------------------------

const categories = suite('command categories');

categories('derives Redis\'s categories from flags and group: GET, SET, FLUSHALL, CONFIG|SET, CLIENT|ID', () => {
  const names = (name: string) => categoryNames(TABLE.get(name)!.categories);
  assert.equal(names('get'), ['@read', '@string', '@fast']);
  assert.equal(names('set'), ['@write', '@string', '@slow']);
  assert.equal(names('flushall'), ['@keyspace', '@write', '@slow', '@dangerous']);
  assert.equal(names('keys'), ['@keyspace', '@read', '@slow', '@dangerous']);
  assert.equal(names('ping'), ['@fast', '@connection']);
  const config = TABLE.get('config')!.subcommands!;
  assert.equal(categoryNames(config.get('SET')!.categories), ['@admin', '@slow', '@dangerous']);
  const client = TABLE.get('client')!.subcommands!;
  assert.equal(categoryNames(client.get('ID')!.categories), ['@slow', '@connection']);
  assert.equal(categoryNames(client.get('KILL')!.categories), ['@admin', '@slow', '@dangerous', '@connection']);
});

categories('gives every command a distinct id', () => {
  const ids = new Set<number>();
  let n = 0;
  for (const spec of TABLE.all()) {
    ids.add(spec.id);
    n++;
    for (const sub of spec.subcommands?.values() ?? []) {
      ids.add(sub.id);
      n++;
    }
  }
  assert.is(ids.size, n);
});

// ---------------------------------------------------------------------------------------------

const perms = suite('AclUser permissions');

perms('+@all -@dangerous: GET and SET run; FLUSHALL, KEYS, CONFIG SET and CLIENT KILL get NOPERM', () => {
  const u = user('on', '>p', '~*', '+@all', '-@dangerous');
  assert.is(check(u, 'GET', 'k'), null);
  assert.is(check(u, 'SET', 'k', 'v'), null);
  assert.is(check(u, 'CLIENT', 'ID'), null);
  assert.is(check(u, 'FLUSHALL'), "NOPERM User u has no permissions to run the 'flushall' command");
  assert.is(check(u, 'KEYS', '*'), "NOPERM User u has no permissions to run the 'keys' command");
  assert.is(check(u, 'CONFIG', 'SET', 'a', 'b'), "NOPERM User u has no permissions to run the 'config|set' command");
  assert.is(check(u, 'client', 'kill', 'x'), "NOPERM User u has no permissions to run the 'client|kill' command");
  assert.is(u.unrestricted, false);
});

perms('rules apply in order: -@all +@read +set -get allows MGET and SET, denies GET and DEL', () => {
  const u = user('~*', '-@all', '+@read', '+set', '-get');
  assert.is(check(u, 'MGET', 'a', 'b'), null);
  assert.is(check(u, 'SET', 'a', 'b'), null);
  assert.is(check(u, 'GET', 'a'), "NOPERM User u has no permissions to run the 'get' command");
  assert.is(check(u, 'DEL', 'a'), "NOPERM User u has no permissions to run the 'del' command");
});

perms('a rule on a container covers its subcommands; a subcommand rule only itself', () => {
  const u = user('~*', '+@all', '-client', '+client|id');
  assert.is(check(u, 'CLIENT', 'ID'), null);
  assert.is(check(u, 'CLIENT', 'SETNAME', 'x'), "NOPERM User u has no permissions to run the 'client|setname' command");
});

perms('-@admin leaves ACL WHOAMI and ACL CAT, denies ACL SETUSER and ACL LIST', () => {
  const u = user('~*', '+@all', '-@admin');
  assert.is(check(u, 'ACL', 'WHOAMI'), null);
  assert.is(check(u, 'ACL', 'CAT'), null);
  assert.is(check(u, 'ACL', 'SETUSER', 'x'), "NOPERM User u has no permissions to run the 'acl|setuser' command");
  assert.is(check(u, 'ACL', 'LIST'), "NOPERM User u has no permissions to run the 'acl|list' command");
});

perms('AUTH, HELLO and QUIT are never denied, even with nocommands', () => {
  const u = user('nocommands');
  assert.is(check(u, 'AUTH', 'x', 'y'), null);
  assert.is(check(u, 'HELLO', '3'), null);
  assert.is(check(u, 'QUIT'), null);
  assert.is(check(u, 'PING'), "NOPERM User u has no permissions to run the 'ping' command");
});

perms('key patterns: ~cache:* allows cache:1, denies other:1 (MSET checks every key)', () => {
  const u = user('+@all', '~cache:*');
  assert.is(check(u, 'GET', 'cache:1'), null);
  assert.is(check(u, 'GET', 'other:1'), "NOPERM User u has no permissions to access the 'other:1' key");
  assert.is(check(u, 'MSET', 'cache:1', 'v', 'other:2', 'v'), "NOPERM User u has no permissions to access the 'other:2' key");
  assert.is(check(u, 'MSET', 'cache:1', 'other:2', 'cache:3', 'v'), null, 'MSET values are not keys');
  // Commands without key positions are not checked against patterns (as in Redis).
  assert.is(check(u, 'DBSIZE'), null);
});

perms('a new user has no keys: GET is denied until ~* or allkeys', () => {
  assert.is(check(user('+@all'), 'GET', 'k'), "NOPERM User u has no permissions to access the 'k' key");
  assert.is(check(user('+@all', 'allkeys'), 'GET', 'k'), null);
  assert.is(user('+@all', 'allkeys').unrestricted, true);
});

perms('a command registered after the rules (MESH, when a mesh attaches) is computed on first use', () => {
  const table = new CommandTable();
  registerAll(table);
  const acl = new Acl(table);
  assert.is(acl.setUser('u', ['~*', '+@all', '-@admin']), null);
  const u = acl.get('u')!;
  const late = command('late', 1, ['admin'], [0, 0, 0], 'server', 'Registered after the rules.', () => undefined);
  table.add(late);
  assert.is(u.deny(late, argv('LATE')), "NOPERM User u has no permissions to run the 'late' command");
  assert.is(u.deny(table.get('get')!, argv('GET', 'k')), null);
});

// ---------------------------------------------------------------------------------------------

const rules = suite('Acl rules and descriptions');

rules('ACL LIST form: flags, #hash, keys, channels, then +@all/-@all and the rules as given', () => {
  const u = user('on', '>secret', '~a:*', '~b:*', '+@all', '-@dangerous', '-@admin');
  assert.is(u.describe(), `on #${hashPassword('secret')} ~a:* ~b:* resetchannels +@all -@dangerous -@admin`);
  assert.is(new Acl(TABLE).defaultUser.describe(), 'on nopass ~* &* +@all');
  assert.is(new Acl(TABLE, 'pw').defaultUser.describe(), `on #${hashPassword('pw')} ~* &* +@all`);
});

rules('a later rule for the same target replaces the earlier one; +@all/-@all reset the rules', () => {
  assert.is(user('+get', '-set', '-get').describeCommands(), '-@all -set -get');
  assert.is(user('+get', '+@all', '-flushall').describeCommands(), '+@all -flushall');
  assert.is(user('+@read', 'nocommands').describeCommands(), '-@all');
});

rules('passwords: >p adds, <p removes, nopass clears, resetpass clears nopass; checked by hash', () => {
  const acl = new Acl(TABLE);
  assert.is(acl.setUser('a', ['on', '>one', '>two']), null);
  assert.is(acl.authenticate('a', Buffer.from('two'))?.name, 'a');
  assert.is(acl.setUser('a', ['<two']), null);
  assert.is(acl.authenticate('a', Buffer.from('two')), null);
  assert.is(acl.authenticate('a', Buffer.from('one'))?.name, 'a');
  assert.is(acl.setUser('a', ['nopass']), null);
  assert.is(acl.authenticate('a', Buffer.from('anything'))?.name, 'a');
  assert.is(acl.setUser('a', ['resetpass']), null);
  assert.is(acl.authenticate('a', Buffer.from('anything')), null);
  assert.is(acl.setUser('a', ['#' + hashPassword('h'), 'off']), null);
  assert.is(acl.authenticate('a', Buffer.from('h')), null, 'an off user cannot authenticate');
  assert.is(acl.setUser('a', ['on']), null);
  assert.is(acl.authenticate('a', Buffer.from('h'))?.name, 'a');
});

rules('a bad rule gives Redis\'s error and changes nothing (all rules or none)', () => {
  const acl = new Acl(TABLE);
  assert.is(acl.setUser('a', ['on', '>p', '+@read']), null);
  assert.is(acl.setUser('a', ['-@read', '+nosuchcommand']), "ERR Error in ACL SETUSER modifier '+nosuchcommand': Unknown command or category name in ACL");
  assert.is(acl.get('a')!.describeCommands(), '-@all +@read');
  assert.is(acl.setUser('a', ['+@nosuch']), "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL");
  assert.is(acl.setUser('a', ['bogus']), "ERR Error in ACL SETUSER modifier 'bogus': Syntax error");
  assert.is(acl.setUser('a', ['#abc']), "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters");
  assert.is(acl.setUser('a', ['<never']), "ERR Error in ACL SETUSER modifier '<never': The password you are trying to remove from the user does not exist");
  assert.is(acl.setUser('a b', []), "ERR Usernames can't contain spaces or null characters");
});

rules('setUser changes the user object in place, so connected clients see new rules at once', () => {
  const acl = new Acl(TABLE);
  acl.setUser('a', ['on', '~*', '+@all']);
  const held = acl.get('a')!;
  assert.is(check(held, 'FLUSHALL'), null);
  acl.setUser('a', ['-flushall']);
  assert.is(acl.get('a'), held);
  assert.is(check(held, 'FLUSHALL'), "NOPERM User a has no permissions to run the 'flushall' command");
});

rules('deleteUsers resets a deleted user\'s object to off -@all; default cannot be deleted', () => {
  const acl = new Acl(TABLE);
  acl.setUser('a', ['on', 'nopass', '~*', '+@all']);
  const held = acl.get('a')!;
  assert.is(acl.deleteUsers(['a', 'nobody', 'default']), 1);
  assert.is(acl.get('a'), undefined);
  assert.is(check(held, 'GET', 'k'), "NOPERM User a has no permissions to run the 'get' command");
  assert.is(acl.get('default')?.name, 'default');
});

rules('changes are reported for other threads, and applying them reproduces the user', () => {
  const a = new Acl(TABLE);
  const b = new Acl(TABLE);
  a.onChange((c) => b.applyChange(c));
  a.setUser('x', ['on', '>pw', '~k:*', '+@read', '-get']);
  assert.is(b.get('x')!.describe(), a.get('x')!.describe());
  assert.is(b.authenticate('x', Buffer.from('pw'))?.name, 'x');
  a.setUser('x', ['off']);
  assert.is(b.get('x')!.enabled, false);
  a.deleteUsers(['x']);
  assert.is(b.get('x'), undefined);
});

// ---------------------------------------------------------------------------------------------

const files = suite('rule lines and ACL files');

files('splitRuleLine splits on spaces and keeps quoted words whole', () => {
  assert.equal(splitRuleLine('app on >secret +@all'), ['app', 'on', '>secret', '+@all']);
  assert.equal(splitRuleLine('app ">two words" \'~a b\''), ['app', '>two words', '~a b']);
  assert.is(splitRuleLine('app "unterminated'), null);
});

files('checkUserLine names the rule at fault', () => {
  assert.is(checkUserLine('app on >pw ~* +@read -@dangerous', TABLE), null);
  assert.is(checkUserLine('app on +nope', TABLE), "Error in ACL rule '+nope': Unknown command or category name in ACL");
  assert.is(checkUserLine('', TABLE), 'a user name is missing');
  assert.is(checkUserLine('app "x', TABLE), 'unbalanced quotes');
});

files('parseAclFile reads user lines, skips blanks and comments, and names the bad line', () => {
  const ok = parseAclFile('# users\nuser default on nopass ~* &* +@all\n\nuser app on >pw ~* +@read\n', TABLE);
  assert.equal(ok, { users: ['default on nopass ~* &* +@all', 'app on >pw ~* +@read'] });
  assert.equal(parseAclFile('user app on\nuser bad +@nosuch\n', TABLE), { error: "line 2: Error in ACL rule '+@nosuch': Unknown command or category name in ACL" });
  assert.equal(parseAclFile('app on\n', TABLE), { error: "line 1: should start with 'user <name>'" });
  assert.equal(parseAclFile('user a on\nuser a off\n', TABLE), { error: "line 2: Duplicate user 'a' found" });
});

categories.run();
perms.run();
rules.run();
files.run();
