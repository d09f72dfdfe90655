/**
 * `meshcache cluster --nodes 3`: a local mesh on loopback to try things with. Starts N sidecar
 * processes (`meshcache serve`), node i on RESP port `port + i` and mesh port `meshPort + i`,
 * every node after the first joining through the first. Prints where each one listens, relays
 * their warnings prefixed with the node id, and on SIGINT / SIGTERM asks every node to stop and
 * waits for them. A node that dies is reported; the others keep running (and detect it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseBytes } from './config.js';
import { MESH_DEFAULTS } from './mesh/options.js';

export interface ClusterConfig {
  nodes: number;
  port: number;
  meshPort: number;
  maxMemory: string;
  meshPreset: string;
  partitioner: string;
  logLevel: string;
}

export const CLUSTER_USAGE = `Usage: meshcache cluster [options]

Starts a local mesh of sidecars on 127.0.0.1 (one process each) to try meshcache out.

Options:
  --nodes <n>              how many nodes, 1-32 (default: 3)
  --port <port>            RESP port of the first node; node i uses port + i (default: 6380)
  --mesh-port <port>       mesh port of the first node; node i uses mesh-port + i (default: ${MESH_DEFAULTS.port})
  --max-memory <size>      cache budget of each node (default: 64mb)
  --mesh-preset <name>     lan or local (default: ${MESH_DEFAULTS.preset})
  --partitioner <name>     hash or range (default: ${MESH_DEFAULTS.partitioner})
  --log-level <level>      the nodes' log level (default: warn)

Try: redis-cli -p 6380 set k v; redis-cli -p 6381 get k; redis-cli -p 6382 mesh nodes
`;

/** Parses `cluster`'s arguments; calls `fail` with a message on a mistake. */
export function parseClusterArgs(argv: string[], fail: (message: string) => never): ClusterConfig {
  const cfg: ClusterConfig = { nodes: 3, port: 6380, meshPort: MESH_DEFAULTS.port, maxMemory: '64mb', meshPreset: MESH_DEFAULTS.preset, partitioner: MESH_DEFAULTS.partitioner, logLevel: 'warn' };
  const keys: Record<string, keyof ClusterConfig> = {
    '--nodes': 'nodes', '--port': 'port', '--mesh-port': 'meshPort', '--max-memory': 'maxMemory',
    '--mesh-preset': 'meshPreset', '--partitioner': 'partitioner', '--log-level': 'logLevel',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    const key = keys[name];
    if (key === undefined) fail(`unknown option '${a}'`);
    const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
    if (value === undefined) fail(`${name} needs a value`);
    if (key === 'nodes' || key === 'port' || key === 'meshPort') {
      const n = Number(value);
      const [min, max] = key === 'nodes' ? [1, 32] : [1, 65535];
      if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be an integer from ${min} to ${max} (got ${value})`);
      (cfg as unknown as Record<string, unknown>)[key] = n;
    } else {
      (cfg as unknown as Record<string, unknown>)[key] = value;
    }
  }
  if (cfg.port + cfg.nodes - 1 > 65535 || cfg.meshPort + cfg.nodes - 1 > 65535) fail('the ports of the last node would pass 65535');
  if (!['lan', 'local'].includes(cfg.meshPreset)) fail(`--mesh-preset must be lan or local (got ${cfg.meshPreset})`);
  if (!['hash', 'range'].includes(cfg.partitioner)) fail(`--partitioner must be hash or range (got ${cfg.partitioner})`);
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(cfg.logLevel)) fail(`--log-level must be one of fatal, error, warn, info, debug, trace, silent (got ${cfg.logLevel})`);
  if (parseBytes(cfg.maxMemory) === undefined) fail(`--max-memory must be a size like '64mb' (got ${cfg.maxMemory})`);
  const overlap = cfg.port < cfg.meshPort + cfg.nodes && cfg.meshPort < cfg.port + cfg.nodes;
  if (overlap) fail('the RESP and mesh port ranges overlap');
  return cfg;
}

/** Starts the cluster and resolves once every node listens (or rejects if one exits first). */
export async function startCluster(cfg: ClusterConfig, out: NodeJS.WritableStream = process.stdout): Promise<{ children: ChildProcess[]; stop(): Promise<void> }> {
  // Under tsx (tests, `node --import tsx src/cli.ts cluster`) the sibling is cli.ts, else cli.js.
  const cli = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './cli.ts' : './cli.js', import.meta.url));
  const children: ChildProcess[] = [];
  const ready: Array<Promise<void>> = [];
  for (let i = 0; i < cfg.nodes; i++) {
    const id = `node-${i + 1}`;
    const args = [
      cli, 'serve', '--port', String(cfg.port + i), '--mesh-port', String(cfg.meshPort + i), '--node-id', id,
      '--max-memory', cfg.maxMemory, '--mesh-preset', cfg.meshPreset, '--partitioner', cfg.partitioner,
      '--log-level', cfg.logLevel === 'warn' ? 'info' : cfg.logLevel,
    ];
    if (i > 0) args.push('--join', `127.0.0.1:${cfg.meshPort}`);
    const child = spawn(process.execPath, [...process.execArgv, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    ready.push(new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        let rec: { msg?: string; level?: number } | null = null;
        try {
          rec = JSON.parse(line) as { msg?: string; level?: number };
        } catch {
          out.write(`[${id}] ${line}\n`);
          return;
        }
        if (rec.msg === 'meshcache listening') resolve();
        // pino levels: 30 info, 40 warn. The nodes log at info so that readiness can be seen.
        if ((rec.level ?? 0) >= (cfg.logLevel === 'warn' ? 40 : 0)) out.write(`[${id}] ${line}\n`);
      });
      child.once('exit', (code, signal) => {
        out.write(`[${id}] exited (${signal ?? `code ${code}`})\n`);
        reject(new Error(`${id} exited before it listened (${signal ?? `code ${code}`})`));
      });
    }));
    // Let the first node listen before the others join it.
    if (i === 0) {
      try {
        await ready[0];
      } catch (err) {
        await Promise.allSettled(ready);
        throw err;
      }
    }
  }
  const stop = async () => {
    await Promise.all(children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    })));
  };
  try {
    await Promise.all(ready);
  } catch (err) {
    await stop();
    throw err;
  }
  for (let i = 0; i < cfg.nodes; i++) {
    out.write(`node-${i + 1}: RESP 127.0.0.1:${cfg.port + i}  mesh 127.0.0.1:${cfg.meshPort + i}  pid ${children[i].pid}\n`);
  }
  out.write(`cluster of ${cfg.nodes} up; Ctrl-C stops it\n`);
  return { children, stop };
}
