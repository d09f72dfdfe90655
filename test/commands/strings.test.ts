/**
 * The string family through a real server on 127.0.0.1 port 0, over a raw socket: every command,
 * its options and its exact error replies, in RESP2 and (where replies differ) RESP3.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MeshcacheServer } from '../../src/server/server.js';
import { kGetEncoded } from '../../src/cache/internal.js';
import { longDouble } from '../../src/commands/strings.js';

import { RespClient, err, type Reply } from '../helpers/resp-client.js';
import { sleep } from '../helpers/wait.js';

const MAX_VALUE_BYTES = 64 * 1024;

const strings = suite('string commands');
let server: MeshcacheServer;
let c: RespClient;

/** Ends the run if this suite hangs (uvu has no per-test timeout); cleared when it finishes. */
let watchdog: NodeJS.Timeout | undefined;

strings.before(async () => {
  watchdog = setTimeout(() => {
    console.error('commands-strings: the suite took over 60 s');
    process.exit(1);
  }, 60_000);
  server = new MeshcacheServer({ port: 0, cache: { maxMemory: '16mb', maxValueBytes: MAX_VALUE_BYTES } });
  const { port } = await server.listen();
  c = await RespClient.connect(port, { encoding: 'utf8' });
});

strings.after(async () => {
  c.destroy();
  await server.close();
  clearTimeout(watchdog);
});

strings.before.each(async () => {
  assert.is(await c.call('FLUSHALL'), 'OK');
});

strings('GET returns what SET stored, byte for byte, and null for a missing key', async () => {
  assert.is(await c.call('GET', 'nokey'), null);
  assert.is(await c.raw('GET', 'nokey'), '$-1\r\n');
  assert.is(await c.call('SET', 'k', 'hello'), 'OK');
  assert.is(await c.raw('GET', 'k'), '$5\r\nhello\r\n');
  const bytes = Buffer.from([0, 0xff, 13, 10, 0x80, 0x41]);
  assert.is(await c.call('SET', bytes, bytes), 'OK');
  assert.is(await c.raw('GET', bytes), `$6\r\n${bytes.toString('latin1')}\r\n`);
  assert.is(await c.call('SET', 'empty', ''), 'OK');
  assert.is(await c.raw('GET', 'empty'), '$0\r\n\r\n');
});

strings('GET of a value another thread stored as a string or an object replies its stored bytes', async () => {
  server.cache.set('js-string', 'héllo');
  assert.is(await c.raw('GET', 'js-string'), `$6\r\n${Buffer.from('héllo').toString('latin1')}\r\n`);
  server.cache.set('js-object', { a: 1, list: [1, 2, 3] });
  const payload = Buffer.from(server.cache[kGetEncoded]('js-object')![0]);
  assert.ok(payload.length > 0);
  assert.is(await c.raw('GET', 'js-object'), `$${payload.length}\r\n${payload.toString('latin1')}\r\n`);
  assert.is(await c.call('STRLEN', 'js-object'), payload.length);
});

strings('GET and reads count keyspace hits and misses', async () => {
  const before = { ...server.counters };
  await c.call('SET', 'k', 'v');
  await c.call('GET', 'k');
  await c.call('GET', 'missing');
  await c.call('MGET', 'k', 'missing', 'k');
  await c.call('STRLEN', 'k');
  await c.call('GETRANGE', 'missing', '0', '1');
  assert.is(server.counters.keyspaceHits - before.keyspaceHits, 4);
  assert.is(server.counters.keyspaceMisses - before.keyspaceMisses, 3);
});

strings('a value over maxValueBytes (64 KiB) is refused and nothing is stored', async () => {
  assert.equal(await c.call('SET', 'big', Buffer.alloc(MAX_VALUE_BYTES + 1)), err('ERR string exceeds maximum allowed size'));
  assert.is(await c.call('EXISTS', 'big'), 0);
  assert.is(await c.call('SET', 'big', Buffer.alloc(MAX_VALUE_BYTES)), 'OK');
  assert.is(await c.call('STRLEN', 'big'), MAX_VALUE_BYTES);
});

