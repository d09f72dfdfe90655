/**
 * The mesh: ring lookups vs the npm `hashring` package, the added latency of a forwarded GET, and the time to detect a killed node.
 *
 * Part 1 — consistent-hash ring lookups: meshcache's HashRing and SharedRing (xxh64 + binary
 * search in WebAssembly) vs the npm `hashring` package.
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
 * hashring on the same pool.
 *
 * Part 2 — a 3-node mesh of `meshcache serve` processes on loopback (`lan` preset, a secret): one
 * client on node A does sequential GETs of 100-byte values, for keys A owns (local) and keys B owns
 * (forwarded A → B → A over the mesh), 5,000 of each, interleaved; and the same GETs against a
 * redis-server started in the same run (the peer: what one loopback round trip costs). Prints
 * p50 / p99 and the forwarded GET's added latency.
 *
 * Part 2b — throughput through the mesh: `redis-benchmark -t set,get -c 20 -P 16 -d 100 -r 100000
 * -n 100000 --csv` against node A (two thirds of the keys live on B or C and are forwarded), and
 * the same against the redis-server of part 2 (the peer) — prints requests/s and the ratio.
 *
 * Part 3 — failure detection: SIGKILL node C, and time until A and B both log it dead; C is
 * restarted and the kill repeated (5 times). Target: under 3 s with `lan`.
 *
 * Writes bench/results/mesh.json. Run: `npm run bench -- mesh` (about 1.5 min); `--ring-only`
 * runs part 1 only.
 */
import Benchmark from 'benchmark';
// @ts-expect-error: hashring ships no types
import HashRingPeer from 'hashring';
import { HashRing, SharedRing } from '../src/core/ring.js';
import { Cache } from '../src/index.js';
import { mulberry32, shuffle } from './lib/random.js';
import { formatRate, formatRatio, machine, table, writeResults } from './lib/report.js';
import { execFileSync } from 'node:child_process';
import { ensureRedisTools, freePort, startProcess, toolVersion, waitForPong } from './lib/redis.js';
import { MeshProc } from '../test/helpers/mesh-proc.js';
import { RespClient as TestClient } from '../test/helpers/resp-client.js';

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
cache.close();

/** p-th percentile (0..1) of sorted samples. */
function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

