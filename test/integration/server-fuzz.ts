/**
 * The protocol fuzz run against a real `meshcache serve` process: many connections at once send
 * random and mutated RESP (test/helpers/resp-fuzz.ts) while a well-behaved client checks that the
 * server keeps answering (worst PING latency) and its RSS is sampled. It passes when the server
 * never crashes or hangs, every fuzz connection is closed or answered, every reply decodes as
 * complete RESP, and RSS after the run is back within a bound of where it started.
 *
 * `npm run fuzz:server` runs 1,000,000 cases over 64 connections (options: --cases N
 * --connections N --seed N); test/integration/server.fuzz.test.ts runs a short seeded version.
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MeshProc } from '../helpers/mesh-proc.js';
import { RespClient } from '../helpers/resp-client.js';
import { FuzzBatches, Gen, errorText, sendFuzzBatch } from '../helpers/resp-fuzz.js';
import { sleep, pollUntil } from '../helpers/wait.js';

export interface ServerFuzzOptions {
  seed: number;
  /** Fuzz inputs to send in all. */
  cases: number;
  /** Fuzz connections open at once. */
  connections: number;
  /** How long a fuzz connection may stay open after its input ended before it counts as a hang. */
  hangMs?: number;
  /** Progress lines (none by default). */
  log?: (line: string) => void;
}

export interface ServerFuzzResult {
  seed: number;
  cases: number;
  fuzzConnections: number;
  seconds: number;
  /** Worst and 99th-percentile latency of the checker's PINGs during the run, in ms. */
  worstPingMs: number;
  p99PingMs: number;
  checkerRounds: number;
  rssBeforeBytes: number;
  rssPeakBytes: number;
  rssAfterBytes: number;
  protocolErrorReplies: number;
  /** What went wrong: hangs, partial replies, checker failures, a dead server. Empty when it passed. */
  failures: string[];
  load: string;
}

const MAX_FAILURES_KEPT = 20;

