/**
 * Mesh soak: 5 `meshcache serve` nodes (`lan` preset, a secret) under load for N minutes; target: no false suspicion.
 *
 * Node 1 starts first, nodes 2–5 join it; once every node lists all 5 alive, load runs for
 * `--minutes` (default 5) from this process and from redis-benchmark:
 *  - `--loops-per-node` (2) pipelined RESP loops per node (bench/lib/redis.ts's RespClient), each
 *    sending `--pipeline` (16) commands per batch: 40 % SET, 45 % GET, 15 % MGET of 5 keys, keys
 *    `soak:<id>` uniform over 100,000 ids, values 100–1000 bytes (uniform length, cut from seeded
 *    random bytes). A GET or MGET reply must be nil or a value of 100–1000 bytes; an error reply
 *    (CLUSTERDOWN…) is counted and its first messages kept.
 *  - redis-benchmark against node 3 (`-t set,get -c 8 -P 8 -d 500 -r 100000`, chunks of
 *    `-n 10000` back to back; a chunk cut off by the deadline is not counted), if installed.
 * Every 5 s: `INFO mesh` of each node on a connection of its own (4 s timeout: a node that does not
 * answer is counted), each node's event-loop delay since the previous sample (prom-client's
 * `nodejs_eventloop_lag_max_seconds` from `--http 0`'s /metrics, which resets its histogram on each
 * scrape; 10 ms resolution), the CPU time of each process (/proc) and `os.loadavg()`.
 *
 * Prints a table per node with the totals, a 30 s timeline, every membership event the nodes logged
 * (suspecting, refuting, stalled probe, suspicion expired, state changes), the ops done and PASS /
 * FAIL: PASS when the nodes saw 0 suspect events (`mesh_suspect_events_seen`, summed), declared 0
 * deaths and still list 5 alive members at the end. The peer, as context: the same client loops
 * (all on one connection set) and the same redis-benchmark against one redis-server, for
 * `--peer-seconds` (60; 0 skips it), after the mesh is stopped.
 *
 * Writes bench/results/mesh-soak.json. Run: `npm run bench -- mesh-soak [--minutes N]`
 * (N + ~1.5 min). Exits 1 on FAIL. Every child is killed at the end, on error and on SIGINT/SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MeshProc, waitForState, type LogLine } from '../test/helpers/mesh-proc.js';
import { mulberry32 } from './lib/random.js';
import {
  RespClient, ensureRedisTools, freePort, parseInfo, processCpuSeconds, startProcess, toolVersion, waitForPong,
  type Reply, type ServerProcess,
} from './lib/redis.js';
import { fixed, formatRate, formatRatio, machine, table, writeResults } from './lib/report.js';

// ---------------------------------------------------------------------------------------------
// Arguments

function argValue(name: string, def: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return def;
  const v = Number(process.argv[at + 1]);
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a non-negative number, got ${process.argv[at + 1]}`);
  return v;
}

const MINUTES = argValue('--minutes', 5);
const LOOPS_PER_NODE = argValue('--loops-per-node', 2);
const PIPELINE = argValue('--pipeline', 16);
const PEER_SECONDS = argValue('--peer-seconds', 60);
const USE_REDIS_BENCHMARK = !process.argv.includes('--no-redis-benchmark');

const NODE_COUNT = 5;
const SECRET = 'bench-mesh-soak-secret-0123456789abcdef';
const SAMPLE_INTERVAL_MS = 5000;
const SAMPLE_TIMEOUT_MS = 4000;
const KEY_SPACE = 100_000;
const MIN_VALUE_BYTES = 100;
const MAX_VALUE_BYTES = 1000;
const MGET_KEYS = 5;
const BATCH_TIMEOUT_MS = 15_000;
const RB_CHUNK = 10_000;
const RB_ARGS = ['-t', 'set,get', '-c', '8', '-P', '8', '-d', '500', '-r', String(KEY_SPACE), '--csv'];
/** The INFO mesh fields sampled (the target's and the ones that explain it). */
const FIELDS = [
  'mesh_suspicions_raised', 'mesh_suspect_events_seen', 'mesh_refutations', 'mesh_deaths_declared',
  'mesh_local_health', 'mesh_inconclusive_probes', 'mesh_forwarded', 'mesh_forward_errors',
  'mesh_probes_sent', 'mesh_probe_failures', 'mesh_indirect_probes', 'mesh_nacks_sent',
  'mesh_members_alive', 'mesh_members_suspect', 'mesh_members_dead',
] as const;
type Field = (typeof FIELDS)[number];
/** Membership log lines worth showing (messages from src/mesh/membership.ts and node.ts). */
const EVENT_MESSAGES = new Set([
  'suspecting member: no ack', 'refuting', 'probe failed while this node was stalled: not suspecting',
  'suspicion expired', 'member dead', 'member left', 'mesh: member state',
]);

