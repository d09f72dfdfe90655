/**
 * The executor for commands that reach a node from its peers, over a real 8 MiB Cache: exact
 * RESP2 and RESP3 reply bytes, keyless, unknown, empty and wrong-arity commands refused with an
 * error reply, and handler failures turned into error replies instead of exceptions.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Cache } from '../../src/index.js';
import { peerClient, peerExecutor, runSpec, standaloneState } from '../../src/commands/executor.js';
import { errorBuffer } from '../../src/commands/reply.js';
import { CommandTable, command, type CommandSpec, type ServerState } from '../../src/commands/registry.js';
import { registerAll } from '../../src/commands/index.js';

const argv = (...words: string[]) => words.map((w) => Buffer.from(w));

/** Runs `fn` with a fresh 8 MiB cache and the standalone server state; always closes the cache. */
async function withCache(fn: (cache: Cache, server: ServerState) => void | Promise<void>): Promise<void> {
  const cache = new Cache({ maxMemory: '8mb' });
  try {
    await fn(cache, standaloneState());
  } finally {
    await cache.close();
  }
}

/** A server state whose table also holds a test command `boom` (keys 1..1) that throws `err`. */
function stateWithThrowing(err: () => unknown): ServerState {
  const server = standaloneState();
  server.commands.add(command('boom', 2, ['write'], [1, 1, 1], 'test', 'Throws.', () => { throw err(); }));
  return server;
}

// ---------------------------------------------------------------------------------------------

const exec = suite('peerExecutor');

exec('runs SET, GET and INCR and returns their exact RESP2 bytes', () => withCache((cache, server) => {
  const run = peerExecutor(cache, server);
  const c = peerClient(2);
  assert.is(run(argv('SET', 'greeting', 'hello'), c).toString('latin1'), '+OK\r\n');
  assert.is(run(argv('GET', 'greeting'), c).toString('latin1'), '$5\r\nhello\r\n');
  assert.is(run(argv('INCR', 'counter'), c).toString('latin1'), ':1\r\n');
  assert.is(run(argv('INCR', 'counter'), c).toString('latin1'), ':2\r\n');
  assert.is(run(argv('INCRBY', 'counter', '40'), c).toString('latin1'), ':42\r\n');
  assert.is(run(argv('GET', 'counter'), c).toString('latin1'), '$2\r\n42\r\n');
  assert.is(run(argv('GET', 'missing'), c).toString('latin1'), '$-1\r\n');
}));

exec('writes into the cache it was given: a 1000 B value set through it is in the cache', () => withCache((cache, server) => {
  const run = peerExecutor(cache, server);
  const value = 'v'.repeat(1000);
  assert.is(run(argv('SET', 'big', value), peerClient(2)).toString('latin1'), '+OK\r\n');
  assert.is(cache.has(Buffer.from('big')), true);
  assert.is(run(argv('STRLEN', 'big'), peerClient(2)).toString('latin1'), ':1000\r\n');
}));

exec('runs split-command parts: MGET of 3 keys, MSET of 2 pairs, DEL and EXISTS of 3 keys', () => withCache((cache, server) => {
  const run = peerExecutor(cache, server);
  const c = peerClient(2);
  assert.is(run(argv('MSET', 'a', '1', 'c', '3'), c).toString('latin1'), '+OK\r\n');
  assert.is(run(argv('MGET', 'a', 'b', 'c'), c).toString('latin1'), '*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n');
  assert.is(run(argv('EXISTS', 'a', 'b', 'c'), c).toString('latin1'), ':2\r\n');
  assert.is(run(argv('DEL', 'a', 'b', 'c'), c).toString('latin1'), ':2\r\n');
  assert.is(run(argv('EXISTS', 'a', 'b', 'c'), c).toString('latin1'), ':0\r\n');
}));

