/**
 * Running `meshcache serve`'s argument parser and the real CLI from tests: a refusal checked
 * in-process (process.exit stubbed to throw) and a child process with its exit code and output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseServeArgs } from '../../src/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A child that neither exits nor is expected to serve is killed after this (startup takes ~2 s when idle). */
export const CLI_CHILD_TIMEOUT_MS = 60_000;

/** What a refused parse did: the exit code asked for and what went to stderr. */
export interface Refusal { code: number | null; stderr: string }

class ExitCalled extends Error {
  constructor(readonly code: number | undefined) {
    super(`process.exit(${code})`);
  }
}

/**
 * Runs parseServeArgs in-process with process.exit and process.stderr.write stubbed: the exit
 * becomes an exception, so the refusal's code and message can be checked without a child. An
 * accepted argv gives code null and the parsed config in `stderr`.
 */
export function refuseServeArgs(argv: string[]): Refusal {
  const exit = process.exit;
  const write = process.stderr.write;
  let stderr = '';
  process.exit = ((code?: number) => { throw new ExitCalled(code); }) as typeof process.exit;
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    const cfg = parseServeArgs(argv);
    return { code: null, stderr: `accepted: ${JSON.stringify(cfg)}` };
  } catch (err) {
    if (err instanceof ExitCalled) return { code: err.code ?? null, stderr };
    throw err;
  } finally {
    process.exit = exit;
    process.stderr.write = write;
  }
}

/** How a CLI child ended. */
export interface CliExit { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean }

/** Runs `meshcache <args>` to its end (killed after CLI_CHILD_TIMEOUT_MS); MESHCACHE_MESH_SECRET unset. */
export function runCli(args: string[]): Promise<CliExit> {
  return new Promise((resolve) => {
    const child = spawnCli(args);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, CLI_CHILD_TIMEOUT_MS);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Starts `meshcache <args>` from the repository root with piped stdout and stderr. */
export function spawnCli(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCACHE_MESH_SECRET: '' },
  });
}
