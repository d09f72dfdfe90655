/**
 * Running `meshcache serve`'s argument parser and the real CLI from tests: a parse checked
 * in-process (process.exit and stderr stubbed, so a refused flag's exit code and message can be
 * checked without a child process), and a child process with its exit code and output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { parseServeArgs, type ServeConfig } from '../../src/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A child that neither exits nor is expected to serve is killed after this (startup takes ~2 s when idle). */
export const CLI_CHILD_TIMEOUT_MS = 60_000;

/** What a parse did: the exit code asked for (null: accepted), what went to stderr, the config when accepted. */
export interface Refusal { code: number | null; stderr: string; cfg: ServeConfig | null }

class ExitCalled extends Error {
  constructor(readonly code: number | undefined) {
    super(`process.exit(${code})`);
  }
}

/**
 * Parses `argv` as `meshcache serve` would; a refusal comes back as its exit code and stderr.
 * `secretEnv` is MESHCACHE_MESH_SECRET for the call (undefined = unset).
 */
export function parseOrRefusal(argv: string[], secretEnv?: string): Refusal {
  const exit = process.exit;
  const write = process.stderr.write;
  let stderr = '';
  process.exit = ((code?: number) => { throw new ExitCalled(code); }) as typeof process.exit;
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true; }) as typeof process.stderr.write;
  if (secretEnv !== undefined) process.env.MESHCACHE_MESH_SECRET = secretEnv;
  try {
    return { code: null, stderr, cfg: parseServeArgs(argv) };
  } catch (err) {
    if (err instanceof ExitCalled) return { code: err.code ?? null, stderr, cfg: null };
    throw err;
  } finally {
    process.exit = exit;
    process.stderr.write = write;
    delete process.env.MESHCACHE_MESH_SECRET;
  }
}

/** Asserts that `argv` is refused with exit code 2 and exactly `message` plus the help hint. */
export function assertRefused(argv: string[], message: string, secretEnv?: string): void {
  const r = parseOrRefusal(argv, secretEnv);
  assert.is(r.code, 2, `exit code for ${argv.join(' ')} (accepted: ${JSON.stringify(r.cfg)})`);
  assert.is(r.stderr, `meshcache: ${message}\nRun 'meshcache serve --help' for the options.\n`);
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
