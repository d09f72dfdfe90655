/**
 * Glob matching (KEYS, SCAN MATCH, cache.scan): compileGlob vs the RegExp matcher it replaced.
 *
 * Keys: 10,000 Buffers of 10-30 bytes (`user:<n>`, `user:<n>:profile`, `order:<n>:items`,
 * `session-<hex>`), deterministic. Each case compiles the pattern once and filters all of them:
 *  - compileGlob: the matcher on the key bytes, as the call sites now run it;
 *  - RegExp, as called: the old `globToRegExp` (copied below from commit 5eb584b) with
 *    `re.test(key.toString('latin1'))`, which is what KEYS and SCAN did per key;
 *  - RegExp alone: the same RegExp on strings decoded beforehand, its best case (no decode).
 * Figures are keys/s (best of 2 benchmark.js runs); × columns divide compileGlob's by the peer's.
 * A pattern the old matcher cannot compile (`session-*` throws a SyntaxError) shows `-`.
 * Then one call each of the nested-star pattern a*a*…a*b against 40 a's, for a few star counts:
 * the RegExp's time grows exponentially with the stars, compileGlob's stays in microseconds.
 * Run: `npm run bench -- glob` (about 30 s).
 */
import Benchmark from 'benchmark';
import { compileGlob } from '../src/util/glob.js';
import { prng } from '../test/helpers/prng.js';
import { fixed, formatRate, formatRatio, machine, table, writeResults } from './lib/report.js';

const BENCH_OPTIONS = { maxTime: 0.4, minSamples: 5, initCount: 1 };
/** Each case is timed this many times and the fastest run kept: the others lost the CPU to a neighbour. */
const RUNS = 2;
const KEY_COUNT = 10_000;
/** Star counts for the RegExp in the nested-star table: each star multiplies its time (10 took 23 s here). */
const REGEXP_STARS = [4, 6, 8];
const GLOB_STARS = [4, 6, 8, 10, 16, 100];

/** The RegExp matcher that compileGlob replaced, as it was in src/util/glob.ts at 5eb584b (the peer). */
function globToRegExp(pattern: string): RegExp {
  const escapeChar = (c: string) => (/[\\^$.*+?()[\]{}|/-]/.test(c) ? '\\' + c : c);
  const escapeClass = (c: string) => (/[\\\]^-]/.test(c) ? '\\' + c : c);
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      re += '[\\s\\S]*';
    } else if (c === '?') {
      re += '[\\s\\S]';
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += escapeChar(pattern[++i]);
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      let cls = '';
      for (let j = 0; j < body.length; j++) {
        const d = body[j];
        if (d === '\\' && j + 1 < body.length) cls += escapeClass(body[++j]);
        else if (d === '-' && j > 0 && j + 1 < body.length) cls += '-';
        else cls += escapeClass(d);
      }
      re += `[${negate ? '^' : ''}${cls}]`;
      i = end;
    } else {
      re += escapeChar(c);
    }
  }
  return new RegExp(re + '$', 'u');
}

function makeKeys(): Buffer[] {
  const rand = prng(11);
  const int = (n: number) => Math.floor(rand() * n);
  const keys: Buffer[] = [];
  for (let i = 0; i < KEY_COUNT; i++) {
    const n = int(1_000_000);
    const shape = int(4);
    const text = shape === 0 ? `user:${n}` : shape === 1 ? `user:${n}:profile` : shape === 2 ? `order:${n}:items` : `session-${n.toString(16)}${int(1 << 30).toString(16)}`;
    keys.push(Buffer.from(text, 'latin1'));
  }
  return keys;
}

/** Calls per second of `fn`: the best of RUNS benchmark.js runs. */
function measure(label: string, fn: () => unknown): number {
  let best = 0;
  for (let run = 0; run < RUNS; run++) {
    const bench = new Benchmark(label, fn, BENCH_OPTIONS);
    bench.run();
    if (bench.error) throw bench.error;
    best = Math.max(best, bench.hz);
  }
  return best;
}

const PATTERNS: Array<{ pattern: string; shape: string }> = [
  { pattern: '*', shape: 'match-all (KEYS * skips matching; cache.scan does not)' },
  { pattern: 'user:*', shape: 'literal prefix' },
  { pattern: '*:items', shape: 'literal suffix' },
  { pattern: 'user:*:profile', shape: 'prefix and suffix' },
  { pattern: '*12*', shape: 'substring' },
  { pattern: 'user:?2*', shape: '? and a star' },
  { pattern: 'order:[0-4]*', shape: 'range class' },
  { pattern: 'session-*', shape: '- outside a class' },
];

