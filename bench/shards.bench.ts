/**
 * Shard-owning workers: foreground cost of background work, event-loop delay during bulk work, two threads vs one.
 *
 * Every run is a child process of its own (fresh heap); every part is repeated (3 times by default,
 * the cases interleaved) and the tables give the median; each run records os.loadavg() at its
 * start and end, and the CPU time its threads got (/proc/thread-self/stat), because on a shared
 * 2-core machine a thread that is not scheduled looks like a slow cache.
 *  1. background: 90 % get / 10 % set on the main thread (uniformly random keys among 1M entries,
 *     20 B parser-made keys, 100 B Buffer values, 1000 operations per setImmediate turn) for 5 s:
 *     idle (`workers: 0`), sweep (`workers: 1, sweepInterval: 50` plus 250k extra entries whose
 *     TTLs run out one after another over the 5 s, so that the owner's sweeps reclaim them) and
 *     busy (sweep plus a `snapshot()` started every second, or as soon as the last one ends).
 *     The idle run has the same 250k extra entries without TTL.
 *  2. bulk: the main thread idles with a 1 ms setInterval while a full `scan()` of 1M keys, a
 *     `snapshot()` of 1M entries and a `clear()` of 1M entries run, with `workers: 1` and with
 *     `workers: 0` (the fallback on the main thread); event-loop delay from
 *     `monitorEventLoopDelay({ resolution: 1 })` (p99, max), plus the longest gap between ticks of
 *     the 1 ms interval, the main thread's longest GC pause and its event-loop utilisation.
 *  3. threads: 95 % get / 5 % set over 1M entries for 5 s, the main thread alone vs the main
 *     thread plus one worker_threads Worker that attached the cache with `Cache.attach(handle)`
 *     (started through bench/lib/ts-worker.mjs, i.e. tsx in the worker, sources from src/), each
 *     preceded by a control: a pure arithmetic loop on as many threads, showing how much parallel
 *     CPU the machine gave at that moment.
 * Flags: --quick (1 repetition, 2 s loops), --parts background,bulk,threads, --reps N.
 * The summary goes to stdout and bench/results/shards.json (shards-partial.json for a partial run).
 */
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadavg, tmpdir } from 'node:os';
import { rmSync } from 'node:fs';
import { childTask, runChild, sendResult } from './lib/child.js';
import { loadMeshcache, type MeshcacheStats } from './lib/meshcache.js';
import { mulberry32 } from './lib/random.js';
import { fixed, formatRate, formatRatio, fullGc, table, writeResults } from './lib/report.js';
import { makeStream, runLoop, spinLoop, startReader, threadCpuMs, type LoopCounts } from './lib/shard-thread.js';
import { bufferValue, parsedKey } from './lib/workload.js';
import { sleep } from '../test/helpers/wait.js';

const QUICK = process.argv.includes('--quick');
const REPS = (() => {
  const at = process.argv.indexOf('--reps');
  return at < 0 ? (QUICK ? 1 : 3) : Math.max(1, Number(process.argv[at + 1]) | 0);
})();
const ENTRIES = 1_000_000;
/** Extra entries with TTLs in the busy background run (without TTL in the idle one). */
const TTL_ENTRIES = 250_000;
const LOOP_SECONDS = QUICK ? 2 : 5;
const SHARDS = 16;
const MAX_MEMORY = '1gb';
const SWEEP_MS = 50;
const SNAPSHOT_EVERY_MS = 1000;
/** Length of the CPU-scaling control before each thread-scaling run. */
const SPIN_MS = QUICK ? 500 : 1000;
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// The part of meshcache's API this bench uses beyond bench/lib/meshcache.ts's interface.

interface ShardOptions {
  maxMemory: string;
  shards: number;
  workers: number;
  sweepInterval?: number;
}

interface ShardStats extends MeshcacheStats {
  contended: number;
  workers: { threads: number; swept: number; restarts: number; failedTasks: number } | null;
}

interface ShardCache {
  get(key: string): unknown;
  set(key: string, value: unknown, options?: { ttl?: number }): unknown;
  clear(): void;
  readonly size: number;
  readonly handle: unknown;
  ready(): Promise<void>;
  close(): Promise<void>;
  stats(): ShardStats;
  scan(options?: { match?: string; count?: number }): AsyncIterable<string>;
  snapshot(path: string): Promise<{ entries: number; bytes: number; ms: number }>;
}

