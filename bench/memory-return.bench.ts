/**
 * RSS of a real `meshcache serve` before, at the peak of and after big clients go (issue 11), with the native addon and without.
 *
 * Two abuses, each in a fresh server process (256 MiB cache, default limits): (a) 20 connections
 * each send an 8 MiB SET but its final CRLF, then disconnect; (b) one client reads MGET of an
 * 8 MiB random value 200 times (1.6 GiB), then disconnects. RSS is sampled every 50 ms for the
 * peak and printed at fixed times after the clients went. Then what the mmap threshold costs: GETs
 * of a 1 MiB value, 10 pipelined, for 3 s. Each runs under four environments in the same run: the
 * addon (32 MiB threshold + collection + malloc_trim), the addon with MALLOC_MMAP_THRESHOLD_=131072
 * (kept: every big Buffer mmapped), MESHCACHE_NATIVE=0 (glibc as it is), and MESHCACHE_NATIVE=0
 * with MALLOC_MMAP_THRESHOLD_=131072 (a fixed threshold alone). Results: bench/results/memory-return.json.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { MeshProc } from '../test/helpers/mesh-proc.js';
import { bigMget, partialSets, rssPeak, warmUp } from '../test/helpers/big-clients.js';
import { RespClient } from '../test/helpers/resp-client.js';
import { sleep, waitFor } from '../test/helpers/wait.js';

const MiB = 1024 * 1024;
/** When the RSS is read after the clients went, in ms. */
const AFTER_MS = [0, 300, 1000, 3000, 10_000];
const VARIANTS: Array<[string, NodeJS.ProcessEnv]> = [
  ['addon', {}],
  ['addon MALLOC_MMAP_THRESHOLD_=131072', { MALLOC_MMAP_THRESHOLD_: '131072' }],
  ['MESHCACHE_NATIVE=0', { MESHCACHE_NATIVE: '0' }],
  ['MESHCACHE_NATIVE=0 MALLOC_MMAP_THRESHOLD_=131072', { MESHCACHE_NATIVE: '0', MALLOC_MMAP_THRESHOLD_: '131072' }],
];
const ABUSES: Array<[string, (port: number) => Promise<unknown>]> = [
  ['(a) 20 × 8 MiB partial SET, then gone', (port) => partialSets(port)],
  ['(b) MGET 200 × 8 MiB random value read whole, then gone', (port) => bigMget(port)],
];

interface Row { abuse: string; variant: string; beforeMiB: number; peakMiB: number; afterMiB: Record<string, number> }

const mib = (n: number) => Math.round(n / MiB);
const rows: Row[] = [];
const uptime = () => execSync('uptime').toString().trim();
const loadBefore = uptime();
console.log(loadBefore);
for (const [abuse, run] of ABUSES) {
  for (const [variant, env] of VARIANTS) {
    // MALLOC_MMAP_THRESHOLD_ is removed where a variant does not set it (an empty one means 0 to glibc).
    const server = new MeshProc({ nodeId: 'bench', meshPort: null, maxMemory: '256mb', env: { MALLOC_MMAP_THRESHOLD_: undefined, ...env } });
    try {
      await server.ready(60_000);
      await warmUp(server.port);
      await sleep(500);
      const before = server.rssBytes();
      const peak = rssPeak(() => server.rssBytes());
      await run(server.port);
      const gone = performance.now();
      const after: Record<string, number> = {};
      for (const t of AFTER_MS) {
        await sleep(Math.max(0, t - (performance.now() - gone)));
        after[`${t / 1000}s`] = mib(server.rssBytes());
      }
      const row = { abuse, variant, beforeMiB: mib(before), peakMiB: mib(peak.stop()), afterMiB: after };
      rows.push(row);
      console.log(`${abuse} [${variant}]: RSS MiB before ${row.beforeMiB}, peak ${row.peakMiB}, after ${Object.entries(after).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    } finally {
      server.kill();
      await server.exited;
    }
  }
}
/** GETs of a 1 MiB value per second, 10 pipelined at a time, over `ms`. */
async function getRate(port: number, ms: number): Promise<number> {
  const c = await RespClient.connect(port);
  try {
    await c.call('SET', 'v', Buffer.alloc(MiB, 7));
    c.decode = false;
    const per = `$${MiB}\r\n`.length + MiB + 2;
    const start = c.receivedBytes;
    const started = performance.now();
    let sent = 0;
    while (performance.now() - started < ms) {
      c.write('GET v\r\n'.repeat(10));
      sent += 10;
      await waitFor(() => c.receivedBytes - start >= sent * per, { timeoutMs: 30_000, intervalMs: 1, what: 'GET replies' });
    }
    return sent / ((performance.now() - started) / 1000);
  } finally {
    c.destroy();
  }
}

const rates: Array<{ variant: string; getsPerSecond: number }> = [];
for (const [variant, env] of VARIANTS) {
  const server = new MeshProc({ nodeId: 'bench', meshPort: null, maxMemory: '256mb', env: { MALLOC_MMAP_THRESHOLD_: undefined, ...env } });
  try {
    await server.ready(60_000);
    await getRate(server.port, 1000); // warm-up
    const rate = await getRate(server.port, 3000);
    rates.push({ variant, getsPerSecond: Math.round(rate) });
    console.log(`GET of a 1 MiB value, 10 pipelined [${variant}]: ${rate.toFixed(0)}/s`);
  } finally {
    server.kill();
    await server.exited;
  }
}
const loadAfter = uptime();
console.log(loadAfter);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/memory-return.json', import.meta.url), JSON.stringify({ at: new Date().toISOString(), node: process.version, loadBefore, loadAfter, rows, rates }, null, 2) + '\n');
