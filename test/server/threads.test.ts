import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Socket } from 'node:net';
import { spawnSync } from 'node:child_process';
import { startServerThreads } from '../../src/server/threads.js';
import { nativeStatus } from '../../src/native/binding.js';

/** Sends one inline command and resolves to the raw reply text. */
function ask(sock: Socket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no reply to ${line}`)), 3000);
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = /^\$(\d+)\r\n/.exec(buf);
      if ((m && buf.length >= m[0].length + Number(m[1]) + 2) || (!m && buf.endsWith('\r\n') && buf[0] !== '$')) {
        clearTimeout(timer);
        sock.off('data', onData);
        resolve(buf);
      }
    };
    sock.on('data', onData);
    sock.write(line + '\r\n');
  });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

const threads = suite('server threads');

threads('the native addon is reported with the reason for its backend', () => {
  const s = nativeStatus();
  assert.ok(s.backend === 'native' || s.backend === 'fallback');
  assert.type(s.reason, 'string');
  assert.ok(s.reason.length > 10);
  const cxx = spawnSync('c++', ['--version']);
  if (cxx.status === 0) assert.is(s.backend, 'native', `a compiler is present, yet: ${s.reason}`);
});

threads('two threads share one port: connections land on both and see one cache', async () => {
  if (nativeStatus().addon === null) {
    console.log(`  skipped: ${nativeStatus().reason}`);
    return;
  }
  const t = await startServerThreads(2, { port: 0, cache: { maxMemory: '16mb' } });
  const socks: Socket[] = [];
  try {
    assert.is(t.threads, 2);
    assert.is(t.backend, 'native');
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const s = await open(t.address.port);
      socks.push(s);
      const info = await ask(s, 'INFO server');
      seen.add(/server_thread:(\d+)/.exec(info)![1]);
    }
    assert.equal([...seen].sort(), ['0', '1'], 'the kernel spread 40 connections over both threads');
    // A write through any connection is visible through every other (one shared cache).
    await ask(socks[0], 'SET shared value-1');
    for (const s of socks) assert.is(await ask(s, 'GET shared'), '$7\r\nvalue-1\r\n');
    const ids = new Set<string>();
    for (const s of socks) ids.add(await ask(s, 'CLIENT ID'));
    assert.is(ids.size, 40, 'client ids are unique across threads');
  } finally {
    for (const s of socks) s.destroy();
    await t.close();
  }
});

threads('without the addon one thread serves and says why', async () => {
  const prev = process.env.MESHCACHE_NATIVE;
  // nativeStatus() caches per thread, so ask for the fallback through a child process.
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `
    const { startServerThreads } = await import(${JSON.stringify(new URL('../../src/server/threads.ts', import.meta.url).href)});
    const t = await startServerThreads(2, { port: 0, cache: { maxMemory: '4mb' } });
    console.log(JSON.stringify({ threads: t.threads, backend: t.backend, reason: t.reason }));
    await t.close();
  `], { env: { ...process.env, MESHCACHE_NATIVE: '0' }, encoding: 'utf8', timeout: 20_000 });
  void prev;
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.is(out.threads, 1);
  assert.is(out.backend, 'fallback');
  assert.match(out.reason, /MESHCACHE_NATIVE=0/);
});

threads.run();