// ---------------------------------------------------------------------------------------------
// Children, and killing them whatever happens

const procs: MeshProc[] = [];
const others = new Set<ChildProcess>();
let redisServer: ServerProcess | null = null;
let stopping = false;

function killAll(): void {
  stopping = true;
  for (const p of procs) p.kill('SIGKILL');
  for (const c of others) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (redisServer !== null && redisServer.exited === undefined) redisServer.child.kill('SIGKILL');
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\nmesh-soak: ${signal}: killing the node processes and load generators`);
    killAll();
    process.exit(130);
  });
}
process.on('exit', killAll);

// ---------------------------------------------------------------------------------------------
// Load

/** 64 KiB of seeded random printable bytes that values are cut from. */
const SOURCE = (() => {
  const random = mulberry32(0x50a6);
  const b = Buffer.allocUnsafe(1 << 16);
  for (let i = 0; i < b.length; i++) b[i] = 33 + Math.floor(random() * 94);
  return b;
})();

interface LoadCounts {
  ops: number;
  sets: number;
  gets: number;
  mgets: number;
  keysRead: number;
  hits: number;
  errors: number;
  badReplies: number;
  clientFailures: number;
  errorSamples: string[];
}

function newCounts(): LoadCounts {
  return { ops: 0, sets: 0, gets: 0, mgets: 0, keysRead: 0, hits: 0, errors: 0, badReplies: 0, clientFailures: 0, errorSamples: [] };
}

function noteError(c: LoadCounts, message: string): void {
  c.errors++;
  if (c.errorSamples.length < 10) c.errorSamples.push(message);
}

/** Checks a GET-like value: nil, or 100–1000 bytes. */
function checkValue(c: LoadCounts, r: Reply): void {
  if (r === null) return;
  if (Buffer.isBuffer(r) && r.length >= MIN_VALUE_BYTES && r.length <= MAX_VALUE_BYTES) c.hits++;
  else c.badReplies++;
}

/** One pipelined client loop against `port` until `deadline` (epoch ms); reconnects after a failure. */
async function loadLoop(port: number, seed: number, deadline: number, c: LoadCounts): Promise<void> {
  const random = mulberry32(seed);
  const key = () => `soak:${Math.floor(random() * KEY_SPACE)}`;
  let client: RespClient | null = null;
  while (!stopping && Date.now() < deadline) {
    try {
      client ??= await RespClient.connect(port, 5000);
      const cmds: Array<Array<string | Buffer>> = [];
      const kinds: number[] = [];
      for (let i = 0; i < PIPELINE; i++) {
        const r = random();
        if (r < 0.4) {
          const len = MIN_VALUE_BYTES + Math.floor(random() * (MAX_VALUE_BYTES - MIN_VALUE_BYTES + 1));
          const at = Math.floor(random() * (SOURCE.length - len));
          cmds.push(['SET', key(), SOURCE.subarray(at, at + len)]);
          kinds.push(0);
        } else if (r < 0.85) {
          cmds.push(['GET', key()]);
          kinds.push(1);
        } else {
          cmds.push(['MGET', ...Array.from({ length: MGET_KEYS }, key)]);
          kinds.push(2);
        }
      }
      const replies = await client.pipeline(cmds, BATCH_TIMEOUT_MS);
      for (let i = 0; i < replies.length; i++) {
        const r = replies[i];
        c.ops++;
        if (r instanceof Error) {
          noteError(c, `${cmds[i][0]}: ${r.message}`);
          continue;
        }
        if (kinds[i] === 0) {
          c.sets++;
          if (r !== 'OK') c.badReplies++;
        } else if (kinds[i] === 1) {
          c.gets++;
          c.keysRead++;
          checkValue(c, r);
        } else {
          c.mgets++;
          c.keysRead += MGET_KEYS;
          if (!Array.isArray(r) || r.length !== MGET_KEYS) c.badReplies++;
          else for (const v of r) checkValue(c, v);
        }
      }
    } catch (e) {
      if (stopping) break;
      c.clientFailures++;
      noteError(c, `client: ${(e as Error).message}`);
      client?.close();
      client = null;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  client?.close();
}

interface RbCounts {
  requests: number;
  chunks: number;
  /** Chunks that exited with an error (not the one cut off at the deadline). */
  failures: number;
  lastError: string;
}

/** redis-benchmark chunks against `port`, back to back, until `deadline`. */
async function redisBenchmarkLoop(path: string, port: number, deadline: number, c: RbCounts): Promise<void> {
  while (!stopping && Date.now() < deadline) {
    const child = spawn(path, ['-h', '127.0.0.1', '-p', String(port), '-n', String(RB_CHUNK), ...RB_ARGS], { stdio: ['ignore', 'pipe', 'pipe'] });
    others.add(child);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(0, deadline - Date.now()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    clearTimeout(timer);
    others.delete(child);
    if (code === 0) {
      const done = out.split('\n').filter((l) => /^"(SET|GET)"/.test(l)).length;
      c.requests += done * RB_CHUNK;
      c.chunks++;
    } else if (Date.now() < deadline && !stopping) {
      c.failures++;
      c.lastError = out.slice(-500);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

interface LoadResult {
  seconds: number;
  client: LoadCounts;
  redisBenchmark: RbCounts | null;
  clientOpsPerSec: number;
  redisBenchmarkOpsPerSec: number;
  totalOpsPerSec: number;
}

/** Runs the client loops over `ports` (LOOPS_PER_NODE each) and redis-benchmark on `rbPort` for `ms`. */
async function runLoad(ports: number[], rbPort: number, rbPath: string | null, ms: number, client = newCounts()): Promise<LoadResult> {
  const started = Date.now();
  const deadline = started + ms;
  const rb: RbCounts | null = rbPath === null ? null : { requests: 0, chunks: 0, failures: 0, lastError: '' };
  const loops: Array<Promise<void>> = [];
  let seed = 1;
  for (const port of ports) for (let i = 0; i < LOOPS_PER_NODE; i++) loops.push(loadLoop(port, 0x1000 + seed++, deadline, client));
  if (rb !== null && rbPath !== null) loops.push(redisBenchmarkLoop(rbPath, rbPort, deadline, rb));
  await Promise.all(loops);
  const seconds = (Date.now() - started) / 1000;
  const clientOpsPerSec = client.ops / seconds;
  const redisBenchmarkOpsPerSec = rb === null ? 0 : rb.requests / seconds;
  return { seconds, client, redisBenchmark: rb, clientOpsPerSec, redisBenchmarkOpsPerSec, totalOpsPerSec: clientOpsPerSec + redisBenchmarkOpsPerSec };
}

// ---------------------------------------------------------------------------------------------
// Sampling

interface NodeSample {
  info: Partial<Record<Field, number>> | null;
  /** Longest event-loop delay since the previous scrape, ms (null: no answer). */
  loopMaxMs: number | null;
  loopP99Ms: number | null;
  cpuSeconds: number;
}

/** CPU jiffies of the whole machine from /proc/stat's first line: busy (all but idle and iowait) and total. */
function machineCpu(): { busy: number; total: number } {
  try {
    const f = readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - f[3] - (f[4] ?? 0), total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

interface Sample {
  t: number;
  /** Machine CPU jiffies so far (busy, total): the busy share of an interval is Δbusy / Δtotal. */
  cpuBusy: number;
  cpuTotal: number;
  load1: number;
  load5: number;
  clientOps: number;
  benchCpuSeconds: number;
  nodes: Record<string, NodeSample>;
}

const monitors = new Map<string, RespClient>();

async function infoMesh(p: MeshProc): Promise<Partial<Record<Field, number>> | null> {
  try {
    let c = monitors.get(p.nodeId);
    if (c === undefined) {
      c = await RespClient.connect(p.port, SAMPLE_TIMEOUT_MS);
      monitors.set(p.nodeId, c);
    }
    const r = await c.call(['INFO', 'mesh'], SAMPLE_TIMEOUT_MS);
    if (r instanceof Error) throw r;
    const all = parseInfo(Buffer.isBuffer(r) ? r.toString() : String(r));
    const out: Partial<Record<Field, number>> = {};
    for (const f of FIELDS) if (all[f] !== undefined) out[f] = Number(all[f]);
    return out;
  } catch {
    monitors.get(p.nodeId)?.close();
    monitors.delete(p.nodeId);
    return null;
  }
}

async function loopLag(httpPort: number): Promise<{ max: number | null; p99: number | null }> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(SAMPLE_TIMEOUT_MS) });
    const text = await res.text();
    const read = (name: string) => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
      return m === null ? null : Number(m[1]) * 1000;
    };
    return { max: read('nodejs_eventloop_lag_max_seconds'), p99: read('nodejs_eventloop_lag_p99_seconds') };
  } catch {
    return { max: null, p99: null };
  }
}

const httpPorts = new Map<string, number>();

async function sample(t0: number, client: LoadCounts | null): Promise<Sample> {
  const nodes: Record<string, NodeSample> = {};
  await Promise.all(procs.map(async (p) => {
    const [info, lag] = await Promise.all([infoMesh(p), loopLag(httpPorts.get(p.nodeId)!)]);
    nodes[p.nodeId] = { info, loopMaxMs: lag.max, loopP99Ms: lag.p99, cpuSeconds: processCpuSeconds(p.child.pid) };
  }));
  const [load1, load5] = loadavg();
  const cpu = machineCpu();
  return {
    t: (Date.now() - t0) / 1000, cpuBusy: cpu.busy, cpuTotal: cpu.total, load1, load5, clientOps: client?.ops ?? 0,
    benchCpuSeconds: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6, nodes,
  };
}

// ---------------------------------------------------------------------------------------------
// The run

function nodeLogs(p: MeshProc, t0: number): Array<Record<string, unknown>> {
  return p.logs
    .filter((l: LogLine) => EVENT_MESSAGES.has(l.msg) && (l.time as number) >= t0)
    .map((l) => {
      const { level: _level, pid: _pid, hostname: _host, time, msg, ...rest } = l;
      return { node: p.nodeId, t: ((time as number) - t0) / 1000, level: l.level, msg, ...rest };
    });
}

function warnCounts(p: MeshProc): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of p.logs) if (l.level >= 40) out[l.msg] = (out[l.msg] ?? 0) + 1;
  return out;
}

async function main(): Promise<number> {
  const benchLoop = monitorEventLoopDelay({ resolution: 10 });
  const tools = ensureRedisTools((l) => console.log(l));
  const redisMissing = 'missing' in tools ? tools.missing : null;
  const rbPath = !USE_REDIS_BENCHMARK || 'missing' in tools ? null : tools.benchmark;
  console.log(`mesh-soak: ${NODE_COUNT} nodes, lan preset, ${MINUTES} min of load: ${LOOPS_PER_NODE} pipelined loops per node ` +
    `(P${PIPELINE}, 40% SET / 45% GET / 15% MGET×${MGET_KEYS}, ${MIN_VALUE_BYTES}-${MAX_VALUE_BYTES} B values, ${KEY_SPACE} keys)` +
    (rbPath === null ? '; no redis-benchmark' : `; redis-benchmark ${RB_ARGS.slice(0, -1).join(' ')} on node 3`));
  console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  // Start: node 1, then 2-5 joining it.
  const start = (i: number, join: MeshProc[]) => {
    const p = new MeshProc({ nodeId: `soak-${i}`, join: join.map((j) => j.meshAddress), secret: SECRET, preset: 'lan', extra: ['--http', '0'] });
    procs.push(p);
    return p.ready(60_000);
  };
  const formStarted = Date.now();
  const first = await start(1, []);
  await Promise.all([2, 3, 4, 5].map((i) => start(i, [first])));
  for (const p of procs) {
    const line = p.logs.find((l) => l.msg === 'meshcache listening')!;
    httpPorts.set(p.nodeId, line.http as number);
  }
  for (const p of procs) await waitForState(procs, p.nodeId, 'alive', 30_000);
  const formMs = Date.now() - formStarted;
  console.log(`mesh formed: all ${NODE_COUNT} nodes list ${NODE_COUNT} alive after ${(formMs / 1000).toFixed(1)} s`);

  // Baseline counters (joining can itself produce events; the target counts the soak only).
  const t0 = Date.now();
  const baseline = await sample(t0, null);
  for (const [id, s] of Object.entries(baseline.nodes)) {
    if (s.info === null) throw new Error(`mesh-soak: ${id} did not answer INFO mesh before the load`);
  }
  const samples: Sample[] = [baseline];
  const cpu0 = new Map(procs.map((p) => [p.nodeId, processCpuSeconds(p.child.pid)]));
  benchLoop.enable();

  const ports = procs.map((p) => p.port);
  const client = newCounts();
  let sampling = true;
  const sampler = (async () => {
    let next = t0 + SAMPLE_INTERVAL_MS;
    while (sampling) {
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      next += SAMPLE_INTERVAL_MS;
      if (!sampling) break;
      const s = await sample(t0, client);
      samples.push(s);
      const susp = procs.reduce((a, p) => a + (s.nodes[p.nodeId].info?.mesh_suspect_events_seen ?? 0), 0);
      const noInfo = procs.filter((p) => s.nodes[p.nodeId].info === null).map((p) => p.nodeId);
      const lag = Math.max(...procs.map((p) => s.nodes[p.nodeId].loopMaxMs ?? 0));
      process.stdout.write(`  t=${s.t.toFixed(0).padStart(4)} s  load ${s.load1.toFixed(2)}  ops ${formatRate(s.clientOps)}  ` +
        `suspect events ${susp}  max loop delay ${lag.toFixed(0)} ms${noInfo.length ? `  no INFO from ${noInfo.join(',')}` : ''}\n`);
    }
  })();
  const load = await runLoad(ports, procs[2].port, rbPath, MINUTES * 60_000, client);
  sampling = false;
  await sampler;
  const end = await sample(t0, client);
  samples.push(end);
  benchLoop.disable();
  const membersAtEnd = await Promise.all(procs.map(async (p) => {
    try {
      const m = await p.members();
      return { node: p.nodeId, alive: [...m.values()].filter((x) => x.state === 'alive').length, view: Object.fromEntries([...m].map(([k, v]) => [k, `${v.state}@${v.incarnation}`])) };
    } catch (e) {
      return { node: p.nodeId, alive: -1, view: { error: (e as Error).message } };
    }
  }));
  const events = procs.flatMap((p) => nodeLogs(p, t0)).sort((a, b) => (a.t as number) - (b.t as number));
  const warns = Object.fromEntries(procs.map((p) => [p.nodeId, warnCounts(p)]));
  const exited = procs.filter((p) => !p.alive).map((p) => `${p.nodeId} (${p.child.exitCode ?? p.child.signalCode})`);
  const benchCpuS = end.benchCpuSeconds - baseline.benchCpuSeconds;
  for (const c of monitors.values()) c.close();
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));

  // Per-node figures: counters at the end minus at the start; maxima over the samples.
  const delta = (id: string, f: Field) => {
    const last = [...samples].reverse().find((s) => s.nodes[id].info?.[f] !== undefined)?.nodes[id].info?.[f] ?? NaN;
    return last - (baseline.nodes[id].info?.[f] ?? 0);
  };
  const maxOf = (id: string, pick: (s: NodeSample) => number | null | undefined) =>
    Math.max(...samples.slice(1).map((s) => pick(s.nodes[id]) ?? -Infinity));
  const rows = procs.map((p) => {
    const id = p.nodeId;
    const cpu = (end.nodes[id].cpuSeconds - cpu0.get(id)!);
    return {
      node: id,
      suspicionsRaised: delta(id, 'mesh_suspicions_raised'),
      suspectEventsSeen: delta(id, 'mesh_suspect_events_seen'),
      refutations: delta(id, 'mesh_refutations'),
      deathsDeclared: delta(id, 'mesh_deaths_declared'),
      localHealthEnd: end.nodes[id].info?.mesh_local_health ?? NaN,
      localHealthMax: maxOf(id, (s) => s.info?.mesh_local_health),
      inconclusiveProbes: delta(id, 'mesh_inconclusive_probes'),
      probesSent: delta(id, 'mesh_probes_sent'),
      probeFailures: delta(id, 'mesh_probe_failures'),
      forwarded: delta(id, 'mesh_forwarded'),
      forwardErrors: delta(id, 'mesh_forward_errors'),
      loopMaxMs: maxOf(id, (s) => s.loopMaxMs),
      loopP99MaxMs: maxOf(id, (s) => s.loopP99Ms),
      cpuSeconds: cpu,
      cpuShare: cpu / load.seconds,
      infoTimeouts: samples.slice(1).filter((s) => s.nodes[id].info === null).length,
      slowCommandLogs: warns[id]['slow command'] ?? 0,
    };
  });
  const sum = (k: keyof (typeof rows)[number]) => rows.reduce((a, r) => a + (r[k] as number), 0);
  const totals = {
    suspicionsRaised: sum('suspicionsRaised'), suspectEventsSeen: sum('suspectEventsSeen'), refutations: sum('refutations'),
    deathsDeclared: sum('deathsDeclared'), inconclusiveProbes: sum('inconclusiveProbes'), probesSent: sum('probesSent'),
    probeFailures: sum('probeFailures'), forwarded: sum('forwarded'), forwardErrors: sum('forwardErrors'),
    cpuSeconds: sum('cpuSeconds'), infoTimeouts: sum('infoTimeouts'), slowCommandLogs: sum('slowCommandLogs'),
  };
  const loads = samples.slice(1).map((s) => s.load1);
  const loadSummary = { min: Math.min(...loads), max: Math.max(...loads), mean: loads.reduce((a, b) => a + b, 0) / loads.length };
  const machineBusy = (end.cpuBusy - baseline.cpuBusy) / (end.cpuTotal - baseline.cpuTotal);

  console.log(`\nper node, over the ${fixed(load.seconds, 0)} s of load (counters: end − start of load; maxima over the 5 s samples)\n`);
  const n0 = (x: number) => (Number.isFinite(x) ? String(x) : '-');
  console.log(table(
    ['node', 'suspicions raised', 'suspect events seen', 'refutations', 'deaths declared', 'local health end/max', 'inconclusive probes',
      'probes (failed)', 'forwarded', 'forward errors', 'loop delay max ms', 'loop p99 max ms', 'CPU s (cores)', 'INFO timeouts', 'slow cmd logs'],
    [
      ...rows.map((r) => [r.node, n0(r.suspicionsRaised), n0(r.suspectEventsSeen), n0(r.refutations), n0(r.deathsDeclared),
        `${n0(r.localHealthEnd)}/${n0(r.localHealthMax)}`, n0(r.inconclusiveProbes), `${n0(r.probesSent)} (${n0(r.probeFailures)})`,
        n0(r.forwarded), n0(r.forwardErrors), fixed(r.loopMaxMs, 0), fixed(r.loopP99MaxMs, 0), `${fixed(r.cpuSeconds, 0)} (${fixed(r.cpuShare, 2)})`,
        n0(r.infoTimeouts), n0(r.slowCommandLogs)]),
      ['total', n0(totals.suspicionsRaised), n0(totals.suspectEventsSeen), n0(totals.refutations), n0(totals.deathsDeclared),
        '-', n0(totals.inconclusiveProbes), `${n0(totals.probesSent)} (${n0(totals.probeFailures)})`, n0(totals.forwarded),
        n0(totals.forwardErrors), fixed(Math.max(...rows.map((r) => r.loopMaxMs)), 0), fixed(Math.max(...rows.map((r) => r.loopP99MaxMs)), 0),
        `${fixed(totals.cpuSeconds, 0)} (${fixed(totals.cpuSeconds / load.seconds, 2)})`, n0(totals.infoTimeouts), n0(totals.slowCommandLogs)],
    ],
  ));

  // Timeline: every 30 s (6 samples).
  console.log('\ntimeline (every 30 s): load average, busy share of both cores (/proc/stat), client ops/s in the interval, suspect events so far, highest local health and loop delay in the interval\n');
  const timeline: string[][] = [];
  for (let i = 6; i < samples.length + 5; i += 6) {
    const j = Math.min(i, samples.length - 1);
    const prev = samples[Math.max(0, i - 6)];
    const s = samples[j];
    const window = samples.slice(Math.max(1, i - 5), j + 1);
    const susp = procs.reduce((a, p) => a + ((s.nodes[p.nodeId].info?.mesh_suspect_events_seen ?? NaN) - (baseline.nodes[p.nodeId].info?.mesh_suspect_events_seen ?? 0)), 0);
    const health = Math.max(...window.flatMap((w) => procs.map((p) => w.nodes[p.nodeId].info?.mesh_local_health ?? -Infinity)));
    const lag = Math.max(...window.flatMap((w) => procs.map((p) => w.nodes[p.nodeId].loopMaxMs ?? -Infinity)));
    const busy = (s.cpuBusy - prev.cpuBusy) / (s.cpuTotal - prev.cpuTotal);
    timeline.push([`${s.t.toFixed(0)} s`, s.load1.toFixed(2), `${fixed(busy * 100, 0)} %`, formatRate((s.clientOps - prev.clientOps) / (s.t - prev.t)), n0(susp), n0(health), fixed(lag, 0)]);
    if (j === samples.length - 1) break;
  }
  console.log(table(['t', 'load 1 min', 'machine CPU busy', 'client ops/s', 'suspect events', 'local health max', 'loop delay max ms'], timeline));

  // Peer: the same load against one redis-server.
  let peer: LoadResult | null = null;
  let redisVersion = 'not run';
  if (redisMissing !== null) console.log(`\npeer: redis-server is missing, so no peer figures: ${redisMissing}`);
  else if (PEER_SECONDS > 0 && !('missing' in tools)) {
    const port = await freePort();
    redisServer = startProcess('redis', tools.server, ['--port', String(port), '--save', '', '--appendonly', 'no'], port);
    await waitForPong(port, 10_000, () => redisServer?.exited);
    redisVersion = toolVersion(tools.server);
    console.log(`\npeer: the same load against one redis-server (${redisVersion}) for ${PEER_SECONDS} s ...`);
    peer = await runLoad(procs.map(() => port), port, rbPath, PEER_SECONDS * 1000);
    await redisServer.stop();
  }

  const ops = load.client;
  console.log(`\nops: client loops ${ops.ops.toLocaleString('en')} commands (${ops.sets} SET, ${ops.gets} GET, ${ops.mgets} MGET; ` +
    `${ops.keysRead} keys read, ${ops.hits} hits) in ${fixed(load.seconds, 1)} s = ${formatRate(load.clientOpsPerSec)} ops/s; ` +
    `errors ${ops.errors}, bad replies ${ops.badReplies}, client reconnects ${ops.clientFailures}`);
  if (ops.errorSamples.length > 0) console.log(`  first errors: ${ops.errorSamples.join(' | ')}`);
  if (load.redisBenchmark !== null) {
    console.log(`  redis-benchmark on soak-3: ${load.redisBenchmark.requests.toLocaleString('en')} requests in ${load.redisBenchmark.chunks} complete chunks = ` +
      `${formatRate(load.redisBenchmarkOpsPerSec)} req/s${load.redisBenchmark.failures ? `; ${load.redisBenchmark.failures} failed chunks: ${load.redisBenchmark.lastError}` : ''}`);
  }
  console.log(`  mesh total ${formatRate(load.totalOpsPerSec)} ops/s` + (peer === null ? '' :
    `; redis-server, same load for ${fixed(peer.seconds, 0)} s: client loops ${formatRate(peer.clientOpsPerSec)} ops/s, ` +
    `redis-benchmark ${formatRate(peer.redisBenchmarkOpsPerSec)} req/s, total ${formatRate(peer.totalOpsPerSec)} ops/s ` +
    `(mesh/redis ${formatRatio(load.totalOpsPerSec, peer.totalOpsPerSec)}; context only: one redis process vs 5 nodes forwarding ~80 % of keys)`));
  const benchLagMax = benchLoop.max / 1e6;
  console.log(`machine: load average (1 min) over the soak min ${loadSummary.min.toFixed(2)}, mean ${loadSummary.mean.toFixed(2)}, ` +
    `max ${loadSummary.max.toFixed(2)} on ${machine().cores} cores, both cores ${fixed(machineBusy * 100, 0)} % busy (/proc/stat, everyone's processes); this bench process used ${fixed(benchCpuS, 0)} CPU s ` +
    `(${fixed(benchCpuS / load.seconds, 2)} cores), its own loop delay max ${fixed(benchLagMax, 0)} ms`);

  if (events.length > 0) {
    console.log(`\nmembership events the nodes logged during the load (${events.length}${events.length > 80 ? ', first 80' : ''}):`);
    for (const e of events.slice(0, 80)) {
      const { node, t, msg, level: _l, ...rest } = e;
      console.log(`  +${(t as number).toFixed(3)} s ${node}: ${msg} ${JSON.stringify(rest)}`);
    }
  }
  const warnSummary = procs.map((p) => `${p.nodeId}: ${Object.entries(warns[p.nodeId]).map(([m, n]) => `${m} ×${n}`).join(', ') || 'none'}`);
  console.log(`\nwarn/error log lines per node (whole run): ${warnSummary.join('; ')}`);
  const membersOk = membersAtEnd.every((m) => m.alive === NODE_COUNT);
  if (!membersOk) console.log(`members at the end: ${JSON.stringify(membersAtEnd)}`);
  if (exited.length > 0) console.log(`node processes that exited during the run: ${exited.join(', ')}`);

  const suspectsKnown = rows.every((r) => Number.isFinite(r.suspectEventsSeen) && Number.isFinite(r.deathsDeclared));
  const pass = suspectsKnown && totals.suspectEventsSeen === 0 && totals.deathsDeclared === 0 && membersOk && exited.length === 0;
  console.log(`\ntarget: 0 suspect events seen across all nodes and 0 deaths in ${MINUTES} min of load on ${NODE_COUNT} nodes (lan): ` +
    `${totals.suspectEventsSeen} suspect events, ${totals.deathsDeclared} deaths, ${membersAtEnd.map((m) => m.alive).join('/')} alive seen at the end → ${pass ? 'PASS' : 'FAIL'}`);

  const path = writeResults('mesh-soak', {
    config: {
      nodes: NODE_COUNT, preset: 'lan', minutes: MINUTES, loopsPerNode: LOOPS_PER_NODE, pipeline: PIPELINE, keySpace: KEY_SPACE,
      valueBytes: [MIN_VALUE_BYTES, MAX_VALUE_BYTES], mix: { set: 0.4, get: 0.45, mget: 0.15, mgetKeys: MGET_KEYS },
      redisBenchmark: rbPath === null ? null : { args: RB_ARGS, chunk: RB_CHUNK, node: 'soak-3' }, peerSeconds: PEER_SECONDS,
    },
    formMs, pass, totals, rows, load, peer, redisVersion, redisMissing, loadAverage: loadSummary, machineCpuBusy: machineBusy, benchCpuSeconds: benchCpuS,
    benchLoopDelayMaxMs: benchLagMax, membersAtEnd, events, warnLogCounts: warns, samples,
  });
  console.log(`results: ${path}`);
  return pass ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`mesh-soak: ${(e as Error).stack ?? String(e)}`);
  for (const p of procs) {
    if (p.stderr) console.error(`${p.nodeId} stderr: ${p.stderr.slice(-2000)}`);
  }
} finally {
  killAll();
  await Promise.all(procs.map((p) => p.exited));
}
process.exit(code);
