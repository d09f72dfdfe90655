/**
 * Cache throughput, memory per entry and main-thread stalls: meshcache vs lru-cache@11 vs Map.
 *
 * Three parts, each cache in its own child process (fresh heap, no JIT feedback from a rival);
 * the ops cases run interleaved across the three children so that load drift hits all alike:
 *  1. ops (benchmark.js): get hit / get miss / set overwrite of 20 B keys with 100 B Buffer or
 *     100-char string values, in caches of 100k and 1M entries, keys visited in a shuffled order.
 *     get hit runs three key shapes: `pre-made` (one array of flat strings reused every pass, so
 *     V8 has their hashes cached after the first), `parsed` (each lookup slices a new flat string
 *     out of a Buffer, as a protocol parser does) and `'user:' + id` (each lookup concatenates a
 *     new rope). get miss and set overwrite use parsed keys; set values come from a pool of
 *     pre-made values (the JS caches store a reference, meshcache copies the bytes).
 *  2. memory: bytes per entry beyond the 120 B of key + value after filling 1M and 5M entries,
 *     from `process.memoryUsage()` deltas around the fill with full GCs (heapUsed + external;
 *     Node counts Buffers' ArrayBuffers inside external) and the RSS delta; for meshcache also the
 *     WebAssembly.Memory size (`stats().memoryBytes`).
 *  3. mix: at 5M entries, 15 s of 90 % get / 10 % set with Zipf(0.9) key popularity, 1000 ops per
 *     `setImmediate` turn, recording event-loop delay (p99, max; 1 ms resolution) and GC pauses.
 * Flags: --quick (100k only, 3 s mix, 1M memory), --parts ops,memory,mix, --caches a,b,
 * --peers-only (no meshcache).
 * The summary goes to stdout and bench/results/cache.json (cache-partial.json for a partial run).
 */
import Benchmark from 'benchmark';
import { LRUCache } from 'lru-cache';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { childTask, runChild, sendResult, serveRequests, startChild } from './lib/child.js';
import { loadMeshcache, PEERS_ONLY, type MeshcacheStats } from './lib/meshcache.js';
import { mulberry32, permutation, ZipfSampler } from './lib/random.js';
import { fixed, formatRate, formatRatio, fullGc, table, writeResults } from './lib/report.js';
import {
  bufferValue, freshKeys, idDigits, keyBytes, KEY_BYTES, parsedKey, VALUE_BYTES, valueMaker, type ValueKind,
} from './lib/workload.js';

const CACHES = ['meshcache', 'lru-cache', 'Map'] as const;
type CacheName = (typeof CACHES)[number];

/** What every cache under test offers, by the same method names (call sites stay monomorphic). */
interface AnyCache {
  get(key: string): unknown;
  set(key: string, value: unknown): unknown;
}

const QUICK = process.argv.includes('--quick');
const OPS_SIZES = QUICK ? [100_000] : [100_000, 1_000_000];
const MEMORY_SIZES = QUICK ? [1_000_000] : [1_000_000, 5_000_000];
const MIX_ENTRIES = 5_000_000;
const MIX_SECONDS = QUICK ? 3 : 15;
const VALUE_KINDS: ValueKind[] = ['buffer', 'string'];
/** Operations per benchmark.js call: amortises the harness's call and loop. */
const BATCH = 256;
const BENCH_OPTIONS = { maxTime: 0.7, minSamples: 8, initCount: 1 };
const SELF = fileURLToPath(import.meta.url);

interface Subject {
  cache: AnyCache;
  /** meshcache only: its stats. */
  stats?: () => MeshcacheStats;
  close(): void;
}

async function makeCache(name: CacheName, entries: number): Promise<Subject> {
  if (name === 'lru-cache') return { cache: new LRUCache<string, NonNullable<unknown>>({ max: entries }), close() {} };
  if (name === 'Map') return { cache: new Map<string, unknown>(), close() {} };
  const Cache = await loadMeshcache();
  // Big enough that nothing is evicted at 5M × (20 + 100) B; shards as a server would have them.
  const cache = new Cache({ maxMemory: '2gb', shards: 16 });
  return { cache, stats: () => cache.stats(), close: () => cache.close() };
}

// ---------------------------------------------------------------------------------------------
// 1. ops

interface OpsResult { entries: number; values: ValueKind; case: string; opsPerSec: number; rme: number }

