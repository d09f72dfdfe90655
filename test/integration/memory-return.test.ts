/**
 * Memory comes back to the system after big clients go (issue 11), in a real `meshcache serve`
 * with the native addon: (a) 20 connections each leave an 8 MiB SET unfinished (default limits)
 * and disconnect; (b) one client reads MGET of an 8 MiB random value 200 times (1.6 GiB) and
 * disconnects. The RSS once they are gone must be within 40 MB of the RSS before (the issue asks
 * for 100 MB), within 10 s (measured here: about 1 s). Without the addon glibc keeps much of it
 * (see docs/sidecar.md, Limits): skipped then, with the reason. Figures are printed with the load average.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadavg } from 'node:os';
import { MeshProc } from '../helpers/mesh-proc.js';
import { bigMget, partialSets, rssPeak, warmUp } from '../helpers/big-clients.js';
import { pollUntil, sleep } from '../helpers/wait.js';
import { nativeStatus } from '../../src/native/binding.js';

/**
 * How far above its RSS before the big clients the server may stay once they are gone. The issue
 * asks for 100 MB; with the addon the RSS comes back to about 20 MB under what it was before
 * (the warm-up's leftovers go too), without it 56 to 140 MB over (measured, docs/sidecar.md), so
 * 40 MB tells the two apart with a wide margin on both sides.
 */
const RSS_SLACK_BYTES = 40 * 1e6;
/** How long the RSS may take to come back (it takes about 1 s: a collection, then malloc_trim). */
const RETURN_WITHIN_MS = 10_000;

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

/** Why these tests cannot show anything here, or null. */
function skipReason(): string | null {
  const addon = nativeStatus().addon;
  if (addon === null) return nativeStatus().reason;
  if (typeof addon.configureMalloc !== 'function') return 'the addon was built without configureMalloc (npm run build:native)';
  if (process.platform !== 'linux') return 'RSS is read from /proc';
  return null;
}

async function withServer(fn: (server: MeshProc) => Promise<void>): Promise<void> {
  const server = new MeshProc({ nodeId: 'memory', meshPort: null, maxMemory: '256mb' });
  try {
    await server.ready();
    const line = server.logs.find((l) => l.msg === 'meshcache listening');
    assert.ok(line !== undefined);
    await fn(server);
  } finally {
    server.kill();
    await server.exited;
  }
}

/** Warms the server up, runs `abuse`, and checks that the RSS comes back. */
async function measure(what: string, server: MeshProc, abuse: () => Promise<unknown>): Promise<void> {
  await warmUp(server.port);
  await sleep(500);
  const before = server.rssBytes();
  const peak = rssPeak(() => server.rssBytes());
  await abuse();
  const gone = performance.now();
  let after = server.rssBytes();
  await pollUntil(() => (after = server.rssBytes()) - before < RSS_SLACK_BYTES, { timeoutMs: RETURN_WITHIN_MS, intervalMs: 100 }).catch(() => undefined);
  const tookMs = performance.now() - gone;
  console.log(`  ${what}: RSS before ${mb(before)}, peak ${mb(peak.stop())}, after ${mb(after)} (${tookMs.toFixed(0)} ms after the clients went); load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  assert.ok(after - before < RSS_SLACK_BYTES, `RSS ${mb(before)} before, ${mb(after)} ${RETURN_WITHIN_MS} ms after the clients went`);
}

const memory = suite('meshcache serve gives memory back after big clients go (native addon)');

memory('20 clients each leaving an 8 MiB SET unfinished, then gone: RSS back within 40 MB in 10 s', async () => {
  const skip = skipReason();
  if (skip !== null) {
    console.log(`  skipped: ${skip}`);
    return;
  }
  await withServer((server) => measure('20 × 8 MiB partial SET', server, () => partialSets(server.port)));
});

memory('MGET of an 8 MiB value 200 times, read whole, then gone: RSS back within 40 MB in 10 s', async () => {
  const skip = skipReason();
  if (skip !== null) {
    console.log(`  skipped: ${skip}`);
    return;
  }
  await withServer((server) => measure('MGET 200 × 8 MiB', server, async () => {
    const bytes = await bigMget(server.port);
    assert.ok(bytes > 200 * 8 * 1024 * 1024, `read ${bytes} bytes`);
  }));
});

memory.run();
