import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MeshcacheServer, type ServerOptions } from '../../src/server/server.js';
import { RespClient, encode } from '../helpers/resp-client.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { roundTrips } from '../helpers/server.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Runs `fn` against a server on 127.0.0.1:0 with a 64 MiB cache, always stopping it. */
async function withServer(options: ServerOptions, fn: (server: MeshcacheServer, port: number) => Promise<void>): Promise<void> {
  const errors: string[] = [];
  const server = new MeshcacheServer({
    port: 0, cache: { maxMemory: '64mb' }, closeTimeoutMs: 500,
    onClientError: (_c, kind, detail) => { if (kind !== 'socket') errors.push(`${kind}: ${detail}`); },
    ...options,
  });
  const { port } = await server.listen();
  try {
    await fn(server, port);
  } finally {
    await server.close();
  }
  for (const e of errors) assert.ok(e.startsWith('output-limit:'), `unexpected client error: ${e}`);
}

/**
 * A well-behaved client that keeps doing SET / GET / PING round trips until `stop()`; every reply
 * is checked. Returns the number of round trips and the slowest one.
 */
function wellBehaved(port: number): { stop: () => Promise<{ rounds: number; worstMs: number }> } {
  return roundTrips(port, async (c, n) => {
    const v = `value-${n}-${'x'.repeat(n % 50)}`;
    assert.is(await c.call('SET', `good:${n % 10}`, v), 'OK');
    assert.is(await c.call('GET', `good:${n % 10}`), v);
    assert.is(await c.call('PING'), 'PONG');
  }, 2);
}

/** GETs of `key`, `n` times, as one pipelined buffer. */
function gets(key: string, n: number): Buffer {
  const one = encode('GET', key);
  return Buffer.concat(Array.from({ length: n }, () => one));
}

const slow = suite('Connection output limits (slow clients)');

slow('a reader that stops reading is cut at the 2 MiB hard limit, counted once, while another client is served', async () => {
  await withServer({ outputLimits: { hardBytes: 2 * MiB, softBytes: 2 * MiB, softSeconds: 60 } }, async (server, port) => {
    const setup = await RespClient.connect(port);
    assert.is(await setup.call('SET', 'big', Buffer.alloc(256 * KiB, 0x61)), 'OK');
    setup.destroy();
    const good = wellBehaved(port);
    const slowClient = await RespClient.connect(port);
    slowClient.socket.pause(); // never reads: the kernel buffers fill, then the server's
    slowClient.write(gets('big', 400)); // 400 × 256 KiB = 100 MiB of replies requested
    // A paused socket does not notice its peer closing: watch the server's side.
    await waitFor(() => server.counters.outputLimitDisconnections > 0, { timeoutMs: 5000, what: 'the slow client to be disconnected' });
    await sleep(200);
    assert.is(server.counters.outputLimitDisconnections, 1);
    slowClient.socket.resume();
    assert.ok(await slowClient.closedWithin(5000), 'the slow client socket did not close');
    const { rounds, worstMs: maxMs } = await good.stop();
    assert.ok(rounds >= 5, `the well-behaved client made only ${rounds} round trips`);
    assert.ok(maxMs < 5000, `a well-behaved round trip took ${maxMs.toFixed(0)} ms`);
    // Still serving afterwards.
    const after = await RespClient.connect(port);
    assert.is((await after.call('GET', 'big') as string).length, 256 * KiB);
    after.destroy();
    assert.ok(server.counters.netOutputBytes < 40 * MiB, `the server wrote ${server.counters.netOutputBytes} bytes for a client that read none`);
  });
});

