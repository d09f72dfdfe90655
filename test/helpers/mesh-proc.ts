/**
 * A `meshcache serve` child process, in a mesh (the default) or alone (`meshPort: null`), for
 * multi-process tests and benchmarks: RESP on port 0, mesh on port 0 (both read back from the
 * 'meshcache listening' log line), the log collected as JSON lines, its RSS readable.
 */
import { readFileSync } from 'node:fs';
import { RespClient, type Reply } from './resp-client.js';
import { Cli } from './serve-proc.js';

export type { LogLine } from './serve-proc.js';
import { sleep, waitFor } from './wait.js';

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
  /** Added to this process's environment for the child. */
  env?: NodeJS.ProcessEnv;
}

export class MeshProc extends Cli {
  readonly nodeId: string;
  port = 0;
  meshAddress = '';
  #client: RespClient | null = null;

  constructor(o: MeshProcOptions) {
    const args = ['serve', '--port', '0', '--max-memory', o.maxMemory ?? '64mb', '--log-level', 'info'];
    if (o.meshPort !== null) {
      args.push('--mesh-port', String(o.meshPort ?? 0), '--node-id', o.nodeId, '--mesh-preset', o.preset ?? 'lan', '--partitioner', o.partitioner ?? 'hash');
    }
    if (o.join !== undefined && o.join.length > 0) args.push('--join', o.join.join(','));
    if (o.secret !== undefined) args.push('--mesh-secret', o.secret);
    args.push(...(o.extra ?? []));
    super(args, { MESHCACHE_MESH_SECRET: '', ...o.env });
    this.nodeId = o.nodeId;
  }

  /** Waits until the node listens; fills `port` and `meshAddress`. */
  async ready(timeoutMs = 30_000): Promise<this> {
    const line = await this.log('meshcache listening', timeoutMs);
    this.port = line.port as number;
    this.meshAddress = (line.mesh as { address: string } | undefined)?.address ?? '';
    return this;
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

  override kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.#client?.destroy();
    this.#client = null;
    super.kill(signal);
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
