/**
 * Helpers for benches that drive RESP servers: finding (or installing) redis-server and
 * redis-benchmark, picking free ports, a minimal RESP client (PING, INFO, pipelined SET/GET
 * checks), starting a server as a child process and reading its CPU time from /proc.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { delimiter } from 'node:path';
import { sleep } from '../../test/helpers/wait.js';

/** The first executable called `name` on $PATH or in the usual sbin/bin folders. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin', '/usr/sbin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = `${dir}/${name}`;
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface RedisTools {
  server: string;
  benchmark: string;
  cli?: string;
}

/**
 * Finds redis-server and redis-benchmark. When either is missing and we run as root on a
 * machine with apt-get, runs `apt-get install -y redis-server redis-tools` (and, if that fails,
 * `apt-get update` and the install again). Returns the paths, or a reason why it cannot.
 */
export function ensureRedisTools(log: (line: string) => void): RedisTools | { missing: string } {
  const look = (): Partial<RedisTools> => ({
    server: findExecutable('redis-server'),
    benchmark: findExecutable('redis-benchmark'),
    cli: findExecutable('redis-cli'),
  });
  let found = look();
  if (found.server && found.benchmark) return found as RedisTools;
  const lacking = [!found.server && 'redis-server', !found.benchmark && 'redis-benchmark'].filter(Boolean).join(' and ');
  const aptGet = findExecutable('apt-get');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!aptGet || !root) {
    return {
      missing: `${lacking} not found on PATH, and they cannot be installed here (${!aptGet ? 'no apt-get' : 'not running as root'}). ` +
        'Install redis-server and redis-tools (Debian/Ubuntu: `sudo apt-get install -y redis-server redis-tools`) and run again.',
    };
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync(aptGet, ['install', '-y', 'redis-server', 'redis-tools'], { stdio: 'inherit', env }).status === 0;
  log(`${lacking} missing: running apt-get install -y redis-server redis-tools`);
  if (!install()) {
    log('apt-get install failed; running apt-get update and trying once more');
    spawnSync(aptGet, ['update'], { stdio: 'inherit', env });
    install();
  }
  found = look();
  if (found.server && found.benchmark) return found as RedisTools;
  return { missing: `${lacking} still missing after apt-get install -y redis-server redis-tools (see apt-get's output above)` };
}

/** `redis-server --version` / `redis-benchmark --version`, first line. */
export function toolVersion(path: string): string {
  try {
    return execFileSync(path, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0];
  } catch (e) {
    return `unknown (${(e as Error).message})`;
  }
}

