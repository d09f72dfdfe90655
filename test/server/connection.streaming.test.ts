/**
 * Streamed replies (ctx.stream) on a connection: they keep their place among pipelined replies,
 * hold back the commands after them, are paced by the soft output limit, cut at the hard limit,
 * stop when the client goes away, and let other clients be served between two slices. Run
 * against an in-process server on 127.0.0.1 port 0, with MGET of 256 KiB values (streamed past
 * 1 MiB) and two test commands that stream on demand.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MeshcacheServer, type ServerOptions } from '../../src/server/server.js';
import { command } from '../../src/commands/registry.js';
import { RespClient, encode, type Reply } from '../helpers/resp-client.js';
import { sleep, waitFor } from '../helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const VALUE = Buffer.alloc(256 * KiB, 0x61);

/** Set by the HOLD command's test: its stream completes once this is true. */
let released = false;

/** Runs `fn` against a server with a 64 MiB cache holding `big` (256 KiB), always stopping it. */
async function withServer(options: ServerOptions, fn: (server: MeshcacheServer, port: number, errors: string[]) => Promise<void>): Promise<void> {
  const errors: string[] = [];
  const server = new MeshcacheServer({
    port: 0, cache: { maxMemory: '64mb' }, closeTimeoutMs: 500,
    onClientError: (_c, kind, detail) => { if (kind !== 'socket') errors.push(`${kind}: ${detail}`); },
    ...options,
  });
  // HOLD: streams nothing until `released`, then `+done`. BOOMSTREAM: an array whose second slice throws.
  server.commands.add(command('hold', 1, [], [0, 0, 0], 'test', 'Streams +done once released.', (ctx) => {
    ctx.stream((out) => {
      if (!released) return false;
      out.simple('done');
      return true;
    });
  }));
  server.commands.add(command('boomstream', 1, [], [0, 0, 0], 'test', 'Streams an array, then throws.', (ctx) => {
    ctx.out.array(2);
    ctx.out.bulk('first');
    ctx.stream(() => { throw new Error('the second slice failed'); });
  }));
  const { port } = await server.listen();
  try {
    const setup = await RespClient.connect(port);
    assert.is(await setup.call('SET', 'big', VALUE), 'OK');
    setup.destroy();
    await fn(server, port, errors);
  } finally {
    await server.close();
  }
}

/** MGET of `big`, `n` times. */
function mgetBig(n: number): Buffer {
  return encode('MGET', ...Array.from({ length: n }, () => 'big'));
}

/** The wire size of MGET's reply of `big` `n` times (`*n`, then n bulk strings). */
function mgetBytes(n: number): number {
  return `*${n}\r\n`.length + n * (`$${VALUE.length}\r\n`.length + VALUE.length + 2);
}

const stream = suite('Connection: streamed replies');

stream('a pipeline around a 10 MiB MGET (40 × 256 KiB, streamed) gets every reply, whole and in order', async () => {
  await withServer({}, async (_server, port) => {
    const c = await RespClient.connect(port);
    c.write(Buffer.concat([encode('SET', 'a', '1'), mgetBig(40), encode('GET', 'a'), encode('PING')]));
    const [set, mget, get, ping] = await c.replies(4, 20_000);
    assert.is(set, 'OK');
    assert.ok(Array.isArray(mget));
    assert.is((mget as Reply[]).length, 40);
    for (const v of mget as Reply[]) assert.ok(v === VALUE.toString('latin1'), 'a value differs');
    assert.is(get, '1');
    assert.is(ping, 'PONG');
    c.destroy();
  });
});

stream('a SET pipelined behind a streamed MGET runs after it: the MGET returns only the old value', async () => {
  await withServer({}, async (_server, port) => {
    const c = await RespClient.connect(port);
    c.write(Buffer.concat([mgetBig(40), encode('SET', 'big', 'small'), encode('GET', 'big')]));
    const [mget, set, get] = await c.replies(3, 20_000);
    for (const v of mget as Reply[]) assert.is((v as string).length, VALUE.length);
    assert.is(set, 'OK');
    assert.is(get, 'small');
    c.destroy();
  });
});

stream('past the 1 MiB soft limit the producer of a 100 MiB MGET waits for a client that reads nothing; it gets all of it when it reads', async () => {
  await withServer({ outputLimits: { hardBytes: 512 * MiB, softBytes: 1 * MiB, softSeconds: 60 } }, async (server, port) => {
    const before = { ...server.counters };
    const c = await RespClient.connect(port);
    c.socket.pause();
    c.decode = false;
    c.write(mgetBig(400));
    await sleep(1000);
    const written = server.counters.netOutputBytes - before.netOutputBytes;
    const read = server.counters.keyspaceHits - before.keyspaceHits;
    assert.ok(written < 32 * MiB, `the server produced ${(written / MiB).toFixed(1)} MiB for a client that reads nothing`);
    assert.ok(read < 128, `${read} of 400 values were read already`);
    // Another client is served meanwhile.
    const other = await RespClient.connect(port);
    assert.is(await other.call('PING'), 'PONG');
    other.destroy();
    c.socket.resume();
    await waitFor(() => c.receivedBytes >= mgetBytes(400), { timeoutMs: 60_000, what: () => `the whole reply (${c.receivedBytes} of ${mgetBytes(400)} bytes)` });
    await sleep(50);
    assert.is(c.receivedBytes, mgetBytes(400));
    assert.is(server.counters.outputLimitDisconnections, 0);
    c.destroy();
  });
});