strings('SET NX, XX and GET follow Redis 7 (GET replies the old value, null when NX/XX refuse)', async () => {
  assert.is(await c.call('SET', 'k', 'a', 'NX'), 'OK');
  assert.is(await c.call('SET', 'k', 'b', 'NX'), null);
  assert.is(await c.call('GET', 'k'), 'a');
  assert.is(await c.call('SET', 'k', 'c', 'XX'), 'OK');
  assert.is(await c.call('SET', 'other', 'c', 'xx'), null);
  assert.is(await c.call('EXISTS', 'other'), 0);
  assert.is(await c.call('SET', 'k', 'd', 'GET'), 'c');
  assert.is(await c.call('SET', 'new', 'd', 'GET'), null);
  assert.is(await c.call('GET', 'new'), 'd');
  assert.is(await c.call('SET', 'k', 'e', 'NX', 'GET'), 'd', 'NX refused, the old value still comes back');
  assert.is(await c.call('GET', 'k'), 'd');
  assert.is(await c.call('SET', 'absent', 'e', 'XX', 'GET'), null);
  assert.is(await c.call('EXISTS', 'absent'), 0);
});

strings('SET EX, PX, EXAT, PXAT set the expiry; a plain SET removes it; KEEPTTL keeps it', async () => {
  assert.is(await c.call('SET', 'k', 'v', 'EX', '100'), 'OK');
  assert.is(await c.call('TTL', 'k'), 100);
  assert.is(await c.call('SET', 'k', 'v', 'PX', '50000'), 'OK');
  const pttl = await c.call('PTTL', 'k') as number;
  assert.ok(pttl > 49_900 && pttl <= 50_000, String(pttl));
  assert.is(await c.call('SET', 'k', 'v', 'EXAT', '9999999999'), 'OK');
  assert.is(await c.call('EXPIRETIME', 'k'), 9999999999);
  assert.is(await c.call('SET', 'k', 'v', 'PXAT', '9999999999123'), 'OK');
  assert.is(await c.call('PEXPIRETIME', 'k'), 9999999999123);
  assert.is(await c.call('SET', 'k', 'w', 'KEEPTTL'), 'OK');
  assert.is(await c.call('PEXPIRETIME', 'k'), 9999999999123);
  assert.is(await c.call('GET', 'k'), 'w');
  assert.is(await c.call('SET', 'k', 'x'), 'OK');
  assert.is(await c.call('TTL', 'k'), -1);
  assert.is(await c.call('SET', 'k', 'y', 'KEEPTTL'), 'OK');
  assert.is(await c.call('TTL', 'k'), -1);
  assert.is(await c.call('SET', 'k', 'v', 'EX', '10', 'EX', '20'), 'OK', 'a repeated option: the last wins');
  assert.is(await c.call('TTL', 'k'), 20);
});

strings('SET with an expiry already past deletes the key and replies OK (or the old value with GET)', async () => {
  await c.call('SET', 'k', 'old');
  assert.is(await c.call('SET', 'k', 'new', 'PXAT', '1'), 'OK');
  assert.is(await c.call('EXISTS', 'k'), 0);
  await c.call('SET', 'k', 'old');
  assert.is(await c.call('SET', 'k', 'new', 'EXAT', '1', 'GET'), 'old');
  assert.is(await c.call('EXISTS', 'k'), 0);
});

strings('SET PX 30 expires the key after 30 ms', async () => {
  assert.is(await c.call('SET', 'k', 'v', 'PX', '30'), 'OK');
  assert.is(await c.call('GET', 'k'), 'v');
  await sleep(60);
  assert.is(await c.call('GET', 'k'), null);
});

strings('SET option errors have Redis\'s exact texts', async () => {
  const syntax = err('ERR syntax error');
  assert.equal(await c.call('SET', 'k', 'v', 'NX', 'XX'), syntax);
  assert.equal(await c.call('SET', 'k', 'v', 'EX', '10', 'PX', '10'), syntax);
  assert.equal(await c.call('SET', 'k', 'v', 'KEEPTTL', 'EX', '10'), syntax);
  assert.equal(await c.call('SET', 'k', 'v', 'EXAT', '10', 'KEEPTTL'), syntax);
  assert.equal(await c.call('SET', 'k', 'v', 'EX'), syntax);
  assert.equal(await c.call('SET', 'k', 'v', 'PERSIST'), syntax);
  assert.equal(await c.call('SET', 'k', 'v', 'foo'), syntax);
  assert.equal(await c.call('SET', 'k', 'v', 'EX', 'abc'), err('ERR value is not an integer or out of range'));
  assert.equal(await c.call('SET', 'k', 'v', 'EX', '1.5'), err('ERR value is not an integer or out of range'));
  const invalid = err("ERR invalid expire time in 'set' command");
  assert.equal(await c.call('SET', 'k', 'v', 'EX', '0'), invalid);
  assert.equal(await c.call('SET', 'k', 'v', 'PX', '-5'), invalid);
  assert.equal(await c.call('SET', 'k', 'v', 'EX', '9223372036854775807'), invalid);
  assert.equal(await c.call('SET', 'k', 'v', 'PX', '9223372036854775807'), invalid);
  assert.equal(await c.call('SET', 'k'), err("ERR wrong number of arguments for 'set' command"));
  assert.is(await c.call('EXISTS', 'k'), 0, 'no failed SET stored anything');
});

