import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { coreModule, instantiateCore } from '../../src/core/wasm.js';

const hash = suite('xxh64');

// Reference values of XXH64 (xxhash's own test vectors).
hash('matches the reference XXH64 for short and long inputs', () => {
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
  const x = instantiateCore(coreModule(), memory);
  const u8 = new Uint8Array(memory.buffer);
  const at = 200_000;
  const h = (s: string, seed = 0n) => {
    const b = Buffer.from(s, 'latin1');
    u8.set(b, at);
    return BigInt.asUintN(64, x.xxh64(at, b.length, seed));
  };
  assert.is(h(''), 0xEF46DB3751D8E999n);
  assert.is(h('a'), 0xD24EC4F1A98C6E5Bn);
  assert.is(h('abc'), 0x44BC2CF5AD770999n);
  assert.is(h('Nobody inspects the spammish repetition'), 0xFBCEA83C8A378BF1n);
  // Long input (> 32 bytes takes the four-lane path) and a seed change the result.
  const long = 'x'.repeat(100);
  assert.is.not(h(long), h(long, 1n));
  assert.is(h(long), h(long));
});

hash.run();