exec('gives a RESP3 client RESP3 replies: `_` for a missing GET and inside MGET', () => withCache((cache, server) => {
  const run = peerExecutor(cache, server);
  const c3 = peerClient(3);
  run(argv('SET', 'k', 'v'), c3);
  assert.is(run(argv('GET', 'missing'), c3).toString('latin1'), '_\r\n');
  assert.is(run(argv('MGET', 'k', 'missing'), c3).toString('latin1'), '*2\r\n$1\r\nv\r\n_\r\n');
  // The same cache, asked by a RESP2 client, answers RESP2.
  assert.is(run(argv('GET', 'missing'), peerClient(2)).toString('latin1'), '$-1\r\n');
}));

exec('finds commands in any case: get, GET and gEt', () => withCache((cache, server) => {
  const run = peerExecutor(cache, server);
  run(argv('set', 'k', 'v'), peerClient(2));
  for (const name of ['get', 'GET', 'gEt']) assert.is(run(argv(name, 'k'), peerClient(2)).toString('latin1'), '$1\r\nv\r\n', name);
}));

exec('refuses the keyless CONFIG, FLUSHALL, INFO, DBSIZE and KEYS with the takes-no-key error', () => withCache((cache, server) => {
  const run = peerExecutor(cache, server);
  run(argv('SET', 'keep', 'me'), peerClient(2));
  const cases: Array<[string[], string]> = [
    [['CONFIG', 'SET', 'maxmemory', '1'], 'config'],
    [['FLUSHALL'], 'flushall'],
    [['INFO'], 'info'],
    [['DBSIZE'], 'dbsize'],
    [['KEYS', '*'], 'keys'],
  ];
  for (const [words, name] of cases) {
    assert.is(run(argv(...words), peerClient(2)).toString('latin1'), `-ERR mesh: '${name}' takes no key and is not run for peers\r\n`);
  }
  assert.is(cache.has(Buffer.from('keep')), true, 'FLUSHALL did not run');
}));

exec('answers an unknown command with Redis\'s text, listing its 2 arguments', () => withCache((cache, server) => {
  const reply = peerExecutor(cache, server)(argv('NOSUCH', 'a', 'bb'), peerClient(2)).toString('latin1');
  assert.is(reply, "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'bb' \r\n");
}));

exec('answers GET with 0 and 2 keys, SET with 1 word and MGET alone with the wrong-arity error', () => withCache((cache, server) => {
  const run = peerExecutor(cache, server);
  assert.is(run(argv('GET'), peerClient(2)).toString('latin1'), "-ERR wrong number of arguments for 'get' command\r\n");
  assert.is(run(argv('GET', 'a', 'b'), peerClient(2)).toString('latin1'), "-ERR wrong number of arguments for 'get' command\r\n");
  assert.is(run(argv('SET', 'k'), peerClient(2)).toString('latin1'), "-ERR wrong number of arguments for 'set' command\r\n");
  assert.is(run(argv('mget'), peerClient(2)).toString('latin1'), "-ERR wrong number of arguments for 'mget' command\r\n");
}));

exec('checks arity before keys: CONFIG with no subcommand gets the wrong-arity error', () => withCache((cache, server) => {
  assert.is(peerExecutor(cache, server)(argv('CONFIG'), peerClient(2)).toString('latin1'), "-ERR wrong number of arguments for 'config' command\r\n");
}));

exec('answers an empty command (0 arguments) with an error reply', () => withCache((cache, server) => {
  assert.is(peerExecutor(cache, server)([], peerClient(2)).toString('latin1'), '-ERR mesh: empty command\r\n');
}));

exec('turns INCR of a non-integer and SET EX abc into error replies', () => withCache((cache, server) => {
  const run = peerExecutor(cache, server);
  run(argv('SET', 'word', 'hello'), peerClient(2));
  assert.is(run(argv('INCR', 'word'), peerClient(2)).toString('latin1'), '-ERR value is not an integer or out of range\r\n');
  assert.is(run(argv('SET', 'k', 'v', 'EX', 'abc'), peerClient(2)).toString('latin1'), '-ERR value is not an integer or out of range\r\n');
  assert.is(run(argv('GET', 'word'), peerClient(2)).toString('latin1'), '$5\r\nhello\r\n', 'the value is unchanged');
}));

