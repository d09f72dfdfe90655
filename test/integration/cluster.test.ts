/**
 * `meshcache cluster --nodes 3` end to end: the command starts three `serve` processes on free
 * loopback ports with the `local` preset, they form one mesh (50 keys written through node 1 read
 * back through nodes 2 and 3; MESH NODES lists all three alive), and SIGINT to the cluster
 * process stops every node and exits 0. The cluster process and its nodes are always killed at
 * the end, whatever happens.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { RespClient } from '../helpers/resp-client.js';
import { sleep, waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODES = 3;
const KEYS = 50;
/** Startup of 3 node processes, each ~2 s of CPU; generous for a loaded 2-core machine. */
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;

/** Resolves with a port the kernel says is free on 127.0.0.1 (bound on port 0, then closed). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Whether `port` on 127.0.0.1 can be bound now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port whose `count` consecutive ports are all free and outside `avoid`. */
async function freeRange(count: number, avoid: number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    if (base + count - 1 > 65535) continue;
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if (ports.some((p) => avoid.includes(p))) continue;
    if ((await Promise.all(ports.map(canBind))).every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found in 50 attempts`);
}

/** Resolves true when a TCP connection to 127.0.0.1:`port` is refused, false if one opens. */
function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

/** Whether a process with this pid exists. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** MESH NODES as id → state. */
function parseNodes(text: unknown): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of String(text).split('\n')) {
    if (line.trim() === '') continue;
    const [id, , state] = line.split(' ');
    out.set(id, state);
  }
  return out;
}

const cluster = suite('meshcache cluster');

cluster('3 nodes share 50 keys set on node 1, and SIGINT stops them all with exit code 0', async () => {
  const port = await freeRange(NODES);
  const meshPort = await freeRange(NODES, Array.from({ length: NODES }, (_, i) => port + i));
  const respPorts = Array.from({ length: NODES }, (_, i) => port + i);
  const meshPorts = Array.from({ length: NODES }, (_, i) => meshPort + i);

  let proc: ChildProcess | null = null;
  let stdout = '';
  let stderr = '';
  const clients: RespClient[] = [];
  const nodePids: number[] = [];
  try {
    proc = spawn(process.execPath, [
      '--import', 'tsx', 'src/cli.ts', 'cluster', '--nodes', String(NODES), '--port', String(port),
      '--mesh-port', String(meshPort), '--mesh-preset', 'local', '--max-memory', '16mb',
    ], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCACHE_MESH_SECRET: '' },
      // Its own process group, which its node processes join: the finally below can kill them
      // all by the group id even when the test fails before their pids are printed.
      detached: true,
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      proc!.once('exit', (code, signal) => resolve({ code, signal }));
    });
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const running = () => proc!.exitCode === null && proc!.signalCode === null;

    await waitFor(() => stdout.includes(`cluster of ${NODES} up`) || !running(), { timeoutMs: START_TIMEOUT_MS, what: () => `'cluster of ${NODES} up' (stdout: ${stdout.slice(-2000)})` })
      .catch((err: Error) => { throw new Error(`${err.message}\nstderr: ${stderr.slice(-3000)}`); });
    assert.ok(running(), `the cluster process exited during startup:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);
    for (let i = 0; i < NODES; i++) {
      const m = new RegExp(`node-${i + 1}: RESP 127\\.0\\.0\\.1:${respPorts[i]}  mesh 127\\.0\\.0\\.1:${meshPorts[i]}  pid (\\d+)`).exec(stdout);
      assert.ok(m !== null, `node-${i + 1}'s line in ${stdout}`);
      nodePids.push(Number(m![1]));
    }

    for (const p of respPorts) clients.push(await RespClient.connect(p));
    const [n1, n2, n3] = clients;

    // Every node sees all three alive before keys are written (joins gossip through node 1).
    const ids = Array.from({ length: NODES }, (_, i) => `node-${i + 1}`);
    const deadline = Date.now() + 30_000;
    for (const c of clients) {
      for (;;) {
        const nodes = parseNodes(await c.call('MESH', 'NODES'));
        if (ids.every((id) => nodes.get(id) === 'alive')) break;
        if (Date.now() > deadline) assert.unreachable(`membership did not converge: ${[...nodes].join(' ')}`);
        await sleep(50);
      }
    }

    for (let i = 0; i < KEYS; i++) assert.is(await n1.call('SET', `key:${i}`, `value-${i}`), 'OK', `SET key:${i}`);
    for (const [name, c] of [['node-2', n2], ['node-3', n3]] as const) {
      for (let i = 0; i < KEYS; i++) assert.is(await c.call('GET', `key:${i}`), `value-${i}`, `GET key:${i} on ${name}`);
    }
    // The keys are spread: the three local sizes add up to 50 and more than one node holds some.
    const sizes = await Promise.all(clients.map(async (c) => Number(await c.call('DBSIZE'))));
    assert.is(sizes.reduce((a, b) => a + b, 0), KEYS, `sizes ${sizes}`);
    assert.ok(sizes.filter((s) => s > 0).length >= 2, `sizes ${sizes}`);

    const nodes3 = parseNodes(await n3.call('MESH', 'NODES'));
    assert.equal([...nodes3.keys()].sort(), ids);
    for (const id of ids) assert.is(nodes3.get(id), 'alive', `${id} on node-3`);

    for (const c of clients.splice(0)) c.destroy();
    proc.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      exited,
      new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), STOP_TIMEOUT_MS); }),
    ]);
    clearTimeout(timer);
    assert.ok(result !== null, `the cluster did not exit within ${STOP_TIMEOUT_MS} ms of SIGINT`);
    assert.equal(result, { code: 0, signal: null }, `exit (stderr: ${stderr.slice(-2000)})`);
    assert.match(stdout, /stopping the cluster/);
    for (const [i, pid] of nodePids.entries()) assert.is(pidAlive(pid), false, `node-${i + 1} (pid ${pid}) still runs`);
    for (const p of [...respPorts, ...meshPorts]) assert.is(await refuses(p), true, `port ${p} still accepts connections`);
  } finally {
    for (const c of clients) c.destroy();
    if (proc?.pid !== undefined) {
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
  }
});

cluster.run();