const OPS_CASES = ['get hit, pre-made key', 'get hit, parsed key', "get hit, 'user:' + id key", 'get miss, parsed key', 'set overwrite, parsed key'];

function measure(name: string, fn: () => void): { opsPerSec: number; rme: number } {
  const bench = new Benchmark(name, fn, BENCH_OPTIONS);
  bench.run();
  if (bench.error) throw bench.error;
  return { opsPerSec: bench.hz * BATCH, rme: bench.stats.rme };
}

type OpsRequest =
  | { type: 'prepare'; entries: number; values: ValueKind }
  | { type: 'run'; case: number }
  | { type: 'finish' };

interface Keys {
  entries: number;
  insertKeys: string[];
  lookupKeys: string[];
  lookupBytes: Buffer;
  missBytes: Buffer;
  digits: string[];
}

function makeKeys(entries: number): Keys {
  const order = permutation(entries, mulberry32(entries));
  return {
    entries,
    insertKeys: freshKeys(Array.from({ length: entries }, (_, i) => i)),
    lookupKeys: freshKeys(order),
    lookupBytes: keyBytes(order),
    missBytes: keyBytes(order, 'miss:'),
    digits: Array.from(order, idDigits),
  };
}

/** Fills a cache and returns the timed case functions over it, in OPS_CASES order. */
async function prepare(name: CacheName, keys: Keys, values: ValueKind) {
  const { entries, insertKeys, lookupKeys, lookupBytes, missBytes, digits } = keys;
  const makeValue = valueMaker(values);
  const pool = Array.from({ length: 4096 }, (_, i) => makeValue(entries + i));
  fullGc();
  const subject = await makeCache(name, entries);
  const cache = subject.cache;
  for (let i = 0; i < entries; i++) cache.set(insertKeys[i], makeValue(i));
  verify(cache, insertKeys, makeValue, name);

  let at = 0;
  let missed = 0;
  let found = 0;
  const step = () => (++at === entries ? (at = 0) : at);
  const fns: Array<() => void> = [
    () => {
      for (let j = 0; j < BATCH; j++, step()) if (cache.get(lookupKeys[at]) === undefined) missed++;
    },
    () => {
      for (let j = 0; j < BATCH; j++, step()) {
        const o = at * KEY_BYTES;
        if (cache.get(lookupBytes.toString('latin1', o, o + KEY_BYTES)) === undefined) missed++;
      }
    },
    () => {
      for (let j = 0; j < BATCH; j++, step()) if (cache.get('user:' + digits[at]) === undefined) missed++;
    },
    () => {
      for (let j = 0; j < BATCH; j++, step()) {
        const o = at * KEY_BYTES;
        if (cache.get(missBytes.toString('latin1', o, o + KEY_BYTES)) !== undefined) found++;
      }
    },
    () => {
      for (let j = 0; j < BATCH; j++, step()) {
        const o = at * KEY_BYTES;
        cache.set(lookupBytes.toString('latin1', o, o + KEY_BYTES), pool[at & 4095]);
      }
    },
  ];
  // Warm-up, untimed: JIT the loops and clear the fill's garbage before the first timed case.
  for (const fn of fns) for (let r = 0; r < 200; r++) fn();
  fullGc();
  const finish = () => {
    subject.close();
    if (missed || found) throw new Error(`${name}: ${missed} hits missed, ${found} misses found`);
  };
  return { entries, values, fns, finish };
}

/** The ops child: keeps one filled cache and runs the case the parent asks for. */
function opsServer(name: CacheName): void {
  let keys: Keys | undefined;
  let current: Awaited<ReturnType<typeof prepare>> | undefined;
  serveRequests(async (request: OpsRequest) => {
    if (request.type !== 'run') {
      current?.finish();
      current = undefined;
      if (request.type === 'finish') return {};
      if (keys?.entries !== request.entries) {
        keys = undefined;
        keys = makeKeys(request.entries);
      }
      current = await prepare(name, keys, request.values);
      return {};
    }
    if (!current) throw new Error('run before prepare');
    const label = `${name}: ${OPS_CASES[request.case]}, ${current.values} values, ${current.entries / 1000}k entries`;
    const r = measure(label, current.fns[request.case]);
    process.stderr.write(`  ${label.padEnd(78)} ${formatRate(r.opsPerSec).padStart(8)} ops/s ±${r.rme.toFixed(1)}%\n`);
    return r;
  });
}

