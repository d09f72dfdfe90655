/**
 * Real Redis clients logging in as ACL users: ioredis with its `username` / `password` options
 * (it sends AUTH user pass, or HELLO 3 AUTH on RESP3 clients), node-redis v5 in RESP3 (HELLO 3
 * AUTH user pass), and redis-cli's --user / --pass (skipped with a message when redis-cli is
 * absent). Each test starts its own server on 127.0.0.1 port 0 and stops it; every test is
 * time-bounded.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { MeshcacheServer } from '../../src/server/server.js';
import { waitFor } from '../helpers/wait.js';

const TEST_TIMEOUT_MS = 10_000;
const REDIS_CLI = '/usr/bin/redis-cli';
const APP = 'app on >app-pw ~* +@all -@dangerous -@admin';
const NOPERM_FLUSHALL = "NOPERM User app has no permissions to run the 'flushall' command";
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';

/** Runs `fn` with a server that has --requirepass admin-pw and the `app` user; always stops it. */
function withServer(fn: (port: number) => Promise<void>): () => Promise<void> {
  return async () => {
    const server = new MeshcacheServer({ port: 0, cache: { maxMemory: '16mb' }, requirepass: 'admin-pw', users: [APP], closeTimeoutMs: 500 });
    const { port } = await server.listen();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${TEST_TIMEOUT_MS} ms`)), TEST_TIMEOUT_MS);
    });
    try {
      await Promise.race([fn(port), timeout]);
    } finally {
      clearTimeout(timer);
      await server.close();
    }
  };
}

async function rejectsWith(p: Promise<unknown>, message: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.is((e as Error).message, message);
    return;
  }
  assert.unreachable(`expected the error "${message}"`);
}

// ─── ioredis ────────────────────────────────────────────────────────────────────────────────

const io = suite('ioredis with username and password');

/** ioredis options that fail fast instead of retrying. */
const IO = { host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000, enableReadyCheck: false } as const;

io('connects as app: GET and SET work, FLUSHALL and CONFIG SET get NOPERM', withServer(async (port) => {
  const r = new Redis({ ...IO, port, username: 'app', password: 'app-pw' });
  try {
    await r.connect();
    assert.is(await r.set('k', 'v'), 'OK');
    assert.is(await r.get('k'), 'v');
    assert.is(await r.call('ACL', 'WHOAMI'), 'app');
    await rejectsWith(r.flushall(), NOPERM_FLUSHALL);
    await rejectsWith(r.config('SET', 'maxmemory', '1'), "NOPERM User app has no permissions to run the 'config|set' command");
    assert.is(await r.get('k'), 'v');
  } finally {
    r.disconnect();
  }
}));

io('a wrong password is refused with WRONGPASS (ioredis reports it as an error event and closes)', withServer(async (port) => {
  const r = new Redis({ ...IO, port, username: 'app', password: 'nope' });
  const errors: string[] = [];
  r.on('error', (e: Error) => errors.push(e.message));
  try {
    // Whether connect() resolves first depends on timing; the AUTH error always comes as an event.
    await r.connect().catch(() => undefined);
    await waitFor(() => errors.length > 0, { what: 'ioredis to report the failed AUTH' });
    assert.equal(errors, [WRONGPASS]);
  } finally {
    r.disconnect();
  }
}));

io('the default user with the requirepass password (password option only) runs FLUSHALL', withServer(async (port) => {
  const r = new Redis({ ...IO, port, password: 'admin-pw' });
  try {
    await r.connect();
    assert.is(await r.set('k', 'v'), 'OK');
    assert.is(await r.flushall(), 'OK');
    assert.is(await r.dbsize(), 0);
  } finally {
    r.disconnect();
  }
}));

// ─── node-redis ─────────────────────────────────────────────────────────────────────────────

const nr = suite('node-redis v5 (RESP3) with username and password');

nr('connects with HELLO 3 AUTH app: GET and SET work, FLUSHALL gets NOPERM', withServer(async (port) => {
  const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 3000 }, username: 'app', password: 'app-pw', RESP: 3 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    assert.is(await c.set('k', 'v'), 'OK');
    assert.is(await c.get('k'), 'v');
    await rejectsWith(c.flushAll(), NOPERM_FLUSHALL);
  } finally {
    c.destroy();
  }
}));

// ─── redis-cli ──────────────────────────────────────────────────────────────────────────────

const cli = suite('redis-cli --user --pass');
const haveCli = existsSync(REDIS_CLI);

cli.before(() => {
  if (!haveCli) console.log(`  redis-cli not found at ${REDIS_CLI} (Debian package redis-tools): skipping the redis-cli ACL tests`);
});

/** Runs redis-cli with `args` against `port`; resolves to its stdout (it prints error replies there too). */
function redisCli(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning', ...args]);
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`redis-cli ${args.join(' ')} timed out`));
    }, 5000);
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

cli('as app: SET works, FLUSHALL gets NOPERM', withServer(async (port) => {
  if (!haveCli) return;
  assert.is(await redisCli(port, '--user', 'app', '--pass', 'app-pw', 'SET', 'k', 'v'), 'OK\n');
  assert.match(await redisCli(port, '--user', 'app', '--pass', 'app-pw', 'FLUSHALL'), NOPERM_FLUSHALL);
}));

io.run();
nr.run();
cli.run();
