/**
 * `meshcache serve`'s argument parser run in-process on arguments it must refuse: process.exit and
 * process.stderr.write are stubbed so that the refusal's exit code and message can be checked
 * without a child process.
 */
import * as assert from 'uvu/assert';
import { parseServeArgs } from '../../src/cli.js';

/** What a refused parse did: the exit code asked for and what went to stderr. */
export interface Refusal { code: number | null; stderr: string }

class ExitCalled extends Error {
  constructor(readonly code: number | undefined) {
    super(`process.exit(${code})`);
  }
}

/**
 * Runs parseServeArgs in-process with process.exit and process.stderr.write stubbed: the exit
 * becomes an exception, so the refusal's code and message can be checked without a child.
 * `secretEnv` is MESHCACHE_MESH_SECRET for the call (undefined = unset).
 */
export function refuse(argv: string[], secretEnv?: string): Refusal {
  const exit = process.exit;
  const write = process.stderr.write;
  let stderr = '';
  process.exit = ((code?: number) => { throw new ExitCalled(code); }) as typeof process.exit;
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true; }) as typeof process.stderr.write;
  if (secretEnv !== undefined) process.env.MESHCACHE_MESH_SECRET = secretEnv;
  try {
    const cfg = parseServeArgs(argv);
    return { code: null, stderr: `accepted: ${JSON.stringify(cfg)}` };
  } catch (err) {
    if (err instanceof ExitCalled) return { code: err.code ?? null, stderr };
    throw err;
  } finally {
    process.exit = exit;
    process.stderr.write = write;
    delete process.env.MESHCACHE_MESH_SECRET;
  }
}

/** Asserts that `argv` is refused with exit code 2, `message` and the help hint. */
export function assertRefused(argv: string[], message: string, secretEnv?: string): void {
  const r = refuse(argv, secretEnv);
  assert.is(r.code, 2, `exit code for ${argv.join(' ')} (${r.stderr})`);
  assert.is(r.stderr, `meshcache: ${message}\nRun 'meshcache serve --help' for the options.\n`);
}
