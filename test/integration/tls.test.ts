/**
 * The real `meshcache serve` over TLS and behind a password, end to end: a child process per
 * suite started with the TLS and HTTP flags, driven by ioredis, node:https and (when installed)
 * redis-cli. Certificates: test/fixtures/tls (see its README). Every child binds port 0 on
 * loopback, reports its ports in the 'meshcache listening' log line, and is killed in the suite's
 * after hook; every step is bounded.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { spawnCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const STEP_TIMEOUT_MS = 5000;
/** Startup of a child takes ~2 s of CPU when the machine is idle; several may share it. */
const START_TIMEOUT_MS = 60_000;
const REDIS_CLI = '/usr/bin/redis-cli';
const PASSWORD = 'tls test password';
const FIXTURES = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const pem = (name: string) => readFileSync(FIXTURES + name);
const CA = pem('ca.pem');
const CLIENT = { cert: pem('client-cert.pem'), key: pem('client-key.pem') };

/** Rejects when `p` takes longer than `ms`. */
function bounded<T>(p: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); }),
  ]);
}

/** A `meshcache serve` child and the fields of its 'meshcache listening' line. */
class Sidecar {
  readonly child: ChildProcess;
  output = '';
  listening: Record<string, unknown> = {};

  constructor(args: string[]) {
    this.child = spawnCli(['serve', '--max-memory', '16mb', '--log-level', 'info', ...args]);
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.output += d; });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.output += d; });
  }

  async ready(): Promise<this> {
    await waitFor(() => this.output.includes('"msg":"meshcache listening"') || this.child.exitCode !== null,
      { timeoutMs: START_TIMEOUT_MS, what: 'the meshcache listening log line' });
    const line = this.output.split('\n').find((l) => l.includes('"msg":"meshcache listening"'));
    if (line === undefined) throw new Error(`serve exited (${this.child.exitCode}): ${this.output.slice(-3000)}`);
    this.listening = JSON.parse(line) as Record<string, unknown>;
    return this;
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

function tlsRedis(port: number, tls: Record<string, unknown>): Redis {
  return new Redis({
    host: '127.0.0.1', port, password: PASSWORD, tls: { ca: CA, ...tls }, lazyConnect: true,
    maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: STEP_TIMEOUT_MS, enableOfflineQueue: false,
  });
}

/** A GET over HTTPS to host:port (trusting the test CA); the status and body, or the error code. */
function httpsGet(host: string, port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string } | string> {
  return bounded(new Promise((resolve) => {
    const req = httpsRequest({ host, port, path, headers, ca: CA, servername: 'localhost', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  }), `GET https://${host}:${port}${path}`);
}

const basic = { authorization: `Basic ${Buffer.from(`default:${PASSWORD}`).toString('base64')}` };

// ---------------------------------------------------------------------------------------------

const mutual = suite('serve --port 0 --tls-port 0 --tls-ca (client certificates required) --http-host 127.0.0.2 --requirepass');
let a: Sidecar;

mutual.before(async () => {
  a = await new Sidecar([
    '--port', '0', '--tls-port', '0', '--tls-cert', FIXTURES + 'server-cert.pem', '--tls-key', FIXTURES + 'server-key.pem',
    '--tls-ca', FIXTURES + 'ca.pem', '--http', '0', '--http-host', '127.0.0.2', '--requirepass', PASSWORD,
  ]).ready();
});

mutual.after(() => a?.stop());

mutual('logs no plain port, a TLS port, and HTTPS on 127.0.0.2', () => {
  assert.is(a.listening.port, null);
  assert.type(a.listening.tlsPort, 'number');
  assert.is(a.listening.httpHost, '127.0.0.2');
  assert.is(a.listening.https, true);
});

mutual('ioredis with a client certificate and the password does SET and GET over --tls-port', async () => {
  const r = tlsRedis(a.listening.tlsPort as number, CLIENT);
  try {
    await bounded(r.connect(), 'ioredis connect');
    assert.is(await bounded(r.set('k', 'over tls'), 'SET'), 'OK');
    assert.is(await bounded(r.get('k'), 'GET'), 'over tls');
  } finally {
    r.disconnect();
  }
});

mutual('a TLS client without a certificate gets no reply, and the refusal is logged', async () => {
  const reply = await bounded(new Promise<string>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: a.listening.tlsPort as number, ca: CA, servername: 'localhost' });
    let text = '';
    s.setEncoding('utf8');
    s.on('secureConnect', () => s.write(`AUTH ${JSON.stringify(PASSWORD)}\r\nPING\r\n`));
    s.on('data', (d: string) => { text += d; });
    s.on('error', () => undefined);
    s.on('close', () => resolve(text));
  }), 'TLS PING without a certificate');
  assert.is(reply, '');
  await waitFor(() => a.output.includes('"msg":"tls handshake failed"'), { timeoutMs: STEP_TIMEOUT_MS, what: 'the tls handshake failed log line' });
});

