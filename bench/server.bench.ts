/**
 * The sidecar over TCP: redis-benchmark GET/SET against `meshcache serve` (threads 1 and 2) and redis-server.
 *
 * Starts redis-server (`--save '' --appendonly no --maxmemory 1gb --maxmemory-policy allkeys-lru`,
 * no persistence) and `node dist/cli.js serve --max-memory 1gb --log-level warn --threads T` for
 * each T in --threads (default 1,2), each as a child process on a free port. Every server is filled
 * with the benchmark's whole keyspace first (key:000000000000 … key:000000099999, holding the
 * 100-byte value redis-benchmark 7's SETs write), so that every GET hits. Then, for every repetition, pipeline
 * (1, 16) and test (SET, GET), redis-benchmark runs against each server in turn (the order rotating
 * per case, so that a change in machine load hits them alike):
 *   redis-benchmark -p <port> -t <test> -c 50 -P <p> -d 100 -r 100000 -n <N> --csv
 * N = 150,000 at pipeline 1 and 1,000,000 at pipeline 16 (--quick: 20,000 / 100,000 and 1 rep),
 * after an unrecorded warm-up of each test on each server (20,000 requests at P1, 100,000 at P16).
 * It parses rps and the latency columns redis-benchmark 7 prints (avg, min, p50, p95, p99, max ms)
 * and reports the median of the repetitions (3 by default, --reps N), meshcache/redis ratios for
 * throughput and p99, the CPU time each server used per run (/proc/<pid>/stat) and os.loadavg().
 * Checks, any of which stops the run and fails it: a server that exits or stops answering PING, a
 * redis-benchmark run that errors or outlasts its time limit, a GET run that misses (INFO
 * keyspace_misses grows) and, after each repetition, 1,000 random keys that must read back as
 * that value, DBSIZE 100,000 and an absent key that must read as nil. meshcache's backend is
 * taken from its log (the line with a `backend` field; with --threads 1 none is logged).
 * redis-server and redis-benchmark come from $PATH; when missing, root with apt-get installs
 * redis-server and redis-tools, anyone else gets an error. Flags: --quick, --reps N,
 * --threads 1,2, --peers-only (redis-server only), --baseline <dir> (a built checkout of another
 * commit served as one more target, compared in a table of its own). Results: bench/results/server.json
 * (server-partial.json for --quick, --peers-only, other --threads/--reps, or a failed run).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { spawn, execFileSync } from 'node:child_process';
import { REPO_ROOT, PEERS_ONLY } from './lib/meshcache.js';
import { fixed, formatRate, formatRatio, table, writeResults } from './lib/report.js';
import {
  ensureRedisTools, freePort, info, processCpuSeconds, processThreads, RespClient, startProcess, toolVersion,
  waitForPong, type ServerProcess,
} from './lib/redis.js';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
function flagValue(name: string): string | undefined {
  const at = argv.indexOf(name);
  return at < 0 ? undefined : argv[at + 1];
}
const REPS = Number(flagValue('--reps') ?? (QUICK ? 1 : 3));
const THREADS = (flagValue('--threads') ?? '1,2').split(',').map(Number);
/**
 * --baseline <dir>: a checkout of another commit, built (`npm ci` there), whose `meshcache serve`
 * runs as one more target (threads 1) in the same run, so that a change's cost is a same-run ratio.
 */
const BASELINE = flagValue('--baseline');
if (!Number.isInteger(REPS) || REPS < 1 || THREADS.some((t) => !Number.isInteger(t) || t < 1)) {
  console.error('usage: npm run bench -- server [--quick] [--reps N] [--threads 1,2] [--peers-only] [--baseline <built checkout>]');
  process.exit(2);
}
const KEYSPACE = 100_000;
const VALUE_BYTES = 100;
const CLIENTS = 50;
const PIPELINES = [1, 16] as const;
const TESTS = ['set', 'get'] as const;
const REQUESTS: Record<number, number> = QUICK ? { 1: 20_000, 16: 100_000 } : { 1: 150_000, 16: 1_000_000 };
const WARMUP: Record<number, number> = { 1: 20_000, 16: 100_000 };
/** A redis-benchmark run that takes longer than this counts as a hang. */
const RUN_LIMIT_MS = 150_000;
/**
 * The value redis-benchmark 7 writes with `SET -d 100`: it fills its payload once per process with
 * `genBenchmarkRandomData` (an LCG seeded with 1234, characters '0' + 0..63), so every SET of every
 * run writes these same bytes. The prefill writes them too, so every key must always hold them.
 */