async function makeCache(options: ShardOptions): Promise<ShardCache> {
  const Cache = (await loadMeshcache()) as unknown as new (o: ShardOptions) => ShardCache;
  const cache = new Cache(options);
  await cache.ready();
  return cache;
}

const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

/** Fills ids 0..n-1 (`user:` keys, 100 B values) and spot-checks 1000 of them. */
function fill(cache: ShardCache, n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) cache.set(parsedKey(i), bufferValue(i));
  const perSec = n / ((performance.now() - t0) / 1000);
  for (let i = 0; i < n; i += Math.floor(n / 1000)) {
    const got = cache.get(parsedKey(i));
    if (!Buffer.isBuffer(got) || !got.equals(bufferValue(i))) {
      throw new Error(`meshcache returned ${String(got).slice(0, 40)} for ${parsedKey(i)} after the fill`);
    }
  }
  if (cache.size !== n) throw new Error(`meshcache holds ${cache.size} of ${n} entries after the fill`);
  return perSec;
}

/** Median of the defined numbers. */
function median(xs: Array<number | undefined>): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// ---------------------------------------------------------------------------------------------
// 1. background

/** idle: no workers, no TTLs; sweep: owner sweeps TTL entries; busy: sweeps plus a snapshot every second. */
type BackgroundMode = 'idle' | 'sweep' | 'busy';
const MODES: BackgroundMode[] = ['idle', 'sweep', 'busy'];
const MODE_LABEL: Record<BackgroundMode, string> = {
  idle: 'idle: workers 0, no TTLs',
  sweep: `sweep: workers 1, sweep ${SWEEP_MS} ms, TTLs`,
  busy: `busy: workers 1, sweep ${SWEEP_MS} ms, TTLs, snapshot/s`,
};

interface BackgroundResult {
  mode: BackgroundMode;
  rep: number;
  loadStart: number[];
  loadEnd: number[];
  fillPerSec: number;
  seconds: number;
  opsPerSec: number;
  misses: number;
  /** CPU time of the whole process (all its threads) over the loop, per wall second. */
  cpuPerWall: number;
  /** CPU time of the main thread over the loop, per wall second (/proc/thread-self/stat). */
  mainCpuPerWall: number;
  /** Operations per second of main-thread CPU time: the foreground's cost per op, CPU starvation aside. */
  opsPerMainCpuSec: number;
  loopP99Ms: number;
  loopMaxMs: number;
  /** Entries the owner's sweeps reclaimed during the loop. */
  swept: number;
  /** stats().expirations grew by this during the loop. */
  expirations: number;
  /** stats().contended grew by this during the loop. */
  contended: number;
  snapshots: number;
  snapshotMs: number[];
  snapshotEntries: number[];
  entriesEnd: number;
}