interface Row { pattern: string; shape: string; matches: number; globKeysPerS: number; regexpCalledKeysPerS?: number; regexpAloneKeysPerS?: number }

const keys = makeKeys();
const texts = keys.map((k) => k.toString('latin1'));
const m = machine();
console.log(`glob bench: Node ${m.node}, ${m.cpu} × ${m.cores}; ${KEY_COUNT} keys per call; each case: best of ${RUNS} benchmark.js runs of ${BENCH_OPTIONS.maxTime} s\n`);

const rows: Row[] = [];
for (const { pattern, shape } of PATTERNS) {
  const match = compileGlob(pattern);
  let matches = 0;
  for (const k of keys) if (match(k)) matches++;
  let re: RegExp | null = null;
  try {
    re = globToRegExp(pattern);
  } catch (e) {
    console.log(`  ${pattern}: the RegExp peer cannot compile it (${(e as Error).message})`);
  }
  if (re !== null) {
    let peerMatches = 0;
    for (const t of texts) if (re.test(t)) peerMatches++;
    if (peerMatches !== matches) throw new Error(`${pattern}: compileGlob matched ${matches} keys, the RegExp ${peerMatches}`);
  }
  const sink = { n: 0 };
  const globKeysPerS = measure(`glob ${pattern}`, () => {
    for (const k of keys) if (match(k)) sink.n++;
  }) * KEY_COUNT;
  const regexp = re;
  const regexpCalledKeysPerS = regexp === null ? undefined : measure(`regexp called ${pattern}`, () => {
    for (const k of keys) if (regexp.test(k.toString('latin1'))) sink.n++;
  }) * KEY_COUNT;
  const regexpAloneKeysPerS = regexp === null ? undefined : measure(`regexp alone ${pattern}`, () => {
    for (const t of texts) if (regexp.test(t)) sink.n++;
  }) * KEY_COUNT;
  rows.push({ pattern, shape, matches, globKeysPerS, regexpCalledKeysPerS, regexpAloneKeysPerS });
  console.log(`  ${pattern.padEnd(16)} ${formatRate(globKeysPerS).padStart(8)} keys/s  (RegExp as called ${regexpCalledKeysPerS === undefined ? '-' : formatRate(regexpCalledKeysPerS)}, alone ${regexpAloneKeysPerS === undefined ? '-' : formatRate(regexpAloneKeysPerS)})`);
}

console.log(`\n${table(
  ['pattern', 'shape', 'matches', 'compileGlob keys/s', 'RegExp as called', '× as called', 'RegExp alone', '× alone'],
  rows.map((r) => [
    r.pattern, r.shape, String(r.matches),
    formatRate(r.globKeysPerS),
    r.regexpCalledKeysPerS === undefined ? '-' : formatRate(r.regexpCalledKeysPerS), formatRatio(r.globKeysPerS, r.regexpCalledKeysPerS),
    r.regexpAloneKeysPerS === undefined ? '-' : formatRate(r.regexpAloneKeysPerS), formatRatio(r.globKeysPerS, r.regexpAloneKeysPerS),
  ]),
)}`);

// ─── Nested stars: one call each ──────────────────────────────────────────────────────────────

/** Milliseconds of one call of `fn`. */
function once(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const aKey = Buffer.alloc(40, 'a');
const aText = aKey.toString('latin1');
const nested: Array<{ stars: number; globMs: number; regexpMs?: number }> = [];
for (const stars of GLOB_STARS) {
  const pattern = 'a*'.repeat(stars) + 'b';
  const match = compileGlob(pattern);
  match(aKey);
  const globMs = Math.min(once(() => match(aKey)), once(() => match(aKey)));
  let regexpMs: number | undefined;
  if (REGEXP_STARS.includes(stars)) {
    const re = globToRegExp(pattern);
    regexpMs = once(() => re.test(aText));
  }
  nested.push({ stars, globMs, regexpMs });
}
console.log(`\nOne call of a*a*…a*b (n stars) against 40 a's (no match):\n\n${table(
  ['stars', 'compileGlob ms', 'RegExp ms'],
  nested.map((r) => [String(r.stars), fixed(r.globMs, 4), r.regexpMs === undefined ? 'not run' : fixed(r.regexpMs, 1)]),
)}`);
console.log('\n× columns: compileGlob keys/s over the peer\'s. "as called": the RegExp with the latin1 decode KEYS/SCAN did per key.');
console.log(`results: ${writeResults('glob', { keys: KEY_COUNT, rows, nested })}`);