const VALUE = (() => {
  const b = Buffer.alloc(VALUE_BYTES);
  let state = 1234;
  for (let i = 0; i < VALUE_BYTES; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    b[i] = 48 + ((state >>> 16) & 63);
  }
  return b;
})();
const SAMPLE = 1000;

type Test = (typeof TESTS)[number];

interface Target {
  id: string;
  label: string;
  kind: 'redis' | 'meshcache';
  threads?: number;
  proc: ServerProcess;
  backend?: string;
  backendLog?: string;
  /** Distinct INFO server_thread values seen over 16 connections (meshcache; more than one = several threads serve). */
  threadsSeen?: number[];
}

interface Latency {
  avg: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

interface Run extends Latency {
  server: string;
  test: Test;
  pipeline: number;
  rep: number;
  requests: number;
  rps: number;
  wallSeconds: number;
  serverCpuSeconds: number;
  serverCpuPercent: number;
  /** Server CPU time per request, µs (robust to a loaded machine, unlike rps). */
  serverCpuUsPerRequest: number;
  serverThreads: number;
  loadavgBefore: number[];
  hits?: number;
  misses?: number;
  errorReplies?: number;
}

const problems: string[] = [];
const runs: Run[] = [];
const targets: Target[] = [];
const loadavgStart = loadavg();
const startedAt = new Date();

class Stop extends Error {}

function stop(message: string): never {
  problems.push(message);
  throw new Stop(message);
}

/** Source files newer than dist/cli.js (the build the bench measures). */
function staleSources(): string[] {
  const built = statSync(`${REPO_ROOT}dist/cli.js`).mtimeMs;
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(`${REPO_ROOT}${dir}`, { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (/\.ts$/.test(e.name) && statSync(`${REPO_ROOT}${rel}`).mtimeMs > built) out.push(rel);
    }
  };
  walk('src');
  return out;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Why `t`'s process is unusable, or undefined. */
function dead(t: Target): string | undefined {
  return t.proc.exited ? `${t.label} ${t.proc.exited}` : undefined;
}

function lastLines(t: Target, n = 15): string {
  return t.proc.lines.slice(-n).map((l) => `    ${l}`).join('\n') || '    (nothing)';
}

async function checkAlive(t: Target, when: string): Promise<void> {
  const d = dead(t);
  if (d) stop(`${d} ${when}. Its last output:\n${lastLines(t)}`);
  try {
    const c = await RespClient.connect(t.proc.port, 3000);
    try {
      const r = await c.call(['PING'], 5000);
      if (r !== 'PONG') stop(`${t.label} answered PING with ${JSON.stringify(r instanceof Error ? `-${r.message}` : r)} ${when}`);
    } finally {
      c.close();
    }
  } catch (e) {
    if (e instanceof Stop) throw e;
    stop(`${t.label} did not answer PING ${when}: ${(e as Error).message}${t.proc.exited ? ` (process ${t.proc.exited})` : ''}. Its last output:\n${lastLines(t)}`);
  }
}

function keyName(i: number): string {
  return `key:${String(i).padStart(12, '0')}`;
}

/** SETs the whole keyspace (pipelined 1,000 at a time) and checks every reply. */
async function prefill(t: Target): Promise<void> {
  const c = await RespClient.connect(t.proc.port);
  try {
    const start = performance.now();
    for (let i = 0; i < KEYSPACE; i += 1000) {
      const cmds = [];
      for (let j = i; j < Math.min(KEYSPACE, i + 1000); j++) cmds.push(['SET', keyName(j), VALUE]);
      const replies = await c.pipeline(cmds, 30_000);
      const bad = replies.findIndex((r) => r !== 'OK');
      if (bad >= 0) {
        const r = replies[bad];
        stop(`${t.label}: SET ${keyName(i + bad)} (prefill) answered ${JSON.stringify(r instanceof Error ? `-${r.message}` : Buffer.isBuffer(r) ? r.toString() : r)} instead of +OK`);
      }
    }
    console.log(`  ${t.label}: ${KEYSPACE.toLocaleString('en-US')} keys set in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  } catch (e) {
    if (e instanceof Stop) throw e;
    stop(`${t.label}: prefill failed: ${(e as Error).message}${t.proc.exited ? ` (process ${t.proc.exited})` : ''}`);
  } finally {
    c.close();
  }
}

/** DBSIZE, an absent key and SAMPLE random keys that must hold the value redis-benchmark writes. */
async function verify(t: Target, when: string): Promise<void> {
  const c = await RespClient.connect(t.proc.port);
  try {
    const size = await c.call(['DBSIZE']);
    if (size !== KEYSPACE) stop(`${t.label}: DBSIZE answered ${JSON.stringify(size instanceof Error ? `-${size.message}` : size)} ${when}, expected ${KEYSPACE}`);
    const absent = await c.call(['GET', 'absent:bench-key']);
    if (absent !== null) stop(`${t.label}: GET of a key never set answered ${JSON.stringify(absent instanceof Error ? `-${absent.message}` : String(absent))} ${when}, expected nil`);
    const keys = Array.from({ length: SAMPLE }, () => keyName(Math.floor(Math.random() * KEYSPACE)));
    const replies = await c.pipeline(keys.map((k) => ['GET', k]), 30_000);
    replies.forEach((r, i) => {
      if (!Buffer.isBuffer(r) || !r.equals(VALUE)) {
        const shown = r instanceof Error ? `-${r.message}` : Buffer.isBuffer(r) ? `${r.length} bytes ${JSON.stringify(r.toString('latin1', 0, 40))}…` : String(r);
        const hint = t.kind === 'redis' ? ' (redis-server is the reference here: redis-benchmark must write other bytes than its 7.x genBenchmarkRandomData, so this check needs updating)' : '';
        stop(`${t.label}: GET ${keys[i]} answered ${shown} ${when}, expected the 100 bytes ${JSON.stringify(VALUE.toString('latin1', 0, 40))}… that the prefill and redis-benchmark's SETs write${hint}`);
      }
    });
  } catch (e) {
    if (e instanceof Stop) throw e;
    stop(`${t.label}: read-back check failed ${when}: ${(e as Error).message}${t.proc.exited ? ` (process ${t.proc.exited})` : ''}`);
  } finally {
    c.close();
  }
}

