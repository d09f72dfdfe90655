/**
 * Real Redis clients against the sidecar: ioredis (RESP2), node-redis v5 in RESP2 and RESP3, and
 * redis-cli (Debian redis-tools; skipped with a message when absent). Every string and keyspace
 * command goes through each client's own API, and the values that come back are asserted. Each
 * suite starts its own server on 127.0.0.1 port 0 and stops it; every test is time-bounded.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createClient, RESP_TYPES } from 'redis';
import { MeshcacheServer } from '../../src/server/server.js';
import { sleep } from '../helpers/wait.js';

/** Longest any one test may take. */
const TEST_TIMEOUT_MS = 10_000;
const REDIS_CLI = '/usr/bin/redis-cli';

/** Runs `fn`, failing it when it takes longer than TEST_TIMEOUT_MS. */
function bounded(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${TEST_TIMEOUT_MS} ms`)), TEST_TIMEOUT_MS);
    });
    try {
      await Promise.race([fn(), timeout]);
    } finally {
      clearTimeout(timer);
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

async function startServer(): Promise<[MeshcacheServer, number]> {
  const server = new MeshcacheServer({ port: 0, cache: { maxMemory: '16mb', maxValueBytes: 64 * 1024 } });
  const { port } = await server.listen();
  return [server, port];
}

// ─── ioredis ────────────────────────────────────────────────────────────────────────────────

const io = suite('ioredis (RESP2)');
let ioServer: MeshcacheServer;
let r: Redis;

io.before(async () => {
  let port: number;
  [ioServer, port] = await startServer();
  r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
  const errors: Error[] = [];
  r.on('error', (e) => errors.push(e));
  await r.connect();
  assert.equal(errors, [], 'ioredis connected without errors');
});

io.after(async () => {
  r.disconnect();
  await ioServer.close();
});

io.before.each(async () => {
  await r.flushall();
});

io('GET, SET with options, SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX', bounded(async () => {
  assert.is(await r.get('k'), null);
  assert.is(await r.set('k', 'v1'), 'OK');
  assert.is(await r.get('k'), 'v1');
  assert.is(await r.set('k', 'v2', 'EX', 100, 'GET'), 'v1');
  assert.is(await r.ttl('k'), 100);
  assert.is(await r.set('k', 'v3', 'NX'), null);
  assert.is(await r.set('k', 'v3', 'KEEPTTL', 'XX'), 'OK');
  assert.is(await r.ttl('k'), 100);
  assert.is(await r.set('k', 'v4', 'PXAT', 9999999999123), 'OK');
  assert.is(await r.pexpiretime('k'), 9999999999123);
  assert.is(await r.set('k', 'v5', 'EXAT', 9999999999), 'OK');
  assert.is(await r.expiretime('k'), 9999999999);
  await rejectsWith(r.set('k', 'v', 'EX', 0), "ERR invalid expire time in 'set' command");
  await rejectsWith(r.call('SET', 'k', 'v', 'NX', 'XX'), 'ERR syntax error');
  const bytes = Buffer.from([0, 1, 0xfe, 0xff, 13, 10]);
  await r.set('bin', bytes);
  assert.equal(await r.getBuffer('bin'), bytes);
  assert.is(await r.setnx('n', '1'), 1);
  assert.is(await r.setnx('n', '2'), 0);
  assert.is(await r.setex('s', 100, 'v'), 'OK');
  assert.is(await r.ttl('s'), 100);
  assert.is(await r.psetex('p', 100_000, 'v'), 'OK');
  assert.ok((await r.pttl('p')) > 99_000);
  assert.is(await r.getset('n', '3'), '1');
  assert.is(await r.getdel('n'), '3');
  assert.is(await r.getdel('n'), null);
  await r.set('e', 'v');
  assert.is(await r.getex('e', 'EX', 100), 'v');
  assert.is(await r.ttl('e'), 100);
  assert.is(await r.getex('e', 'PERSIST'), 'v');
  assert.is(await r.ttl('e'), -1);
  assert.is(await r.getex('e', 'PXAT', 9999999999001), 'v');
  assert.is(await r.pexpiretime('e'), 9999999999001);
}));

io('MGET, MSET, MSETNX, INCR family, INCRBYFLOAT, APPEND, STRLEN, GETRANGE, SETRANGE', bounded(async () => {
  assert.is(await r.mset('a', '1', 'b', '2'), 'OK');
  assert.is(await r.mset({ c: '3' }), 'OK');
  assert.equal(await r.mget('a', 'missing', 'b', 'c'), ['1', null, '2', '3']);
  assert.is(await r.msetnx('a', 'x', 'd', 'y'), 0);
  assert.is(await r.msetnx('d', 'y', 'e', 'z'), 1);
  assert.equal(await r.mget('d', 'e'), ['y', 'z']);
  assert.is(await r.incr('i'), 1);
  assert.is(await r.incrby('i', 10), 11);
  assert.is(await r.decr('i'), 10);
  assert.is(await r.decrby('i', 20), -10);
  await r.set('big', '9223372036854775807');
  await rejectsWith(r.incr('big'), 'ERR increment or decrement would overflow');
  await r.set('a2', 'x');
  await rejectsWith(r.incr('a2'), 'ERR value is not an integer or out of range');
  await r.set('f', '10.5');
  assert.is(await r.incrbyfloat('f', 0.1), '10.6');
  assert.is(await r.incrbyfloat('f', -5), '5.6');
  await rejectsWith(r.incrbyfloat('a2', 1), 'ERR value is not a valid float');
  assert.is(await r.append('s', 'hello'), 5);
  assert.is(await r.append('s', ' world'), 11);
  assert.is(await r.strlen('s'), 11);
  assert.is(await r.getrange('s', -5, -1), 'world');
  assert.is(await r.getrange('s', 0, 4), 'hello');
  assert.is(await r.setrange('s', 6, 'WORLD'), 11);
  assert.is(await r.get('s'), 'hello WORLD');
  assert.is(await r.setrange('pad', 3, 'x'), 4);
  assert.equal(await r.getBuffer('pad'), Buffer.from([0, 0, 0, 0x78]));
  await rejectsWith(r.setrange('s', -1, 'x'), 'ERR offset is out of range');
}));

io('DEL, UNLINK, EXISTS, TOUCH, TYPE, RENAME, RENAMENX, EXPIRE family, TTL family, PERSIST', bounded(async () => {
  await r.mset('a', '1', 'b', '2', 'c', '3');
  assert.is(await r.exists('a', 'a', 'missing'), 2);
  assert.is(await r.touch('a', 'b', 'missing'), 2);
  assert.is(await r.del('a', 'missing'), 1);
  assert.is(await r.unlink('b'), 1);
  assert.is(await r.type('c'), 'string');
  assert.is(await r.type('a'), 'none');
  assert.is(await r.rename('c', 'd'), 'OK');
  await rejectsWith(r.rename('c', 'd'), 'ERR no such key');
  await r.set('e', 'x');
  assert.is(await r.renamenx('d', 'e'), 0);
  assert.is(await r.renamenx('d', 'f'), 1);
  assert.is(await r.get('f'), '3');
  assert.is(await r.expire('f', 100), 1);
  assert.is(await r.ttl('f'), 100);
  assert.is(await r.expire('f', 50, 'GT'), 0);
  assert.is(await r.expire('f', 50, 'LT'), 1);
  assert.is(await r.pexpire('f', 20_000, 'XX'), 1);
  assert.ok((await r.pttl('f')) > 19_000);
  assert.is(await r.expireat('f', 9999999999), 1);
  assert.is(await r.expiretime('f'), 9999999999);
  assert.is(await r.pexpireat('f', 9999999999999), 1);
  assert.is(await r.pexpiretime('f'), 9999999999999);
  assert.is(await r.persist('f'), 1);
  assert.is(await r.ttl('f'), -1);
  assert.is(await r.ttl('missing'), -2);
  await rejectsWith(r.call('EXPIRE', 'f', '10', 'GT', 'LT'), 'ERR GT and LT options at the same time are not compatible');
  await r.pexpire('f', 20);
  await sleep(50);
  assert.is(await r.exists('f'), 0);
}));

io('KEYS, SCAN (MATCH, COUNT, TYPE) and RANDOMKEY', bounded(async () => {
  assert.is(await r.randomkey(), null);
  const keys = Array.from({ length: 50 }, (_, i) => `user:${i}`);
  await r.mset(...keys.flatMap((k) => [k, 'v']), 'other', 'v');
  assert.equal((await r.keys('user:*')).sort(), [...keys].sort());
  const seen: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', 'user:*', 'COUNT', 10, 'TYPE', 'string');
    seen.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  assert.equal(seen.sort(), [...keys].sort());
  const streamed = await new Promise<string[]>((resolve, reject) => {
    const out: string[] = [];
    r.scanStream({ match: 'user:1*', count: 5 }).on('data', (b: string[]) => out.push(...b)).on('end', () => resolve(out)).on('error', reject);
  });
  assert.equal(streamed.sort(), keys.filter((k) => k.startsWith('user:1')).sort());
  const k = await r.randomkey();
  assert.ok(k === 'other' || keys.includes(k!), String(k));
}));

io('pipelined GET and SET keep order', bounded(async () => {
  const p = r.pipeline();
  for (let i = 0; i < 100; i++) p.set(`p:${i}`, String(i)).get(`p:${i}`);
  const results = await p.exec();
  assert.is(results!.length, 200);
  for (let i = 0; i < 100; i++) {
    assert.equal(results![2 * i], [null, 'OK']);
    assert.equal(results![2 * i + 1], [null, String(i)]);
  }
}));

// ─── node-redis, RESP2 and RESP3 ────────────────────────────────────────────────────────────

function nodeRedisSuite(resp: 2 | 3): void {
  const s = suite(`node-redis v5 (RESP${resp})`);
  let server: MeshcacheServer;
  let client: ReturnType<typeof createClient>;

  s.before(async () => {
    let port: number;
    [server, port] = await startServer();
    client = createClient({ RESP: resp, socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 3000 } });
    const errors: Error[] = [];
    client.on('error', (e: Error) => errors.push(e));
    await client.connect();
    assert.equal(errors, [], 'node-redis connected without errors');
    const proto = [...server.state.clients()][0].resp;
    assert.is(proto, resp === 3 ? 3 : 2, 'the connection runs the protocol asked for');
  });

  s.after(async () => {
    await client.close();
    await server.close();
  });

  s.before.each(async () => {
    await client.flushAll();
  });

  s('GET, SET with options, SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX', bounded(async () => {
    assert.is(await client.get('k'), null);
    assert.is(await client.set('k', 'v1'), 'OK');
    assert.is(await client.get('k'), 'v1');
    assert.is(await client.set('k', 'v2', { expiration: { type: 'EX', value: 100 }, GET: true }), 'v1');
    assert.is(await client.ttl('k'), 100);
    assert.is(await client.set('k', 'v3', { condition: 'NX' }), null);
    assert.is(await client.set('k', 'v3', { condition: 'XX', expiration: 'KEEPTTL' }), 'OK');
    assert.is(await client.ttl('k'), 100);
    assert.is(await client.set('k', 'v4', { expiration: { type: 'PXAT', value: 9999999999123 } }), 'OK');
    assert.is(await client.pExpireTime('k'), 9999999999123);
    await rejectsWith(client.set('k', 'v', { expiration: { type: 'PX', value: 0 } }), "ERR invalid expire time in 'set' command");
    const bytes = Buffer.from([0, 1, 0xfe, 0xff, 13, 10]);
    await client.set('bin', bytes);
    const back = await client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get('bin');
    assert.equal(back, bytes);
    assert.is(await client.setNX('n', '1'), 1);
    assert.is(await client.setNX('n', '2'), 0);
    assert.is(await client.setEx('s', 100, 'v'), 'OK');
    assert.is(await client.ttl('s'), 100);
    assert.is(await client.pSetEx('p', 100_000, 'v'), 'OK');
    assert.ok((await client.pTTL('p')) > 99_000);
    assert.is(await client.getSet('n', '3'), '1');
    assert.is(await client.getDel('n'), '3');
    assert.is(await client.getDel('n'), null);
    await client.set('e', 'v');
    assert.is(await client.getEx('e', { type: 'EX', value: 100 }), 'v');
    assert.is(await client.ttl('e'), 100);
    assert.is(await client.getEx('e', { type: 'PERSIST' }), 'v');
    assert.is(await client.ttl('e'), -1);
    assert.is(await client.getEx('missing', { type: 'PX', value: 100 }), null);
  }));

  s('MGET, MSET, MSETNX, INCR family, INCRBYFLOAT, APPEND, STRLEN, GETRANGE, SETRANGE', bounded(async () => {
    assert.is(await client.mSet([['a', '1'], ['b', '2']]), 'OK');
    assert.equal(await client.mGet(['a', 'missing', 'b']), ['1', null, '2']);
    assert.is(await client.mSetNX([['a', 'x'], ['d', 'y']]), 0);
    assert.is(await client.mSetNX([['d', 'y'], ['e', 'z']]), 1);
    assert.equal(await client.mGet(['d', 'e']), ['y', 'z']);
    assert.is(await client.incr('i'), 1);
    assert.is(await client.incrBy('i', 10), 11);
    assert.is(await client.decr('i'), 10);
    assert.is(await client.decrBy('i', 20), -10);
    await client.set('big', '9223372036854775807');
    await rejectsWith(client.incr('big'), 'ERR increment or decrement would overflow');
    await client.set('f', '10.5');
    assert.is(String(await client.incrByFloat('f', 0.1)), '10.6');
    assert.is(await client.get('f'), '10.6');
    await client.set('x', 'abc');
    await rejectsWith(client.incrByFloat('x', 1), 'ERR value is not a valid float');
    assert.is(await client.append('s', 'hello'), 5);
    assert.is(await client.append('s', ' world'), 11);
    assert.is(await client.strLen('s'), 11);
    assert.is(await client.getRange('s', -5, -1), 'world');
    assert.is(await client.setRange('s', 6, 'WORLD'), 11);
    assert.is(await client.get('s'), 'hello WORLD');
    assert.is(await client.setRange('pad', 2, 'x'), 3);
    assert.is(await client.get('pad'), '\0\0x');
  }));

  s('DEL, UNLINK, EXISTS, TOUCH, TYPE, RENAME, RENAMENX, EXPIRE family, TTL family, PERSIST', bounded(async () => {
    await client.mSet([['a', '1'], ['b', '2'], ['c', '3']]);
    assert.is(await client.exists(['a', 'a', 'missing']), 2);
    assert.is(await client.touch(['a', 'b', 'missing']), 2);
    assert.is(await client.del(['a', 'missing']), 1);
    assert.is(await client.unlink('b'), 1);
    assert.is(await client.type('c'), 'string');
    assert.is(await client.type('a'), 'none');
    assert.is(await client.rename('c', 'd'), 'OK');
    await rejectsWith(client.rename('c', 'd'), 'ERR no such key');
    await client.set('e', 'x');
    assert.is(await client.renameNX('d', 'e'), 0);
    assert.is(await client.renameNX('d', 'f'), 1);
    assert.is(await client.expire('f', 100), 1);
    assert.is(await client.ttl('f'), 100);
    assert.is(await client.expire('f', 50, 'GT'), 0);
    assert.is(await client.expire('f', 50, 'LT'), 1);
    assert.is(await client.pExpire('f', 20_000, 'XX'), 1);
    assert.ok((await client.pTTL('f')) > 19_000);
    assert.is(await client.expireAt('f', 9999999999), 1);
    assert.is(await client.expireTime('f'), 9999999999);
    assert.is(await client.pExpireAt('f', 9999999999999), 1);
    assert.is(await client.pExpireTime('f'), 9999999999999);
    assert.is(await client.persist('f'), 1);
    assert.is(await client.ttl('f'), -1);
    assert.is(await client.pTTL('missing'), -2);
    await rejectsWith(client.sendCommand(['EXPIRE', 'f', '10', 'NX', 'XX']), 'ERR NX and XX, GT or LT options at the same time are not compatible');
  }));

  s('KEYS, SCAN (MATCH, COUNT, TYPE), scanIterator and RANDOMKEY', bounded(async () => {
    assert.is(await client.randomKey(), null);
    const keys = Array.from({ length: 50 }, (_, i) => `user:${i}`);
    await client.mSet([...keys.map((k): [string, string] => [k, 'v']), ['other', 'v']]);
    assert.equal((await client.keys('user:*')).sort(), [...keys].sort());
    const seen: string[] = [];
    let cursor = '0';
    do {
      const reply = await client.scan(cursor, { MATCH: 'user:*', COUNT: 10, TYPE: 'string' });
      seen.push(...reply.keys);
      cursor = reply.cursor;
    } while (cursor !== '0');
    assert.equal(seen.sort(), [...keys].sort());
    const iterated: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: 'user:1*', COUNT: 5 })) iterated.push(...batch);
    assert.equal(iterated.sort(), keys.filter((k) => k.startsWith('user:1')).sort());
    const k = String(await client.randomKey());
    assert.ok(k === 'other' || keys.includes(k), k);
  }));

  s.run();
}

// ─── redis-cli ──────────────────────────────────────────────────────────────────────────────

const cli = suite('redis-cli');
let cliServer: MeshcacheServer;
let cliPort = 0;
const haveCli = existsSync(REDIS_CLI);

cli.before(async () => {
  if (!haveCli) {
    console.log(`  redis-cli not found at ${REDIS_CLI} (Debian package redis-tools): skipping the redis-cli tests`);
    return;
  }
  [cliServer, cliPort] = await startServer();
});

cli.after(async () => {
  if (cliServer !== undefined) await cliServer.close();
});

/** Runs redis-cli with `args` against the test server; resolves to its stdout. */
async function redisCli(...args: string[]): Promise<string> {
  // Run it asynchronously: the server answers on this thread's event loop.
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(cliPort), ...args]);
    let out = '';
    let errOut = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`redis-cli ${args.join(' ')} timed out`));
    }, 5000);
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { errOut += d.toString(); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`redis-cli exited ${code}: ${errOut}`));
      else resolve(out);
    });
  });
}

cli('SET, GET, INCR, INCRBYFLOAT, MGET, EXPIRE, TTL, KEYS, SCAN, TYPE in RESP2 and with -3 (RESP3)', bounded(async () => {
  if (!haveCli) return;
  for (const proto of [[], ['-3']]) {
    assert.is(await redisCli(...proto, 'FLUSHALL'), 'OK\n');
    assert.is(await redisCli(...proto, 'SET', 'k', 'hello'), 'OK\n');
    assert.is(await redisCli(...proto, 'GET', 'k'), 'hello\n');
    assert.is(await redisCli(...proto, '--no-raw', 'GET', 'missing'), '(nil)\n');
    assert.is(await redisCli(...proto, 'INCR', 'n'), '1\n');
    assert.is(await redisCli(...proto, '--no-raw', 'INCRBY', 'n', '41'), '(integer) 42\n');
    assert.is(await redisCli(...proto, 'INCRBYFLOAT', 'f', '10.5'), '10.5\n');
    assert.is(await redisCli(...proto, '--no-raw', 'MGET', 'k', 'missing', 'n'), '1) "hello"\n2) (nil)\n3) "42"\n');
    assert.is(await redisCli(...proto, 'EXPIRE', 'k', '100'), '1\n');
    assert.is(await redisCli(...proto, 'TTL', 'k'), '100\n');
    assert.is((await redisCli(...proto, 'KEYS', '*')).split('\n').filter(Boolean).sort().join(','), 'f,k,n');
    const scan = (await redisCli(...proto, 'SCAN', '0', 'COUNT', '1000')).split('\n').filter(Boolean);
    assert.is(scan[0], '0');
    assert.equal(scan.slice(1).sort(), ['f', 'k', 'n']);
    assert.is(await redisCli(...proto, 'TYPE', 'k'), 'string\n');
    assert.is(await redisCli(...proto, '--no-raw', 'SET', 'k', 'v', 'EX', '0'), "(error) ERR invalid expire time in 'set' command\n");
    assert.is(await redisCli(...proto, 'GETDEL', 'k'), 'hello\n');
  }
}));


io.run();
nodeRedisSuite(2);
nodeRedisSuite(3);
cli.run();
