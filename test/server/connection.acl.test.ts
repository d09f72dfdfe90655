/**
 * Users and permissions over real connections: a restricted application user can read and write
 * but gets Redis's NOPERM for the admin commands that could stop or wipe the node; the default
 * user keeps --requirepass's behaviour; ACL SETUSER at run time takes effect; HELLO 3 AUTH and
 * AUTH user pass authenticate; rename-command hides a command.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MeshcacheServer, type ServerOptions } from '../../src/server/server.js';
import { RespClient, err } from '../helpers/resp-client.js';
import { withServer } from '../helpers/server.js';

/** Runs `fn` against a server on 127.0.0.1:0, always stopping it. */
/** A connection authenticated as `user`. */
async function as(port: number, user: string, password: string): Promise<RespClient> {
  const c = await RespClient.connect(port);
  assert.is(await c.call('AUTH', user, password), 'OK');
  return c;
}

const noperm = (user: string, cmd: string) => err(`NOPERM User ${user} has no permissions to run the '${cmd}' command`);

const APP = 'app on >app-pw ~* +@all -@dangerous -@admin';

// ---------------------------------------------------------------------------------------------------

const restricted = suite('a restricted user');

restricted('runs GET and SET; gets NOPERM for FLUSHALL, FLUSHDB, CONFIG SET, CLIENT KILL, MESH, ACL SETUSER and KEYS', async () => {
  await withServer({ requirepass: 'admin-pw', users: [APP] }, async (server, port) => {
    // MESH exists once mesh routing is attached; a routing that runs everything here will do.
    server.attachRouting({ routeCommand: () => null });
    const c = await as(port, 'app', 'app-pw');
    assert.is(await c.call('SET', 'k', 'v'), 'OK');
    assert.is(await c.call('GET', 'k'), 'v');
    assert.is(await c.call('CLIENT', 'ID'), 1);
    assert.is(await c.call('ACL', 'WHOAMI'), 'app');
    assert.equal(await c.call('FLUSHALL'), noperm('app', 'flushall'));
    assert.equal(await c.call('FLUSHDB'), noperm('app', 'flushdb'));
    assert.equal(await c.call('CONFIG', 'SET', 'maxmemory', '1'), noperm('app', 'config|set'));
    assert.equal(await c.call('CLIENT', 'KILL', 'ID', '1'), noperm('app', 'client|kill'));
    assert.equal(await c.call('MESH', 'NODES'), noperm('app', 'mesh'));
    assert.equal(await c.call('ACL', 'SETUSER', 'app', '+@all'), noperm('app', 'acl|setuser'));
    assert.equal(await c.call('ACL', 'LIST'), noperm('app', 'acl|list'));
    assert.equal(await c.call('KEYS', '*'), noperm('app', 'keys'));
    assert.is(await c.call('DBSIZE'), 1, 'FLUSHALL did not run');
    c.destroy();
    // The default user, with the requirepass password, still runs everything.
    const admin = await as(port, 'default', 'admin-pw');
    assert.is(await admin.call('FLUSHALL'), 'OK');
    assert.equal(await admin.call('ACL', 'WHOAMI'), 'default');
    assert.equal(await admin.call('ACL', 'USERS'), ['app', 'default']);
    admin.destroy();
  });
});

restricted('a key pattern confines the user to its keys, with Redis\'s key NOPERM', async () => {
  await withServer({ users: ['tenant on >pw ~t1:* +@read +@write'] }, async (_server, port) => {
    const c = await as(port, 'tenant', 'pw');
    assert.is(await c.call('SET', 't1:a', 'x'), 'OK');
    assert.equal(await c.call('SET', 't2:a', 'x'), err("NOPERM User tenant has no permissions to access the 't2:a' key"));
    assert.equal(await c.call('MGET', 't1:a', 't2:a'), err("NOPERM User tenant has no permissions to access the 't2:a' key"));
    assert.equal(await c.call('MGET', 't1:a'), ['x']);
    c.destroy();
  });
});

restricted('CLIENT LIST shows each connection\'s user', async () => {
  await withServer({ users: [APP] }, async (_server, port) => {
    const c = await as(port, 'app', 'app-pw');
    const admin = await RespClient.connect(port);
    const list = String(await admin.call('CLIENT', 'LIST'));
    assert.match(list, / user=app /);
    assert.match(list, / user=default /);
    c.destroy();
    admin.destroy();
  });
});

