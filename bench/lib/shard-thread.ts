/**
 * The get/set loop of the shards bench's thread-scaling part, and the worker thread that runs it
 * over a cache attached with `Cache.attach(handle)`.
 *
 * The main thread and the worker run the same function over the same cache: uniformly random
 * keys among the filled ones (parser-made 20 B keys), a set (a new 100 B Buffer) where the
 * precomputed stream says so, a get otherwise. Both spin until a common wall-clock start time and
 * stop at a common deadline (`Date.now()`, checked every 1024 operations), so their figures cover
 * the same interval. The worker is started through bench/lib/ts-worker.mjs (tsx in the worker).
 */
import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { mulberry32 } from './random.js';
import { bufferValue, parsedKey } from './workload.js';

/** The part of the cache the loop uses. */
export interface LoopCache {
  get(key: string): unknown;
  set(key: string, value: unknown): unknown;
}

/** The key stream: 2^20 ids and a set flag each. */
export interface Stream {
  ids: Uint32Array;
  isSet: Uint8Array;
}

export interface LoopCounts {
  ops: number;
  gets: number;
  misses: number;
  /** Wall ms from the common start to the end of the last operation. */
  ms: number;
  /** CPU ms this thread got over the same interval (10 ms resolution; NaN where unknown). */
  cpuMs: number;
}

/**
 * CPU time of the calling thread in ms, from /proc/thread-self/stat (utime + stime, in clock
 * ticks of 10 ms); NaN where that file does not exist. Node 20 has no per-thread CPU clock.
 */
export function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * 10; // fields 14 and 15; USER_HZ is 100
  } catch {
    return NaN;
  }
}

const STREAM = 1 << 20;

/** ids uniform over [0, entries), a set with probability `setFraction`. */
export function makeStream(entries: number, setFraction: number, seed: number): Stream {
  const random = mulberry32(seed);
  const ids = new Uint32Array(STREAM);
  const isSet = new Uint8Array(STREAM);
  for (let i = 0; i < STREAM; i++) {
    ids[i] = Math.floor(random() * entries);
    isSet[i] = random() < setFraction ? 1 : 0;
  }
  return { ids, isSet };
}

/** Spins until `startAt` (epoch ms), then runs get/set until `deadline` (epoch ms). */
export function runLoop(cache: LoopCache, stream: Stream, startAt: number, deadline: number): LoopCounts {
  const { ids, isSet } = stream;
  const mask = STREAM - 1;
  while (Date.now() < startAt);
  const t0 = Date.now();
  const cpu0 = threadCpuMs();
  let ops = 0;
  let gets = 0;
  let misses = 0;
  for (;;) {
    for (let j = 0; j < 1024; j++, ops++) {
      const i = ops & mask;
      const key = parsedKey(ids[i]);
      if (isSet[i]) cache.set(key, bufferValue(ops));
      else {
        gets++;
        if (cache.get(key) === undefined) misses++;
      }
    }
    const now = Date.now();
    if (now >= deadline) return { ops, gets, misses, ms: now - t0, cpuMs: threadCpuMs() - cpu0 };
  }
}

/**
 * The control: a pure arithmetic loop (a PRNG) that touches no memory, from `startAt` to
 * `deadline`; returns iterations per ms. Run on one and on two threads it shows how much parallel
 * CPU the machine gave at that moment, whatever the cache does.
 */
export function spinLoop(startAt: number, deadline: number): number {
  while (Date.now() < startAt);
  const t0 = Date.now();
  let a = 1;
  let n = 0;
  for (;;) {
    for (let j = 0; j < 4096; j++, n++) {
      a = (a + 0x6d2b79f5) | 0;
      a = Math.imul(a ^ (a >>> 15), a | 1);
    }
    const now = Date.now();
    if (now >= deadline) {
      if (a === 0.5) n++; // keeps `a` alive
      return n / (now - t0);
    }
  }
}

/** What the parent sends the worker. */
export type ReaderRequest =
  | { type: 'run'; startAt: number; deadline: number }
  | { type: 'spin'; startAt: number; deadline: number }
  | { type: 'stop' };
