/**
 * The TLS listener for RESP clients (`ServerOptions.tls`, Redis 6's tls-port): ioredis over TLS,
 * both listeners at once or TLS alone, client certificates (authClients yes, optional, no), the
 * option checks, and close(). The sidecar's flags over TLS, with redis-cli, are in
 * test/integration/tls.test.ts. Certificates: test/fixtures/tls (see its README). Every server binds
 * 127.0.0.1 port 0 and is closed in a finally; every network step is bounded.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { MeshcacheServer, type ServerOptions, type ServerTlsOptions } from '../../src/server/server.js';
import { RespClient } from '../helpers/resp-client.js';

const STEP_TIMEOUT_MS = 5000;
const FIXTURES = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const pem = (name: string) => readFileSync(FIXTURES + name);
const CA = pem('ca.pem');
const SERVER = { cert: pem('server-cert.pem'), key: pem('server-key.pem') };
const CLIENT = { cert: pem('client-cert.pem'), key: pem('client-key.pem') };
const STRANGER = { cert: pem('stranger-cert.pem'), key: pem('stranger-key.pem') };

/** Rejects when `p` takes longer than STEP_TIMEOUT_MS. */
function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS); }),
  ]);
}

/** Starts a server with a TLS listener on port 0 (and a plain one on port 0 unless `port: null`). */
async function start(tls: Partial<ServerTlsOptions>, options: ServerOptions = {}): Promise<MeshcacheServer> {
  const server = new MeshcacheServer({ port: 0, cache: { maxMemory: '8mb', shards: 2 }, ...options, tls: { port: 0, ...SERVER, ...tls } });
  await bounded(server.listen(), 'listen');
  return server;
}

/** An ioredis client over TLS that never retries (a refusal is an error, not a reconnect loop). */
function tlsRedis(port: number, tls: Record<string, unknown>): Redis {
  return new Redis({
    host: '127.0.0.1', port, tls: { ca: CA, ...tls }, lazyConnect: true,
    maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: STEP_TIMEOUT_MS, enableOfflineQueue: false,
  });
}

/**
 * Sends PING over TLS with the given client certificate (or none) and reports what came back
 * before the connection closed: `+PONG\r\n` when served, '' and an error when refused.
 */
function tlsPing(port: number, cert?: { cert: Buffer; key: Buffer }): Promise<{ reply: string; error: string | null }> {
  return bounded(new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: CA, servername: 'localhost', ...cert });
    let reply = '';
    let error: string | null = null;
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => socket.write('PING\r\n'));
    socket.on('data', (d: string) => {
      reply += d;
      if (reply.endsWith('\r\n')) socket.end();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message; });
    socket.on('close', () => resolve({ reply, error }));
  }), 'TLS PING');
}

const listener = suite('MeshcacheServer tls');

listener('serves ioredis SET and GET over TLS, and plain clients on the other port, from one cache', async () => {
  const server = await start({});
  const r = tlsRedis(server.tlsAddress!.port, {});
  try {
    assert.ok(server.address !== null && server.tlsAddress !== null);
    assert.is.not(server.address!.port, server.tlsAddress!.port);
    await bounded(r.connect(), 'ioredis TLS connect');
    assert.is(await bounded(r.set('greeting', 'hello over tls'), 'SET'), 'OK');
    assert.is(await bounded(r.get('greeting'), 'GET'), 'hello over tls');
    const plain = await bounded(RespClient.connect(server.address!.port), 'plain connect');
    try {
      assert.equal(await bounded(plain.call('GET', 'greeting'), 'plain GET'), 'hello over tls');
      assert.equal(await bounded(plain.call('CONFIG', 'GET', 'tls-port'), 'CONFIG GET'), ['tls-port', String(server.tlsAddress!.port)]);
      assert.is(server.clientCount, 2, 'the TLS client and the plain one are both clients');
    } finally {
      plain.destroy();
    }
  } finally {
    r.disconnect();
    await server.close();
  }
});

listener('with port null listens on TLS only: address is null and listen() resolves to the TLS address', async () => {
  const server = new MeshcacheServer({ port: null, cache: { maxMemory: '8mb', shards: 2 }, tls: { port: 0, ...SERVER } });
  try {
    const addr = await bounded(server.listen(), 'listen');
    assert.is(server.address, null);
    assert.is(addr.port, server.tlsAddress!.port);
    assert.equal(await tlsPing(addr.port), { reply: '+PONG\r\n', error: null });
  } finally {
    await server.close();
  }
});

