/**
 * The input limits of a real `meshcache serve` process, against the three reproductions of issue
 * 11 scaled down: many clients each leaving an 8 MiB value unfinished (maxmemory-clients evicts the
 * largest), one request of 1,048,576 arguments left unfinished (client-query-buffer-limit), and
 * slow-loris clients that never finish a request (partial-request-timeout). For each: the abusive
 * clients are disconnected and counted (INFO and /metrics), a second client's PING is answered
 * throughout (the worst latency is printed; the target is 100 ms, the assertion is a
 * generous 1000 ms so that a loaded machine cannot make it flake), and the server's RSS once the
 * abusive clients are gone is within 100 MB of what it was before (the figures are printed).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { get } from 'node:http';
import { RespClient } from '../helpers/resp-client.js';
import { pollUntil, sleep, waitFor } from '../helpers/wait.js';
import { withServe, type Cli } from '../helpers/serve-proc.js';

const MiB = 1024 * 1024;
/** The worst PING round trip allowed while the abuse goes on (the target is 100 ms). */
const PING_BOUND_MS = 1000;
/** How far above its RSS before the abuse the server may stay once the abusers are gone. */
const RSS_SLACK_BYTES = 100 * 1e6;

/** The child's resident set size, in bytes (VmRSS in /proc/<pid>/status). */
function rss(cli: Cli): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${cli.child.pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS line: the server exited (${cli.child.exitCode}): ${cli.stderr.slice(-2000)}`);
  return Number(m[1]) * 1024;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(0)} MB`;
}

/** Samples the child's RSS every 50 ms; `stop()` gives the largest seen. */
function rssPeak(cli: Cli): { stop(): number } {
  let peak = rss(cli);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rss(cli));
    } catch {
      clearInterval(timer); // the server is gone (the test failed and killed it): nothing to sample
    }
  }, 50);
  timer.unref();
  return { stop() { clearInterval(timer); return Math.max(peak, rss(cli)); } };
}

/** A client sending PING every 20 ms and timing each reply; `stop()` gives the worst and the count. */
async function pingProbe(port: number): Promise<{ stop(): Promise<{ worstMs: number; pings: number }> }> {
  const client = await RespClient.connect(port);
  let running = true;
  let worstMs = 0;
  let pings = 0;
  let failure: Error | null = null;
  const loop = (async () => {
    while (running && failure === null) {
      const started = performance.now();
      const reply = await client.call('PING').catch((err: Error) => { failure = err; return null; });
      if (failure !== null) break;
      worstMs = Math.max(worstMs, performance.now() - started);
      assert.is(reply, 'PONG');
      pings++;
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      client.destroy();
      if (failure !== null) throw new Error(`the PING client failed after ${pings} pings: ${(failure as Error).message}`);
      return { worstMs, pings };
    },
  };
}

/** INFO's fields (all sections) as a map. */
async function info(port: number, password?: string): Promise<Map<string, string>> {
  const c = await RespClient.connect(port);
  try {
    if (password !== undefined) assert.is(await c.call('AUTH', password), 'OK');
    const text = await c.call('INFO', 'everything') as string;
    const out = new Map<string, string>();
    for (const line of text.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
    }
    return out;
  } finally {
    c.destroy();
  }
}

/** The value of an unlabelled series in the child's /metrics. */
function metric(httpPort: number, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: httpPort, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => {
        const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
        if (m === null) reject(new Error(`no ${name} in /metrics`));
        else resolve(Number(m[1]));
      });
    }).on('error', reject);
  });
}

/** A raw socket that records when the server closed it. */
interface Abuser { socket: Socket; closed: boolean }

function abuser(port: number): Promise<Abuser> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const a: Abuser = { socket, closed: false };
    socket.on('error', () => { /* a reset when the server disconnects us mid-write is expected */ });
    socket.on('close', () => { a.closed = true; });
    socket.once('connect', () => resolve(a));
    socket.once('error', reject);
  });
}

/**
 * The RSS before the abuse, once the server is warm: a legitimate client has stored and read back
 * an 8 MiB value and pipelined a few hundred commands (the first large request grows the heap and
 * compiles the hot paths, which is not what these tests measure).
 */