mutual('HTTPS on 127.0.0.2 wants the password; /healthz is open; nothing listens on 127.0.0.1 at that port', async () => {
  const port = a.listening.http as number;
  const refused = await httpsGet('127.0.0.2', port, '/metrics');
  assert.is(typeof refused === 'object' && refused.status, 401);
  const metrics = await httpsGet('127.0.0.2', port, '/metrics', basic);
  assert.ok(typeof metrics === 'object' && metrics.status === 200, JSON.stringify(metrics).slice(0, 200));
  assert.match((metrics as { body: string }).body, /^meshcache_connected_clients /m);
  const stats = await httpsGet('127.0.0.2', port, '/api/stats', { authorization: `Bearer ${PASSWORD}` });
  assert.is(typeof stats === 'object' && stats.status, 200);
  assert.equal(await httpsGet('127.0.0.2', port, '/healthz'), { status: 200, body: 'ok\n' });
  const other = await bounded(new Promise<string>((resolve) => {
    const s = netConnect(port, '127.0.0.1', () => { s.destroy(); resolve('connected'); });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  }), 'connect to 127.0.0.1');
  assert.is(other, 'ECONNREFUSED');
});

// ---------------------------------------------------------------------------------------------

const serverOnly = suite('serve --port 0 --tls-port 0 without --tls-ca (server certificate only)');
let b: Sidecar;

serverOnly.before(async () => {
  b = await new Sidecar(['--port', '0', '--tls-port', '0', '--tls-cert', FIXTURES + 'server-cert.pem', '--tls-key', FIXTURES + 'server-key.pem', '--requirepass', PASSWORD]).ready();
});

serverOnly.after(() => b?.stop());

serverOnly('ioredis with tls: { ca } does SET and GET over --tls-port without a client certificate', async () => {
  assert.is(b.listening.port, null, '--port 0 beside --tls-port turns the plain port off');
  const r = tlsRedis(b.listening.tlsPort as number, {});
  try {
    await bounded(r.connect(), 'ioredis TLS connect');
    assert.is(await bounded(r.set('shared', 'from tls'), 'SET'), 'OK');
    assert.is(await bounded(r.get('shared'), 'GET'), 'from tls');
  } finally {
    r.disconnect();
  }
});

serverOnly('redis-cli --tls --cacert does SET and GET (skipped without /usr/bin/redis-cli)', async () => {
  if (!existsSync(REDIS_CLI)) {
    console.log(`  redis-cli not found at ${REDIS_CLI} (Debian package redis-tools): skipping the redis-cli --tls test`);
    return;
  }
  const cli = (...args: string[]) => bounded(new Promise<string>((resolve, reject) => {
    const child = spawn(REDIS_CLI, ['--tls', '--cacert', FIXTURES + 'ca.pem', '-h', '127.0.0.1', '-p', String(b.listening.tlsPort), '--no-auth-warning', '-a', PASSWORD, ...args]);
    let out = '';
    let errOut = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { errOut += d.toString(); });
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`redis-cli exited ${code}: ${errOut}`))));
  }), `redis-cli ${args.join(' ')}`);
  assert.is(await cli('SET', 'cli-key', 'cli value'), 'OK\n');
  assert.is(await cli('GET', 'cli-key'), 'cli value\n');
});

mutual.run();
serverOnly.run();
