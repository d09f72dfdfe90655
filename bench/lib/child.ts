/**
 * Runs one bench case in a child process and collects its result.
 *
 * A bench spawns its own file again with `--child <json>`; the child does one measurement in a
 * fresh heap (no garbage or JIT feedback left by another cache) and prints one result line
 * prefixed with RESULT_MARK. Everything else the child prints passes through unchanged.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const RESULT_MARK = '@@bench-result ';

/** The child's task, or `undefined` in the parent. */
export function childTask<T>(): T | undefined {
  const at = process.argv.indexOf('--child');
  return at < 0 ? undefined : (JSON.parse(process.argv[at + 1]) as T);
}

/** Called by the child: hands its result to the parent. */
export function sendResult(result: unknown): void {
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`);
}

/**
 * Runs `script` (a bench file) in a new `node` with the parent's node flags plus `nodeFlags`,
 * passing `task` (and `scriptArgs`); resolves with the child's result, rejects if it exits
 * without one.
 */
export function runChild<R>(script: string, task: unknown, nodeFlags: string[] = [], scriptArgs: string[] = []): Promise<R> {
  const args = [...process.execArgv, ...nodeFlags, script, '--child', JSON.stringify(task), ...scriptArgs];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let result: R | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith(RESULT_MARK)) result = JSON.parse(line.slice(RESULT_MARK.length)) as R;
    else process.stdout.write(`${line}\n`);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (result !== undefined && code === 0) resolve(result);
      else reject(new Error(`child ${JSON.stringify(task)} exited with ${signal ?? `code ${code}`} and no result`));
    });
  });
}

/** A child kept alive to answer requests one at a time over the IPC channel. */
export interface ChildServer {
  request<R>(message: unknown): Promise<R>;
  close(): Promise<void>;
}

/**
 * Starts `script --child <task>` with an IPC channel; the child answers each message it gets
 * with one `process.send(reply)` (see `serveRequests`). Lets a bench interleave the caches' cases,
 * so that a change in machine load hits all of them alike.
 */
export function startChild(script: string, task: unknown, nodeFlags: string[] = [], scriptArgs: string[] = []): ChildServer {
  const args = [...process.execArgv, ...nodeFlags, script, '--child', JSON.stringify(task), ...scriptArgs];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let pending: { resolve: (r: never) => void; reject: (e: Error) => void } | undefined;
  child.on('message', (reply: { error?: string }) => {
    const p = pending;
    pending = undefined;
    if (reply && typeof reply.error === 'string') p?.reject(new Error(reply.error));
    else p?.resolve(reply as never);
  });
  const exited = new Promise<void>((resolve) => child.on('exit', (code, signal) => {
    pending?.reject(new Error(`child ${JSON.stringify(task)} exited with ${signal ?? `code ${code}`}`));
    resolve();
  }));
  return {
    request: <R>(message: unknown) =>
      new Promise<R>((resolve, reject) => {
        pending = { resolve: resolve as (r: never) => void, reject };
        child.send(message as object);
      }),
    close: async () => {
      child.disconnect();
      await exited;
    },
  };
}

/** Called by the child of `startChild`: answers each message with `handle(message)`. */
export function serveRequests(handle: (message: never) => Promise<unknown> | unknown): void {
  process.on('message', async (message) => {
    try {
      process.send!(await handle(message as never));
    } catch (e) {
      process.send!({ error: (e as Error).stack ?? String(e) });
    }
  });
}