async function settledRss(cli: Cli, port: number): Promise<number> {
  const c = await RespClient.connect(port);
  try {
    const value = Buffer.alloc(8 * MiB, 0x77);
    assert.is(await c.call('SET', 'warm', value), 'OK');
    assert.is((await c.call('GET', 'warm') as string).length, value.length);
    assert.is(await c.call('DEL', 'warm'), 1);
    for (let i = 0; i < 300; i++) c.write(`SET k${i} v${i}\r\n`);
    await c.replies(300, 30_000);
  } finally {
    c.destroy();
  }
  await info(port);
  await sleep(500);
  return rss(cli);
}

/**
 * Waits (up to 30 s) for the RSS to come back within RSS_SLACK_BYTES of `before`, and returns it:
 * memory is given back once the collector has run, which may take a moment after the sockets close.
 */
async function rssAfter(cli: Cli, before: number): Promise<number> {
  await pollUntil(() => rss(cli) - before < RSS_SLACK_BYTES, { timeoutMs: 30_000, intervalMs: 250 });
  return rss(cli);
}

function report(what: string, figures: { worstMs: number; pings: number; before: number; peak: number; after: number }): void {
  console.log(`  ${what}: worst PING ${figures.worstMs.toFixed(1)} ms over ${figures.pings} pings; RSS before ${mb(figures.before)}, peak ${mb(figures.peak)}, after ${mb(figures.after)}`);
}

const limits = suite('meshcache serve: input limits (issue 11 reproductions, scaled down)');

limits('20 clients each leaving an 8 MiB SET unfinished: maxmemory-clients 64mb evicts the largest, PING stays answered, RSS comes back', async () => {
  await withServe(['--max-memory-clients', '64mb', '--http', '0'], async (cli, port) => {
    const httpPort = (await cli.log('meshcache listening')).http as number;
    const value = Buffer.alloc(8 * MiB, 0x78);
    const before = await settledRss(cli, port);
    const peak = rssPeak(cli);
    const probe = await pingProbe(port);
    const clients = await Promise.all(Array.from({ length: 20 }, () => abuser(port)));
    for (const c of clients) {
      c.socket.write('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$8388608\r\n');
      c.socket.write(value); // all of the value but its final CRLF: the request never completes
    }
    // 20 × 8 MiB cannot fit in 64 MiB: at least 12 must go; the others wait, unfinished.
    await waitFor(() => clients.filter((c) => c.closed).length >= 12, { timeoutMs: 60_000, what: 'the server to evict 12 clients' });
    await sleep(500);
    const evicted = clients.filter((c) => c.closed).length;
    const stats = await info(port);
    assert.is(Number(stats.get('evicted_clients')), evicted);
    assert.is(await metric(httpPort, 'meshcache_evicted_clients_total'), evicted);
    assert.is(Number(stats.get('client_query_buffer_limit_disconnections')), 0);
    assert.ok(Number(stats.get('clients_input_buffer_bytes')) <= 64 * MiB, `held ${stats.get('clients_input_buffer_bytes')}`);
    for (const c of clients) c.socket.destroy();
    // Left: the PING client and INFO's own.
    await waitFor(async () => Number((await info(port)).get('connected_clients')) === 2, { timeoutMs: 20_000, what: 'the abusers to be gone' });
    assert.is(Number((await info(port)).get('clients_input_buffer_bytes')), 0);
    const { worstMs, pings } = await probe.stop();
    const after = await rssAfter(cli, before);
    report(`${evicted} of 20 evicted`, { worstMs, pings, before, peak: peak.stop(), after });
    assert.ok(worstMs < PING_BOUND_MS, `worst PING ${worstMs} ms`);
    assert.ok(after - before < RSS_SLACK_BYTES, `RSS ${mb(before)} → ${mb(after)}`);
  });
});

