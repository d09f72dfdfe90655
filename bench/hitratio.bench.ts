/**
 * Hit ratio: meshcache (WASM, S3-FIFO core) vs exact LRU, with policy simulators for the choice.
 *
 * Workloads: the ARC paper's OLTP, P3 and P12 block traces (/work/shared/traces) and a synthetic
 * Zipf(0.9) stream over 1M keys with room for 1 % of them. Every cache is driven the same way,
 * `if (get(k) === undefined) { misses++; set(k, value) } else hits++`, counting every request
 * (cold misses included), with an 8-byte value that holds the key so that hits are verified.
 *  - meshcache: `new Cache({ shards: 1, maxEntries: N })`, one policy over N entries, with a byte
 *    budget large enough that only the count binds; string keys.
 *  - LRU: lru-cache@11 `{ max: N }`.
 *  - S3-FIFO(t=1|2), W-TinyLFU, ARC: the pure-JS simulators in bench/lib/policies.ts
 *    (t = hits needed in the small queue to move to the main one).
 * The ARC and LRU reference columns are the traces README's figures; LRU and ARC(sim) must match
 * them exactly. Flags: --quick caps each workload at 1M requests (references then do not apply);
 * --peers-only skips meshcache. Results also go to bench/results/hitratio.json (hitratio-partial.json
 * with either flag).
 */
import { LRUCache } from 'lru-cache';
import { ARC, S3FIFO, WTinyLFU, type Policy } from './lib/policies.js';
import { loadTrace } from './lib/traces.js';
import { mulberry32, ZipfSampler } from './lib/random.js';
import { fixed, table, writeResults } from './lib/report.js';
import { loadMeshcache, PEERS_ONLY, type MeshcacheClass } from './lib/meshcache.js';

const QUICK = process.argv.includes('--quick');
const REQUEST_CAP = QUICK ? 1_000_000 : Infinity;

interface Workload {
  name: string;
  trace: string;
  capacity: number;
  /** Reference hit ratios (%) from the traces README. */
  reference?: { lru: number; arc: number };
}

const WORKLOADS: Workload[] = [
  { name: 'OLTP', trace: 'OLTP', capacity: 1_000, reference: { lru: 32.83, arc: 38.95 } },
  { name: 'OLTP', trace: 'OLTP', capacity: 5_000, reference: { lru: 53.65, arc: 55.25 } },
  { name: 'P3', trace: 'P3', capacity: 32_768, reference: { lru: 3.57, arc: 17.11 } },
  { name: 'P12', trace: 'P12', capacity: 32_768, reference: { lru: 8.93, arc: 15.93 } },
  { name: 'Zipf(0.9), 1M keys', trace: 'zipf', capacity: 10_000 },
];

const ZIPF_KEYS = 1_000_000;
const ZIPF_REQUESTS = QUICK ? 1_000_000 : 5_000_000;

/** meshcache driven through its public API; a hit must return the 8-byte value set for the key. */
function meshcachePolicy(Cache: MeshcacheClass, capacity: number): Policy & { close(): void; check(): string } {
  const cache = new Cache({ shards: 1, maxEntries: capacity, maxMemory: '256mb' });
  let wrong = 0;
  let maxEntries = 0;
  let requests = 0;
  return {
    name: 'meshcache',
    access(key: number): boolean {
      const k = String(key);
      const v = cache.get(k) as Buffer | undefined;
      if ((++requests & 0xffff) === 0) maxEntries = Math.max(maxEntries, cache.size);
      if (v === undefined) {
        const value = Buffer.allocUnsafe(8);
        value.writeUInt32LE(key, 0);
        value.writeUInt32LE(~key >>> 0, 4);
        cache.set(k, value);
        return false;
      }
      if (v.length !== 8 || v.readUInt32LE(0) !== key || v.readUInt32LE(4) !== (~key >>> 0)) wrong++;
      return true;
    },
    check(): string {
      const s = cache.stats();
      const notes = [];
      if (wrong > 0) notes.push(`${wrong} hits returned a wrong value`);
      if (maxEntries > capacity || s.entries > capacity) notes.push(`held ${Math.max(maxEntries, s.entries)} > ${capacity} entries`);
      return notes.join('; ');
    },
    close: () => cache.close(),
  };
}

/** lru-cache@11 as exact LRU. */
function lruPolicy(capacity: number): Policy {
  const cache = new LRUCache<number, number>({ max: capacity });
  return {
    name: 'LRU',
    access(key: number): boolean {
      if (cache.get(key) === undefined) {
        cache.set(key, key);
        return false;
      }
      return true;
    },
  };
}

