import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { HashRing } from '../../src/core/ring.js';
import { coreModule, instantiateCore } from '../../src/core/wasm.js';
import { prng } from '../helpers/prng.js';

const M = (1n << 64n) - 1n;
const P1 = 0x9E3779B185EBCA87n, P2 = 0xC2B2AE3D27D4EB4Fn, P3 = 0x165667B19E3779F9n;
const P4 = 0x85EBCA77C2B2AE63n, P5 = 0x27D4EB2F165667C5n;
const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M;
const round = (acc: bigint, v: bigint) => (rotl((acc + v * P2) & M, 31n) * P1) & M;
const merge = (acc: bigint, v: bigint) => (((acc ^ round(0n, v)) * P1) + P4) & M;
const u64 = (b: Uint8Array, i: number) => { let v = 0n; for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(b[i + k]); return v; };
const u32 = (b: Uint8Array, i: number) => BigInt((b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0);

/** Plain BigInt XXH64, independent of the core. */
function xxh64(b: Uint8Array, seed = 0n): bigint {
  let p = 0;
  const len = b.length;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M, v2 = (seed + P2) & M, v3 = seed, v4 = (seed - P1) & M;
    for (; p + 32 <= len; p += 32) {
      v1 = round(v1, u64(b, p)); v2 = round(v2, u64(b, p + 8)); v3 = round(v3, u64(b, p + 16)); v4 = round(v4, u64(b, p + 24));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    h = merge(h, v1); h = merge(h, v2); h = merge(h, v3); h = merge(h, v4);
  } else h = (seed + P5) & M;
  h = (h + BigInt(len)) & M;
  for (; p + 8 <= len; p += 8) { h ^= round(0n, u64(b, p)); h = (rotl(h, 27n) * P1 + P4) & M; }
  if (p + 4 <= len) { h ^= (u32(b, p) * P1) & M; h = (rotl(h, 23n) * P2 + P3) & M; p += 4; }
  for (; p < len; p++) { h ^= (BigInt(b[p]) * P5) & M; h = (rotl(h, 11n) * P1) & M; }
  h ^= h >> 33n; h = (h * P2) & M; h ^= h >> 29n; h = (h * P3) & M; h ^= h >> 32n;
  return h;
}

const enc = new TextEncoder();

/** Reference ring: sort the same points, binary-search the first >= hash, wrap. */
function referenceRing(nodes: string[], vnodes: number, seed = 0n) {
  const names = [...nodes].sort();
  const pts: Array<[bigint, number]> = [];
  names.forEach((n, idx) => { for (let i = 0; i < vnodes; i++) pts.push([xxh64(enc.encode(`${n}#${i}`), seed), idx]); });
  pts.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  return (key: string) => {
    const h = xxh64(enc.encode(key), seed);
    let lo = 0, hi = pts.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (pts[mid][0] < h) lo = mid + 1; else hi = mid; }
    return names[pts[lo === pts.length ? 0 : lo][1]];
  };
}

/** Jump consistent hash, as published (Lamping & Veach 2014), in BigInt. */
function jumpRef(key: bigint, buckets: number): number {
  let b = -1n, j = 0n;
  while (j < BigInt(buckets)) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & M;
    j = BigInt(Math.floor(Number(b + 1n) * (Number(1n << 31n) / Number((key >> 33n) + 1n))));
  }
  return Number(b);
}