exec('turns a 2000 B key (over the 1024 B key limit) into an error reply', () => withCache((cache, server) => {
  assert.is(cache.options.maxKeyBytes, 1024);
  const reply = peerExecutor(cache, server)(argv('SET', 'k'.repeat(2000), 'v'), peerClient(2)).toString('latin1');
  assert.is(reply, '-ERR key exceeds maximum allowed size\r\n');
}));

exec('turns a GET on a closed cache (a CacheError) into an error reply', async () => {
  const cache = new Cache({ maxMemory: '8mb' });
  const run = peerExecutor(cache, standaloneState());
  await cache.close();
  assert.is(run(argv('GET', 'k'), peerClient(2)).toString('latin1'), '-ERR the cache was closed in this thread\r\n');
});

exec('turns a plain Error, a thrown string and a multi-line message into one-line error replies (each CR and LF a space)', () => withCache((cache) => {
  const cases: Array<[() => unknown, string]> = [
    [() => new Error('disk on fire'), '-ERR disk on fire\r\n'],
    [() => 'just a string', '-ERR just a string\r\n'],
    [() => new Error('line one\r\nline two'), '-ERR line one  line two\r\n'],
    [() => new Error('WRONGTYPE wrong kind of value'), '-WRONGTYPE wrong kind of value\r\n'],
  ];
  for (const [err, expected] of cases) {
    const run = peerExecutor(cache, stateWithThrowing(err));
    assert.is(run(argv('BOOM', 'k'), peerClient(2)).toString('latin1'), expected);
  }
}));

// ---------------------------------------------------------------------------------------------

const client = suite('peerClient');

client('is an authenticated client named mesh on db 0 with the RESP version asked for', () => {
  for (const resp of [2, 3] as const) {
    const c = peerClient(resp);
    assert.is(c.resp, resp);
    assert.is(c.authenticated, true);
    assert.is(c.name, 'mesh');
    assert.is(c.addr, 'mesh');
    assert.is(c.db, 0);
    assert.is(c.closing, false);
  }
});

client('returns a fresh object each call: changing one leaves the next untouched', () => {
  const a = peerClient(2);
  a.db = 5;
  a.closing = true;
  const b = peerClient(2);
  assert.is.not(a, b);
  assert.is(b.db, 0);
  assert.is(b.closing, false);
});

// ---------------------------------------------------------------------------------------------

const standalone = suite('standaloneState');

standalone('holds every registered command and no mesh, password or clients', () => {
  const reference = new CommandTable();
  registerAll(reference);
  const s = standaloneState();
  assert.is(s.commands.size, reference.size);
  for (const spec of reference.all()) assert.ok(s.commands.get(spec.name) !== undefined, spec.name);
  assert.is(s.mesh, null);
  assert.is(s.requirepass, null);
  assert.equal([...s.clients()], []);
  assert.is(s.counters.commandsProcessed, 0);
  assert.is(s.counters.keyspaceHits, 0);
});

standalone('builds a separate table each call: adding a command to one leaves the other', () => {
  const a = standaloneState();
  const b = standaloneState();
  a.commands.add(command('extra', 1, [], [0, 0, 0], 'test', 'x', () => undefined));
  assert.ok(a.commands.get('extra') !== undefined);
  assert.is(b.commands.get('extra'), undefined);
});

// ---------------------------------------------------------------------------------------------

const run = suite('runSpec');

function boomSpec(err: unknown): CommandSpec {
  return command('boom', 2, [], [1, 1, 1], 'test', 'Throws.', () => { throw err; });
}

run('runs a looked-up spec: SET then GET of a 3 B value in RESP2 and RESP3', () => withCache((cache, server) => {
  assert.is(runSpec(server.commands.get('set')!, argv('SET', 'k', 'abc'), cache, peerClient(2), server).toString('latin1'), '+OK\r\n');
  assert.is(runSpec(server.commands.get('get')!, argv('GET', 'k'), cache, peerClient(3), server).toString('latin1'), '$3\r\nabc\r\n');
  assert.is(runSpec(server.commands.get('get')!, argv('GET', 'nope'), cache, peerClient(3), server).toString('latin1'), '_\r\n');
}));