async function requestsFor(w: Workload, loaded: Map<string, Uint32Array>): Promise<Uint32Array> {
  let keys = loaded.get(w.trace);
  if (!keys) {
    if (w.trace === 'zipf') {
      keys = new ZipfSampler(ZIPF_KEYS, 0.9, mulberry32(42)).sample(ZIPF_REQUESTS);
    } else {
      keys = await loadTrace(w.trace, REQUEST_CAP);
    }
    loaded.clear(); // keep one request array alive at a time
    loaded.set(w.trace, keys);
  }
  return keys;
}

function run(policy: Policy, keys: Uint32Array): { ratio: number; ms: number } {
  const start = performance.now();
  let hits = 0;
  for (let i = 0; i < keys.length; i++) if (policy.access(keys[i])) hits++;
  return { ratio: (100 * hits) / keys.length, ms: performance.now() - start };
}

async function main(): Promise<void> {
  const Cache = PEERS_ONLY ? undefined : await loadMeshcache();
  const loaded = new Map<string, Uint32Array>();
  const results = [];
  const problems: string[] = [];
  console.log(`hit ratio (%), every request counted${QUICK ? `; --quick: at most ${REQUEST_CAP} requests per workload` : ''}\n`);
  for (const w of WORKLOADS) {
    const keys = await requestsFor(w, loaded);
    const policies: Array<() => Policy> = [
      () => new S3FIFO(w.capacity, 1),
      () => new S3FIFO(w.capacity, 2),
      () => new WTinyLFU(w.capacity),
      () => new ARC(w.capacity),
      () => lruPolicy(w.capacity),
    ];
    const ratios: Record<string, number> = {};
    const times: Record<string, number> = {};
    if (Cache) {
      const mesh = meshcachePolicy(Cache, w.capacity);
      const r = run(mesh, keys);
      ratios.meshcache = r.ratio;
      times.meshcache = r.ms;
      const note = mesh.check();
      if (note) problems.push(`${w.name} @ ${w.capacity}: meshcache ${note}`);
      mesh.close();
    }
    for (const make of policies) {
      const policy = make();
      const r = run(policy, keys);
      ratios[policy.name] = r.ratio;
      times[policy.name] = r.ms;
    }
    const line = Object.entries(ratios)
      .map(([name, ratio]) => `${name} ${ratio.toFixed(2)} (${(times[name] / 1000).toFixed(1)} s)`)
      .join(', ');
    console.log(`${w.name} @ ${w.capacity} entries, ${keys.length} requests: ${line}`);
    results.push({ workload: w.name, capacity: w.capacity, requests: keys.length, ratios, ms: times, reference: QUICK ? undefined : w.reference });
  }

  const names = ['meshcache', 'S3-FIFO(t=1)', 'S3-FIFO(t=2)', 'W-TinyLFU', 'ARC', 'LRU'];
  const header = ['workload', 'entries', 'requests', 'meshcache', 'S3-FIFO t=1 (sim)', 'S3-FIFO t=2 (sim)', 'W-TinyLFU (sim)', 'ARC (sim)', 'LRU', 'ARC (ref)', 'LRU (ref)', 'meshcache − LRU'];
  const rows = results.map((r) => [
    r.workload,
    String(r.capacity),
    r.requests.toLocaleString('en-US'),
    ...names.map((n) => fixed(r.ratios[n], 2)),
    fixed(r.reference?.arc, 2),
    fixed(r.reference?.lru, 2),
    r.ratios.meshcache === undefined ? '-' : `${r.ratios.meshcache >= r.ratios.LRU ? '+' : ''}${(r.ratios.meshcache - r.ratios.LRU).toFixed(2)}`,
  ]);
  console.log(`\n${table(header, rows)}`);
  if (!QUICK) {
    for (const r of results) {
      if (r.reference && Math.abs(r.ratios.LRU - r.reference.lru) > 0.005) problems.push(`${r.workload} @ ${r.capacity}: LRU ${r.ratios.LRU} differs from the reference`);
      if (r.reference && Math.abs(r.ratios.ARC - r.reference.arc) > 0.005) problems.push(`${r.workload} @ ${r.capacity}: ARC(sim) ${r.ratios.ARC} differs from the reference`);
    }
  }
  for (const p of problems) console.log(`PROBLEM: ${p}`);
  const name = QUICK || PEERS_ONLY ? 'hitratio-partial' : 'hitratio';
  console.log(`\nwritten to ${writeResults(name, { quick: QUICK, results, problems })}`);
}

await main();