/** Runs the fuzz against a fresh server process, which it always stops. */
export async function runServerFuzz(o: ServerFuzzOptions): Promise<ServerFuzzResult> {
  const hangMs = o.hangMs ?? 10_000;
  const failures: string[] = [];
  const fail = (what: string) => { if (failures.length < MAX_FAILURES_KEPT) failures.push(what); };
  const proc = new MeshProc({ nodeId: 'fuzz', meshPort: null, maxMemory: '64mb' });
  const started = performance.now();
  let checker: RespClient | null = null;
  let sampler: NodeJS.Timeout | null = null;
  try {
    await proc.ready(60_000);
    checker = await RespClient.connect(proc.port);
    await checker.call('SET', 'warm', 'up');
    await sleep(500);
    const rssBefore = proc.rssBytes();
    let rssPeak = rssBefore;
    sampler = setInterval(() => { rssPeak = Math.max(rssPeak, proc.rssBytes()); }, 100);

    // The well-behaved client: SET/GET/PING rounds, every reply checked and timed.
    let running = true;
    const pings: number[] = [];
    const c = checker;
    const checking = (async () => {
      let rounds = 0;
      while (running) {
        const v = `good-${rounds}`;
        const t0 = performance.now();
        const replies = await c.call('PING').then((p) => [p], (e: unknown) => [e]);
        pings.push(performance.now() - t0);
        if (replies[0] !== 'PONG') fail(`checker round ${rounds}: PING gave ${String(replies[0])}`);
        if ((await c.call('SET', `good:${rounds % 20}`, v)) !== 'OK' || (await c.call('GET', `good:${rounds % 20}`)) !== v) {
          fail(`checker round ${rounds}: SET/GET gave a wrong answer`);
        }
        rounds++;
        await sleep(5);
      }
      return rounds;
    })();

    const batches = new FuzzBatches(new Gen(o.seed), o.cases);
    let fuzzConnections = 0;
    let protocolErrorReplies = 0;
    let lastLog = performance.now();
    const worker = async () => {
      for (let batch = batches.next(); batch !== null && proc.alive; batch = batches.next()) {
        fuzzConnections++;
        const r = await sendFuzzBatch(proc.port, batch, hangMs);
        if (!r.closed) fail(`a fuzz connection was still open ${hangMs} ms after its input ended: ${JSON.stringify(Buffer.concat(batch).toString('latin1').slice(0, 160))}`);
        if (r.partial !== null) fail(`a partial reply at the end: ${JSON.stringify(r.partial.subarray(0, 80).toString('latin1'))}`);
        protocolErrorReplies += r.replies.filter((x) => /Protocol error/.test(errorText(x) ?? '')).length;
        if (o.log !== undefined && performance.now() - lastLog > 5000) {
          lastLog = performance.now();
          o.log(`  ${batches.sent.toLocaleString('en')} cases, ${fuzzConnections.toLocaleString('en')} connections, RSS ${(proc.rssBytes() / 2 ** 20).toFixed(0)} MiB`);
        }
      }
    };
    await Promise.all(Array.from({ length: o.connections }, worker));
    running = false;
    const checkerRounds = await checking;
    if (!proc.alive) fail(`the server exited: ${proc.stderr.slice(-2000)}`);
    // Every fuzz connection gone, then give the process a moment to return memory.
    const drained = await pollUntil(async () => {
      const info = String(await c.call('INFO', 'clients'));
      return /connected_clients:1\r\n/.test(info);
    }, { timeoutMs: 10_000, intervalMs: 100 });
    if (!drained) fail('fuzz connections were still open 10 s after the run');
    await sleep(2000);
    const rssAfter = proc.rssBytes();
    if ((await c.call('PING')) !== 'PONG') fail('no PONG after the run');
    pings.sort((a, b) => a - b);
    return {
      seed: o.seed, cases: batches.sent, fuzzConnections, seconds: (performance.now() - started) / 1000,
      worstPingMs: pings.at(-1) ?? 0, p99PingMs: pings[Math.floor(pings.length * 0.99)] ?? 0, checkerRounds,
      rssBeforeBytes: rssBefore, rssPeakBytes: rssPeak, rssAfterBytes: rssAfter, protocolErrorReplies, failures,
      load: loadavg().map((l) => l.toFixed(2)).join(' '),
    };
  } finally {
    if (sampler !== null) clearInterval(sampler);
    checker?.destroy();
    proc.kill();
    await proc.exited;
  }
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`--${name} must be a non-negative integer`);
  return v;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const seed = arg('seed', Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31));
  const opts = { seed, cases: arg('cases', 1_000_000), connections: arg('connections', 64), log: (l: string) => console.log(l) };
  console.log(`server fuzz: ${opts.cases.toLocaleString('en')} cases over ${opts.connections} connections, seed ${seed} (replay: --seed ${seed}); load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const r = await runServerFuzz(opts);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  console.log(`${r.cases.toLocaleString('en')} cases over ${r.fuzzConnections.toLocaleString('en')} connections in ${r.seconds.toFixed(0)} s; ` +
    `${r.protocolErrorReplies.toLocaleString('en')} protocol-error replies; checker: ${r.checkerRounds} rounds, PING p99 ${r.p99PingMs.toFixed(1)} ms, worst ${r.worstPingMs.toFixed(1)} ms; ` +
    `RSS ${mib(r.rssBeforeBytes)} before, ${mib(r.rssPeakBytes)} peak, ${mib(r.rssAfterBytes)} after; load ${r.load}`);
  const grew = r.rssAfterBytes - r.rssBeforeBytes;
  if (grew > 100 * 2 ** 20) r.failures.push(`RSS grew by ${mib(grew)} (bound 100 MiB)`);
  if (r.failures.length > 0) {
    console.log(`FAIL:\n  ${r.failures.join('\n  ')}`);
    process.exit(1);
  }
  console.log('PASS');
}