/**
 * Runs the ops part: one child per cache, each filled alike, then every case on each cache in
 * turn (the order rotating per case), so that load drifts on the machine hit all three alike.
 */
async function runOps(caches: CacheName[], scriptArgs: string[]): Promise<Record<string, OpsResult[]>> {
  const ops: Record<string, OpsResult[]> = {};
  const servers = caches.map((cache) => ({ cache, server: startChild(SELF, { part: 'ops', cache } satisfies Task, [], scriptArgs) }));
  try {
    for (const entries of OPS_SIZES) {
      for (const values of VALUE_KINDS) {
        for (const { server } of servers) await server.request({ type: 'prepare', entries, values } satisfies OpsRequest);
        for (let c = 0; c < OPS_CASES.length; c++) {
          for (let k = 0; k < servers.length; k++) {
            const { cache, server } = servers[(c + k) % servers.length];
            const r = await server.request<{ opsPerSec: number; rme: number }>({ type: 'run', case: c } satisfies OpsRequest);
            (ops[cache] ??= []).push({ entries, values, case: OPS_CASES[c], ...r });
          }
        }
      }
    }
    for (const { server } of servers) await server.request({ type: 'finish' } satisfies OpsRequest);
  } finally {
    for (const { server } of servers) await server.close();
  }
  return ops;
}

/** Spot-checks that a filled cache returns what was stored (1000 keys). */
function verify(cache: AnyCache, keys: string[], makeValue: (i: number) => Buffer | string, name: string): void {
  for (let i = 0; i < keys.length; i += Math.max(1, Math.floor(keys.length / 1000))) {
    const got = cache.get(keys[i]);
    const want = makeValue(i);
    const same = typeof want === 'string' ? got === want : Buffer.isBuffer(got) && want.equals(got);
    if (!same) throw new Error(`${name}: key ${keys[i]} returned ${String(got).slice(0, 40)}… instead of its value`);
  }
}

// ---------------------------------------------------------------------------------------------
// 2. memory and 3. mix

interface MemoryResult {
  cache: CacheName;
  entries: number;
  /** Δ heapUsed / n. */
  heapPerEntry: number;
  /** Δ external / n (Buffers' ArrayBuffers are counted here; the shared WebAssembly.Memory is not). */
  externalPerEntry: number;
  /** meshcache: WebAssembly.Memory bytes / n (the memory starts near empty). */
  wasmPerEntry?: number;
  /** (Δ heapUsed + Δ external + WebAssembly.Memory bytes) / n − 120. */
  overhead: number;
  /** Δ RSS / n − 120. */
  rssOverhead: number;
  memoryBytes?: number;
  /** meshcache: stats().bytes, bytes of live entries. */
  liveBytes?: number;
  fillPerSec: number;
  mix?: MixResult;
}

interface MixResult {
  seconds: number;
  opsPerSec: number;
  hitRatio: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  gcMaxPauseMs: number;
  gcMajorMaxPauseMs: number;
  gcCount: number;
  gcTotalMs: number;
  /** The longest 1000-op batch (wall ms), its index, and the CPU ms the process spent in it. */
  longestBatchMs: number;
  longestBatchIndex: number;
  longestBatchCpuMs: number;
}

async function memoryChild(name: CacheName, entries: number, mixSeconds: number): Promise<MemoryResult> {
  fullGc();
  const before = process.memoryUsage();
  const start = performance.now();
  const subject = await makeCache(name, entries);
  const cache = subject.cache;
  for (let i = 0; i < entries; i++) cache.set(parsedKey(i), bufferValue(i));
  const fillPerSec = entries / ((performance.now() - start) / 1000);
  fullGc();
  const after = process.memoryUsage();
  const payload = KEY_BYTES + VALUE_BYTES;
  const per = (delta: number) => delta / entries;
  const stats = subject.stats?.();
  const result: MemoryResult = {
    cache: name,
    entries,
    heapPerEntry: per(after.heapUsed - before.heapUsed),
    externalPerEntry: per(after.external - before.external),
    wasmPerEntry: stats ? per(stats.memoryBytes) : undefined,
    overhead: per(after.heapUsed + after.external - before.heapUsed - before.external + (stats?.memoryBytes ?? 0)) - payload,
    rssOverhead: per(after.rss - before.rss) - payload,
    memoryBytes: stats?.memoryBytes,
    liveBytes: stats?.bytes,
    fillPerSec,
  };
  if (stats && stats.entries !== entries) throw new Error(`meshcache holds ${stats.entries} of ${entries} entries after the fill`);
  if (mixSeconds > 0) result.mix = await mix(cache, entries, mixSeconds);
  subject.close();
  return result;
}