interface Latency { p50: number; p99: number; mean: number }
function summarize(samples: number[]): Latency {
  const s = [...samples].sort((x, y) => x - y);
  return { p50: pct(s, 0.5), p99: pct(s, 0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function meshParts(): Promise<Record<string, unknown>> {
  const SECRET = 'bench-mesh-secret-0123456789abcdef';
  const procs: MeshProc[] = [];
  const start = (id: string, join: MeshProc[]) => {
    const p = new MeshProc({ nodeId: id, join: join.map((j) => j.meshAddress), secret: SECRET, maxMemory: '64mb' });
    procs.push(p);
    return p.ready();
  };
  let redis: ReturnType<typeof startProcess> | null = null;
  try {
    const a = await start('bench-a', []);
    const [b] = await Promise.all([start('bench-b', [a]), start('bench-c', [a])]);
    const client = await TestClient.connect(a.port);
    const deadline = Date.now() + 10_000;
    while ((await a.members()).size < 3 || [...(await a.members()).values()].some((m) => m.state !== 'alive')) {
      if (Date.now() > deadline) throw new Error('bench: the 3-node mesh did not form');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Keys owned by A and by B.
    const value = 'x'.repeat(100);
    const localKeys: string[] = [];
    const remoteKeys: string[] = [];
    for (let i = 0; localKeys.length < 1000 || remoteKeys.length < 1000; i++) {
      const key = `bench:${i}`;
      const owner = await client.call('MESH', 'OWNER', key);
      if (owner === 'bench-a' && localKeys.length < 1000) localKeys.push(key);
      else if (owner === 'bench-b' && remoteKeys.length < 1000) remoteKeys.push(key);
      else continue;
      await client.call('SET', key, value);
    }
    const N = 5000;
    const local: number[] = [];
    const forwarded: number[] = [];
    for (let i = 0; i < 500; i++) { await client.call('GET', localKeys[i % 1000]); await client.call('GET', remoteKeys[i % 1000]); } // warm-up
    for (let i = 0; i < N; i++) {
      let t = performance.now();
      if (await client.call('GET', localKeys[i % 1000]) !== value) throw new Error('bench: local GET');
      local.push((performance.now() - t) * 1000);
      t = performance.now();
      if (await client.call('GET', remoteKeys[i % 1000]) !== value) throw new Error('bench: forwarded GET');
      forwarded.push((performance.now() - t) * 1000);
    }
    client.destroy();
    const throughput = (port: number): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const line of execFileSync(tools.benchmark!, ['-p', String(port), '-t', 'set,get', '-c', '20', '-P', '16', '-d', '100', '-r', '100000', '-n', '100000', '--csv'], { encoding: 'utf8', timeout: 120_000 }).split('\n')) {
        const m = /^"(SET|GET)","([\d.]+)"/.exec(line);
        if (m !== null) out[m[1]] = Number(m[2]);
      }
      return out;
    };
    let redisLatency: Latency | null = null;
    let redisVersion = 'not run';
    const tools = ensureRedisTools((l) => console.log(l)) as Partial<{ server: string; benchmark: string; missing: string }>;
    let meshRps: Record<string, number> | null = null;
    let redisRps: Record<string, number> | null = null;
    if (tools.missing !== undefined) {
      console.log(`redis-server: ${tools.missing}`);
    } else {
      const port = await freePort();
      redis = startProcess('redis', tools.server!, ['--port', String(port), '--save', '', '--appendonly', 'no'], port);
      await waitForPong(port, 10_000, () => undefined);
      redisVersion = toolVersion(tools.server!);
      const rc = await TestClient.connect(port);
      for (let i = 0; i < 1000; i++) await rc.call('SET', localKeys[i], value);
      for (let i = 0; i < 500; i++) await rc.call('GET', localKeys[i]);
      const samples: number[] = [];
      for (let i = 0; i < N; i++) {
        const t = performance.now();
        await rc.call('GET', localKeys[i % 1000]);
        samples.push((performance.now() - t) * 1000);
      }
      rc.destroy();
      redisLatency = summarize(samples);
      meshRps = throughput(a.port);
      redisRps = throughput(port);
    }
    const l = summarize(local);
    const f = summarize(forwarded);
    console.log(`\nGET latency, one client, sequential, 100-byte values, ${N} each (µs)\n`);
    const rows2 = [
      ['meshcache, key on this node', l.p50.toFixed(0), l.p99.toFixed(0), l.mean.toFixed(0)],
      ['meshcache, key on another node (forwarded)', f.p50.toFixed(0), f.p99.toFixed(0), f.mean.toFixed(0)],
    ];
    if (redisLatency !== null) rows2.push([`redis-server (${redisVersion.split(' ')[2] ?? ''})`, redisLatency.p50.toFixed(0), redisLatency.p99.toFixed(0), redisLatency.mean.toFixed(0)]);
    console.log(table(['GET', 'p50', 'p99', 'mean'], rows2));
    console.log(`\nforwarding adds ${(f.p50 - l.p50).toFixed(0)} µs at p50, ${(f.p99 - l.p99).toFixed(0)} µs at p99` +
      (redisLatency === null ? '' : `; local GET p50 = ${(l.p50 / redisLatency.p50).toFixed(2)}× redis's`));

    if (meshRps !== null && redisRps !== null) {
      console.log('\nredis-benchmark -t set,get -c 20 -P 16 -d 100 -r 100000 -n 100000 (requests/s)\n');
      console.log(table(['test', 'mesh node A (2/3 forwarded)', 'redis-server', 'mesh / redis'], ['SET', 'GET'].map((t) => [
        t, formatRate(meshRps![t] ?? 0), formatRate(redisRps![t] ?? 0), formatRatio(meshRps![t], redisRps![t]),
      ])));
    }

    // Part 3: detection.
    const detections: number[] = [];
    for (let round = 0; round < 5; round++) {
      const victim = procs.find((p) => p.nodeId === 'bench-c' && p.alive)!;
      const killedAt = Date.now();
      victim.kill('SIGKILL');
      const seen = async (p: MeshProc) => {
        const until = Date.now() + 15_000;
        for (;;) {
          const line = p.logs.find((x) => x.msg === 'mesh: member state' && x.nodeId === 'bench-c' && x.state === 'dead' && (x.time as number) >= killedAt);
          if (line !== undefined) return (line.time as number) - killedAt;
          if (Date.now() > until) throw new Error(`bench: ${p.nodeId} did not mark bench-c dead`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      detections.push(Math.max(await seen(a), await seen(b)));
      await start('bench-c', [a]);
      const back = Date.now() + 10_000;
      while ((await a.members()).get('bench-c')?.state !== 'alive' || (await b.members()).get('bench-c')?.state !== 'alive') {
        if (Date.now() > back) throw new Error('bench: bench-c did not come back');
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const sorted = [...detections].sort((x, y) => x - y);
    console.log(`\nSIGKILL → dead on both other nodes (lan preset), 5 kills: ${detections.join(', ')} ms; median ${pct(sorted, 0.5)} ms, max ${sorted[4]} ms (target < 3000 ms)`);
    const susp = await Promise.all([a, b].map(async (p) => Number(String(await p.call('INFO', 'mesh')).match(/mesh_suspicions_raised:(\d+)/)?.[1])));
    return { getLatencyUs: { local: l, forwarded: f, redis: redisLatency, redisVersion }, throughputRps: { mesh: meshRps, redis: redisRps }, detectionMs: detections, suspicionsRaisedByObservers: susp };
  } finally {
    for (const p of procs) p.kill();
    await Promise.all(procs.map((p) => p.exited));
    await redis?.stop();
  }
}

const mesh = process.argv.includes('--ring-only') ? null : await meshParts();
console.log(`results: ${writeResults('mesh', { nodes: NODES, batch: BATCH, rows, mesh })}`);
