/**
 * 30 million entries in one meshcache, where a JS Map (and so lru-cache) cannot go past 2^24.
 *
 * Fills `new Cache({ maxMemory: '3gb', shards: 64 })` with 30,000,000 entries, keys `k<i>` and
 * 8-byte values holding i and i ^ 0x5bd1e995 (one Buffer reused: meshcache copies the bytes),
 * then reads every key back and checks its value. Prints fill and read rates, entries, evictions
 * and memory. Then, in child processes with an 8 GiB heap, inserts `k<i>` → i into a Map and into
 * lru-cache@11 (which indexes with a Map) up to 17M and reports where and how they fail (V8 caps a
 * Map at 2^24 = 16,777,216 entries). Flags: --entries N (default 30,000,000), --peers-only.
 * Results also go to bench/results/fill30m.json (fill30m-partial.json for other runs).
 */
import { LRUCache } from 'lru-cache';
import { fileURLToPath } from 'node:url';
import { childTask, runChild, sendResult } from './lib/child.js';
import { loadMeshcache, PEERS_ONLY } from './lib/meshcache.js';
import { formatRate, fullGc, writeResults } from './lib/report.js';

const SELF = fileURLToPath(import.meta.url);
const at = process.argv.indexOf('--entries');
const ENTRIES = at < 0 ? 30_000_000 : Number(process.argv[at + 1]);
const PEER_ATTEMPT = 17_000_000;
const MIX = 0x5bd1e995;

interface MeshcacheFill {
  entries: number;
  fillSeconds: number;
  fillPerSec: number;
  readSeconds: number;
  readPerSec: number;
  wrong: number;
  missing: number;
  statsEntries: number;
  evictions: number;
  memoryBytes: number;
  liveBytes: number;
  rssBytes: number;
  heapUsedBytes: number;
}

async function fillMeshcache(): Promise<MeshcacheFill> {
  const Cache = await loadMeshcache();
  const cache = new Cache({ maxMemory: '3gb', shards: 64 });
  const value = Buffer.alloc(8);
  const progressEvery = 5_000_000;

  let start = performance.now();
  for (let i = 0; i < ENTRIES; i++) {
    value.writeUInt32LE(i, 0);
    value.writeUInt32LE((i ^ MIX) >>> 0, 4);
    cache.set(`k${i}`, value);
    if ((i + 1) % progressEvery === 0) process.stderr.write(`  set ${i + 1}\n`);
  }
  const fillSeconds = (performance.now() - start) / 1000;

  let wrong = 0;
  let missing = 0;
  start = performance.now();
  for (let i = 0; i < ENTRIES; i++) {
    const v = cache.get(`k${i}`) as Buffer | undefined;
    if (v === undefined) missing++;
    else if (v.length !== 8 || v.readUInt32LE(0) !== i || v.readUInt32LE(4) !== (i ^ MIX) >>> 0) wrong++;
    if ((i + 1) % progressEvery === 0) process.stderr.write(`  got ${i + 1}\n`);
  }
  const readSeconds = (performance.now() - start) / 1000;
  const stats = cache.stats();
  fullGc();
  const mem = process.memoryUsage();
  cache.close();
  return {
    entries: ENTRIES,
    fillSeconds,
    fillPerSec: ENTRIES / fillSeconds,
    readSeconds,
    readPerSec: ENTRIES / readSeconds,
    wrong,
    missing,
    statsEntries: stats.entries,
    evictions: stats.evictions,
    memoryBytes: stats.memoryBytes,
    liveBytes: stats.bytes,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
  };
}

interface PeerFill {
  peer: 'Map' | 'lru-cache';
  attempted: number;
  inserted: number;
  error?: string;
  seconds: number;
}

/** Child: inserts up to PEER_ATTEMPT keys into a Map or lru-cache and reports the failure. */
function fillPeer(peer: PeerFill['peer']): PeerFill {
  const store = peer === 'Map' ? new Map<string, number>() : new LRUCache<string, number>({ max: PEER_ATTEMPT });
  const start = performance.now();
  let inserted = 0;
  let error: string | undefined;
  try {
    for (let i = 0; i < PEER_ATTEMPT; i++) {
      store.set(`k${i}`, i);
      inserted = store.size;
    }
  } catch (e) {
    error = `${(e as Error).name}: ${(e as Error).message}`;
  }
  return { peer, attempted: PEER_ATTEMPT, inserted, error, seconds: (performance.now() - start) / 1000 };
}

async function main(): Promise<void> {
  let mesh: MeshcacheFill | undefined;
  const problems: string[] = [];
  if (!PEERS_ONLY) {
    console.log(`meshcache: ${ENTRIES.toLocaleString('en-US')} entries, keys k<i>, 8-byte values, maxMemory 3gb, 64 shards`);
    mesh = await fillMeshcache();
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    console.log(`  fill ${mesh.fillSeconds.toFixed(1)} s (${formatRate(mesh.fillPerSec)} sets/s), read + verify ${mesh.readSeconds.toFixed(1)} s (${formatRate(mesh.readPerSec)} gets/s)`);
    console.log(`  entries ${mesh.statsEntries}, evictions ${mesh.evictions}, missing ${mesh.missing}, wrong values ${mesh.wrong}`);
    console.log(`  memoryBytes ${mib(mesh.memoryBytes)} (${(mesh.memoryBytes / ENTRIES).toFixed(1)} B/entry), live bytes ${mib(mesh.liveBytes)}, RSS ${mib(mesh.rssBytes)}, JS heap ${mib(mesh.heapUsedBytes)}`);
    if (mesh.missing || mesh.wrong || mesh.statsEntries !== ENTRIES) {
      problems.push(`meshcache lost or corrupted entries: missing ${mesh.missing}, wrong ${mesh.wrong}, stats().entries ${mesh.statsEntries}`);
    }
  }
  const peers: PeerFill[] = [];
  for (const peer of ['Map', 'lru-cache'] as const) {
    console.log(`${peer}: inserting up to ${PEER_ATTEMPT.toLocaleString('en-US')} keys in a child process…`);
    const r = await runChild<PeerFill>(SELF, { peer }, ['--max-old-space-size=8192']);
    console.log(`  ${r.error ? `failed after ${r.inserted.toLocaleString('en-US')} entries: ${r.error}` : `held all ${r.inserted} entries`} (${r.seconds.toFixed(1)} s)`);
    peers.push(r);
  }
  for (const p of problems) console.log(`PROBLEM: ${p}`);
  const name = PEERS_ONLY || ENTRIES !== 30_000_000 ? 'fill30m-partial' : 'fill30m';
  console.log(`\nwritten to ${writeResults(name, { meshcache: mesh, peers, problems })}`);
}

const task = childTask<{ peer: PeerFill['peer'] }>();
if (task) sendResult(fillPeer(task.peer));
else await main();
