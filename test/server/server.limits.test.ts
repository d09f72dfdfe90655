/**
 * The input limits of MeshcacheServer in-process: option validation, the values CONFIG GET gives,
 * the per-client limit counted while a bulk arrives, and the partial-request clock that restarts
 * whenever a request completes. (The reproductions against a real process are in
 * test/integration/input-limits.test.ts.)
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Socket } from 'node:net';
import { MeshcacheServer, type ServerOptions } from '../../src/server/server.js';
import { RespClient, encode } from '../helpers/resp-client.js';
import { sleep, waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;

async function withServer(options: ServerOptions, fn: (server: MeshcacheServer, port: number) => Promise<void>): Promise<void> {
  const server = new MeshcacheServer({ port: 0, host: '127.0.0.1', cache: { maxMemory: 256 * MiB }, ...options });
  try {
    const { port } = await server.listen();
    await fn(server, port);
  } finally {
    await server.close();
  }
}

async function configGet(port: number, pattern: string): Promise<Record<string, string>> {
  const c = await RespClient.connect(port);
  try {
    const reply = await c.call('CONFIG', 'GET', pattern) as string[];
    const out: Record<string, string> = {};
    for (let i = 0; i < reply.length; i += 2) out[reply[i]] = reply[i + 1];
    return out;
  } finally {
    c.destroy();
  }
}

const options = suite('MeshcacheServer input-limit options');

options('refuses negative or non-integer buffer limits and negative or non-finite timeouts, naming the option', () => {
  assert.throws(() => new MeshcacheServer({ clientQueryBufferLimit: -1 }), (e: Error) => e instanceof RangeError && e.message === 'options.clientQueryBufferLimit must be an integer >= 0 (bytes; 0 = no limit)');
  assert.throws(() => new MeshcacheServer({ maxMemoryClients: 1.5 }), (e: Error) => e instanceof RangeError && e.message === 'options.maxMemoryClients must be an integer >= 0 (bytes; 0 = no limit)');
  assert.throws(() => new MeshcacheServer({ timeoutSeconds: -1 }), (e: Error) => e instanceof RangeError && e.message === 'options.timeoutSeconds must be a number >= 0 (seconds; 0 = never)');
  assert.throws(() => new MeshcacheServer({ partialRequestTimeoutSeconds: Infinity }), (e: Error) => e instanceof RangeError && e.message === 'options.partialRequestTimeoutSeconds must be a number >= 0 (seconds; 0 = never)');
});

options('CONFIG GET gives the defaults: 64 MiB per client with 8 MiB values, 256 MiB in total, timeout 0, partial requests 30 s', async () => {
  await withServer({}, async (_server, port) => {
    const c = await configGet(port, '*');
    assert.is(c['proto-max-bulk-len'], String(8 * MiB + 1024 + 1024));
    assert.is(c['client-query-buffer-limit'], String(64 * MiB));
    assert.is(c['maxmemory-clients'], String(256 * MiB));
    assert.is(c.timeout, '0');
    assert.is(c['partial-request-timeout'], '30');
  });
});

options('CONFIG GET gives the values set, and the total is raised to a per-client limit above 256 MiB', async () => {
  await withServer({ clientQueryBufferLimit: 2 * MiB, maxMemoryClients: 3 * MiB, timeoutSeconds: 7, partialRequestTimeoutSeconds: 2 }, async (_server, port) => {
    assert.equal(await configGet(port, 'client-query-buffer-limit'), { 'client-query-buffer-limit': String(2 * MiB) });
    assert.equal(await configGet(port, 'maxmemory-clients'), { 'maxmemory-clients': String(3 * MiB) });
    assert.equal(await configGet(port, 'timeout'), { timeout: '7' });
  });
  await withServer({ clientQueryBufferLimit: 300 * MiB }, async (_server, port) => {
    assert.equal(await configGet(port, 'maxmemory-clients'), { 'maxmemory-clients': String(300 * MiB) });
  });
});

const enforce = suite('MeshcacheServer input limits in-process');

enforce('disconnects a client at 1 MiB of an unfinished 4 MiB bulk, counts it, and releases its bytes from the total', async () => {
  await withServer({ clientQueryBufferLimit: MiB }, async (server, port) => {
    const sock: Socket = connect(port, '127.0.0.1');
    let closed = false;
    sock.on('error', () => { /* reset by the server */ });
    sock.on('close', () => { closed = true; });
    await new Promise((r) => sock.once('connect', r));
    sock.write('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4194304\r\n');
    let sent = 0;
    while (!closed && sent < 4 * MiB) {
      sock.write(Buffer.alloc(64 * 1024, 0x61));
      sent += 64 * 1024;
      await sleep(5);
    }
    await waitFor(() => closed, { timeoutMs: 10_000, what: 'the client to be disconnected' });
    assert.ok(sent < 4 * MiB, `sent all ${sent} bytes before the disconnect`);
    assert.is(server.counters.queryBufferLimitDisconnections, 1);
    assert.is(server.counters.evictedClients, 0);
    await waitFor(() => server.clientCount === 0, { timeoutMs: 5000, what: 'the server to see the close' });
    assert.is(server.clientInputBytes, 0);
    const c = await RespClient.connect(port);
    assert.is(await c.call('SET', 'k', Buffer.alloc(512 * 1024)), 'OK'); // under the limit: served
    c.destroy();
  });
});

enforce('does not close a pipelining client whose writes always end mid-request while requests keep completing', async () => {
  await withServer({ partialRequestTimeoutSeconds: 0.3 }, async (server, port) => {
    const c = await RespClient.connect(port);
    const request = encode('SET', 'k', 'v'.repeat(50));
    const half = request.length >> 1;
    const started = performance.now();
    let sent = 0;
    c.write(request.subarray(0, half));
    // Every 100 ms: the end of one SET and the start of the next, for 1.2 s (4 × the timeout).
    while (performance.now() - started < 1200) {
      await sleep(100);
      c.write(Buffer.concat([request.subarray(half), request.subarray(0, half)]));
      sent++;
    }
    c.write(request.subarray(half));
    sent++;
    const replies = await c.replies(sent, 10_000);
    assert.ok(replies.every((r) => r === 'OK'));
    assert.is(server.counters.timeoutDisconnections, 0);
    c.destroy();
  });
});

enforce('closes a client that stops half-way through a request after the partial-request timeout (0.3 s)', async () => {
  await withServer({ partialRequestTimeoutSeconds: 0.3 }, async (server, port) => {
    const c = await RespClient.connect(port);
    assert.is(await c.call('PING'), 'PONG');
    c.write('*2\r\n$4\r\nECHO\r\n$5\r\nhel');
    assert.is(await c.closedWithin(10_000), true);
    assert.is(server.counters.timeoutDisconnections, 1);
  });
});

options.run();
enforce.run();
