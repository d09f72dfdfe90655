/**
 * Runs `meshcache serve`'s argument parser in-process with process.exit and process.stderr.write
 * stubbed, so that a refused flag's exit code and message can be checked without a child process.
 * (test/cli.mesh.test.ts has its own copy from before this helper; new CLI tests use this one.)
 */
import * as assert from 'uvu/assert';
import { parseServeArgs, type ServeConfig } from '../../src/cli.js';

/** What a refused parse did: the exit code asked for and what went to stderr. */
export interface Refusal { code: number | null; stderr: string; cfg: ServeConfig | null }

class ExitCalled extends Error {
  constructor(readonly code: number | undefined) {
    super(`process.exit(${code})`);
  }
}

/** Parses `argv` as `meshcache serve` would; a refusal comes back as its exit code and stderr. */
export function parseOrRefusal(argv: string[]): Refusal {
  const exit = process.exit;
  const write = process.stderr.write;
  let stderr = '';
  process.exit = ((code?: number) => { throw new ExitCalled(code); }) as typeof process.exit;
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    return { code: null, stderr: '', cfg: parseServeArgs(argv) };
  } catch (err) {
    if (err instanceof ExitCalled) return { code: err.code ?? null, stderr, cfg: null };
    throw err;
  } finally {
    process.exit = exit;
    process.stderr.write = write;
  }
}

/** Asserts that `argv` is refused with exit code 2 and exactly `message` plus the help hint. */
export function assertRefused(argv: string[], message: string): void {
  const r = parseOrRefusal(argv);
  assert.is(r.code, 2, `exit code for ${argv.join(' ')} (accepted: ${JSON.stringify(r.cfg)})`);
  assert.is(r.stderr, `meshcache: ${message}\nRun 'meshcache serve --help' for the options.\n`);
}