strings('SETNX, SETEX, PSETEX', async () => {
  assert.is(await c.call('SETNX', 'k', '1'), 1);
  assert.is(await c.call('SETNX', 'k', '2'), 0);
  assert.is(await c.call('GET', 'k'), '1');
  assert.is(await c.call('SETEX', 's', '100', 'v'), 'OK');
  assert.is(await c.call('TTL', 's'), 100);
  assert.is(await c.call('GET', 's'), 'v');
  assert.equal(await c.call('SETEX', 's', '0', 'v'), err("ERR invalid expire time in 'setex' command"));
  assert.equal(await c.call('SETEX', 's', 'abc', 'v'), err('ERR value is not an integer or out of range'));
  assert.is(await c.call('PSETEX', 'p', '100000', 'v'), 'OK');
  const pttl = await c.call('PTTL', 'p') as number;
  assert.ok(pttl > 99_900 && pttl <= 100_000, String(pttl));
  assert.equal(await c.call('PSETEX', 'p', '-1', 'v'), err("ERR invalid expire time in 'psetex' command"));
  assert.equal(await c.call('SETEX', 's', '10'), err("ERR wrong number of arguments for 'setex' command"));
});

strings('GETSET replies the old value and removes the TTL; GETDEL replies and deletes', async () => {
  assert.is(await c.call('GETSET', 'g', '1'), null);
  await c.call('EXPIRE', 'g', '100');
  assert.is(await c.call('GETSET', 'g', '2'), '1');
  assert.is(await c.call('TTL', 'g'), -1);
  assert.is(await c.call('GETDEL', 'g'), '2');
  assert.is(await c.call('GETDEL', 'g'), null);
  assert.is(await c.call('EXISTS', 'g'), 0);
});

strings('GETEX sets, changes or removes the expiry and replies the value', async () => {
  await c.call('SET', 'e', 'v');
  assert.is(await c.call('GETEX', 'e'), 'v');
  assert.is(await c.call('TTL', 'e'), -1);
  assert.is(await c.call('GETEX', 'e', 'EX', '100'), 'v');
  assert.is(await c.call('TTL', 'e'), 100);
  assert.is(await c.call('GETEX', 'e', 'PERSIST'), 'v');
  assert.is(await c.call('TTL', 'e'), -1);
  assert.is(await c.call('GETEX', 'e', 'PX', '5000'), 'v');
  assert.ok((await c.call('PTTL', 'e') as number) > 4900);
  assert.is(await c.call('GETEX', 'e', 'EXAT', '9999999999'), 'v');
  assert.is(await c.call('EXPIRETIME', 'e'), 9999999999);
  assert.is(await c.call('GETEX', 'e', 'PXAT', '9999999999001'), 'v');
  assert.is(await c.call('PEXPIRETIME', 'e'), 9999999999001);
  assert.is(await c.call('GETEX', 'missing', 'EX', '10'), null);
  assert.is(await c.call('GETEX', 'e', 'PXAT', '1'), 'v', 'a past time replies the value, then deletes');
  assert.is(await c.call('EXISTS', 'e'), 0);
});

strings('GETEX errors have Redis\'s exact texts', async () => {
  await c.call('SET', 'e', 'v');
  const syntax = err('ERR syntax error');
  assert.equal(await c.call('GETEX', 'e', 'PERSIST', 'EX', '10'), syntax);
  assert.equal(await c.call('GETEX', 'e', 'EX', '10', 'PX', '10'), syntax);
  assert.equal(await c.call('GETEX', 'e', 'NX'), syntax);
  assert.equal(await c.call('GETEX', 'e', 'KEEPTTL'), syntax);
  assert.equal(await c.call('GETEX', 'e', 'GET'), syntax);
  assert.equal(await c.call('GETEX', 'e', 'EX', '0'), err("ERR invalid expire time in 'getex' command"));
  assert.equal(await c.call('GETEX', 'e', 'EX', 'x'), err('ERR value is not an integer or out of range'));
  assert.is(await c.call('TTL', 'e'), -1);
});