async function backgroundChild(mode: BackgroundMode, rep: number): Promise<BackgroundResult> {
  const loadStart = load();
  const busy = mode !== 'idle';
  const cache = await makeCache({ maxMemory: MAX_MEMORY, shards: SHARDS, workers: busy ? 1 : 0, sweepInterval: busy ? SWEEP_MS : 0 });
  const fillPerSec = fill(cache, ENTRIES);

  const random = mulberry32(1234 + rep);
  const ids = new Uint32Array(1 << 20);
  const isSet = new Uint8Array(1 << 20);
  for (let i = 0; i < ids.length; i++) {
    ids[i] = Math.floor(random() * ENTRIES);
    isSet[i] = random() < 0.1 ? 1 : 0;
  }
  let misses = 0;
  let ops = 0;
  const turn = () => {
    for (let j = 0; j < 1000; j++, ops++) {
      const i = ops & ((1 << 20) - 1);
      const key = parsedKey(ids[i]);
      if (isSet[i]) cache.set(key, bufferValue(ops));
      else if (cache.get(key) === undefined) misses++;
    }
  };
  // Warm-up, untimed: JIT the loop.
  for (let r = 0; r < 300; r++) turn();
  fullGc();

  // The TTL population: in the busy run they expire one after another over the timed loop.
  const loopMs = LOOP_SECONDS * 1000;
  for (let i = 0; i < TTL_ENTRIES; i++) {
    const ttl = busy ? 200 + Math.floor((i / TTL_ENTRIES) * loopMs) : 0;
    cache.set(parsedKey(i, 'tmp::'), bufferValue(i), { ttl });
  }
  const before = cache.stats();
  const snapPath = `${tmpdir()}/meshcache-bench-shards-${process.pid}.snap`;
  const snapshotMs: number[] = [];
  const snapshotEntries: number[] = [];
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const start = performance.now();
  const end = start + loopMs;
  const cpu0 = process.cpuUsage();
  const mainCpu0 = threadCpuMs();
  let snapshots: Promise<void> = Promise.resolve();
  if (mode === 'busy') {
    snapshots = (async () => {
      for (let next = start; next < end; next += SNAPSHOT_EVERY_MS) {
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        const info = await cache.snapshot(snapPath);
        snapshotMs.push(info.ms);
        snapshotEntries.push(info.entries);
      }
    })();
  }
  ops = 0;
  await new Promise<void>((resolve) => {
    const batch = () => {
      turn();
      if (performance.now() < end) setImmediate(batch);
      else resolve();
    };
    setImmediate(batch);
  });
  const seconds = (performance.now() - start) / 1000;
  const loopOps = ops;
  const cpu = process.cpuUsage(cpu0);
  const mainCpuMs = threadCpuMs() - mainCpu0;
  delay.disable();
  const after = cache.stats();
  await snapshots; // a snapshot still running finishes outside the timed loop
  rmSync(snapPath, { force: true });
  const entriesEnd = cache.size;
  await cache.close();
  if (misses) throw new Error(`meshcache: ${misses} gets of present keys returned undefined (${mode} run)`);
  return {
    mode, rep, loadStart, loadEnd: load(), fillPerSec, seconds, opsPerSec: loopOps / seconds, misses,
    cpuPerWall: (cpu.user + cpu.system) / 1e6 / seconds,
    mainCpuPerWall: mainCpuMs / 1000 / seconds, opsPerMainCpuSec: loopOps / (mainCpuMs / 1000),
    loopP99Ms: delay.percentile(99) / 1e6, loopMaxMs: delay.max / 1e6,
    swept: (after.workers?.swept ?? 0) - (before.workers?.swept ?? 0),
    expirations: after.expirations - before.expirations,
    contended: after.contended - before.contended,
    snapshots: snapshotMs.length, snapshotMs, snapshotEntries, entriesEnd,
  };
}

// ---------------------------------------------------------------------------------------------
// 2. bulk

type BulkWork = 'idle (no bulk work)' | 'scan' | 'snapshot' | 'clear';
const BULK_WORKS: BulkWork[] = ['idle (no bulk work)', 'scan', 'snapshot', 'clear'];

interface LoopFigures {
  work: BulkWork;
  ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
  loopSamples: number;
  /** Longest gap between two ticks of the 1 ms setInterval. */
  maxTickGapMs: number;
  ticks: number;
  /** Event-loop utilisation of the main thread over the operation (0..1). */
  elu: number;
  /** scan: keys yielded; snapshot: entries written; clear: entries left. */
  count: number;
  /** Longest GC pause of the main thread during the operation, and their sum (ms). */
  gcMaxMs: number;
  gcTotalMs: number;
}

interface BulkResult {
  workers: number;
  rep: number;
  loadStart: number[];
  loadEnd: number[];
  fillPerSec: number;
  figures: LoopFigures[];
}

/** Runs `work` while a 1 ms interval ticks, recording the main thread's event-loop delay. */
async function underWatch(name: BulkWork, work: () => Promise<number> | number): Promise<LoopFigures> {
  fullGc();
  await sleep(50);
  let last = performance.now();
  let maxGap = 0;
  let ticks = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now - last > maxGap) maxGap = now - last;
    last = now;
    ticks++;
  }, 1);
  await sleep(30);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await sleep(2);
  delay.reset();
  // After enable() or reset() the histogram drops the first interval it sees (it has no previous
  // sample yet): let it take one before the work, or a block at the start goes unrecorded.
  await sleep(3);
  last = performance.now();
  maxGap = 0;
  ticks = 0;
  const gcs: number[] = [];
  const observer = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcs.push(e.duration); });
  observer.observe({ entryTypes: ['gc'] });
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const count = await work();
  const ms = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  await sleep(5); // let the interval and the histogram see the end of the work
  delay.disable();
  clearInterval(ticker);
  await sleep(20); // let the observer deliver the last entries
  observer.disconnect();
  return {
    work: name, ms, loopP99Ms: delay.percentile(99) / 1e6, loopMaxMs: delay.max / 1e6, loopSamples: delay.count,
    maxTickGapMs: maxGap, ticks, elu, count, gcMaxMs: Math.max(0, ...gcs), gcTotalMs: gcs.reduce((a, b) => a + b, 0),
  };
}