// ---------------------------------------------------------------------------------------------------

const auth = suite('AUTH, HELLO and the default user');

auth('--requirepass still works: NOAUTH first, AUTH <password> and AUTH default <password>, WRONGPASS for a wrong one', async () => {
  await withServer({ requirepass: 's3cret', users: [APP] }, async (_server, port) => {
    const c = await RespClient.connect(port);
    assert.equal(await c.call('GET', 'k'), err('NOAUTH Authentication required.'));
    assert.equal(await c.call('AUTH', 'wrong'), err('WRONGPASS invalid username-password pair or user is disabled.'));
    assert.equal(await c.call('AUTH', 'app', 'wrong'), err('WRONGPASS invalid username-password pair or user is disabled.'));
    assert.equal(await c.call('AUTH', 'nobody', 's3cret'), err('WRONGPASS invalid username-password pair or user is disabled.'));
    assert.equal(await c.call('GET', 'k'), err('NOAUTH Authentication required.'));
    assert.is(await c.call('AUTH', 's3cret'), 'OK');
    assert.is(await c.call('ACL', 'WHOAMI'), 'default');
    assert.is(await c.call('AUTH', 'default', 's3cret'), 'OK');
    c.destroy();
  });
});

auth('HELLO 3 AUTH user pass authenticates and switches to RESP3; a wrong pair gets WRONGPASS', async () => {
  await withServer({ requirepass: 'admin-pw', users: [APP] }, async (_server, port) => {
    const c = await RespClient.connect(port);
    assert.equal(await c.call('HELLO', '3', 'AUTH', 'app', 'nope'), err('WRONGPASS invalid username-password pair or user is disabled.'));
    const hello = await c.call('HELLO', '3', 'AUTH', 'app', 'app-pw');
    assert.ok(hello instanceof Map, 'HELLO 3 replies with a map');
    assert.is((hello as Map<unknown, unknown>).get('proto'), 3);
    assert.is(await c.call('ACL', 'WHOAMI'), 'app');
    assert.equal(await c.call('FLUSHALL'), noperm('app', 'flushall'));
    c.destroy();
  });
});

auth('without a password the default user is open, and AUTH <password> is Redis\'s error', async () => {
  await withServer({}, async (_server, port) => {
    const c = await RespClient.connect(port);
    assert.is(await c.call('ACL', 'WHOAMI'), 'default');
    assert.equal(await c.call('AUTH', 'x'), err('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?'));
    assert.is(await c.call('AUTH', 'default', 'anything'), 'OK');
    assert.equal(await c.call('ACL', 'LIST'), ['user default on nopass ~* &* +@all']);
    c.destroy();
  });
});

// ---------------------------------------------------------------------------------------------------

const runtime = suite('ACL at run time');

runtime('ACL SETUSER creates a user that new AUTHs can use; changed rules and passwords apply; DELUSER ends it', async () => {
  await withServer({ requirepass: 'admin-pw' }, async (_server, port) => {
    const admin = await as(port, 'default', 'admin-pw');
    assert.equal(await admin.call('AUTH', 'reader', 'r-pw'), err('WRONGPASS invalid username-password pair or user is disabled.'));
    assert.is(await admin.call('ACL', 'SETUSER', 'reader', 'on', '>r-pw', '~*', '+@read'), 'OK');
    const r = await as(port, 'reader', 'r-pw');
    assert.is(await r.call('GET', 'k'), null);
    assert.equal(await r.call('SET', 'k', 'v'), noperm('reader', 'set'));
    // New rules apply to the connected client at once, as in Redis.
    assert.is(await admin.call('ACL', 'SETUSER', 'reader', '+set'), 'OK');
    assert.is(await r.call('SET', 'k', 'v'), 'OK');
    // A new password: the old one no longer authenticates.
    assert.is(await admin.call('ACL', 'SETUSER', 'reader', 'resetpass', '>new-pw'), 'OK');
    const again = await RespClient.connect(port);
    assert.equal(await again.call('AUTH', 'reader', 'r-pw'), err('WRONGPASS invalid username-password pair or user is disabled.'));
    assert.is(await again.call('AUTH', 'reader', 'new-pw'), 'OK');
    // off: no new AUTH.
    assert.is(await admin.call('ACL', 'SETUSER', 'reader', 'off'), 'OK');
    assert.equal(await admin.call('AUTH', 'reader', 'new-pw'), err('WRONGPASS invalid username-password pair or user is disabled.'));
    assert.is(await admin.call('ACL', 'DELUSER', 'reader', 'nobody'), 1);
    assert.equal(await r.call('GET', 'k'), noperm('reader', 'get'));
    assert.equal(await admin.call('ACL', 'DELUSER', 'default'), err("ERR The 'default' user cannot be removed"));
    for (const c of [admin, r, again]) c.destroy();
  });
});