strings('MGET, MSET and MSETNX', async () => {
  assert.is(await c.call('MSET', 'a', '1', 'b', '2'), 'OK');
  assert.equal(await c.call('MGET', 'a', 'missing', 'b'), ['1', null, '2']);
  assert.is(await c.raw('MGET', 'missing'), '*1\r\n$-1\r\n');
  assert.equal(await c.call('MSET', 'a'), err("ERR wrong number of arguments for 'mset' command"));
  assert.equal(await c.call('MSET', 'a', '1', 'b'), err("ERR wrong number of arguments for 'mset' command"));
  assert.is(await c.call('MSETNX', 'a', 'x', 'c', 'y'), 0);
  assert.equal(await c.call('MGET', 'a', 'c'), ['1', null], 'MSETNX set nothing when one key existed');
  assert.is(await c.call('MSETNX', 'c', 'y', 'd', 'z'), 1);
  assert.equal(await c.call('MGET', 'c', 'd'), ['y', 'z']);
  assert.equal(await c.call('MSETNX', 'a', '1', 'b'), err("ERR wrong number of arguments for 'msetnx' command"));
  assert.equal(await c.call('MSET', 'x', '1', 'y', Buffer.alloc(MAX_VALUE_BYTES + 1)), err('ERR string exceeds maximum allowed size'));
  assert.is(await c.call('EXISTS', 'x'), 0, 'MSET stored nothing when one value was too large');
});

strings('INCR, DECR, INCRBY, DECRBY keep 64-bit signed semantics', async () => {
  assert.is(await c.call('INCR', 'n'), 1);
  assert.is(await c.call('DECR', 'n2'), -1);
  await c.call('SET', 'i', '10');
  assert.is(await c.call('INCR', 'i'), 11);
  assert.is(await c.call('DECR', 'i'), 10);
  assert.is(await c.call('INCRBY', 'i', '5'), 15);
  assert.is(await c.call('DECRBY', 'i', '20'), -5);
  assert.is(await c.call('GET', 'i'), '-5');
  await c.call('SET', 'i', '9223372036854775806');
  assert.is(await c.call('INCR', 'i'), 9223372036854775807n);
  assert.equal(await c.call('INCR', 'i'), err('ERR increment or decrement would overflow'));
  await c.call('SET', 'i', '-9223372036854775808');
  assert.equal(await c.call('DECR', 'i'), err('ERR increment or decrement would overflow'));
  assert.equal(await c.call('DECRBY', 'i', '-9223372036854775808'), err('ERR decrement would overflow'));
  assert.is(await c.call('INCRBY', 'i', '9223372036854775807'), -1);
});

strings('INCR refuses values and increments that are not canonical 64-bit integers', async () => {
  const notInt = err('ERR value is not an integer or out of range');
  for (const bad of ['abc', ' 1', '1 ', '007', '+1', '-0', '1.5', '9223372036854775808', '']) {
    await c.call('SET', 'i', bad);
    assert.equal(await c.call('INCR', 'i'), notInt, `stored ${JSON.stringify(bad)}`);
  }
  await c.call('SET', 'i', '1');
  for (const bad of ['abc', '1.5', '-0', '9223372036854775808']) assert.equal(await c.call('INCRBY', 'i', bad), notInt, bad);
  assert.is(await c.call('GET', 'i'), '1');
});

strings('INCR keeps the key\'s TTL', async () => {
  await c.call('SET', 'i', '1', 'PXAT', '9999999999999');
  assert.is(await c.call('INCR', 'i'), 2);
  assert.is(await c.call('PEXPIRETIME', 'i'), 9999999999999);
  await c.call('SET', 'j', '1');
  await c.call('INCRBY', 'j', '2');
  assert.is(await c.call('TTL', 'j'), -1);
});