async function bulkChild(workers: number, rep: number): Promise<BulkResult> {
  const loadStart = load();
  const cache = await makeCache({ maxMemory: MAX_MEMORY, shards: SHARDS, workers });
  const fillPerSec = fill(cache, ENTRIES);
  const snapPath = `${tmpdir()}/meshcache-bench-shards-${process.pid}.snap`;
  const figures: LoopFigures[] = [];
  figures.push(await underWatch('idle (no bulk work)', () => sleep(500).then(() => 0)));
  figures.push(await underWatch('scan', async () => {
    let n = 0;
    for await (const key of cache.scan()) if (key.length === 20) n++;
    return n;
  }));
  figures.push(await underWatch('snapshot', async () => (await cache.snapshot(snapPath)).entries));
  rmSync(snapPath, { force: true });
  figures.push(await underWatch('clear', () => {
    cache.clear();
    return cache.size;
  }));
  await cache.close();
  const [, scan, snap, clear] = figures;
  if (scan.count !== ENTRIES) throw new Error(`meshcache: scan yielded ${scan.count} keys of ${ENTRIES} (workers: ${workers})`);
  if (snap.count !== ENTRIES) throw new Error(`meshcache: snapshot wrote ${snap.count} entries of ${ENTRIES} (workers: ${workers})`);
  if (clear.count !== 0) throw new Error(`meshcache: ${clear.count} entries left after clear() (workers: ${workers})`);
  return { workers, rep, loadStart, loadEnd: load(), fillPerSec, figures };
}

// ---------------------------------------------------------------------------------------------
// 3. threads

interface ThreadsResult {
  rep: number;
  order: string;
  loadStart: number[];
  loadEnd: number[];
  fillPerSec: number;
  one: { opsPerSec: number; main: LoopCounts; contended: number; spinPerMs: number };
  two: { opsPerSec: number; main: LoopCounts; worker: LoopCounts; contended: number; spinPerMs: number };
}

async function threadsChild(rep: number): Promise<ThreadsResult> {
  const loadStart = load();
  const cache = await makeCache({ maxMemory: MAX_MEMORY, shards: SHARDS, workers: 0 });
  const fillPerSec = fill(cache, ENTRIES);
  const stream = makeStream(ENTRIES, 0.05, 100 + rep);
  const warm = Date.now();
  runLoop(cache, stream, warm, warm + 500); // JIT both loops
  spinLoop(Date.now(), Date.now() + 100);
  const reader = await startReader(cache.handle, ENTRIES, 0.05, 200 + rep, 500);
  const loopMs = LOOP_SECONDS * 1000;
  const rate = (c: LoopCounts) => c.ops / (c.ms / 1000);

  // Each run is preceded by the control (spinLoop) on as many threads, for SPIN_MS.
  const runOne = () => {
    let startAt = Date.now() + 20;
    const spinPerMs = spinLoop(startAt, startAt + SPIN_MS);
    fullGc();
    const c0 = cache.stats().contended;
    startAt = Date.now() + 20;
    const main = runLoop(cache, stream, startAt, startAt + loopMs);
    return { opsPerSec: rate(main), main, contended: cache.stats().contended - c0, spinPerMs };
  };
  const runTwo = async () => {
    let startAt = Date.now() + 50;
    const workerSpin = reader.spin(startAt, startAt + SPIN_MS);
    const spinPerMs = spinLoop(startAt, startAt + SPIN_MS) + await workerSpin;
    fullGc();
    const c0 = cache.stats().contended;
    startAt = Date.now() + 50;
    const workerDone = reader.run(startAt, startAt + loopMs);
    const main = runLoop(cache, stream, startAt, startAt + loopMs);
    const worker = await workerDone;
    return { opsPerSec: rate(main) + rate(worker), main, worker, contended: cache.stats().contended - c0, spinPerMs };
  };
  let one: ThreadsResult['one'];
  let two: ThreadsResult['two'];
  const order = rep % 2 === 0 ? '1 then 2' : '2 then 1';
  if (rep % 2 === 0) {
    one = runOne();
    two = await runTwo();
  } else {
    two = await runTwo();
    one = runOne();
  }
  await reader.stop();
  await cache.close();
  const misses = one.main.misses + two.main.misses + two.worker.misses;
  if (misses) throw new Error(`meshcache: ${misses} gets of present keys returned undefined (threads part)`);
  return { rep, order, loadStart, loadEnd: load(), fillPerSec, one, two };
}