const random = prng(0x2545f491);
/** A random unsigned 32-bit integer. */
const rand = () => Math.floor(random() * 0x1_0000_0000);
const randomKey = () => `k:${rand().toString(36)}${rand().toString(36)}`;
const keys = (n: number, prefix = 'user:') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(15, '0')}`);

const ring = suite('core ring');

ring('the reference xxh64 matches published vectors', () => {
  assert.is(xxh64(enc.encode('')), 0xEF46DB3751D8E999n);
  assert.is(xxh64(enc.encode('abc')), 0x44BC2CF5AD770999n);
  assert.is(xxh64(enc.encode('Nobody inspects the spammish repetition')), 0xFBCEA83C8A378BF1n);
});

ring('lookups agree with a pure-JS reference for 10,000 random keys', () => {
  for (const seed of [0n, 0x1234567890abcdefn]) {
    const nodes = ['10.0.0.1:7000', '10.0.0.2:7000', 'node-c', 'node-d', 'ünïcode'];
    const r = new HashRing({ seed });
    for (const n of nodes) r.add(n);
    const ref = referenceRing(nodes, 160, seed);
    for (let i = 0; i < 10_000; i++) {
      const k = randomKey() + (i % 7 === 0 ? 'x'.repeat(i % 50) : '');
      assert.is(r.lookup(k), ref(k), k);
      if (i % 97 === 0) assert.is(r.lookup(enc.encode(k)), ref(k));
    }
  }
});

ring('the mapping depends only on the node set, not on insertion order', () => {
  const a = new HashRing(), b = new HashRing();
  for (const n of ['a', 'b', 'c', 'd']) a.add(n);
  for (const n of ['d', 'b', 'x', 'a', 'c']) b.add(n);
  b.remove('x');
  for (const k of keys(5000)) assert.is(a.lookup(k), b.lookup(k));
});

ring('adding a 5th node moves 10-30 % of keys, only to it; removing it restores the mapping', () => {
  const r = new HashRing();
  for (const n of ['n1', 'n2', 'n3', 'n4']) r.add(n);
  const ks = keys(100_000);
  const before = ks.map((k) => r.lookup(k));
  r.add('n5');
  let moved = 0;
  ks.forEach((k, i) => {
    const now = r.lookup(k);
    if (now !== before[i]) { moved++; assert.is(now, 'n5'); }
  });
  assert.ok(moved > 10_000 && moved < 30_000, `moved ${moved}`);
  assert.ok(r.remove('n5'));
  assert.not.ok(r.remove('n5'));
  ks.forEach((k, i) => assert.is(r.lookup(k), before[i]));
});

ring('balance with 160 vnodes: max/mean < 1.3 over 100,000 keys for 5 nodes', () => {
  const r = new HashRing({ vnodes: 160 });
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
  for (const n of nodes) r.add(n);
  assert.equal(r.nodes, nodes);
  assert.is(r.size, 800);
  const counts = new Map<string, number>();
  for (const k of keys(100_000)) { const n = r.lookup(k)!; counts.set(n, (counts.get(n) ?? 0) + 1); }
  const max = Math.max(...counts.values());
  assert.ok(max / 20_000 < 1.3, `max/mean ${max / 20_000}`);
});

ring('weights give proportional shares', () => {
  const r = new HashRing();
  r.add('a', 1).add('b', 3);
  let b = 0;
  for (const k of keys(40_000)) if (r.lookup(k) === 'b') b++;
  assert.ok(b / 40_000 > 0.65 && b / 40_000 < 0.85, `b share ${b / 40_000}`);
});

ring('empty ring lookup returns undefined; bad arguments throw', () => {
  const r = new HashRing();
  assert.is(r.lookup('k'), undefined);
  r.add('a');
  assert.is(r.lookup('k'), 'a');
  r.remove('a');
  assert.is(r.lookup('k'), undefined);
  assert.equal(r.nodes, []);
  assert.throws(() => r.lookup(42 as unknown as string), (e: unknown) => e instanceof TypeError);
  assert.throws(() => r.lookup('x'.repeat(70_000)), (e: unknown) => e instanceof RangeError);
  assert.throws(() => r.lookup(new Uint8Array(70_000)), (e: unknown) => e instanceof RangeError);
  assert.throws(() => r.add(1 as unknown as string), (e: unknown) => e instanceof TypeError);
  assert.throws(() => r.add(''), (e: unknown) => e instanceof RangeError);
  assert.throws(() => r.add('a', 0), (e: unknown) => e instanceof RangeError);
  assert.throws(() => r.add('a', NaN), (e: unknown) => e instanceof RangeError);
  assert.throws(() => r.add('a', '2' as unknown as number), (e: unknown) => e instanceof TypeError);
  assert.throws(() => r.remove(null as unknown as string), (e: unknown) => e instanceof TypeError);
  assert.throws(() => new HashRing({ vnodes: 0 }), (e: unknown) => e instanceof RangeError);
  assert.throws(() => new HashRing({ vnodes: 1.5 }), (e: unknown) => e instanceof RangeError);
  assert.throws(() => new HashRing({ vnodes: '8' as unknown as number }), (e: unknown) => e instanceof TypeError);
  assert.throws(() => new HashRing({ seed: -1 }), (e: unknown) => e instanceof RangeError);
  assert.throws(() => new HashRing({ seed: 1n << 64n }), (e: unknown) => e instanceof RangeError);
  assert.throws(() => new HashRing({ seed: 'x' as unknown as number }), (e: unknown) => e instanceof TypeError);
  assert.equal(r.nodes, []);
});

ring('grows its memory for large rings', () => {
  const r = new HashRing({ vnodes: 20_000 });
  for (let i = 0; i < 10; i++) r.add(`node-${i}`);
  assert.is(r.size, 200_000);
  const ref = referenceRing(r.nodes, 20_000);
  for (let i = 0; i < 200; i++) { const k = randomKey(); assert.is(r.lookup(k), ref(k)); }
}, );

ring('core: ringBuild sorts in place and refuses bad regions; ringLookupHash wraps', () => {
  const memory = new WebAssembly.Memory({ initial: 20, maximum: 20, shared: true });
  const x = instantiateCore(coreModule(), memory);
  const at = 1 << 20;
  const dv = new DataView(memory.buffer);
  const pts = Array.from({ length: 1000 }, () => (BigInt(rand()) << 32n) | BigInt(rand()));
  pts.forEach((p, i) => { dv.setBigUint64(at + i * 16, p, true); dv.setUint32(at + i * 16 + 8, i, true); dv.setUint32(at + i * 16 + 12, 99, true); });
  assert.is(x.ringBuild(at, 1000), 1000);
  const sorted = pts.map((p, i) => [p, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  sorted.forEach(([p, i], k) => {
    assert.is(dv.getBigUint64(at + k * 16, true), p);
    assert.is(dv.getUint32(at + k * 16 + 8, true), i);
    assert.is(dv.getUint32(at + k * 16 + 12, true), 0);
  });
  const [p0, i0] = sorted[0], [pl, il] = sorted[999];
  const lookup = (h: bigint) => x.ringLookupHash(at, 1000, Number(h & 0xffffffffn) | 0, Number(h >> 32n) | 0);
  assert.is(lookup(p0), i0);
  assert.is(lookup(pl), il);
  assert.is(lookup(pl + 1n), i0); // wraps
  assert.is(lookup(0n), i0);
  assert.is(x.ringLookupHash(at, 0, 0, 0), -1);
  assert.is(x.ringBuild(at + 4, 10), -1);
  assert.is(x.ringBuild(20 * 65536 - 16, 2), -1);
  assert.is(x.ringLookupHash(20 * 65536 - 16, 2, 0, 0), -1);
  assert.is(x.ringBuild(at, 0), 0);
  assert.is(x.ringBuild(at, 1), 1);
});

ring('jumpHash matches the published algorithm and moves ~1/n keys when buckets grow', () => {
  const memory = new WebAssembly.Memory({ initial: 4, maximum: 4, shared: true });
  const x = instantiateCore(coreModule(), memory);
  const jump = (k: bigint, n: number) => x.jumpHash(Number(k & 0xffffffffn) | 0, Number(k >> 32n) | 0, n);
  for (const [k, n] of [[0n, 1], [0n, 10], [1n, 10], [0xdeadbeefn, 100], [M, 1000], [0x0123456789abcdefn, 65536], [42n, 7]] as const) {
    assert.is(jump(k, n), jumpRef(k, n), `${k} ${n}`);
  }
  for (let i = 0; i < 2000; i++) {
    const k = (BigInt(rand()) << 32n) | BigInt(rand());
    const n = 1 + (rand() % 5000);
    assert.is(jump(k, n), jumpRef(k, n));
  }
  assert.is(jump(5n, 0), -1);
  assert.is(jump(5n, -3), -1);
  let moved = 0;
  const N = 100_000;
  for (let i = 0; i < N; i++) {
    const k = xxh64(enc.encode(`key-${i}`));
    const a = jump(k, 10), b = jump(k, 11);
    if (a !== b) { moved++; assert.is(b, 10); }
  }
  assert.ok(moved / N > 0.07 && moved / N < 0.11, `moved ${moved / N}`);
});

ring.run();
