/**
 * A `meshcache serve` child process, in a mesh (the default) or alone (`meshPort: null`), for
 * multi-process tests and benchmarks: RESP on port 0, mesh on port 0 (both read back from the
 * 'meshcache listening' log line), the log collected as JSON lines, its RSS readable.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RespClient, type Reply } from './resp-client.js';
import { sleep, waitFor } from './wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface MeshProcOptions {
  nodeId: string;
  join?: string[];
  secret?: string;
  preset?: 'lan' | 'local';
  partitioner?: 'hash' | 'range';
  maxMemory?: string;
  /** Mesh port (0 = any); null: no mesh, a lone sidecar. @default 0 */
  meshPort?: number | null;
  extra?: string[];
}

export class MeshProc {
  readonly child: ChildProcess;
  readonly nodeId: string;
  readonly logs: LogLine[] = [];
  stdout = '';
  stderr = '';
  port = 0;
  meshAddress = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #client: RespClient | null = null;

  constructor(o: MeshProcOptions) {
    this.nodeId = o.nodeId;
    const args = ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0', '--max-memory', o.maxMemory ?? '64mb', '--log-level', 'info'];
    if (o.meshPort !== null) {
      args.push('--mesh-port', String(o.meshPort ?? 0), '--node-id', o.nodeId, '--mesh-preset', o.preset ?? 'lan', '--partitioner', o.partitioner ?? 'hash');
    }
    if (o.join !== undefined && o.join.length > 0) args.push('--join', o.join.join(','));
    if (o.secret !== undefined) args.push('--mesh-secret', o.secret);
    args.push(...(o.extra ?? []));
    this.child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCACHE_MESH_SECRET: '' } });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const start = this.stdout.lastIndexOf('\n') + 1;
      this.stdout += d;
      const complete = this.stdout.slice(start, this.stdout.lastIndexOf('\n') + 1);
      for (const line of complete.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch (err) {
          this.stderr += `unparsable log line (${(err as Error).message}): ${line}\n`;
        }
      }
      if (this.stdout.length > 4_000_000) this.stdout = this.stdout.slice(-1_000_000);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Waits until the node listens; fills `port` and `meshAddress`. */
  async ready(timeoutMs = 30_000): Promise<this> {
    const line = await this.log('meshcache listening', timeoutMs);
    this.port = line.port as number;
    this.meshAddress = (line.mesh as { address: string } | undefined)?.address ?? '';
    return this;
  }

  /** The first log line with message `msg` (waits for it). */
  async log(msg: string, timeoutMs = 20_000): Promise<LogLine> {
    await waitFor(() => this.logs.some((l) => l.msg === msg) || this.child.exitCode !== null, { timeoutMs, what: `${this.nodeId}: log line '${msg}'` });
    const line = this.logs.find((l) => l.msg === msg);
    if (line === undefined) throw new Error(`${this.nodeId} exited (${this.child.exitCode}) without logging '${msg}': ${this.stdout.slice(-3000)}${this.stderr.slice(-3000)}`);
    return line;
  }

  /** A RESP client to this node (one per process, reconnected if it closed). */
  async client(): Promise<RespClient> {
    if (this.#client === null) this.#client = await RespClient.connect(this.port);
    return this.#client;
  }

  async call(...args: Array<string | Buffer>): Promise<Reply> {
    return (await this.client()).call(...args);
  }

  /** MESH NODES parsed: id → state. */
  async members(): Promise<Map<string, { state: string; address: string; incarnation: string; keys: string }>> {
    const text = await this.call('MESH', 'NODES');
    const out = new Map<string, { state: string; address: string; incarnation: string; keys: string }>();
    for (const line of String(text).split('\n')) {
      if (line.trim() === '') continue;
      const [id, address, state, incarnation, keys] = line.split(' ');
      out.set(id, { state, address, incarnation, keys: keys.slice('keys='.length) });
    }
    return out;
  }

  /** The process's resident set size in bytes (Linux /proc); 0 once it has exited. */
  rssBytes(): number {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
      return m === null ? 0 : Number(m[1]) * 1024;
    } catch {
      return 0; // the process is gone
    }
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.#client?.destroy();
    this.#client = null;
    if (this.alive) this.child.kill(signal);
  }
}

/** Waits until every proc in `observers` sees `nodeId` in `state` (and returns how long it took). */
export async function waitForState(observers: MeshProc[], nodeId: string, state: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  const done = new Set<MeshProc>();
  while (done.size < observers.length) {
    if (Date.now() - started > timeoutMs) {
      const views = await Promise.all(observers.map(async (o) => `${o.nodeId}: ${(await o.members()).get(nodeId)?.state ?? 'absent'}`));
      throw new Error(`${nodeId} not ${state} everywhere within ${timeoutMs} ms (${views.join(', ')})`);
    }
    for (const o of observers) {
      if (done.has(o)) continue;
      if ((await o.members()).get(nodeId)?.state === state) done.add(o);
    }
    if (done.size < observers.length) await sleep(25);
  }
  return Date.now() - started;
}