/** A TCP port that was free a moment ago (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export type Reply = string | number | Buffer | null | Error | Reply[];

/** Parses one RESP2/RESP3-subset reply at `at`; `undefined` if the buffer does not hold it all yet. */
function parseReply(buf: Buffer, at: number): { value: Reply; end: number } | undefined {
  const nl = buf.indexOf('\r\n', at);
  if (nl < 0) return undefined;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('latin1', at + 1, nl);
  const next = nl + 2;
  switch (type) {
    case '+': return { value: line, end: next };
    case '-': return { value: new Error(line), end: next };
    case ':': return { value: Number(line), end: next };
    case '_': return { value: null, end: next };
    case '$': case '=': case '!': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      const body = Buffer.from(buf.subarray(next, next + len));
      return { value: type === '!' ? new Error(body.toString()) : body, end: next + len + 2 };
    }
    case '*': case '~': case '>': case '%': {
      let n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (type === '%') n *= 2;
      const items: Reply[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, pos);
        if (!r) return undefined;
        items.push(r.value);
        pos = r.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)} (0x${buf[at].toString(16)}) in a reply`);
  }
}

function encode(args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** A minimal pipelining RESP client: replies come back in order; a timeout fails every waiter. */
export class RespClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void }> = [];
  private failed: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      let at = 0;
      try {
        for (;;) {
          if (at >= this.buf.length) break;
          const r = parseReply(this.buf, at);
          if (!r) break;
          at = r.end;
          const w = this.waiters.shift();
          if (!w) throw new Error('a reply arrived that no command asked for');
          w.resolve(r.value);
        }
      } catch (e) {
        this.fail(e as Error);
      }
      this.buf = at >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
    });
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  static connect(port: number, timeoutMs = 2000): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no TCP connection to 127.0.0.1:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new RespClient(socket));
      });
    });
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  /** Sends many commands at once; resolves with their replies, or rejects after `timeoutMs`. */
  pipeline(commands: Array<Array<string | Buffer>>, timeoutMs = 10_000): Promise<Reply[]> {
    if (this.failed) return Promise.reject(this.failed);
    const promises = commands.map(() => new Promise<Reply>((resolve, reject) => this.waiters.push({ resolve, reject })));
    this.socket.write(Buffer.concat(commands.map(encode)));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = new Error(`${commands.length} command(s) starting with ${String(commands[0]?.[0])} got no complete reply within ${timeoutMs} ms`);
        this.fail(e);
        reject(e);
      }, timeoutMs);
    });
    return Promise.race([Promise.all(promises), timeout]).finally(() => clearTimeout(timer));
  }

  async call(args: Array<string | Buffer>, timeoutMs = 10_000): Promise<Reply> {
    return (await this.pipeline([args], timeoutMs))[0];
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Parses `INFO` text into a field map. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** One `INFO <section>` as a map (throws on an error reply). */
export async function info(port: number, section = 'everything'): Promise<Record<string, string>> {
  const c = await RespClient.connect(port);
  try {
    const r = await c.call(['INFO', section], 5000);
    if (r instanceof Error) throw r;
    return parseInfo(Buffer.isBuffer(r) ? r.toString() : String(r));
  } finally {
    c.close();
  }
}

/** Waits until `port` answers PING with PONG, or fails after `timeoutMs` (or when `alive()` turns false). */
export async function waitForPong(port: number, timeoutMs: number, alive: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const dead = alive();
    if (dead) throw new Error(dead);
    try {
      const c = await RespClient.connect(port, 500);
      try {
        const r = await c.call(['PING'], 1000);
        if (r === 'PONG') return;
        last = `PING answered ${JSON.stringify(r instanceof Error ? r.message : r)}`;
      } finally {
        c.close();
      }
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`port ${port} did not answer PING with PONG within ${timeoutMs} ms (last: ${last})`);
}

/** A server process started by a bench, with its output kept for the report. */
export interface ServerProcess {
  name: string;
  port: number;
  child: ChildProcess;
  /** Lines the process printed (stdout and stderr), most recent last, capped. */
  lines: string[];
  /** Set when the process exited: how. */
  exited?: string;
  stop(): Promise<void>;
}

export function startProcess(name: string, command: string, args: string[], port: number, cwd?: string): ServerProcess {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: ServerProcess = {
    name,
    port,
    child,
    lines: [],
    stop: async () => {
      if (proc.exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    },
  };
  let pending = '';
  const take = (chunk: Buffer) => {
    pending += chunk.toString();
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) {
      proc.lines.push(line);
      if (proc.lines.length > 2000) proc.lines.splice(0, proc.lines.length - 2000);
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  child.on('error', (e) => {
    proc.exited ??= `could not start: ${e.message}`;
  });
  child.on('exit', (code, signal) => {
    if (pending) proc.lines.push(pending);
    proc.exited ??= signal ? `killed by ${signal}` : `exited with code ${code}`;
  });
  return proc;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, all threads) a process has used so far; NaN when /proc is not there. */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** How many threads a process has (from /proc/<pid>/status). */
export function processThreads(pid: number | undefined): number {
  if (pid === undefined || !existsSync(`/proc/${pid}/status`)) return NaN;
  const m = /^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}
