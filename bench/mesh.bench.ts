/**
 * Consistent-hash ring lookups: meshcache's HashRing and SharedRing (xxh64 + binary search in WebAssembly) vs the npm `hashring` package.
 *
 * Both rings hold the same 5 nodes (`10.0.0.1:7000` … `10.0.0.5:7000`): meshcache with its default
 * 160 vnodes per node; hashring with its defaults (ketama: 40 × 4 = 160 points per server, MD5,
 * and a 5,000-entry LRU of recent results). Keys are 20 bytes (`user:` + 15 digits); each case
 * looks up the same shuffled sequence drawn from a pool:
 *  - `cold`: a pool of 100,000 keys, so hashring's 5,000-entry result cache mostly misses (the
 *    case a router with many keys sees);
 *  - `hot`: a pool of 1,000 keys, all of which fit hashring's result cache (its best case).
 * meshcache is timed with string keys (encodeInto into the ring's key scratch) and with keys
 * already encoded as Uint8Arrays, for both of its rings: HashRing (a memory of its own) and
 * SharedRing (the ring inside a cache's shared memory, looked up with the epoch check that lets
 * other threads republish it; same nodes, vnodes and seed, so the same answers). benchmark.js,
 * 256 lookups per timed call; each case keeps the best of two runs. Prints ops/s and the ratio to
 * hashring on the same pool; writes bench/results/mesh.json. Run: `npm run bench -- mesh`
 * (about 35 s).
 */
import Benchmark from 'benchmark';
// @ts-expect-error: hashring ships no types
import HashRingPeer from 'hashring';
import { HashRing, SharedRing } from '../src/core/ring.js';
import { Cache } from '../src/index.js';
import { mulberry32, shuffle } from './lib/random.js';
import { formatRate, formatRatio, machine, table, writeResults } from './lib/report.js';

const BENCH_OPTIONS = { maxTime: 0.5, minSamples: 5, initCount: 1 };
const RUNS = 2;
const BATCH = 256;
const NODES = Array.from({ length: 5 }, (_, i) => `10.0.0.${i + 1}:7000`);
const SEQUENCE = 1 << 16;

const mine = new HashRing();
for (const n of NODES) mine.add(n);
const peer = new HashRingPeer(NODES);
const cache = new Cache({ maxMemory: '8mb' });
const shared = SharedRing.of(cache);
shared.setNodes(NODES);

const encoder = new TextEncoder();
let sink = 0;

function time(name: string, fn: () => void): number {
  let best = 0;
  for (let run = 0; run < RUNS; run++) {
    const bench = new Benchmark(name, fn, BENCH_OPTIONS);
    bench.run();
    if (bench.error) throw bench.error;
    best = Math.max(best, bench.hz * BATCH);
  }
  return best;
}

interface Row { pool: string; ring: string; opsPerSec: number; vsHashring: number }
const rows: Row[] = [];

for (const [pool, size] of [['cold', 100_000], ['hot', 1_000]] as const) {
  const random = mulberry32(0x5eed + size);
  const keys = Array.from({ length: size }, () => `user:${String(Math.floor(random() * 1e15)).padStart(15, '0')}`);
  const seq = shuffle(Array.from({ length: SEQUENCE }, (_, i) => keys[i % size]), random);
  const bytes = seq.map((k) => encoder.encode(k));
  // Both rings must answer with one of the nodes (the mappings differ: different hash functions).
  for (const k of keys.slice(0, 100)) {
    if (!NODES.includes(mine.lookup(k)!) || !NODES.includes(peer.get(k))) throw new Error('bench: bad lookup');
    if (shared.lookup(k) !== mine.lookup(k)) throw new Error('bench: SharedRing and HashRing disagree');
  }
  let i = 0;
  const peerHz = time(`hashring ${pool}`, () => {
    for (let n = 0; n < BATCH; n++) { sink += peer.get(seq[i]).length; i = (i + 1) & (SEQUENCE - 1); }
  });
  const strHz = time(`meshcache ${pool}`, () => {
    for (let n = 0; n < BATCH; n++) { sink += mine.lookup(seq[i])!.length; i = (i + 1) & (SEQUENCE - 1); }
  });
  const u8Hz = time(`meshcache bytes ${pool}`, () => {
    for (let n = 0; n < BATCH; n++) { sink += mine.lookup(bytes[i])!.length; i = (i + 1) & (SEQUENCE - 1); }
  });
  const sharedStrHz = time(`meshcache shared ${pool}`, () => {
    for (let n = 0; n < BATCH; n++) { sink += shared.lookup(seq[i])!.length; i = (i + 1) & (SEQUENCE - 1); }
  });
  const sharedU8Hz = time(`meshcache shared bytes ${pool}`, () => {
    for (let n = 0; n < BATCH; n++) { sink += shared.lookup(bytes[i])!.length; i = (i + 1) & (SEQUENCE - 1); }
  });
  rows.push({ pool, ring: 'hashring (default LRU 5000)', opsPerSec: peerHz, vsHashring: 1 });
  rows.push({ pool, ring: 'meshcache HashRing, string keys', opsPerSec: strHz, vsHashring: strHz / peerHz });
  rows.push({ pool, ring: 'meshcache HashRing, Uint8Array keys', opsPerSec: u8Hz, vsHashring: u8Hz / peerHz });
  rows.push({ pool, ring: 'meshcache SharedRing, string keys', opsPerSec: sharedStrHz, vsHashring: sharedStrHz / peerHz });
  rows.push({ pool, ring: 'meshcache SharedRing, Uint8Array keys', opsPerSec: sharedU8Hz, vsHashring: sharedU8Hz / peerHz });
}

console.log(`\nring lookups, 5 nodes, 20-byte keys (${machine().node}, ${machine().cpu}, ${machine().cores} cores)\n`);
console.log(table(
  ['pool', 'ring', 'lookups/s', '× hashring'],
  rows.map((r) => [`${r.pool} (${r.pool === 'cold' ? '100k' : '1k'} keys)`, r.ring, formatRate(r.opsPerSec), formatRatio(r.opsPerSec, r.opsPerSec / r.vsHashring)]),
));
console.log('\ntarget: meshcache ≥ 5× hashring (cold pool, string keys)');
if (sink === 42) console.log('');
console.log(`results: ${writeResults('mesh', { nodes: NODES, batch: BATCH, rows })}`);
cache.close();