slow('past the 1 MiB soft limit the server stops reading and executing a 3,000-GET pipeline, so its output stays under 48 MiB', async () => {
  await withServer({ outputLimits: { hardBytes: 512 * MiB, softBytes: 1 * MiB, softSeconds: 60 } }, async (server, port) => {
    const setup = await RespClient.connect(port);
    assert.is(await setup.call('SET', 'v64', Buffer.alloc(64 * KiB, 0x62)), 'OK');
    setup.destroy();
    const before = server.counters.netOutputBytes;
    const slowClient = await RespClient.connect(port);
    slowClient.socket.pause();
    // 3,000 GETs (188 MiB of replies) in one write: most arrive in the server's first reads, so the
    // pause must stop the commands already received, not only the socket.
    slowClient.write(gets('v64', 3000));
    await sleep(1500);
    const written = server.counters.netOutputBytes - before;
    assert.ok(written < 48 * MiB, `the server produced ${(written / MiB).toFixed(1)} MiB for a client that reads nothing`);
    assert.ok(!slowClient.socket.destroyed && !slowClient.ended, 'disconnected before softSeconds');
    assert.is(server.counters.outputLimitDisconnections, 0);
    // A second client is served while the first is paused.
    const other = await RespClient.connect(port);
    assert.is(await other.call('ECHO', 'still here'), 'still here');
    other.destroy();
    // When the slow client reads again, all 3,000 replies arrive (every byte of them).
    slowClient.decode = false;
    slowClient.socket.resume();
    await waitFor(() => slowClient.receivedBytes >= 3000 * (64 * KiB + 10), { timeoutMs: 30_000, what: 'all 3,000 replies' });
    assert.is(slowClient.receivedBytes, 3000 * (64 * KiB + 10));
    slowClient.destroy();
  });
});

slow('a client over the 1 MiB soft limit for softSeconds (1 s) is disconnected after about 1 s, not before', async () => {
  await withServer({ outputLimits: { hardBytes: 512 * MiB, softBytes: 1 * MiB, softSeconds: 1 } }, async (server, port) => {
    const setup = await RespClient.connect(port);
    assert.is(await setup.call('SET', 'v64', Buffer.alloc(64 * KiB, 0x63)), 'OK');
    setup.destroy();
    const good = wellBehaved(port);
    const slowClient = await RespClient.connect(port);
    slowClient.socket.pause();
    const started = Date.now();
    slowClient.write(gets('v64', 2000));
    await waitFor(() => server.counters.outputLimitDisconnections > 0, { timeoutMs: 5000, what: 'the slow client to be disconnected' });
    const ms = Date.now() - started;
    assert.ok(ms >= 900, `disconnected after ${ms} ms`);
    await sleep(100);
    assert.is(server.counters.outputLimitDisconnections, 1);
    slowClient.socket.resume();
    assert.ok(await slowClient.closedWithin(5000), 'the slow client socket did not close');
    const { rounds } = await good.stop();
    assert.ok(rounds >= 5, `the well-behaved client made only ${rounds} round trips`);
  });
});

slow('a client that pauses reading for a while under softSeconds, with an 8 KiB soft limit, then reads, gets every reply', async () => {
  // 8 KiB is under the socket's 16 KiB high-water mark: 'drain' alone would never resume it.
  await withServer({ outputLimits: { hardBytes: 64 * MiB, softBytes: 8 * KiB, softSeconds: 30 } }, async (server, port) => {
    const c = await RespClient.connect(port);
    assert.is(await c.call('SET', 'v10', Buffer.alloc(10 * KiB, 0x64)), 'OK');
    c.socket.pause();
    for (let round = 0; round < 3; round++) {
      c.write(gets('v10', 1500)); // ~15 MiB, more than the kernel buffers hold
      await sleep(300);
      c.socket.resume();
      const replies = await c.replies(1500, 10_000);
      for (const r of replies) assert.is((r as string).length, 10 * KiB);
      c.socket.pause();
    }
    c.socket.resume();
    assert.is(await c.call('PING'), 'PONG');
    assert.is(server.counters.outputLimitDisconnections, 0);
    c.destroy();
  });
});

slow('0 disables a limit, as in Redis (hard 0, soft 0: a 25 MiB backlog is kept and delivered)', async () => {
  await withServer({ outputLimits: { hardBytes: 0, softBytes: 0, softSeconds: 0 } }, async (server, port) => {
    const c = await RespClient.connect(port);
    assert.is(await c.call('SET', 'v', Buffer.alloc(64 * KiB, 0x65)), 'OK');
    c.socket.pause();
    c.write(gets('v', 400)); // 25 MiB
    await sleep(500);
    c.socket.resume();
    const replies = await c.replies(400, 10_000);
    assert.is(replies.length, 400);
    assert.is(server.counters.outputLimitDisconnections, 0);
    c.destroy();
  });
});

slow.run();