async function stats(t: Target): Promise<{ hits: number; misses: number; errors: number }> {
  const s = await info(t.proc.port, 'stats');
  return { hits: Number(s.keyspace_hits), misses: Number(s.keyspace_misses), errors: Number(s.total_error_replies ?? 0) };
}

/** Runs redis-benchmark once; resolves with its stdout, stderr and exit, or `timedOut`. */
function runBenchmark(bin: string, args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, RUN_LIMIT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** The data row of redis-benchmark's --csv output, by its header names. */
function parseCsv(out: string): Record<string, string> | undefined {
  const lines = out.split(/\r?\n/).filter((l) => l.startsWith('"'));
  if (lines.length < 2) return undefined;
  const cells = (l: string) => [...l.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  const head = cells(lines[0]);
  const row = cells(lines[1]);
  return Object.fromEntries(head.map((h, i) => [h, row[i]]));
}

async function measure(bin: string, t: Target, test: Test, pipeline: number, rep: number, requests = REQUESTS[pipeline]): Promise<Run> {
  const args = ['-h', '127.0.0.1', '-p', String(t.proc.port), '-t', test, '-c', String(CLIENTS), '-P', String(pipeline),
    '-d', String(VALUE_BYTES), '-r', String(KEYSPACE), '-n', String(requests), '--csv'];
  const what = `during redis-benchmark ${args.join(' ')}`;
  const before = await stats(t);
  const loadavgBefore = loadavg();
  const cpu0 = processCpuSeconds(t.proc.child.pid);
  const start = performance.now();
  const r = await runBenchmark(bin, args);
  const wallSeconds = (performance.now() - start) / 1000;
  const cpu1 = processCpuSeconds(t.proc.child.pid);
  const serverThreads = processThreads(t.proc.child.pid);
  if (r.timedOut) {
    const d = dead(t);
    stop(`${t.label}: redis-benchmark did not finish within ${RUN_LIMIT_MS / 1000} s ${what.slice(7)} (killed; ${d ?? `the server process is still running`}). Last server output:\n${lastLines(t)}`);
  }
  const benchExit = `redis-benchmark exited with ${r.signal ?? `code ${r.code}`}${(r.stderr + r.stdout).trim() ? `: ${JSON.stringify((r.stderr + r.stdout).trim().slice(0, 500))}` : ''}`;
  await checkAlive(t, `during or after redis-benchmark ${args.join(' ')} (${benchExit})`);
  if (r.code !== 0) stop(`${t.label}: redis-benchmark exited with ${r.signal ?? `code ${r.code}`} ${what}: ${(r.stderr + r.stdout).trim().slice(0, 2000)}`);
  const row = parseCsv(r.stdout);
  const num = (k: string) => Number(row?.[k]);
  if (!row || !Number.isFinite(num('rps'))) stop(`${t.label}: cannot read redis-benchmark's --csv output ${what}: ${JSON.stringify(r.stdout.slice(0, 500))} ${r.stderr.slice(0, 500)}`);
  if (/error/i.test(r.stderr)) stop(`${t.label}: redis-benchmark reported ${JSON.stringify(r.stderr.trim().slice(0, 1000))} ${what}`);
  const after = await stats(t);
  const run: Run = {
    server: t.id, test, pipeline, rep, requests, rps: num('rps'), avg: num('avg_latency_ms'), min: num('min_latency_ms'),
    p50: num('p50_latency_ms'), p95: num('p95_latency_ms'), p99: num('p99_latency_ms'), max: num('max_latency_ms'),
    wallSeconds, serverCpuSeconds: cpu1 - cpu0, serverCpuPercent: (100 * (cpu1 - cpu0)) / wallSeconds, serverCpuUsPerRequest: (1e6 * (cpu1 - cpu0)) / requests, serverThreads, loadavgBefore,
    hits: after.hits - before.hits, misses: after.misses - before.misses, errorReplies: after.errors - before.errors,
  };
  if (run.errorReplies) stop(`${t.label}: ${run.errorReplies} error replies (INFO total_error_replies) ${what}`);
  // INFO's stats are per server thread when several serve, and the before and after snapshots
  // come over new connections that may land on different threads (one of them holding verify()'s
  // deliberate miss on absent:bench-key): the counter check only holds with one thread. verify()
  // reads keys back after every repetition in either case.
  const perThread = (t.threadsSeen?.length ?? 1) > 1;
  if (test === 'get' && !perThread && (run.misses !== 0 || run.hits! < requests)) {
    stop(`${t.label}: GETs missed ${what}: keyspace_hits +${run.hits}, keyspace_misses +${run.misses} for ${requests} GETs of prefilled keys`);
  }
  return run;
}

async function startServers(tools: { server: string }): Promise<void> {
  const redisPort = await freePort();
  const redis = startProcess('redis-server', tools.server, [
    '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory', '1gb',
    '--maxmemory-policy', 'allkeys-lru', '--daemonize', 'no', '--protected-mode', 'no', '--dir', '/tmp', '--dbfilename', `bench-server-${process.pid}.rdb`,
  ], redisPort);
  targets.push({ id: 'redis', label: `redis-server (port ${redisPort})`, kind: 'redis', proc: redis, backend: 'redis-server' });
  if (BASELINE !== undefined && !PEERS_ONLY) {
    const port = await freePort();
    const proc = startProcess('meshcache baseline', process.execPath, [
      'dist/cli.js', 'serve', '--port', String(port), '--max-memory', '1gb', '--log-level', 'info',
    ], port, BASELINE);
    const commit = (() => {
      try {
        return execFileSync('git', ['-C', BASELINE, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
      } catch {
        return 'unknown commit';
      }
    })();
    targets.push({ id: 'baseline-t1', label: `meshcache baseline ${commit} (port ${port})`, kind: 'meshcache', threads: 1, proc });
  }
  if (!PEERS_ONLY) {
    for (const threads of THREADS) {
      const port = await freePort();
      const proc = startProcess(`meshcache t${threads}`, process.execPath, [
        'dist/cli.js', 'serve', '--port', String(port), '--max-memory', '1gb', '--log-level', 'info', '--threads', String(threads),
      ], port, REPO_ROOT);
      targets.push({ id: `meshcache-t${threads}`, label: `meshcache --threads ${threads} (port ${port})`, kind: 'meshcache', threads, proc });
    }
  }
  for (const t of targets) {
    try {
      await waitForPong(t.proc.port, 15_000, () => dead(t));
    } catch (e) {
      stop(`${t.label} did not come up: ${(e as Error).message}. Its output:\n${lastLines(t)}`);
    }
  }
  await new Promise((r) => setTimeout(r, 300)); // let startup log lines arrive
  for (const t of targets) {
    if (t.kind !== 'meshcache') continue;
    for (const line of t.proc.lines) {
      try {
        const j = JSON.parse(line) as { backend?: string; msg?: string };
        if (typeof j.backend === 'string') {
          t.backend = j.backend;
          t.backendLog = line;
        }
      } catch {
        // not a JSON log line
      }
    }
    const seen = new Set<number>();
    for (let i = 0; i < 16; i++) {
      const v = (await info(t.proc.port, 'server')).server_thread;
      if (v !== undefined) seen.add(Number(v));
    }
    t.threadsSeen = [...seen].sort((a, b) => a - b);
    t.backend ??= t.threads === 1 ? 'single-thread (threads 1; no backend line logged)' : 'unknown (no log line with a backend field)';
    console.log(`  ${t.label}: backend ${t.backend}; INFO server_thread over 16 connections: ${t.threadsSeen.length ? t.threadsSeen.join(', ') : '(no such field)'}${t.backendLog ? `\n    log: ${t.backendLog}` : ''}`);
  }
}

interface Summary extends Latency {
  server: string;
  test: Test;
  pipeline: number;
  rps: number;
  rpsMin: number;
  rpsMax: number;
  serverCpuPercent: number;
  serverCpuUsPerRequest: number;
  reps: number;
}

function summarize(): Summary[] {
  const out: Summary[] = [];
  for (const t of targets) {
    for (const pipeline of PIPELINES) {
      for (const test of TESTS) {
        const rs = runs.filter((r) => r.server === t.id && r.test === test && r.pipeline === pipeline);
        if (rs.length === 0) continue;
        const m = (k: keyof Latency | 'rps' | 'serverCpuPercent' | 'serverCpuUsPerRequest') => median(rs.map((r) => r[k]));
        out.push({
          server: t.id, test, pipeline, reps: rs.length, rps: m('rps'), rpsMin: Math.min(...rs.map((r) => r.rps)), rpsMax: Math.max(...rs.map((r) => r.rps)),
          avg: m('avg'), min: m('min'), p50: m('p50'), p95: m('p95'), p99: m('p99'), max: m('max'), serverCpuPercent: m('serverCpuPercent'),
          serverCpuUsPerRequest: m('serverCpuUsPerRequest'),
        });
      }
    }
  }
  return out;
}

interface Comparison {
  test: string;
  pipeline: number;
  threads: number;
  backend: string;
  /** Server threads seen answering (INFO server_thread), when meshcache reports it. */
  threadsServing?: number;
  meshcacheRps: number;
  redisRps: number;
  rpsRatio: number;
  meshcacheP99: number;
  redisP99: number;
  p99Ratio: number;
  meetsThroughput: boolean;
  meetsP99: boolean;
}

function compare(summary: Summary[]): Comparison[] {
  const out: Comparison[] = [];
  for (const test of TESTS) {
    for (const pipeline of PIPELINES) {
      const redis = summary.find((s) => s.server === 'redis' && s.test === test && s.pipeline === pipeline);
      for (const t of targets.filter((x) => x.kind === 'meshcache')) {
        const mesh = summary.find((s) => s.server === t.id && s.test === test && s.pipeline === pipeline);
        if (!redis || !mesh) continue;
        out.push({
          test: test.toUpperCase(), pipeline, threads: t.threads!, backend: t.backend!, threadsServing: t.threadsSeen?.length || undefined, meshcacheRps: mesh.rps, redisRps: redis.rps,
          rpsRatio: mesh.rps / redis.rps, meshcacheP99: mesh.p99, redisP99: redis.p99, p99Ratio: mesh.p99 / redis.p99,
          meetsThroughput: mesh.rps / redis.rps >= 0.8, meetsP99: mesh.p99 / redis.p99 <= 1.5,
        });
      }
    }
  }
  return out;
}

function ms(x: number): string {
  return fixed(x, 3);
}

function report(): { summary: Summary[]; comparisons: Comparison[] } {
  const summary = summarize();
  const comparisons = compare(summary);
  if (summary.length) {
    const label = (id: string) => (id === 'redis' ? 'redis-server' : id === 'baseline-t1' ? 'baseline t1' : id.replace('meshcache-t', 'meshcache t'));
    console.log(`\nper server, median of ${REPS} run(s) (latencies in ms as redis-benchmark reports them; server CPU = its CPU time / wall time, and per request):\n`);
    console.log(table(
      ['server', 'test', 'P', 'rps', 'rps min-max', 'avg', 'p50', 'p95', 'p99', 'max', 'server CPU %', 'CPU µs/req'],
      summary.map((s) => [label(s.server), s.test.toUpperCase(), String(s.pipeline), formatRate(s.rps), `${formatRate(s.rpsMin)}-${formatRate(s.rpsMax)}`,
        ms(s.avg), ms(s.p50), ms(s.p95), ms(s.p99), ms(s.max), fixed(s.serverCpuPercent, 0), fixed(s.serverCpuUsPerRequest, 2)]),
    ));
  }
  if (comparisons.length) {
    console.log('\nmeshcache vs redis-server (targets: throughput >= 0.80x, p99 <= 1.50x):\n');
    console.log(table(
      ['test', 'P', 'threads', 'backend', 'serving', 'meshcache rps', 'redis rps', 'rps ratio', 'meshcache p99 ms', 'redis p99 ms', 'p99 ratio', 'targets'],
      comparisons.map((c) => [c.test, String(c.pipeline), String(c.threads), c.backend.split(' ')[0], c.threadsServing === undefined ? '-' : String(c.threadsServing), formatRate(c.meshcacheRps), formatRate(c.redisRps),
        formatRatio(c.meshcacheRps, c.redisRps), ms(c.meshcacheP99), ms(c.redisP99), formatRatio(c.meshcacheP99, c.redisP99),
        c.meetsThroughput && c.meetsP99 ? 'met' : `missed (${[!c.meetsThroughput && 'rps', !c.meetsP99 && 'p99'].filter(Boolean).join(', ')})`]),
    ));
    const missed = comparisons.filter((c) => !c.meetsThroughput || !c.meetsP99).length;
    console.log(`\n${missed === 0 ? 'all targets met' : `targets missed in ${missed} of ${comparisons.length} rows`}`);
  }
  const baseline = targets.find((t) => t.id === 'baseline-t1');
  if (baseline !== undefined && summary.length) {
    console.log(`\nthis tree vs ${baseline.label.replace(/ \(port \d+\)$/, '')}, threads 1, same run (a change's cost: rps ratio < 1, p99 ratio > 1):\n`);
    const rows: string[][] = [];
    for (const test of TESTS) {
      for (const pipeline of PIPELINES) {
        const now = summary.find((x) => x.server === 'meshcache-t1' && x.test === test && x.pipeline === pipeline);
        const base = summary.find((x) => x.server === 'baseline-t1' && x.test === test && x.pipeline === pipeline);
        if (now === undefined || base === undefined) continue;
        rows.push([test.toUpperCase(), String(pipeline), formatRate(now.rps), formatRate(base.rps), formatRatio(now.rps, base.rps), ms(now.p99), ms(base.p99), formatRatio(now.p99, base.p99)]);
      }
    }
    console.log(table(['test', 'P', 'this rps', 'baseline rps', 'rps ratio', 'this p99 ms', 'baseline p99 ms', 'p99 ratio'], rows));
  }
  return { summary, comparisons };
}

async function main(): Promise<number> {
  const tools = ensureRedisTools((l) => console.log(l));
  if ('missing' in tools) {
    console.error(`bench server: cannot run: ${tools.missing}`);
    return 1;
  }
  let stale: string[] = [];
  if (!PEERS_ONLY) {
    if (!existsSync(`${REPO_ROOT}dist/cli.js`)) {
      console.error('bench server: dist/cli.js is missing: run `npm run build` first (or pass --peers-only).');
      return 2;
    }
    stale = staleSources();
    if (stale.length) {
      console.warn(`WARNING: ${stale.length} file(s) in src/ are newer than dist/cli.js (${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', …' : ''}):`);
      console.warn('         this measures the last build; run `npm run build` to measure the sources.');
    }
  }
  const versions = { redisServer: toolVersion(tools.server), redisBenchmark: toolVersion(tools.benchmark) };
  console.log(`${versions.redisServer}\n${versions.redisBenchmark}`);
  console.log(`${REPS} rep(s); -c ${CLIENTS} -d ${VALUE_BYTES} -r ${KEYSPACE}; -n ${REQUESTS[1].toLocaleString('en-US')} at P1, ${REQUESTS[16].toLocaleString('en-US')} at P16; load average ${loadavgStart.map((x) => x.toFixed(2)).join(' ')}`);
  let failed = false;
  try {
    await startServers(tools);
    for (const t of targets) await prefill(t);
    for (const t of targets) await verify(t, 'after the prefill');
    // Warm-up, not recorded: lets V8 compile meshcache's hot paths before the timed runs.
    const warmStart = performance.now();
    for (const t of targets) {
      for (const test of TESTS) {
        await measure(tools.benchmark, t, test, 1, 0, WARMUP[1]);
        await measure(tools.benchmark, t, test, 16, 0, WARMUP[16]);
      }
    }
    console.log(`  warm-up (SET and GET, ${WARMUP[1].toLocaleString('en-US')} requests at P1 and ${WARMUP[16].toLocaleString('en-US')} at P16 per server): ${((performance.now() - warmStart) / 1000).toFixed(1)} s`);
    let k = 0;
    for (let rep = 1; rep <= REPS; rep++) {
      for (const pipeline of PIPELINES) {
        for (const test of TESTS) {
          const order = targets.map((_, i) => targets[(i + k) % targets.length]);
          k++;
          for (const t of order) {
            const r = await measure(tools.benchmark, t, test, pipeline, rep);
            runs.push(r);
            console.log(`  rep ${rep} ${test.toUpperCase().padEnd(3)} P${String(pipeline).padEnd(2)} ${t.id.padEnd(13)} ${formatRate(r.rps).padStart(7)} rps  p50 ${ms(r.p50)}  p99 ${ms(r.p99)}  max ${ms(r.max)} ms  server CPU ${fixed(r.serverCpuPercent, 0)} % (${r.serverThreads} threads)  load ${r.loadavgBefore[0].toFixed(2)}`);
          }
        }
      }
      for (const t of targets) await verify(t, `after repetition ${rep}`);
    }
  } catch (e) {
    failed = true;
    if (!(e instanceof Stop)) problems.push(`bench error: ${(e as Error).stack ?? String(e)}`);
  } finally {
    await Promise.all(targets.map((t) => t.proc.stop()));
  }
  const { summary, comparisons } = report();
  for (const p of problems) console.log(`\nPROBLEM: ${p}`);
  const full = !failed && !QUICK && !PEERS_ONLY && REPS === 3 && THREADS.join(',') === '1,2';
  const path = writeResults(full ? 'server' : 'server-partial', {
    command: `npm run bench -- server${argv.length ? ` ${argv.join(' ')}` : ''}`,
    startedAt: startedAt.toISOString(),
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    commit: git(['rev-parse', '--short', 'HEAD']),
    dirtySrc: git(['status', '--porcelain', '--', 'src', 'assembly', 'native']).split('\n').filter(Boolean),
    distStale: stale,
    loadavgStart,
    loadavgEnd: loadavg(),
    versions,
    config: { reps: REPS, clients: CLIENTS, valueBytes: VALUE_BYTES, keyspace: KEYSPACE, requests: REQUESTS, pipelines: PIPELINES, tests: TESTS, threads: THREADS },
    servers: targets.map((t) => ({ id: t.id, kind: t.kind, threads: t.threads, port: t.proc.port, backend: t.backend, backendLog: t.backendLog, threadsSeen: t.threadsSeen, exited: t.proc.exited ?? null })),
    backend: Object.fromEntries(targets.filter((t) => t.kind === 'meshcache').map((t) => [`threads${t.threads}`, t.backend])),
    summary,
    comparisons,
    runs,
    problems,
  });
  console.log(`\nwritten to ${path}`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