limits('one request of 1,048,576 arguments left unfinished: client-query-buffer-limit (default 64 MiB) disconnects it', async () => {
  await withServe(['--http', '0'], async (cli, port) => {
    const httpPort = (await cli.log('meshcache listening')).http as number;
    const n = 1024 * 1024;
    const arg = Buffer.from('$1\r\nx\r\n');
    const wire = Buffer.alloc(arg.length * (n - 1));
    for (let i = 0; i < n - 1; i++) arg.copy(wire, i * arg.length);
    const before = await settledRss(cli, port);
    const peak = rssPeak(cli);
    const probe = await pingProbe(port);
    const c = await abuser(port);
    c.socket.write(`*${n}\r\n`);
    c.socket.write(wire); // all arguments but the last
    await waitFor(() => c.closed, { timeoutMs: 60_000, what: 'the server to disconnect the 1M-argument client' });
    const stats = await info(port);
    assert.is(Number(stats.get('client_query_buffer_limit_disconnections')), 1);
    assert.is(await metric(httpPort, 'meshcache_query_buffer_limit_disconnections_total'), 1);
    assert.is(Number(stats.get('clients_input_buffer_bytes')), 0);
    const { worstMs, pings } = await probe.stop();
    const after = await rssAfter(cli, before);
    report('1M-argument request', { worstMs, pings, before, peak: peak.stop(), after });
    assert.ok(worstMs < PING_BOUND_MS, `worst PING ${worstMs} ms`);
    assert.ok(after - before < RSS_SLACK_BYTES, `RSS ${mb(before)} → ${mb(after)}`);
  });
});

limits('500 slow-loris clients trickling a request that never ends: partial-request-timeout 1 closes all of them; a silent one stays', async () => {
  await withServe(['--partial-request-timeout', '1', '--http', '0'], async (cli, port) => {
    const httpPort = (await cli.log('meshcache listening')).http as number;
    const before = await settledRss(cli, port);
    const peak = rssPeak(cli);
    const probe = await pingProbe(port);
    const silent = await abuser(port); // connects and sends nothing: only --timeout would close it
    const clients: Abuser[] = [];
    for (let i = 0; i < 500; i++) {
      const c = await abuser(port);
      c.socket.write('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n');
      clients.push(c);
    }
    const started = performance.now();
    // One more byte of the value every 100 ms from each: always arriving, never complete.
    const trickle = setInterval(() => { for (const c of clients) if (!c.closed) c.socket.write('x'); }, 100);
    try {
      await waitFor(() => clients.every((c) => c.closed), { timeoutMs: 60_000, what: () => `all 500 to be closed (${clients.filter((c) => c.closed).length} are)` });
    } finally {
      clearInterval(trickle);
    }
    const closedAfterMs = performance.now() - started;
    const stats = await info(port);
    assert.is(Number(stats.get('client_timeout_disconnections')), 500);
    assert.is(await metric(httpPort, 'meshcache_timeout_disconnections_total'), 500);
    assert.is(silent.closed, false);
    assert.is(Number(stats.get('connected_clients')), 3); // the probe, the silent one, INFO's
    silent.socket.destroy();
    const { worstMs, pings } = await probe.stop();
    const after = await rssAfter(cli, before);
    report(`500 slow-loris closed within ${closedAfterMs.toFixed(0)} ms of the last connect`, { worstMs, pings, before, peak: peak.stop(), after });
    assert.ok(worstMs < PING_BOUND_MS, `worst PING ${worstMs} ms`);
    assert.ok(after - before < RSS_SLACK_BYTES, `RSS ${mb(before)} → ${mb(after)}`);
  });
});

limits('--timeout 1 closes an idle client, and with --requirepass a silent unauthenticated one goes after the partial-request-timeout', async () => {
  await withServe(['--timeout', '1', '--partial-request-timeout', '2', '--requirepass', 'pw'], async (_cli, port) => {
    const busy = await RespClient.connect(port);
    assert.is(await busy.call('AUTH', 'pw'), 'OK');
    const idle = await RespClient.connect(port);
    assert.is(await idle.call('AUTH', 'pw'), 'OK');
    const started = performance.now();
    // The busy client keeps talking; the idle one goes silent after AUTH.
    const closedIdle = idle.closedWithin(20_000);
    while (performance.now() - started < 2500) {
      assert.is(await busy.call('PING'), 'PONG');
      await sleep(100);
    }
    assert.is(await closedIdle, true);
    assert.is(await busy.call('PING'), 'PONG');
    busy.destroy();
  });
  await withServe(['--partial-request-timeout', '1', '--requirepass', 'pw'], async (_cli, port) => {
    const silent = await abuser(port);
    const authed = await RespClient.connect(port);
    assert.is(await authed.call('AUTH', 'pw'), 'OK');
    await waitFor(() => silent.closed, { timeoutMs: 20_000, what: 'the silent unauthenticated client to be closed' });
    assert.is(await authed.call('PING'), 'PONG'); // authenticated and silent: no --timeout, it stays
    const stats = await info(port, 'pw');
    assert.is(Number(stats.get('client_timeout_disconnections')), 1);
    authed.destroy();
  });
});

limits.run();