// ---------------------------------------------------------------------------------------------
// parent

type Task =
  | { part: 'background'; mode: BackgroundMode; rep: number }
  | { part: 'bulk'; workers: number; rep: number }
  | { part: 'threads'; rep: number };

function partsWanted(): Set<string> {
  const at = process.argv.indexOf('--parts');
  return new Set(at < 0 ? ['background', 'bulk', 'threads'] : process.argv[at + 1].split(','));
}

const loadRange = (runs: Array<{ loadStart: number[]; loadEnd: number[] }>) => {
  const ones = runs.flatMap((r) => [r.loadStart[0], r.loadEnd[0]]);
  return ones.length ? `${Math.min(...ones).toFixed(2)}-${Math.max(...ones).toFixed(2)}` : '-';
};
const spread = (xs: number[], f: (x: number) => string) =>
  xs.length > 1 ? `${f(Math.min(...xs))}-${f(Math.max(...xs))}` : xs.length ? f(xs[0]) : '-';

async function parent(): Promise<void> {
  const parts = partsWanted();
  const extraArgs = QUICK ? ['--quick'] : [];
  const startedAt = new Date().toISOString();
  const loadStart = load();
  const t0 = performance.now();
  const background: BackgroundResult[] = [];
  const bulk: BulkResult[] = [];
  const threads: ThreadsResult[] = [];
  const run = async <R>(task: Task, label: string): Promise<R> => {
    process.stderr.write(`  ${label} (load ${load().join(' ')})…\n`);
    return runChild<R>(SELF, task, [], extraArgs);
  };

  // Repetitions interleave the cases, so that a change in machine load hits them alike.
  for (let rep = 0; rep < REPS; rep++) {
    if (parts.has('background')) {
      const modes = MODES.map((_, k) => MODES[(k + rep) % MODES.length]);
      for (const mode of modes) background.push(await run({ part: 'background', mode, rep }, `background ${mode}, run ${rep + 1}/${REPS}`));
    }
    if (parts.has('bulk')) {
      for (const workers of rep % 2 === 0 ? [1, 0] : [0, 1]) bulk.push(await run({ part: 'bulk', workers, rep }, `bulk work, workers: ${workers}, run ${rep + 1}/${REPS}`));
    }
    if (parts.has('threads')) threads.push(await run({ part: 'threads', rep }, `threads, run ${rep + 1}/${REPS}`));
  }

  const summary: string[] = [];
  const medians: Record<string, unknown> = {};
  if (background.length) {
    const of = (mode: BackgroundMode) => background.filter((r) => r.mode === mode);
    const idle = median(of('idle').map((r) => r.opsPerSec));
    const idleCpu = median(of('idle').map((r) => r.opsPerMainCpuSec));
    // Paired ratios: the runs of one repetition ran back to back.
    const paired = (mode: BackgroundMode) => Array.from({ length: REPS }, (_, rep) => {
      const i = background.find((r) => r.mode === 'idle' && r.rep === rep);
      const b = background.find((r) => r.mode === mode && r.rep === rep);
      return i && b ? b.opsPerSec / i.opsPerSec : undefined;
    }).filter((x): x is number => x !== undefined);
    const bg: Record<string, unknown> = {};
    const rows = MODES.map((mode) => {
      const rs = of(mode);
      const m = median(rs.map((r) => r.opsPerSec));
      const p = paired(mode);
      const perCpu = median(rs.map((r) => r.opsPerMainCpuSec));
      bg[mode] = {
        opsPerSec: m, ratioToIdle: m! / idle!, pairedRatios: p, pairedRatioMedian: median(p),
        opsPerMainCpuSec: perCpu, perCpuRatioToIdle: perCpu! / idleCpu!,
      };
      return [
        MODE_LABEL[mode],
        formatRate(m!),
        spread(rs.map((r) => r.opsPerSec), formatRate),
        formatRatio(m, idle),
        mode === 'idle' ? '-' : p.map((x) => x.toFixed(2)).join(' '),
        fixed(median(rs.map((r) => r.cpuPerWall)), 2),
        fixed(median(rs.map((r) => r.mainCpuPerWall)), 2),
        `${formatRate(perCpu!)} (${formatRatio(perCpu, idleCpu)})`,
        fixed(median(rs.map((r) => r.loopP99Ms))),
        fixed(median(rs.map((r) => r.loopMaxMs))),
        mode === 'idle' ? '-' : fixed(median(rs.map((r) => r.swept)), 0),
        mode === 'busy' ? `${fixed(median(rs.map((r) => r.snapshots)), 0)} × ${fixed(median(rs.flatMap((r) => r.snapshotMs)), 0)} ms` : '-',
        fixed(median(rs.map((r) => r.contended)), 0),
        loadRange(rs),
      ];
    });
    medians.background = bg;
    const busy = median(of('busy').map((r) => r.opsPerSec));
    summary.push(`## 1. foreground 90/10 get/set, ${ENTRIES / 1e6}M entries + ${TTL_ENTRIES / 1000}k, ${LOOP_SECONDS} s, median of ${REPS}\n\n` +
      `busy/idle: ${formatRatio(busy, idle)} of the medians (target: background work costs ≤ 10 %, i.e. ≥ 0.90×); ` +
      'paired: the ratio to the idle run of the same repetition; CPU/s: CPU seconds of the whole process (all threads) per ' +
      'second; main CPU/s: of the main thread alone; ops/main-CPU s: operations per second of main-thread CPU (vs idle), ' +
      'i.e. what each operation costs the main thread when it runs, whether or not the OS gives it a core\n\n' +
      table(['run', 'ops/s', 'range', 'vs idle', 'paired', 'CPU/s', 'main CPU/s', 'ops/main-CPU s', 'loop p99 ms', 'loop max ms', 'swept', 'snapshots', 'contended', 'load 1 min'], rows));
  }
  if (bulk.length) {
    const rows: string[][] = [];
    const bulkMedians: unknown[] = [];
    for (const work of BULK_WORKS) {
      for (const workers of [1, 0]) {
        const rs = bulk.filter((r) => r.workers === workers);
        const fs = rs.map((r) => r.figures.find((f) => f.work === work)!);
        const m = {
          work, workers, ms: median(fs.map((f) => f.ms)), loopP99Ms: median(fs.map((f) => f.loopP99Ms)),
          loopMaxMs: median(fs.map((f) => f.loopMaxMs)), maxTickGapMs: median(fs.map((f) => f.maxTickGapMs)),
          elu: median(fs.map((f) => f.elu)), loopSamples: median(fs.map((f) => f.loopSamples)),
          gcMaxMs: median(fs.map((f) => f.gcMaxMs)),
        };
        bulkMedians.push(m);
        rows.push([
          work, String(workers), fixed(m.ms, 0), fixed(m.loopP99Ms, 2), spread(fs.map((f) => f.loopP99Ms), (x) => x.toFixed(2)),
          fixed(m.loopMaxMs), fixed(m.maxTickGapMs), fixed(m.gcMaxMs), fixed(100 * m.elu!, 0), fixed(m.loopSamples, 0), loadRange(rs),
        ]);
      }
    }
    medians.bulk = bulkMedians;
    summary.push(`## 2. main-thread event-loop delay during bulk work on ${ENTRIES / 1e6}M entries (1 ms interval ticking), median of ${REPS}\n\n` +
      'loop p99 / max: monitorEventLoopDelay({ resolution: 1 }), which records the interval between its 1 ms samples ' +
      '(so an idle loop reads ~1.1-1.3 ms); tick gap: longest gap between ticks of the setInterval(1); ' +
      'GC max: longest GC pause of the main thread; ELU: event-loop utilisation of the main thread over the operation; ' +
      'samples: histogram samples over the operation (p99 of fewer than 100 is its maximum) (target: p99 ≤ 2 ms)\n\n' +
      table(['work', 'workers', 'ms', 'loop p99 ms', 'p99 range', 'loop max ms', 'tick gap max ms', 'GC max ms', 'ELU %', 'samples', 'load 1 min'], rows));
  }
  if (threads.length) {
    const one = median(threads.map((r) => r.one.opsPerSec));
    const two = median(threads.map((r) => r.two.opsPerSec));
    const paired = threads.map((r) => r.two.opsPerSec / r.one.opsPerSec);
    const rate = (c: LoopCounts) => c.ops / (c.ms / 1000);
    /** Cores the threads got: their CPU ms over their wall ms, summed. */
    const cpuOf = (cs: LoopCounts[]) => cs.reduce((a, c) => a + c.cpuMs / c.ms, 0);
    /** Operations per CPU second, over the threads together. */
    const perCpu = (cs: LoopCounts[]) => cs.reduce((a, c) => a + c.ops, 0) / (cs.reduce((a, c) => a + c.cpuMs, 0) / 1000);
    const spinPaired = threads.map((r) => r.two.spinPerMs / r.one.spinPerMs);
    medians.threads = {
      oneOpsPerSec: one, twoOpsPerSec: two, ratio: two! / one!, pairedRatios: paired, pairedRatioMedian: median(paired),
      controlPairedRatios: spinPaired, controlRatioMedian: median(spinPaired),
      oneCores: median(threads.map((r) => cpuOf([r.one.main]))), twoCores: median(threads.map((r) => cpuOf([r.two.main, r.two.worker]))),
      oneOpsPerCpuSec: median(threads.map((r) => perCpu([r.one.main]))),
      twoOpsPerCpuSec: median(threads.map((r) => perCpu([r.two.main, r.two.worker]))),
    };
    const rows = [
      ['1: main thread', formatRate(one!), spread(threads.map((r) => r.one.opsPerSec), formatRate), formatRate(one!), '-', '1.00×', '1.00×',
        fixed(median(threads.map((r) => cpuOf([r.one.main]))), 2), formatRate(median(threads.map((r) => perCpu([r.one.main])))!),
        fixed(median(threads.map((r) => r.one.contended)), 0), loadRange(threads)],
      ['2: main + attached Worker', formatRate(two!), spread(threads.map((r) => r.two.opsPerSec), formatRate),
        formatRate(median(threads.map((r) => rate(r.two.main)))!), formatRate(median(threads.map((r) => rate(r.two.worker)))!),
        `${fixed(median(paired), 2)}× (${paired.map((x) => x.toFixed(2)).join(' ')})`,
        `${fixed(median(spinPaired), 2)}× (${spinPaired.map((x) => x.toFixed(2)).join(' ')})`,
        fixed(median(threads.map((r) => cpuOf([r.two.main, r.two.worker]))), 2),
        formatRate(median(threads.map((r) => perCpu([r.two.main, r.two.worker])))!),
        fixed(median(threads.map((r) => r.two.contended)), 0), loadRange(threads)],
    ];
    summary.push(`## 3. threads: 95/5 get/set over ${ENTRIES / 1e6}M entries, ${LOOP_SECONDS} s, median of ${REPS}\n\n` +
      `2 threads / 1 thread: ${formatRatio(two, one)} of the medians (target ≥ 1.70×); vs 1 thread: the ratio within each ` +
      `repetition; control: the same ratio for a pure arithmetic loop run for ${SPIN_MS} ms just before, i.e. the parallel ` +
      'CPU the machine gave at that moment; cores: CPU seconds the loop threads got per second (/proc/thread-self/stat); ' +
      'ops/CPU s: operations per CPU second of those threads\n\n' +
      table(['threads', 'total ops/s', 'range', 'main ops/s', 'worker ops/s', 'vs 1 thread', 'control', 'cores', 'ops/CPU s', 'contended', 'load 1 min'], rows));
  }
  const seconds = (performance.now() - t0) / 1000;
  const loadEnd = load();
  console.log(`\n${summary.join('\n\n')}\n\nload average (1, 5, 15 min): ${loadStart.join(' ')} at the start, ${loadEnd.join(' ')} at the end; ${seconds.toFixed(0)} s`);
  const partial = QUICK || process.argv.includes('--parts') || process.argv.includes('--reps');
  const path = writeResults(partial ? 'shards-partial' : 'shards', {
    startedAt, seconds, quick: QUICK, reps: REPS, loadStart, loadEnd,
    config: {
      entries: ENTRIES, ttlEntries: TTL_ENTRIES, loopSeconds: LOOP_SECONDS, shards: SHARDS, maxMemory: MAX_MEMORY,
      sweepIntervalMs: SWEEP_MS, snapshotEveryMs: SNAPSHOT_EVERY_MS, snapshotDir: tmpdir(),
    },
    medians, background, bulk, threads,
  });
  console.log(`written to ${path}`);
}

const task = childTask<Task>();
if (!task) await parent();
else if (task.part === 'background') sendResult(await backgroundChild(task.mode, task.rep));
else if (task.part === 'bulk') sendResult(await bulkChild(task.workers, task.rep));
else sendResult(await threadsChild(task.rep));
