import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { MeshcacheServer, type ServerOptions } from '../../src/server/server.js';
import { RespClient, encode, err, type Reply } from '../helpers/resp-client.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { withServer } from '../helpers/server.js';

/** Runs `fn` against a server on 127.0.0.1:0, always stopping it. */
/** Sends `raw` and returns every reply until the server closes the connection (within 3 s). */
async function repliesUntilClose(port: number, raw: string | Buffer): Promise<Reply[]> {
  const c = await RespClient.connect(port);
  try {
    c.write(raw);
    assert.ok(await c.closedWithin(3000), `the server did not close the connection after ${JSON.stringify(String(raw).slice(0, 60))}`);
    return c.buffered;
  } finally {
    c.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------

const protocol = suite('Protocol errors over a connection');

const CASES: Array<[string, string]> = [
  ['*abc\r\n', 'ERR Protocol error: invalid multibulk length'],
  ['*1048577\r\n', 'ERR Protocol error: invalid multibulk length'],
  ['*1\r\n$-1\r\n', 'ERR Protocol error: invalid bulk length'],
  ['*1\r\n$999999999999\r\n', 'ERR Protocol error: invalid bulk length'],
  ['*1\r\nx\r\n', "ERR Protocol error: expected '$', got 'x'"],
  ['PING ' + 'x'.repeat(70_000), 'ERR Protocol error: too big inline request'],
  ['*' + '1'.repeat(70_000), 'ERR Protocol error: too big mbulk count string'],
  ['*1\r\n$' + '1'.repeat(70_000), 'ERR Protocol error: too big bulk count string'],
  ['SET k "abc\r\n', 'ERR Protocol error: unbalanced quotes in request'],
];

protocol('each protocol error gets Redis\'s reply text, then the connection is closed, and is counted', async () => {
  await withServer({}, async (server, port) => {
    for (const [raw, text] of CASES) {
      assert.equal(await repliesUntilClose(port, raw), [err(text)], JSON.stringify(raw.slice(0, 40)));
    }
    assert.is(server.counters.protocolErrors, CASES.length);
  });
});

protocol('a bulk over the server\'s value limit (maxValueBytes + key + 1 KiB) is refused before its bytes are sent', async () => {
  await withServer({ cache: { maxMemory: '16mb', shards: 1, maxValueBytes: 1024 * 1024 } }, async (server, port) => {
    const limit = server.cache.options.maxValueBytes + server.cache.options.maxKeyBytes + 1024;
    const ok = await RespClient.connect(port);
    assert.is(await ok.call('SET', 'k', Buffer.alloc(1024 * 1024, 1)), 'OK');
    ok.destroy();
    assert.equal(await repliesUntilClose(port, `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${limit + 1}\r\n`), [err('ERR Protocol error: invalid bulk length')]);
  });
});

protocol('commands before the protocol error in the same write are answered first, and nothing after it', async () => {
  await withServer({}, async (_server, port) => {
    const replies = await repliesUntilClose(port, 'PING\r\n' + encode('SET', 'a', '1').toString() + 'GET a\r\n*x\r\nPING\r\nSET a 2\r\n');
    assert.equal(replies, ['PONG', 'OK', '1', err('ERR Protocol error: invalid multibulk length')]);
    const c = await RespClient.connect(port);
    assert.is(await c.call('GET', 'a'), '1');
    c.destroy();
  });
});

protocol('a protocol error closes only its own connection: another client pipelining at the same time is unaffected', async () => {
  await withServer({}, async (_server, port) => {
    const good = await RespClient.connect(port);
    const bad = await RespClient.connect(port);
    good.write(Buffer.concat(Array.from({ length: 100 }, (_, i) => encode('ECHO', `m${i}`))));
    bad.write('*1\r\n$4\r\nPING\r\n*1\r\n?\r\n');
    assert.equal(await bad.replies(2), ['PONG', err("ERR Protocol error: expected '$', got '?'")]);
    assert.ok(await bad.closedWithin(3000));
    const replies = await good.replies(100);
    assert.equal(replies, Array.from({ length: 100 }, (_, i) => `m${i}`));
    assert.is(await good.call('PING'), 'PONG');
    good.destroy();
  });
});

protocol('a peer that keeps its side open and keeps sending after a protocol error is closed within ~1 s', async () => {
  await withServer({}, async (server, port) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const received: Buffer[] = [];
    socket.on('data', (d) => received.push(d));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write('*x\r\n');
    const spam = setInterval(() => { if (!socket.destroyed) socket.write('PING '.repeat(1000)); }, 20);
    try {
      await waitFor(() => server.clientCount === 0, { timeoutMs: 4000, what: 'the server to drop the half-open connection' });
    } finally {
      clearInterval(spam);
      socket.destroy();
      await closed;
    }
    assert.is(Buffer.concat(received).toString(), '-ERR Protocol error: invalid multibulk length\r\n');
  });
});

protocol('QUIT replies +OK and closes; the commands after it are not run', async () => {
  await withServer({}, async (_server, port) => {
    assert.equal(await repliesUntilClose(port, 'PING\r\nQUIT\r\nSET q 1\r\n'), ['PONG', 'OK']);
    const c = await RespClient.connect(port);
    assert.is(await c.call('GET', 'q'), null);
    c.destroy();
  });
});

// ---------------------------------------------------------------------------------------------------

const commands = suite('Command errors (the connection stays open)');

commands('an unknown command gets Redis\'s text, with its name as sent and its first arguments quoted', async () => {
  await withServer({}, async (server, port) => {
    const c = await RespClient.connect(port);
    assert.equal(await c.call('FOO', 'a', 'b c'), err("ERR unknown command 'FOO', with args beginning with: 'a' 'b c' "));
    assert.equal(await c.call('nosuch'), err("ERR unknown command 'nosuch', with args beginning with: "));
    c.write('bar x\r\n');
    assert.equal(await c.next(), err("ERR unknown command 'bar', with args beginning with: 'x' "));
    assert.is(await c.call('PING'), 'PONG');
    assert.is(server.counters.protocolErrors, 0);
    c.destroy();
  });
});

commands('a wrong number of arguments gets "ERR wrong number of arguments for \'<lower-case name>\' command"', async () => {
  await withServer({}, async (_server, port) => {
    const c = await RespClient.connect(port);
    assert.equal(await c.call('GET'), err("ERR wrong number of arguments for 'get' command"));
    assert.equal(await c.call('GeT', 'a', 'b'), err("ERR wrong number of arguments for 'get' command"));
    assert.equal(await c.call('SET', 'k'), err("ERR wrong number of arguments for 'set' command"));
    assert.equal(await c.call('ECHO'), err("ERR wrong number of arguments for 'echo' command"));
    assert.equal(await c.call('ECHO', 'a', 'b'), err("ERR wrong number of arguments for 'echo' command"));
    assert.equal(await c.call('PING', 'a', 'b'), err("ERR wrong number of arguments for 'ping' command"));
    assert.equal(await c.call('DBSIZE', 'x'), err("ERR wrong number of arguments for 'dbsize' command"));
    assert.equal(await c.call('CLIENT'), err("ERR wrong number of arguments for 'client' command"));
    assert.is(await c.call('PING'), 'PONG');
    c.destroy();
  });
});

// ---------------------------------------------------------------------------------------------------

const auth = suite('AUTH and requirepass');

auth('before AUTH every command but AUTH, HELLO and QUIT gets NOAUTH', async () => {
  await withServer({ requirepass: 's3cret' }, async (_server, port) => {
    const c = await RespClient.connect(port);
    for (const cmd of [['GET', 'k'], ['SET', 'k', 'v'], ['PING'], ['ECHO', 'x'], ['DBSIZE'], ['INFO'], ['CLIENT', 'ID']]) {
      assert.equal(await c.call(...cmd), err('NOAUTH Authentication required.'), cmd.join(' '));
    }
    assert.equal(await c.call('QUIT'), 'OK');
    assert.ok(await c.closedWithin(3000));
  });
});

auth('before AUTH, unknown commands and wrong arity get their own errors first, as in Redis', async () => {
  await withServer({ requirepass: 's3cret' }, async (_server, port) => {
    const c = await RespClient.connect(port);
    assert.equal(await c.call('NOPE'), err("ERR unknown command 'NOPE', with args beginning with: "));
    assert.equal(await c.call('GET'), err("ERR wrong number of arguments for 'get' command"));
    c.destroy();
  });
});

auth('before AUTH, more than 10 arguments or a bulk over 16 KiB is a protocol error (Redis\'s unauthenticated caps); after AUTH it is not', async () => {
  await withServer({ requirepass: 's3cret' }, async (server, port) => {
    assert.equal(await repliesUntilClose(port, encode('DBSIZE').toString() + '*11\r\n'), [err('NOAUTH Authentication required.'), err('ERR Protocol error: unauthenticated multibulk length')]);
    assert.equal(await repliesUntilClose(port, '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16385\r\n'), [err('ERR Protocol error: unauthenticated bulk length')]);
    assert.is(server.counters.protocolErrors, 2);
    const c = await RespClient.connect(port);
    c.write(Buffer.concat([encode('AUTH', 's3cret'), encode('SET', 'k', 'v'.repeat(20_000)), encode('ECHO', 'x'.repeat(16385))]));
    const [ok, set, echo] = await c.replies(3);
    assert.equal([ok, set, (echo as string).length], ['OK', 'OK', 16385]);
    c.destroy();
  });
});

auth('a wrong password gets WRONGPASS, with or without the user name; the right one gets OK and unlocks commands', async () => {
  await withServer({ requirepass: 's3cret' }, async (_server, port) => {
    const c = await RespClient.connect(port);
    const wrongpass = err('WRONGPASS invalid username-password pair or user is disabled.');
    assert.equal(await c.call('AUTH', 'nope'), wrongpass);
    assert.equal(await c.call('AUTH', 'default', 'nope'), wrongpass);
    assert.equal(await c.call('AUTH', 'someone', 's3cret'), wrongpass);
    assert.equal(await c.call('GET', 'k'), err('NOAUTH Authentication required.'));
    assert.is(await c.call('AUTH', 's3cret'), 'OK');
    assert.is(await c.call('SET', 'k', 'v'), 'OK');
    assert.is(await c.call('GET', 'k'), 'v');
    const d = await RespClient.connect(port);
    assert.is(await d.call('AUTH', 'default', 's3cret'), 'OK');
    assert.is(await d.call('GET', 'k'), 'v');
    c.destroy();
    d.destroy();
  });
});

auth('HELLO before AUTH gets Redis\'s NOAUTH text; HELLO 3 AUTH default <pass> authenticates and switches to RESP3', async () => {
  await withServer({ requirepass: 's3cret' }, async (_server, port) => {
    const c = await RespClient.connect(port);
    assert.equal(await c.call('HELLO', '3'), err('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time'));
    assert.equal(await c.call('HELLO', '3', 'AUTH', 'default', 'wrong'), err('WRONGPASS invalid username-password pair or user is disabled.'));
    assert.equal(await c.call('GET', 'k'), err('NOAUTH Authentication required.'));
    const hello = await c.call('HELLO', '3', 'AUTH', 'default', 's3cret');
    assert.instance(hello, Map);
    assert.is((hello as Map<Reply, Reply>).get('proto'), 3);
    assert.is((hello as Map<Reply, Reply>).get('server'), 'redis');
    c.write(encode('GET', 'missing'));
    c.write(encode('PING'));
    assert.equal(await c.replies(2), [null, 'PONG']);
    c.destroy();
  });
});

auth('AUTH <password> without a password configured gets Redis\'s error', async () => {
  await withServer({}, async (_server, port) => {
    const c = await RespClient.connect(port);
    assert.equal(await c.call('AUTH', 'anything'), err('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?'));
    assert.is(await c.call('PING'), 'PONG');
    c.destroy();
  });
});

// ---------------------------------------------------------------------------------------------------

const clients = suite('maxClients');

clients('with maxClients 2, a third client gets "-ERR max number of clients reached" and is closed; a slot freed is reusable', async () => {
  await withServer({ maxClients: 2 }, async (server, port) => {
    const a = await RespClient.connect(port);
    const b = await RespClient.connect(port);
    assert.is(await a.call('PING'), 'PONG');
    assert.is(await b.call('PING'), 'PONG');
    const c = await RespClient.connect(port);
    assert.ok(await c.closedWithin(3000), 'the third client was not closed');
    assert.equal(c.buffered, [err('ERR max number of clients reached')]);
    assert.is(server.counters.rejectedConnections, 1);
    assert.is(server.clientCount, 2);
    a.destroy();
    await waitFor(() => server.clientCount === 1, { timeoutMs: 2000, what: 'the freed slot' });
    const d = await RespClient.connect(port);
    assert.is(await d.call('ECHO', 'in'), 'in');
    b.destroy();
    d.destroy();
    await sleep(10);
  });
});

protocol.run();
commands.run();
auth.run();
clients.run();
