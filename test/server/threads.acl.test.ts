/**
 * Users across server threads: every thread starts with the --user users, and ACL SETUSER /
 * DELUSER on a connection of one thread apply on every thread (their stores keep in step over a
 * BroadcastChannel). Needs the native addon (SO_REUSEPORT); skipped with its reason without it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServerThreads } from '../../src/server/threads.js';
import { nativeStatus } from '../../src/native/binding.js';
import { RespClient, err } from '../helpers/resp-client.js';
import { pollUntil } from '../helpers/wait.js';

const threads = suite('users across server threads');

/** Connections until one lands on each of threads 0 and 1 (the kernel spreads them). */
async function onEachThread(port: number): Promise<[RespClient, RespClient, RespClient[]]> {
  const all: RespClient[] = [];
  const byThread = new Map<string, RespClient>();
  for (let i = 0; i < 64 && byThread.size < 2; i++) {
    const c = await RespClient.connect(port);
    all.push(c);
    const info = String(await c.call('INFO', 'server'));
    const t = /server_thread:(\d+)/.exec(info)![1];
    if (!byThread.has(t)) byThread.set(t, c);
  }
  assert.is(byThread.size, 2, 'the kernel spread 64 connections over both threads');
  return [byThread.get('0')!, byThread.get('1')!, all];
}

threads('--user users exist on every thread; ACL SETUSER and DELUSER on thread 0 apply on thread 1', async () => {
  if (nativeStatus().addon === null) {
    console.log(`  skipped: ${nativeStatus().reason}`);
    return;
  }
  const t = await startServerThreads(2, { port: 0, cache: { maxMemory: '16mb' }, users: ['app on >pw ~* +@read'] });
  let all: RespClient[] = [];
  try {
    const [t0, t1, conns] = await onEachThread(t.address.port);
    all = conns;
    assert.is(await t1.call('AUTH', 'app', 'pw'), 'OK');
    assert.equal(await t1.call('SET', 'k', 'v'), err("NOPERM User app has no permissions to run the 'set' command"));
    assert.is(await t0.call('ACL', 'SETUSER', 'app', '+set'), 'OK');
    assert.ok(await pollUntil(async () => (await t1.call('SET', 'k', 'v')) === 'OK'), 'the new rule reached thread 1');
    assert.is(await t0.call('ACL', 'SETUSER', 'late', 'on', '>late-pw', '~*', '+@all'), 'OK');
    assert.ok(await pollUntil(async () => (await t1.call('AUTH', 'late', 'late-pw')) === 'OK'), 'the new user reached thread 1');
    assert.is(await t0.call('ACL', 'DELUSER', 'late'), 1);
    // Thread 1's connection runs as `late`: once the deletion arrives, it may run nothing.
    assert.ok(await pollUntil(async () => (await t1.call('GET', 'k')) !== 'v'), 'the deletion reached thread 1');
    assert.equal(await t1.call('GET', 'k'), err("NOPERM User late has no permissions to run the 'get' command"));
  } finally {
    for (const c of all) c.destroy();
    await t.close();
  }
});

threads.run();