/** What the worker answers. */
export type ReaderReply =
  | { type: 'ready' }
  | ({ type: 'done' } & LoopCounts)
  | { type: 'spun'; perMs: number }
  | { type: 'error'; error: string };

interface ReaderData {
  role: 'shard-reader';
  tsEntry: string;
  handle: unknown;
  entries: number;
  setFraction: number;
  seed: number;
  warmupMs: number;
}

/** Starts the reader worker over `handle`; resolves once it has attached, built its stream and warmed up. */
export async function startReader(handle: unknown, entries: number, setFraction: number, seed: number, warmupMs: number): Promise<{
  run(startAt: number, deadline: number): Promise<LoopCounts>;
  spin(startAt: number, deadline: number): Promise<number>;
  stop(): Promise<void>;
}> {
  const data: ReaderData = {
    role: 'shard-reader', tsEntry: import.meta.url, handle, entries, setFraction, seed, warmupMs,
  };
  const worker = new Worker(new URL('./ts-worker.mjs', import.meta.url), { workerData: data });
  let waiting: { resolve: (r: ReaderReply) => void; reject: (e: Error) => void } | undefined;
  worker.on('message', (reply: ReaderReply) => {
    const w = waiting;
    waiting = undefined;
    if (reply.type === 'error') w?.reject(new Error(`reader worker: ${reply.error}`));
    else w?.resolve(reply);
  });
  worker.on('error', (e) => { waiting?.reject(e); waiting = undefined; });
  const exited = new Promise<number>((resolve) => worker.on('exit', (code) => {
    waiting?.reject(new Error(`reader worker exited with code ${code}`));
    waiting = undefined;
    resolve(code);
  }));
  const next = () => new Promise<ReaderReply>((resolve, reject) => { waiting = { resolve, reject }; });
  const ready = await next();
  if (ready.type !== 'ready') throw new Error(`reader worker said ${ready.type} instead of ready`);
  return {
    async run(startAt, deadline) {
      const reply = next();
      worker.postMessage({ type: 'run', startAt, deadline } satisfies ReaderRequest);
      const r = await reply;
      if (r.type !== 'done') throw new Error(`reader worker said ${r.type}`);
      return { ops: r.ops, gets: r.gets, misses: r.misses, ms: r.ms, cpuMs: r.cpuMs };
    },
    async spin(startAt, deadline) {
      const reply = next();
      worker.postMessage({ type: 'spin', startAt, deadline } satisfies ReaderRequest);
      const r = await reply;
      if (r.type !== 'spun') throw new Error(`reader worker said ${r.type}`);
      return r.perMs;
    },
    async stop() {
      worker.postMessage({ type: 'stop' } satisfies ReaderRequest);
      const code = await exited;
      if (code !== 0) throw new Error(`reader worker exited with code ${code}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// the worker's side

if (!isMainThread && (workerData as ReaderData | undefined)?.role === 'shard-reader') {
  const data = workerData as ReaderData;
  const port = parentPort!;
  try {
    const { loadMeshcache } = await import('./meshcache.js');
    const Cache = (await loadMeshcache()) as unknown as { attach(handle: unknown): LoopCache & { close(): unknown } };
    const cache = Cache.attach(data.handle);
    const stream = makeStream(data.entries, data.setFraction, data.seed);
    const now = Date.now();
    runLoop(cache, stream, now, now + data.warmupMs); // JIT the loops before the timed runs
    spinLoop(Date.now(), Date.now() + 100);
    port.on('message', async (m: ReaderRequest) => {
      try {
        if (m.type === 'run') {
          port.postMessage({ type: 'done', ...runLoop(cache, stream, m.startAt, m.deadline) } satisfies ReaderReply);
        } else if (m.type === 'spin') {
          port.postMessage({ type: 'spun', perMs: spinLoop(m.startAt, m.deadline) } satisfies ReaderReply);
        } else {
          await cache.close();
          port.close();
        }
      } catch (e) {
        port.postMessage({ type: 'error', error: (e as Error).stack ?? String(e) } satisfies ReaderReply);
      }
    });
    port.postMessage({ type: 'ready' } satisfies ReaderReply);
  } catch (e) {
    port.postMessage({ type: 'error', error: (e as Error).stack ?? String(e) } satisfies ReaderReply);
  }
}
