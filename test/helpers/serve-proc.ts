/**
 * A `meshcache serve` child process for tests: `node --import tsx src/cli.ts <args>`, its JSON log
 * lines (pino) collected, its exit awaited; `withServe` runs a test against one started on port 0
 * and always kills it.
 */
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One JSON log line of the child (pino). */
export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** `node --import tsx src/cli.ts <args>`, with its output collected and its exit awaited. */
export class Cli {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly logs: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** `env` is added to this process's environment for the child. */
  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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
      // A long run logs a lot: keep the tail (the parsed lines are kept whole in `logs`).
      if (this.stdout.length > 4_000_000) this.stdout = this.stdout.slice(-1_000_000);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Waits for the first log line with message `msg`. */
  async log(msg: string, timeoutMs = 20_000): Promise<LogLine> {
    await waitFor(() => this.logs.some((l) => l.msg === msg) || this.child.exitCode !== null, { timeoutMs, what: `log line '${msg}'` });
    const line = this.logs.find((l) => l.msg === msg);
    if (line === undefined) throw new Error(`exited (${this.child.exitCode}) without logging '${msg}': ${this.stdout}${this.stderr}`);
    return line;
  }

  /** The exit status, within `timeoutMs` (then SIGKILL and fail). */
  async exit(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited, new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); })]);
    clearTimeout(timer);
    if (r === null) {
      this.kill();
      throw new Error(`did not exit within ${timeoutMs} ms; stdout: ${this.stdout.slice(-2000)} stderr: ${this.stderr.slice(-2000)}`);
    }
    return r.code;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.child.kill(signal);
  }
}

/** Runs `fn` with a started `meshcache serve` and its RESP port; the child is always killed. */
export async function withServe(args: string[], fn: (cli: Cli, port: number) => Promise<void>): Promise<void> {
  const cli = new Cli(['serve', '--port', '0', '--log-level', 'info', ...args]);
  try {
    const listening = await cli.log('meshcache listening');
    assert.type(listening.port, 'number');
    await fn(cli, listening.port as number);
  } finally {
    cli.kill();
    await cli.exited;
  }
}
