/**
 * Big replies against a sidecar in its own process (fixtures/serve.ts): MGET of one 8 MiB value
 * 200 times (1.6 GiB of reply) to a client that reads slowly but steadily, the same to a client
 * that reads nothing, and KEYS / SCAN COUNT 1000000 over a million keys. The value is random, so
 * that it is stored as it is: a compressible one adds its inflation to every read (see
 * docs/sidecar.md, long commands), which this file does not measure. Throughout, another
 * client PINGs every 10 ms; the worst PING round trip, the server's event-loop delay (p99 / max,
 * monitorEventLoopDelay) and its RSS (/proc/<pid>/status) are printed and bounded. The bounds are
 * generous (the machine may be loaded): the target for a PING is 100 ms.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RespClient, encode } from '../helpers/resp-client.js';
import { pollUntil, sleep, waitFor } from '../helpers/wait.js';
import { prng, randomBytes } from '../helpers/prng.js';
import { roundTrips } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MiB = 1024 * 1024;
const VALUE_BYTES = 8 * MiB;
const MGET_COUNT = 200;
/** Worst PING round trip accepted while a big reply is produced (the target is 100 ms). */
const PING_BOUND_MS = 1500;
/** RSS after the big reply's client has gone may exceed RSS before it by at most this. */
const RSS_SLACK_BYTES = 100 * MiB;

/** Ends the run if this file hangs (uvu has no per-test timeout); cleared when it finishes. */
const watchdog = setTimeout(() => {
  console.error('big-replies: the suite took over 300 s');
  process.exit(1);
}, 300_000);

interface Stats { p99Ms: number; maxMs: number; disconnections: number }

/** The fixture server process: its port, its RSS, its event-loop delay. */
class ServerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  #lines: string[] = [];
  #waiting: Array<(line: string) => void> = [];

  constructor(config: object) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'test/integration/fixtures/serve.ts', JSON.stringify(config)], {
      cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'],
    });
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      partial += d;
      for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        const w = this.#waiting.shift();
        if (w !== undefined) w(line);
        else this.#lines.push(line);
      }
    });
    this.ready = this.#line(120_000).then((l) => (JSON.parse(l) as { port: number }).port);
  }

  #line(timeoutMs: number): Promise<string> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line from the server process within ${timeoutMs} ms`)), timeoutMs);
      this.#waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  }

  /** Event-loop delay since the last call, and the output-limit disconnections so far. */
  async stats(): Promise<Stats> {
    this.child.stdin!.write('stats\n');
    return JSON.parse(await this.#line(30_000)) as Stats;
  }

  /** Resident memory in bytes. */
  rss(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
    assert.ok(m !== null, 'no VmRSS line');
    return Number(m[1]) * 1024;
  }

  kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    return exited;
  }
}

async function withServer(config: object, fn: (server: ServerProcess, port: number) => Promise<void>): Promise<void> {
  const server = new ServerProcess(config);
  try {
    await fn(server, await server.ready);
  } finally {
    await server.kill();
  }
}

/** A client that PINGs every 10 ms until stopped; reports the worst round trip. */
function pinger(port: number): { stop: () => Promise<{ rounds: number; worstMs: number }> } {
  return roundTrips(port, async (c) => { assert.is(await c.call('PING'), 'PONG'); }, 10);
}

/** Samples `f` every 50 ms until stopped; resolves to the largest value seen. */
function peak(f: () => number): { stop: () => number } {
  let max = f();
  const timer = setInterval(() => { max = Math.max(max, f()); }, 50);
  return { stop: () => { clearInterval(timer); return Math.max(max, f()); } };
}

/** Reads at most `bytesPerSecond` on average: pauses the socket whenever it is ahead. */
function throttle(c: RespClient, bytesPerSecond: number): void {
  const started = performance.now();
  c.socket.on('data', () => {
    const aheadMs = (c.receivedBytes / bytesPerSecond) * 1000 - (performance.now() - started);
    if (aheadMs > 5 && !c.socket.isPaused()) {
      c.socket.pause();
      setTimeout(() => c.socket.resume(), aheadMs);
    }
  });
}

const mb = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
const mgetBytes = 6 + MGET_COUNT * (`$${VALUE_BYTES}\r\n`.length + VALUE_BYTES + 2);
const CACHE = { maxMemory: '128mb', shards: 4 };
const VALUE = Buffer.from(randomBytes(prng(8), VALUE_BYTES));

const big = suite('big replies from a server process');