strings('INCRBYFLOAT formats as Redis (long double, "%.17Lf", trailing zeros removed)', async () => {
  await c.call('SET', 'f', '10.5');
  assert.is(await c.call('INCRBYFLOAT', 'f', '0.1'), '10.6');
  assert.is(await c.call('GET', 'f'), '10.6');
  await c.call('SET', 'f', '0.1');
  assert.is(await c.call('INCRBYFLOAT', 'f', '0.2'), '0.3');
  await c.call('SET', 'f', '10000000000');
  assert.is(await c.call('INCRBYFLOAT', 'f', '0.1'), '10000000000.09999999962747097');
  assert.is(await c.call('INCRBYFLOAT', 'g', '1e20'), '100000000000000000000');
  assert.is(await c.call('INCRBYFLOAT', 'h', '-1e-20'), '0');
  assert.is(await c.call('INCRBYFLOAT', 'i', '3.0e3'), '3000');
  assert.is(await c.call('INCRBYFLOAT', 'j', '0x10'), '16');
  assert.is(await c.call('INCRBYFLOAT', 'k', '1.23456789012345678901'), '1.23456789012345679');
  await c.call('SET', 'l', '1');
  assert.is(await c.call('INCRBYFLOAT', 'l', '-1.1'), '-0.1');
  assert.is(await c.call('INCRBYFLOAT', 'm', '5.'), '5');
  assert.is(await c.call('INCRBYFLOAT', 'm', '.5'), '5.5');
  assert.is(await c.raw('INCRBYFLOAT', 'm', '1'), '$3\r\n6.5\r\n');
});

strings('INCRBYFLOAT errors and TTL', async () => {
  const notFloat = err('ERR value is not a valid float');
  await c.call('SET', 'f', '1');
  for (const bad of ['abc', ' 1', '1 ', 'nan', '1e', '', '1e5000']) assert.equal(await c.call('INCRBYFLOAT', 'f', bad), notFloat, bad);
  assert.equal(await c.call('INCRBYFLOAT', 'f', 'inf'), err('ERR increment would produce NaN or Infinity'));
  await c.call('SET', 'f', 'x');
  assert.equal(await c.call('INCRBYFLOAT', 'f', '1'), notFloat);
  await c.call('SET', 'f', '1.5', 'EXAT', '9999999999');
  assert.is(await c.call('INCRBYFLOAT', 'f', '1.5'), '3');
  assert.is(await c.call('EXPIRETIME', 'f'), 9999999999);
});

strings('APPEND and STRLEN', async () => {
  assert.is(await c.call('APPEND', 'a', 'hello'), 5);
  assert.is(await c.call('APPEND', 'a', ' world'), 11);
  assert.is(await c.call('GET', 'a'), 'hello world');
  assert.is(await c.call('STRLEN', 'a'), 11);
  assert.is(await c.call('STRLEN', 'missing'), 0);
  await c.call('EXPIRE', 'a', '100');
  await c.call('APPEND', 'a', '!');
  assert.is(await c.call('TTL', 'a'), 100, 'APPEND keeps the TTL');
  await c.call('SET', 'big', Buffer.alloc(MAX_VALUE_BYTES));
  assert.equal(await c.call('APPEND', 'big', 'x'), err('ERR string exceeds maximum allowed size'));
  assert.is(await c.call('STRLEN', 'big'), MAX_VALUE_BYTES);
});

strings('GETRANGE takes negative indexes and clamps out-of-range ones', async () => {
  await c.call('SET', 's', 'hello world');
  const cases: Array<[string, string, string]> = [
    ['0', '4', 'hello'], ['-5', '-1', 'world'], ['-1', '-5', ''], ['0', '-1', 'hello world'], ['5', '100', ' world'],
    ['100', '200', ''], ['-100', '2', 'hel'], ['3', '1', ''], ['0', '-9223372036854775808', 'h'],
    ['-9223372036854775808', '9223372036854775807', 'hello world'],
  ];
  for (const [start, end, want] of cases) assert.is(await c.call('GETRANGE', 's', start, end), want, `${start} ${end}`);
  assert.is(await c.raw('GETRANGE', 'missing', '0', '-1'), '$0\r\n\r\n');
  assert.equal(await c.call('GETRANGE', 's', 'a', '1'), err('ERR value is not an integer or out of range'));
});

strings('SETRANGE zero-pads, keeps the TTL and refuses offsets out of range', async () => {
  assert.is(await c.call('SETRANGE', 'r', '5', 'hi'), 7);
  assert.is(await c.raw('GET', 'r'), '$7\r\n\0\0\0\0\0hi\r\n');
  assert.is(await c.call('SETRANGE', 'r', '0', 'HELLO'), 7);
  assert.is(await c.call('GET', 'r'), 'HELLOhi');
  assert.is(await c.call('SETRANGE', 'r', '1', 'e'), 7);
  assert.is(await c.call('GET', 'r'), 'HeLLOhi');
  assert.is(await c.call('SETRANGE', 'r', '1', ''), 7);
  assert.is(await c.call('SETRANGE', 'none', '1', ''), 0);
  assert.is(await c.call('EXISTS', 'none'), 0);
  await c.call('EXPIRE', 'r', '100');
  await c.call('SETRANGE', 'r', '7', '!');
  assert.is(await c.call('TTL', 'r'), 100);
  assert.equal(await c.call('SETRANGE', 'r', '-1', 'x'), err('ERR offset is out of range'));
  assert.equal(await c.call('SETRANGE', 'r', 'x', 'x'), err('ERR value is not an integer or out of range'));
  assert.equal(await c.call('SETRANGE', 'r', String(MAX_VALUE_BYTES), 'x'), err('ERR string exceeds maximum allowed size'));
  assert.is(await c.call('SETRANGE', 'r', String(MAX_VALUE_BYTES - 1), 'x'), MAX_VALUE_BYTES);
});