runtime('ACL GETUSER, ACL LIST and ACL CAT reply in Redis\'s shapes', async () => {
  await withServer({ users: ['app on nopass ~app:* +@all -@dangerous'] }, async (_server, port) => {
    const c = await RespClient.connect(port);
    assert.equal(await c.call('ACL', 'GETUSER', 'app'), [
      'flags', ['on', 'nopass'], 'passwords', [], 'commands', '+@all -@dangerous', 'keys', '~app:*', 'channels', '', 'selectors', [],
    ]);
    assert.is(await c.call('ACL', 'GETUSER', 'nobody'), null);
    assert.equal(await c.call('ACL', 'LIST'), ['user app on nopass ~app:* resetchannels +@all -@dangerous', 'user default on nopass ~* &* +@all']);
    const cats = await c.call('ACL', 'CAT') as string[];
    assert.ok(cats.includes('dangerous') && cats.includes('admin') && cats.includes('read'));
    const dangerous = await c.call('ACL', 'CAT', 'dangerous') as string[];
    for (const name of ['flushall', 'flushdb', 'keys', 'config|set', 'client|kill', 'acl|setuser']) assert.ok(dangerous.includes(name), `@dangerous lacks ${name}`);
    assert.not.ok(dangerous.includes('get'));
    assert.equal(await c.call('ACL', 'CAT', 'nosuch'), err("ERR Unknown category 'nosuch'"));
    assert.equal(await c.call('ACL', 'SETUSER', 'x', '+nosuch'), err("ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"));
    const info = await c.call('COMMAND', 'INFO', 'flushall') as unknown[][];
    assert.equal(info[0][6], ['@keyspace', '@write', '@slow', '@dangerous']);
    c.destroy();
  });
});

runtime('a bad users option is refused with a RangeError naming it', () => {
  assert.throws(() => new MeshcacheServer({ port: 0, users: ['app on +nosuch'] }), (e: Error) => e instanceof RangeError && e.message === "options.users: Error in ACL rule '+nosuch': Unknown command or category name in ACL");
  assert.throws(() => new MeshcacheServer({ port: 0, renameCommands: [['nosuch', 'x']] }), /options.renameCommands: no command named nosuch/);
});

// ---------------------------------------------------------------------------------------------------

const rename = suite('rename-command');

rename('a renamed command answers to its new name only; "" disables it; ACL rules still name it', async () => {
  await withServer({ renameCommands: [['FLUSHALL', 'WIPE-7f3a'], ['config', '']], users: ['app on nopass ~* +@all -flushall'] }, async (_server, port) => {
    const c = await RespClient.connect(port);
    assert.is(await c.call('SET', 'k', 'v'), 'OK');
    assert.equal(await c.call('FLUSHALL'), err("ERR unknown command 'FLUSHALL', with args beginning with: "));
    assert.equal(await c.call('CONFIG', 'GET', 'port'), err("ERR unknown command 'CONFIG', with args beginning with: 'GET' 'port' "));
    assert.is(await c.call('DBSIZE'), 1);
    assert.is(await c.call('AUTH', 'app', 'x'), 'OK');
    assert.equal(await c.call('wipe-7f3a'), noperm('app', 'flushall'));
    assert.is(await c.call('AUTH', 'default', 'x'), 'OK');
    assert.is(await c.call('wipe-7f3a'), 'OK');
    assert.is(await c.call('DBSIZE'), 0);
    c.destroy();
  });
});

restricted.run();
auth.run();
runtime.run();
rename.run();
