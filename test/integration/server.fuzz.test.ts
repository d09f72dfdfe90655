/**
 * A short, seeded protocol fuzz run against a real server process (the long one is
 * `npm run fuzz:server`: 1,000,000 cases over 64 connections). Replay with FUZZ_SEED.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runServerFuzz } from './server-fuzz.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261208);
const MiB = 2 ** 20;

const fuzz = suite(`server process under protocol fuzz (seed ${SEED}; replay with FUZZ_SEED=${SEED})`);

fuzz('10,000 random and mutated inputs over 16 connections at once: no crash, no hang, every reply complete RESP, a well-behaved client served throughout, RSS back within 100 MiB', async () => {
  const r = await runServerFuzz({ seed: SEED, cases: 10_000, connections: 16 });
  console.log(`  ${r.cases} cases over ${r.fuzzConnections} connections in ${r.seconds.toFixed(1)} s; PING p99 ${r.p99PingMs.toFixed(1)} ms, worst ${r.worstPingMs.toFixed(1)} ms; ` +
    `RSS ${(r.rssBeforeBytes / MiB).toFixed(0)} → ${(r.rssPeakBytes / MiB).toFixed(0)} peak → ${(r.rssAfterBytes / MiB).toFixed(0)} MiB; load ${r.load}`);
  assert.equal(r.failures, []);
  assert.is(r.cases, 10_000);
  assert.ok(r.protocolErrorReplies > 100, `only ${r.protocolErrorReplies} protocol errors: the fuzz did not reach the parser's checks`);
  assert.ok(r.checkerRounds > 10, `the well-behaved client completed only ${r.checkerRounds} rounds`);
  // The 100 ms target is measured by `npm run fuzz:server`; this bound only catches a server that stalls.
  assert.ok(r.worstPingMs < 5000, `a PING waited ${r.worstPingMs.toFixed(0)} ms`);
  assert.ok(r.rssAfterBytes - r.rssBeforeBytes < 100 * MiB, `RSS grew by ${((r.rssAfterBytes - r.rssBeforeBytes) / MiB).toFixed(0)} MiB`);
});

fuzz.run();
