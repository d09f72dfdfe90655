/**
 * compileGlob against a plain recursive reference matcher (below) on 50,000 random short
 * pattern/key pairs (half the keys drawn at random, half read off the pattern so that they match
 * often) over a small alphabet rich in glob syntax (`*?[]^-\`, plus 0x00 and 0xff),
 * so escapes, ranges, unclosed classes and runs of stars meet each other often. The seed is
 * printed; rerun one with GLOB_FUZZ_SEED=<seed>.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGlob } from '../../src/util/glob.js';
import { prng } from '../helpers/prng.js';

const SEED = process.env.GLOB_FUZZ_SEED !== undefined ? Number(process.env.GLOB_FUZZ_SEED) >>> 0 : (Date.now() ^ (Math.random() * 0x1_0000_0000)) >>> 0;
const PATTERNS = 10_000;
const KEYS_PER_PATTERN = 5;

const [STAR, QUESTION, OPEN, CLOSE, CARET, DASH, BACKSLASH] = [...'*?[]^-\\'].map((c) => c.charCodeAt(0));

/**
 * The reference: Redis's rules read straight off the pattern at each step, trying every split for
 * a star (exponential, fine for 8-byte patterns). `*` matches any run, the empty one included.
 */
function refMatch(p: Uint8Array, pi: number, k: Uint8Array, ki: number): boolean {
  if (pi === p.length) return ki === k.length;
  if (p[pi] === STAR) {
    for (let j = ki; j <= k.length; j++) if (refMatch(p, pi + 1, k, j)) return true;
    return false;
  }
  if (ki === k.length) return false;
  const b = k[ki];
  let next: number;
  let ok: boolean;
  if (p[pi] === QUESTION) {
    ok = true;
    next = pi + 1;
  } else if (p[pi] === BACKSLASH && pi + 1 < p.length) {
    ok = p[pi + 1] === b;
    next = pi + 2;
  } else if (p[pi] === OPEN) {
    [ok, next] = refClass(p, pi + 1, b);
  } else {
    ok = p[pi] === b;
    next = pi + 1;
  }
  return ok && refMatch(p, next, k, ki + 1);
}

/** Whether the class whose body starts at `i` holds `b`, and where the pattern goes on after it. */
function refClass(p: Uint8Array, i: number, b: number): [boolean, number] {
  const negate = i < p.length && p[i] === CARET;
  if (negate) i++;
  let hit = false;
  while (i < p.length) {
    if (p[i] === BACKSLASH && i + 1 < p.length) {
      hit ||= p[i + 1] === b;
      i += 2;
    } else if (p[i] === CLOSE) {
      return [hit !== negate, i + 1];
    } else if (i + 2 < p.length && p[i + 1] === DASH) {
      const [lo, hi] = p[i] <= p[i + 2] ? [p[i], p[i + 2]] : [p[i + 2], p[i]];
      hit ||= lo <= b && b <= hi;
      i += 3;
    } else {
      hit ||= p[i] === b;
      i++;
    }
  }
  return [hit !== negate, i];
}

const fuzz = suite('compileGlob fuzz');

fuzz(`agrees with the recursive reference on ${PATTERNS * KEYS_PER_PATTERN} random pattern/key pairs (seed ${SEED})`, () => {
  console.log(`  glob fuzz seed: ${SEED} (replay with GLOB_FUZZ_SEED=${SEED})`);
  const rand = prng(SEED);
  const int = (n: number): number => Math.floor(rand() * n);
  // Weighted: letters often, so that keys match often enough; every glob byte in both.
  const patternAlphabet = Buffer.from('aaabbb**??[[]]^-\\\\\x00\xff', 'latin1');
  const keyAlphabet = Buffer.from('aaaabbbb*?[]^-\\\x00\xff', 'latin1');
  const draw = (alphabet: Uint8Array, maxLength: number): Uint8Array => {
    const out = new Uint8Array(int(maxLength + 1));
    for (let i = 0; i < out.length; i++) out[i] = alphabet[int(alphabet.length)];
    return out;
  };
  // A key read off the pattern (stars as short runs, classes as a random byte): matches far more often.
  const instantiate = (pattern: Uint8Array): Uint8Array => {
    const out: number[] = [];
    for (let i = 0; i < pattern.length && out.length < 12; i++) {
      const c = pattern[i];
      if (c === STAR) for (let r = int(4); r > 0; r--) out.push(keyAlphabet[int(keyAlphabet.length)]);
      else if (c === QUESTION || c === OPEN) out.push(keyAlphabet[int(keyAlphabet.length)]);
      else if (c === BACKSLASH && i + 1 < pattern.length) out.push(pattern[++i]);
      else out.push(c);
    }
    return Uint8Array.from(out);
  };
  let matched = 0;
  for (let n = 0; n < PATTERNS; n++) {
    const pattern = draw(patternAlphabet, 8);
    const match = compileGlob(pattern);
    for (let j = 0; j < KEYS_PER_PATTERN; j++) {
      const key = j % 2 === 0 ? draw(keyAlphabet, 8) : instantiate(pattern);
      const expected = refMatch(pattern, 0, key, 0);
      if (match(key) !== expected) {
        const show = (b: Uint8Array) => JSON.stringify(Buffer.from(b).toString('latin1'));
        assert.unreachable(`pattern ${show(pattern)} key ${show(key)}: expected ${expected} (seed ${SEED}, pattern #${n})`);
      }
      if (expected) matched++;
    }
  }
  const share = matched / (PATTERNS * KEYS_PER_PATTERN);
  console.log(`  ${matched} of ${PATTERNS * KEYS_PER_PATTERN} pairs matched (${(share * 100).toFixed(1)} %)`);
  assert.ok(share > 0.02 && share < 0.98, `a fuzz that only says yes or no tests little: ${share}`);
});

fuzz.run();