run('turns a RangeError and a TypeError into error replies', () => withCache((cache, server) => {
  assert.is(runSpec(boomSpec(new RangeError('value out of range')), argv('BOOM', 'k'), cache, peerClient(2), server).toString('latin1'), '-ERR value out of range\r\n');
  assert.is(runSpec(boomSpec(new TypeError('bad type')), argv('BOOM', 'k'), cache, peerClient(2), server).toString('latin1'), '-ERR bad type\r\n');
}));

run('rethrows any other error for its caller to handle', () => withCache((cache, server) => {
  const err = new Error('a broken invariant');
  try {
    runSpec(boomSpec(err), argv('BOOM', 'k'), cache, peerClient(2), server);
    assert.unreachable('should have thrown');
  } catch (caught) {
    assert.is(caught, err);
  }
}));

run('returns only the failing command\'s error, not the part it wrote before throwing', () => withCache((cache, server) => {
  const spec = command('half', 2, [], [1, 1, 1], 'test', 'Writes then throws.', (ctx) => {
    ctx.out.simple('PARTIAL');
    throw new RangeError('gave up');
  });
  assert.is(runSpec(spec, argv('HALF', 'k'), cache, peerClient(2), server).toString('latin1'), '-ERR gave up\r\n');
}));

run('produces a streamed reply whole: a 3-slice stream and an MGET of 4 × 400 KiB (past one 1 MiB slice)', () => withCache((cache, server) => {
  let slices = 0;
  const spec = command('count', 2, [], [1, 1, 1], 'test', 'Streams 1, 2, 3.', (ctx) => {
    ctx.out.array(3);
    ctx.stream((out) => {
      out.integer(++slices);
      return slices === 3;
    });
  });
  assert.is(runSpec(spec, argv('COUNT', 'k'), cache, peerClient(2), server).toString('latin1'), '*3\r\n:1\r\n:2\r\n:3\r\n');
  const value = Buffer.alloc(400 * 1024, 0x78);
  cache.set('v', value);
  const reply = runSpec(server.commands.get('mget')!, argv('MGET', 'v', 'v', 'nope', 'v', 'v'), cache, peerClient(3), server);
  const bulk = `$${value.length}\r\n${value.toString('latin1')}\r\n`;
  assert.ok(reply.toString('latin1') === `*5\r\n${bulk}${bulk}_\r\n${bulk}${bulk}`, 'the MGET reply differs');
}));

run('a RangeError thrown by a later slice becomes the error reply, without the slices before it', () => withCache((cache, server) => {
  const spec = command('late', 2, [], [1, 1, 1], 'test', 'Throws in its stream.', (ctx) => {
    ctx.out.array(2);
    ctx.out.integer(1);
    ctx.stream(() => { throw new RangeError('slice failed'); });
  });
  assert.is(runSpec(spec, argv('LATE', 'k'), cache, peerClient(2), server).toString('latin1'), '-ERR slice failed\r\n');
}));

// ---------------------------------------------------------------------------------------------

const errBuf = suite('errorBuffer');

errBuf('writes "ERR boom" as the 11 bytes -ERR boom\\r\\n', () => {
  const b = errorBuffer('ERR boom');
  assert.is(b.length, 11);
  assert.is(b.toString('latin1'), '-ERR boom\r\n');
});

errBuf('keeps a reply on one line: inner CR/LF become spaces, outer ones are dropped', () => {
  assert.is(errorBuffer('ERR a\r\nb\nc').toString('latin1'), '-ERR a  b c\r\n');
  assert.is(errorBuffer('\r\nERR x\r\n').toString('latin1'), '-ERR x\r\n');
});

exec.run();
client.run();
standalone.run();
run.run();
errBuf.run();