strings('RESP3 (HELLO 3): nulls are _ and MGET holds them; RESP2 keeps $-1', async () => {
  const c3 = await RespClient.connect(server.address!.port, { encoding: 'utf8' });
  try {
    const hello = await c3.call('HELLO', '3') as Map<Reply, Reply>;
    assert.is(hello.get('proto'), 3);
    assert.is(await c3.raw('GET', 'missing'), '_\r\n');
    assert.is(await c3.raw('MGET', 'missing'), '*1\r\n_\r\n');
    assert.is(await c3.raw('SET', 'k', 'v', 'NX'), '+OK\r\n');
    assert.is(await c3.raw('SET', 'k', 'v', 'NX'), '_\r\n');
    assert.is(await c3.raw('GETDEL', 'missing'), '_\r\n');
    assert.is(await c3.raw('GETEX', 'missing'), '_\r\n');
    assert.is(await c3.raw('GETSET', 'fresh', 'v'), '_\r\n');
    assert.is(await c3.raw('INCRBYFLOAT', 'f', '1.5'), '$3\r\n1.5\r\n', 'INCRBYFLOAT is a bulk string in RESP3 too');
    assert.is(await c.raw('SET', 'k', 'v', 'NX'), '$-1\r\n');
  } finally {
    c3.destroy();
  }
});

strings('COMMAND INFO reports Redis 7\'s arity, flags and key positions', async () => {
  const expect: Record<string, [number, string[], number, number, number]> = {
    get: [2, ['readonly', 'fast'], 1, 1, 1], set: [-3, ['write', 'denyoom'], 1, 1, 1],
    setnx: [3, ['write', 'denyoom', 'fast'], 1, 1, 1], getex: [-2, ['write', 'fast'], 1, 1, 1],
    mget: [-2, ['readonly', 'fast'], 1, -1, 1], mset: [-3, ['write', 'denyoom'], 1, -1, 2],
    msetnx: [-3, ['write', 'denyoom'], 1, -1, 2], incrbyfloat: [3, ['write', 'denyoom', 'fast'], 1, 1, 1],
    getrange: [4, ['readonly'], 1, 1, 1], setrange: [4, ['write', 'denyoom'], 1, 1, 1],
    append: [3, ['write', 'denyoom', 'fast'], 1, 1, 1], getdel: [2, ['write', 'fast'], 1, 1, 1],
  };
  for (const [name, [arity, flags, first, last, step]] of Object.entries(expect)) {
    const [info] = await c.call('COMMAND', 'INFO', name) as Reply[][];
    assert.equal(info.slice(0, 6), [name, arity, flags, first, last, step], name);
  }
});

strings('long-double arithmetic matches Redis on parse limits and rounding', () => {
  const run = (a: string, b: string) => {
    const x = longDouble.parse(Buffer.from(a));
    const y = longDouble.parse(Buffer.from(b));
    if (x === null || y === null) return 'invalid';
    const s = longDouble.add(x, y);
    return s === null ? 'overflow' : longDouble.format(s);
  };
  const huge = run('0', '1e4932');
  assert.is(huge.length, 4933, 'no exponent: every digit is written');
  assert.ok(huge.startsWith('10000000000000000000060189'), 'the long double nearest 1e4932, as Redis prints it');
  assert.is(run('0', '1.19e4932'), 'invalid', 'beyond the largest long double');
  assert.is(run('0', '1e-4960'), 'invalid', 'underflows to zero');
  assert.is(run('0', '0x1.8p3'), '12');
  assert.is(run('1.7976931348623157e308', '1.7976931348623157e308').length, 309, 'past a double\'s range');
  assert.is(run('-5', '5'), '0');
  assert.is(run('0', '-0'), '0');
  assert.is(run('1e4932', '1e4932'), 'overflow');
});


strings.run();