stream('a client that goes away in the middle of a streamed MGET stops its producer', async () => {
  await withServer({ outputLimits: { hardBytes: 512 * MiB, softBytes: 1 * MiB, softSeconds: 60 } }, async (server, port) => {
    const before = server.counters.keyspaceHits;
    const c = await RespClient.connect(port);
    c.socket.pause();
    c.write(mgetBig(400));
    await waitFor(() => server.counters.keyspaceHits > before, { what: 'the MGET to start' });
    await sleep(200);
    c.destroy();
    await waitFor(() => server.clientCount === 0, { what: 'the server to see the client go' });
    const atClose = server.counters.keyspaceHits;
    await sleep(500);
    assert.is(server.counters.keyspaceHits, atClose, 'values were still read after the client left');
    assert.ok(atClose - before < 400, 'the whole MGET was produced');
  });
});

stream('with the soft limit off, a client that reads nothing is cut at the 8 MiB hard limit while its 100 MiB MGET is produced', async () => {
  await withServer({ outputLimits: { hardBytes: 8 * MiB, softBytes: 0, softSeconds: 0 } }, async (server, port, errors) => {
    const before = { ...server.counters };
    const c = await RespClient.connect(port);
    c.socket.pause();
    c.write(mgetBig(400));
    await waitFor(() => server.counters.outputLimitDisconnections > 0, { timeoutMs: 10_000, what: 'the client to be cut' });
    await sleep(200);
    assert.is(server.counters.outputLimitDisconnections, 1);
    assert.ok(server.counters.keyspaceHits - before.keyspaceHits < 200, 'most of the MGET was produced');
    assert.ok(server.counters.netOutputBytes - before.netOutputBytes < 32 * MiB);
    assert.ok(errors.some((e) => e.startsWith('output-limit:')), errors.join('; '));
    c.socket.resume();
    assert.ok(await c.closedWithin(5000));
  });
});

stream('a GET of a 2 MiB value over a 1 MiB hard limit cuts the client before the reply is built', async () => {
  await withServer({ outputLimits: { hardBytes: 1 * MiB, softBytes: 0, softSeconds: 0 } }, async (server, port, errors) => {
    const setup = await RespClient.connect(port);
    assert.is(await setup.call('SET', 'huge', Buffer.alloc(2 * MiB, 0x62)), 'OK');
    setup.destroy();
    const before = server.counters.netOutputBytes;
    const c = await RespClient.connect(port);
    c.write(encode('GET', 'huge'));
    assert.ok(await c.closedWithin(5000), 'the client was not cut');
    assert.is(server.counters.outputLimitDisconnections, 1);
    assert.is(server.counters.netOutputBytes, before, 'part of the reply was written');
    assert.ok(errors.some((e) => e.includes('would take the output buffer over the hard limit')), errors.join('; '));
  });
});

stream('while a streamed reply waits, another client is served and the streaming client\'s next command waits for it', async () => {
  released = false;
  await withServer({}, async (_server, port) => {
    const a = await RespClient.connect(port);
    a.write(Buffer.concat([encode('HOLD'), encode('PING')]));
    await sleep(100);
    const b = await RespClient.connect(port);
    assert.is(await b.call('ECHO', 'served'), 'served');
    assert.is(a.receivedBytes, 0, 'the PING after HOLD was answered first');
    released = true;
    assert.equal(await a.replies(2), ['done', 'PONG']);
    a.destroy();
    b.destroy();
  });
});

stream('a streamed reply whose second slice throws closes only its connection, and is reported', async () => {
  await withServer({}, async (_server, port, errors) => {
    const a = await RespClient.connect(port);
    a.decode = false;
    a.write(encode('BOOMSTREAM'));
    assert.ok(await a.closedWithin(5000), 'the connection stayed open');
    assert.is(a.receivedBytes, '*2\r\n$5\r\nfirst\r\n'.length);
    const b = await RespClient.connect(port);
    assert.is(await b.call('PING'), 'PONG');
    b.destroy();
    assert.ok(errors.some((e) => e.startsWith('handler: boomstream (streamed): Error: the second slice failed')), errors.join('; '));
  });
});

stream.run();