/** 90/10 get/set, Zipf(0.9) over the filled keys, in batches that yield to the event loop. */
async function mix(cache: AnyCache, entries: number, seconds: number): Promise<MixResult> {
  const random = mulberry32(7);
  const scatter = permutation(entries, random); // hot keys scattered over insertion order
  const ranks = new ZipfSampler(entries, 0.9, random).sample(1 << 20);
  const ids = ranks.map((r) => scatter[r]);
  const isSet = Uint8Array.from({ length: 1 << 20 }, () => (random() < 0.1 ? 1 : 0));
  fullGc();

  const gcPauses: Array<{ ms: number; major: boolean }> = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      gcPauses.push({ ms: e.duration, major: kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();

  let ops = 0;
  let hits = 0;
  let gets = 0;
  let batches = 0;
  const longest = { ms: 0, index: 0, cpuMs: 0 };
  const start = performance.now();
  const end = start + seconds * 1000;
  await new Promise<void>((resolve) => {
    const batch = () => {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      for (let j = 0; j < 1000; j++, ops++) {
        const i = ops & ((1 << 20) - 1);
        const key = parsedKey(ids[i]);
        if (isSet[i]) cache.set(key, bufferValue(ops));
        else {
          gets++;
          if (cache.get(key) !== undefined) hits++;
        }
      }
      const t1 = performance.now();
      if (t1 - t0 > longest.ms) {
        const cpu = process.cpuUsage(cpu0);
        Object.assign(longest, { ms: t1 - t0, index: batches, cpuMs: (cpu.user + cpu.system) / 1000 });
      }
      batches++;
      if (t1 < end) setImmediate(batch);
      else resolve();
    };
    setImmediate(batch);
  });
  const elapsed = (performance.now() - start) / 1000;
  delay.disable();
  await new Promise((r) => setTimeout(r, 100)); // let the observer deliver the last entries
  observer.disconnect();
  const maxOf = (xs: number[]) => xs.reduce((m, x) => Math.max(m, x), 0);
  return {
    seconds: elapsed,
    opsPerSec: ops / elapsed,
    hitRatio: gets ? hits / gets : 0,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
    gcMaxPauseMs: maxOf(gcPauses.map((p) => p.ms)),
    gcMajorMaxPauseMs: maxOf(gcPauses.filter((p) => p.major).map((p) => p.ms)),
    gcCount: gcPauses.length,
    gcTotalMs: gcPauses.reduce((s, p) => s + p.ms, 0),
    longestBatchMs: longest.ms,
    longestBatchIndex: longest.index,
    longestBatchCpuMs: longest.cpuMs,
  };
}

// ---------------------------------------------------------------------------------------------
// parent: run the children, print the tables

type Task = { part: 'ops'; cache: CacheName } | { part: 'memory'; cache: CacheName; entries: number; mixSeconds: number };

function partsWanted(): Set<string> {
  const at = process.argv.indexOf('--parts');
  return new Set(at < 0 ? ['ops', 'memory', 'mix'] : process.argv[at + 1].split(','));
}

async function parent(): Promise<void> {
  const at = process.argv.indexOf('--caches');
  const only = at < 0 ? undefined : process.argv[at + 1].split(',');
  const caches = CACHES.filter((c) => !(PEERS_ONLY && c === 'meshcache') && (!only || only.includes(c)));
  const parts = partsWanted();
  const extraArgs = QUICK ? ['--quick'] : [];
  let ops: Record<string, OpsResult[]> = {};
  const memory: MemoryResult[] = [];

  if (parts.has('ops')) {
    console.log(`# ops/s (benchmark.js, ${BATCH} ops per call, maxTime ${BENCH_OPTIONS.maxTime} s per case)\n`);
    ops = await runOps(caches, extraArgs);
  }
  if (parts.has('memory') || parts.has('mix')) {
    const sizes = parts.has('memory') ? MEMORY_SIZES : [MIX_ENTRIES];
    for (const entries of sizes) {
      for (const cache of caches) {
        const mixSeconds = parts.has('mix') && entries === Math.max(...sizes) ? MIX_SECONDS : 0;
        process.stderr.write(`  ${cache}: filling ${entries} entries${mixSeconds ? `, then ${mixSeconds} s of mix` : ''}…\n`);
        memory.push(await runChild<MemoryResult>(SELF, { part: 'memory', cache, entries, mixSeconds } satisfies Task, [], extraArgs));
      }
    }
  }

  const summary: string[] = [];
  if (parts.has('ops')) {
    const rows: string[][] = [];
    for (const r of ops[CACHES.find((c) => ops[c]) ?? 'Map'] ?? []) {
      const same = (c: CacheName) => ops[c]?.find((x) => x.entries === r.entries && x.values === r.values && x.case === r.case);
      const rate = (c: CacheName) => same(c)?.opsPerSec;
      const rme = Math.max(...caches.map((c) => same(c)?.rme ?? 0));
      rows.push([
        `${r.case}, ${r.values}, ${r.entries / 1000}k`,
        ...CACHES.map((c) => (rate(c) === undefined ? '-' : formatRate(rate(c)!))),
        formatRatio(rate('meshcache'), rate('lru-cache')),
        formatRatio(rate('meshcache'), rate('Map')),
        `±${rme.toFixed(0)}%`,
      ]);
    }
    summary.push(`## ops/s, 20 B keys, shuffled order (worst ±rme of the row last)\n\n${table(['case, values, entries', ...CACHES, 'mesh/lru', 'mesh/Map', 'rme'], rows)}`);
  }
  if (memory.length && parts.has('memory')) {
    const rows = memory.map((m) => [
      m.cache,
      `${m.entries / 1e6}M`,
      fixed(m.overhead),
      fixed(m.rssOverhead),
      fixed(m.heapPerEntry),
      fixed(m.externalPerEntry),
      fixed(m.wasmPerEntry),
      m.memoryBytes === undefined ? '-' : `${(m.memoryBytes / 2 ** 20).toFixed(0)} MiB`,
      formatRate(m.fillPerSec),
    ]);
    summary.push(`## memory: bytes per entry beyond the 120 B of key + value (100 B Buffer values)\n\n` +
      'overhead = (Δ heapUsed + Δ external + WebAssembly.Memory size) / n − 120; RSS = Δ rss / n − 120\n\n' +
      table(['cache', 'entries', 'overhead', 'RSS', 'Δheap/n', 'Δexternal/n', 'WASM memory/n', 'memoryBytes', 'fill/s'], rows));
  }
  const mixes = memory.filter((m) => m.mix);
  if (mixes.length) {
    const rows = mixes.map(({ cache, mix: x }) => [
      cache, formatRate(x!.opsPerSec), fixed(100 * x!.hitRatio), fixed(x!.loopDelayP99Ms), fixed(x!.loopDelayMaxMs),
      fixed(x!.gcMaxPauseMs), fixed(x!.gcMajorMaxPauseMs), String(x!.gcCount), fixed(x!.gcTotalMs, 0),
      `${fixed(x!.longestBatchMs)} (#${x!.longestBatchIndex}, cpu ${fixed(x!.longestBatchCpuMs)})`,
    ]);
    summary.push(`## mix: ${MIX_SECONDS} s of 90/10 get/set, Zipf(0.9), ${mixes[0].entries / 1e6}M entries, 1000 ops per turn\n\n${table(
      ['cache', 'ops/s', 'get hit %', 'loop p99 ms', 'loop max ms', 'GC max ms', 'major GC max ms', 'GCs', 'GC total ms', 'longest batch ms'], rows)}`);
  }
  console.log(`\n${summary.join('\n\n')}`);
  const partial = QUICK || PEERS_ONLY || process.argv.includes('--parts') || process.argv.includes('--caches');
  console.log(`\nwritten to ${writeResults(partial ? 'cache-partial' : 'cache', { quick: QUICK, ops, memory })}`);
}

const task = childTask<Task>();
if (!task) await parent();
else if (task.part === 'ops') opsServer(task.cache);
else sendResult(await memoryChild(task.cache, task.entries, task.mixSeconds));
