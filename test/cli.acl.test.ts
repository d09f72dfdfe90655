/**
 * The user options of `meshcache serve`: --user (repeatable), --aclfile and --rename-command, and
 * their config-file keys. A refused option prints one line naming the flag and exits 2: checked
 * in-process (test/helpers/cli.ts), and once end to end with the real CLI as a child process.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseServeArgs } from '../src/cli.js';
import { assertRefused } from './helpers/cli.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'meshcache-cli-acl-'));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const users = suite('serve: --user, --aclfile, --rename-command');

users.after(() => rmSync(dir, { recursive: true, force: true }));

users('--user is repeatable and keeps each rule line as given', () => {
  const cfg = parseServeArgs(['--user', 'app on >pw ~* +@all -@dangerous', '--user=ro on nopass ~* +@read']);
  assert.equal(cfg.users, ['app on >pw ~* +@all -@dangerous', 'ro on nopass ~* +@read']);
  assert.equal(parseServeArgs([]).users, []);
});

users('a bad --user rule exits 2 with one line naming the flag and the rule', () => {
  assertRefused(['--user', 'app on +nosuch'], `--user "app on +nosuch": Error in ACL rule '+nosuch': Unknown command or category name in ACL`);
  assertRefused(['--user', 'app on +@nosuch'], `--user "app on +@nosuch": Error in ACL rule '+@nosuch': Unknown command or category name in ACL`);
  assertRefused(['--user', 'app "on'], '--user "app \\"on": unbalanced quotes');
  assertRefused(['--user'], '--user needs a value');
});

users('--aclfile reads Redis\'s users.acl format into the users', () => {
  const path = file('ok.acl', '# the users\nuser default on >admin ~* &* +@all\nuser app on >pw ~* +@all -@dangerous\n');
  assert.equal(parseServeArgs(['--aclfile', path]).users, ['default on >admin ~* &* +@all', 'app on >pw ~* +@all -@dangerous']);
});

users('a bad --aclfile exits 2 naming the flag, the file and the line', () => {
  const bad = file('bad.acl', 'user app on >pw\nuser x on +nosuch\n');
  assertRefused(['--aclfile', bad], `--aclfile ${bad} line 2: Error in ACL rule '+nosuch': Unknown command or category name in ACL`);
  const notUser = file('notuser.acl', 'app on\n');
  assertRefused(['--aclfile', notUser], `--aclfile ${notUser} line 1: should start with 'user <name>'`);
  const missing = join(dir, 'missing.acl');
  assertRefused(['--aclfile', missing], `--aclfile: cannot read ${missing}: ENOENT: no such file or directory, open '${missing}'`);
  assertRefused(['--aclfile', bad, '--user', 'a on'], '--aclfile and --user cannot be used together (as in Redis: put every user in the file)');
});

users('--rename-command takes a name and a new name ("" disables); bad ones exit 2', () => {
  assert.equal(parseServeArgs(['--rename-command', 'FLUSHALL', 'WIPE', '--rename-command', 'config', '']).renameCommands, [['FLUSHALL', 'WIPE'], ['config', '']]);
  assert.equal(parseServeArgs(['--rename-command', 'mesh', 'M']).renameCommands, [['mesh', 'M']]);
  assertRefused(['--rename-command', 'nosuch', 'x'], "--rename-command: no command named 'nosuch'");
  assertRefused(['--rename-command', 'FLUSHALL'], '--rename-command needs a command name and a new name ("" to disable it)');
  assertRefused(['--rename-command', 'FLUSHALL', 'GET'], '--rename-command: cannot rename FLUSHALL to GET: that name is taken');
  assertRefused(['--rename-command=FLUSHALL', 'X'], '--rename-command takes two values: --rename-command <name> <new name>');
});

users('--config: users (array), aclfile and renameCommands (object) keys', () => {
  const cfgPath = file('config.json', JSON.stringify({ users: ['app on nopass ~* +@read'], renameCommands: { FLUSHALL: '' } }));
  const cfg = parseServeArgs(['--config', cfgPath]);
  assert.equal(cfg.users, ['app on nopass ~* +@read']);
  assert.equal(cfg.renameCommands, [['FLUSHALL', '']]);
  const bad = file('bad.json', JSON.stringify({ users: 'app on' }));
  assertRefused(['--config', bad], `${bad}: users must be an array of strings`);
  const badRename = file('badrename.json', JSON.stringify({ renameCommands: [['a', 'b']] }));
  assertRefused(['--config', badRename], `${badRename}: renameCommands must be an object of command name to new name`);
});

users('end to end: the real CLI exits 2 with the one-line message for a bad --user', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0', '--user', 'app on -nosuch'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 2, r.stderr);
  assert.is(r.stderr, `meshcache: --user "app on -nosuch": Error in ACL rule '-nosuch': Unknown command or category name in ACL\nRun 'meshcache serve --help' for the options.\n`);
  assert.is(r.stdout, '');
});

users.run();