big('MGET of an 8 MiB value 200 times reaches a slow, steady reader whole; PINGs keep being answered; RSS comes back', async () => {
  // A 32 MiB soft limit (default 64): what is left for V8's next GC after a streamed reply is
  // about that much, and the RSS bound below must hold whenever that GC comes.
  await withServer({ cache: CACHE, limits: { softBytes: 32 * MiB } }, async (server, port) => {
    const setup = await RespClient.connect(port);
    assert.is(await setup.call('SET', 'big', VALUE), 'OK');
    setup.destroy();
    await sleep(500);
    const before = server.rss();
    await server.stats();
    const ping = pinger(port);
    const reader = await RespClient.connect(port);
    reader.decode = false;
    throttle(reader, 400 * MiB);
    const rss = peak(() => server.rss());
    const started = performance.now();
    reader.write(encode('MGET', ...Array.from({ length: MGET_COUNT }, () => 'big')));
    await waitFor(() => reader.receivedBytes >= mgetBytes || reader.ended, { timeoutMs: 120_000, what: () => `the whole MGET reply (${reader.receivedBytes} of ${mgetBytes} bytes)` });
    const seconds = (performance.now() - started) / 1000;
    const loop = await server.stats();
    const { rounds: pings, worstMs } = await ping.stop();
    const peakRss = rss.stop();
    await sleep(200);
    assert.is(reader.receivedBytes, mgetBytes);
    assert.ok(!reader.ended, 'the reader was disconnected');
    reader.destroy();
    // Memory goes back once the reply is gone (a slow GC is waited for, within bounds).
    let after = server.rss();
    await pollUntil(() => (after = server.rss()) - before < RSS_SLACK_BYTES, { timeoutMs: 10_000, intervalMs: 200 });
    console.log(`  MGET 200 × 8 MiB: ${mb(mgetBytes)} in ${seconds.toFixed(1)} s; PING worst ${worstMs.toFixed(0)} ms over ${pings}; `
      + `event loop p99 ${loop.p99Ms} ms, max ${loop.maxMs} ms; RSS before ${mb(before)}, peak ${mb(peakRss)}, after ${mb(after)}`);
    assert.ok(pings >= 10, `only ${pings} PINGs`);
    assert.ok(worstMs < PING_BOUND_MS, `a PING took ${worstMs.toFixed(0)} ms`);
    assert.ok(after - before < RSS_SLACK_BYTES, `RSS ${mb(after)} after, ${mb(before)} before`);
    assert.is(loop.disconnections, 0);
  });
});

big('a client that reads nothing is cut at the 64 MiB hard limit while its MGET is produced, and RSS stays near the limit', async () => {
  await withServer({ cache: CACHE, limits: { hardBytes: 64 * MiB, softBytes: 0, softSeconds: 0 } }, async (server, port) => {
    const setup = await RespClient.connect(port);
    assert.is(await setup.call('SET', 'big', VALUE), 'OK');
    setup.destroy();
    await sleep(500);
    const before = server.rss();
    const ping = pinger(port);
    const sink = await RespClient.connect(port);
    sink.socket.pause();
    const rss = peak(() => server.rss());
    sink.write(encode('MGET', ...Array.from({ length: MGET_COUNT }, () => 'big')));
    let stats: Stats = await server.stats();
    await waitFor(async () => (stats = await server.stats()).disconnections > 0, { timeoutMs: 60_000, intervalMs: 100, what: 'the reader to be cut' });
    const peakRss = rss.stop();
    const { worstMs } = await ping.stop();
    sink.socket.resume();
    assert.ok(await sink.closedWithin(10_000), 'the socket did not close');
    console.log(`  a client that reads nothing: cut after ${mb(sink.receivedBytes)} received; RSS before ${mb(before)}, peak ${mb(peakRss)}; PING worst ${worstMs.toFixed(0)} ms`);
    assert.ok(sink.receivedBytes < mgetBytes / 4, `it received ${mb(sink.receivedBytes)}`);
    assert.is(stats.disconnections, 1);
    assert.ok(peakRss - before < 64 * MiB + 128 * MiB, `RSS peaked at ${mb(peakRss)}, ${mb(before)} before`);
    assert.ok(worstMs < PING_BOUND_MS, `a PING took ${worstMs.toFixed(0)} ms`);
  });
});

big('KEYS * and SCAN 0 COUNT 1000000 over 1,000,000 keys return every key while PINGs keep being answered', async () => {
  const n = 1_000_000;
  await withServer({ cache: { maxMemory: '512mb', shards: 16 }, fill: n }, async (server, port) => {
    let keysBytes = `*${n}\r\n`.length;
    for (let i = 0; i < n; i++) keysBytes += `$${`key:${i}`.length}\r\nkey:${i}\r\n`.length;
    // SCAN's reply starts with its cursor: 0, or (when the millionth key visited is not the last
    // slot of the last shard) the cursor of the empty rest, which a next call ends.
    const scanBytes = (head: Buffer) => {
      const m = /^\*2\r\n\$\d+\r\n(\d+)\r\n/.exec(head.toString('latin1'));
      assert.ok(m !== null, `SCAN reply starts ${JSON.stringify(head.toString('latin1', 0, 40))}`);
      return m[0].length + keysBytes;
    };
    for (const [name, args] of [['KEYS', ['KEYS', '*']], ['SCAN', ['SCAN', '0', 'COUNT', '1000000']]] as const) {
      await server.stats();
      const ping = pinger(port);
      await sleep(50);
      const c = await RespClient.connect(port);
      c.decode = false;
      let head = Buffer.alloc(0);
      c.socket.on('data', (d: Buffer) => { if (head.length < 64) head = Buffer.concat([head, d.subarray(0, 64)]); });
      const bytes = () => (name === 'KEYS' ? keysBytes : head.length < 32 ? Infinity : scanBytes(head));
      const started = performance.now();
      c.write(encode(...args));
      await waitFor(() => c.receivedBytes >= bytes(), { timeoutMs: 120_000, what: () => `the ${name} reply (${c.receivedBytes} of ${bytes()} bytes)` });
      const seconds = (performance.now() - started) / 1000;
      const loop = await server.stats();
      const { rounds: pings, worstMs } = await ping.stop();
      await sleep(100);
      assert.is(c.receivedBytes, bytes());
      c.destroy();
      console.log(`  ${args.join(' ')} over ${n} keys: ${mb(c.receivedBytes)} in ${seconds.toFixed(1)} s; PING worst ${worstMs.toFixed(0)} ms over ${pings}; event loop p99 ${loop.p99Ms} ms, max ${loop.maxMs} ms`);
      assert.ok(worstMs < PING_BOUND_MS, `a PING took ${worstMs.toFixed(0)} ms during ${name}`);
    }
  });
});

big.after(() => clearTimeout(watchdog));

big.run();