listener('a plain RESP client on the TLS port gets no reply', async () => {
  const server = await start({});
  try {
    const reply = await bounded(new Promise<string>((resolve) => {
      const s = netConnect(server.tlsAddress!.port, '127.0.0.1', () => s.write('PING\r\n'));
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => { text += d; });
      s.on('error', () => undefined);
      s.on('close', () => resolve(text));
    }), 'plain PING on the TLS port');
    assert.not.ok(reply.includes('PONG'), `got ${JSON.stringify(reply)}`);
  } finally {
    await server.close();
  }
});

listener('authClients yes (the default with a CA): a client without a certificate, or with a stranger\'s, is refused', async () => {
  const tlsErrors: string[] = [];
  const server = await start({ ca: CA }, { onTlsError: (err) => tlsErrors.push(err.message) });
  try {
    const port = server.tlsAddress!.port;
    assert.equal(await tlsPing(port, CLIENT), { reply: '+PONG\r\n', error: null });
    const bare = await tlsPing(port);
    assert.is(bare.reply, '', 'no reply without a certificate');
    assert.ok(bare.error !== null, 'the client sees an error');
    const stranger = await tlsPing(port, STRANGER);
    assert.is(stranger.reply, '', 'no reply with a certificate from another CA');
    assert.is(server.clientCount, 0);
    assert.ok(tlsErrors.length >= 2, `onTlsError reported ${JSON.stringify(tlsErrors)}`);
    const r = tlsRedis(port, CLIENT);
    try {
      await bounded(r.connect(), 'ioredis connect with a certificate');
      assert.is(await bounded(r.ping(), 'PING'), 'PONG');
    } finally {
      r.disconnect();
    }
  } finally {
    await server.close();
  }
});

listener('authClients optional: no certificate is served, a valid one is served, a stranger\'s is refused', async () => {
  const server = await start({ ca: CA, authClients: 'optional' });
  try {
    const port = server.tlsAddress!.port;
    assert.equal(await tlsPing(port), { reply: '+PONG\r\n', error: null });
    assert.equal(await tlsPing(port, CLIENT), { reply: '+PONG\r\n', error: null });
    assert.is((await tlsPing(port, STRANGER)).reply, '');
  } finally {
    await server.close();
  }
});

listener('authClients no with a CA: a stranger\'s certificate is not asked for and the client is served', async () => {
  const server = await start({ ca: CA, authClients: 'no' });
  try {
    assert.equal(await tlsPing(server.tlsAddress!.port, STRANGER), { reply: '+PONG\r\n', error: null });
  } finally {
    await server.close();
  }
});

listener('close() stops the TLS listener: a new TLS connection is refused afterwards', async () => {
  const server = await start({});
  const port = server.tlsAddress!.port;
  await server.close();
  const err = await bounded(new Promise<string>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: CA, servername: 'localhost' });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.on('secureConnect', () => { s.destroy(); resolve('connected'); });
  }), 'connect after close');
  assert.is(err, 'ECONNREFUSED');
});

const checks = suite('MeshcacheServer tls options');

checks('refuses authClients yes without a CA, naming options.tls.ca', () => {
  assert.throws(() => new MeshcacheServer({ tls: { port: 0, ...SERVER, authClients: 'yes' } }),
    (e: Error) => e instanceof TypeError && e.message === "options.tls.authClients 'yes' needs options.tls.ca (the CA that signs client certificates)");
});

checks('refuses authClients "maybe", a port of 70000 and a missing key', () => {
  assert.throws(() => new MeshcacheServer({ tls: { port: 0, ...SERVER, ca: CA, authClients: 'maybe' as 'yes' } }), /options\.tls\.authClients must be 'yes', 'no' or 'optional'/);
  assert.throws(() => new MeshcacheServer({ tls: { port: 70000, ...SERVER } }), /options\.tls\.port must be an integer from 0 to 65535/);
  assert.throws(() => new MeshcacheServer({ tls: { port: 0, cert: SERVER.cert, key: '' } }), /options\.tls\.key must be a PEM string or Buffer/);
});

checks('refuses a key that does not match the certificate at construction', () => {
  assert.throws(() => new MeshcacheServer({ tls: { port: 0, cert: SERVER.cert, key: CLIENT.key } }),
    (e: Error) => e instanceof TypeError && e.message.startsWith('options.tls: cannot use the certificate, key or CA: '));
});

checks('refuses port null without tls: a server needs a listener', () => {
  assert.throws(() => new MeshcacheServer({ port: null }), /options\.port may be null only with options\.tls/);
});

listener.run();
checks.run();
