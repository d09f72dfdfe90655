import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Cache, MeshCache } from '../../src/index.js';
import type { JoinOptions } from '../../src/mesh/embedded.js';
import { prng } from '../helpers/prng.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** Every test body must finish within this (joins, waits and hand-offs are all bounded). */
const TEST_LIMIT_MS = 8000;
const KEY_COUNT = 300;

type Value = string | Buffer | number | { id: number; tags: string[]; nested: { even: boolean } };

/** Every node a test joined, left or closed in `after` whatever happened. */
const nodes: Array<MeshCache<Value>> = [];

function bounded(fn: () => Promise<void>): () => Promise<void> {
  return () => {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`test took over ${TEST_LIMIT_MS} ms`)), TEST_LIMIT_MS); });
    return Promise.race([fn(), limit]).finally(() => clearTimeout(timer));
  };
}

async function join(nodeId: string, seed?: string): Promise<MeshCache<Value>> {
  const options: JoinOptions = {
    maxMemory: '16mb',
    mesh: { port: 0, nodeId, preset: 'local', statsIntervalMs: 100, ...(seed === undefined ? {} : { join: [seed] }) },
  };
  const node = await MeshCache.join<Value>(options);
  nodes.push(node);
  return node;
}

const key = (i: number): string => `key:${i}`;

/** Four value types in turn: string, Buffer, object (msgpack), number (msgpack). */
function valueOf(i: number): Value {
  switch (i % 4) {
    case 0: return `string value ${i} ✓`;
    case 1: return Buffer.from([i & 0xff, (i >> 8) & 0xff, 0, 255, 7]);
    case 2: return { id: i, tags: [`t${i}`, 'x'], nested: { even: i % 2 === 0 } };
    default: return i * 1.5;
  }
}

function assertValue(got: unknown, i: number, where: string): void {
  const want = valueOf(i);
  if (Buffer.isBuffer(want)) {
    assert.ok(Buffer.isBuffer(got), `${key(i)} on ${where} is a Buffer (got ${typeof got})`);
    assert.equal(Buffer.compare(got as Buffer, want), 0, `${key(i)} on ${where}: bytes`);
  } else {
    assert.equal(typeof got, typeof want, `${key(i)} on ${where}: type`);
    assert.equal(got, want, `${key(i)} on ${where}: value`);
  }
}

function aliveCount(n: MeshCache<Value>): number {
  return n.nodes().filter((m) => m.state === 'alive').length;
}

/** Reads every key from `from`; returns the indexes it could not read back correctly. */
async function missingKeys(from: MeshCache<Value>): Promise<number[]> {
  const values = await from.getMany(Array.from({ length: KEY_COUNT }, (_, i) => key(i)));
  const missing: number[] = [];
  values.forEach((v, i) => { if (v === undefined) missing.push(i); });
  return missing;
}

const CacheJoin = suite('MeshCache.join (three embedded nodes in one process)');

let e1: MeshCache<Value>;
let e2: MeshCache<Value>;
let e3: MeshCache<Value>;

CacheJoin.before(async () => {
  e1 = await join('e1');
  e2 = await join('e2', e1.node.address);
  e3 = await join('e3', e1.node.address);
  await waitFor(() => [e1, e2, e3].every((n) => aliveCount(n) === 3), { what: '3 alive members on every node' });
});

CacheJoin.after(async () => {
  await Promise.allSettled(nodes.splice(0).map((n) => n.close()));
});

CacheJoin('three nodes joined through the first each list 3 alive members e1, e2, e3', bounded(async () => {
  for (const n of [e1, e2, e3]) {
    const ids = n.nodes().map((m) => `${m.nodeId}:${m.state}`);
    assert.equal(ids, ['e1:alive', 'e2:alive', 'e3:alive']);
    assert.equal(n.nodes().filter((m) => m.self).map((m) => m.nodeId), [n.node.nodeId]);
  }
}));

CacheJoin('300 keys of 4 value types set through random nodes read back equal, with their types, from all 3 nodes', bounded(async () => {
  const all = [e1, e2, e3];
  const random = prng(12345);
  const pick = (): MeshCache<Value> => all[Math.floor(random() * all.length)];
  await Promise.all(Array.from({ length: KEY_COUNT }, (_, i) => pick().set(key(i), valueOf(i))));
  for (const [j, n] of all.entries()) {
    const values = await n.getMany(Array.from({ length: KEY_COUNT }, (_, i) => key(i)));
    assert.is(values.length, KEY_COUNT);
    values.forEach((v, i) => assertValue(v, i, `e${j + 1}`));
  }
}));

CacheJoin('ownerOf agrees on all 3 nodes for 300 keys, and every node owns some of them', bounded(async () => {
  const owned = new Map<string, number>();
  for (let i = 0; i < KEY_COUNT; i++) {
    const o = e1.ownerOf(key(i));
    assert.ok(o === 'e1' || o === 'e2' || o === 'e3', `owner of ${key(i)} is a member (got ${o})`);
    assert.is(e2.ownerOf(key(i)), o, `${key(i)} on e2`);
    assert.is(e3.ownerOf(key(i)), o, `${key(i)} on e3`);
    owned.set(o!, (owned.get(o!) ?? 0) + 1);
  }
  assert.equal([...owned.keys()].sort(), ['e1', 'e2', 'e3']);
}));

CacheJoin('each node\'s local cache holds only the keys it owns, and the 3 local sizes add up to 300', bounded(async () => {
  let total = 0;
  for (const n of [e1, e2, e3]) {
    let here = 0;
    for (let i = 0; i < KEY_COUNT; i++) {
      const owner = n.ownerOf(key(i));
      const local = n.local.has(key(i));
      assert.is(local, owner === n.node.nodeId, `${key(i)} on ${n.node.nodeId} (owner ${owner})`);
      if (local) here++;
    }
    assert.is(n.local.stats().entries, here, `${n.node.nodeId} holds nothing else`);
    total += here;
  }
  assert.is(total, KEY_COUNT);
}));

CacheJoin('a key set on its remote owner with ttl 300 ms is read from a third node, then gone after 500 ms', bounded(async () => {
  // A key owned by e3, written through e1 (remote set), read through e2 (remote get).
  let k = '';
  for (let i = 0; k === ''; i++) if (e1.ownerOf(`ttl:${i}`) === 'e3') k = `ttl:${i}`;
  await e1.set(k, 'short-lived', { ttl: 300 });
  assert.is(await e2.get(k), 'short-lived');
  const ttl = e3.local.ttl(k);
  assert.ok(ttl !== undefined && ttl > 0 && ttl <= 300, `the owner keeps a ttl of at most 300 ms (got ${ttl})`);
  await sleep(500);
  assert.is(await e2.get(k), undefined);
  assert.is(await e1.has(k), false);
}));

CacheJoin('delete and has are routed: true for a key held elsewhere, false once deleted and for an unknown key', bounded(async () => {
  for (const owner of ['e1', 'e2', 'e3']) {
    let k = '';
    for (let i = 0; k === ''; i++) if (e1.ownerOf(`del:${i}`) === owner) k = `del:${i}`;
    // Through a node that does not own it, then through the owner itself.
    const via = owner === 'e2' ? e3 : e2;
    await via.set(k, { id: 1, tags: [owner], nested: { even: true } });
    assert.is(await e1.has(k), true, `has ${k} (owner ${owner})`);
    assert.is(await via.delete(k), true, `first delete of ${k}`);
    assert.is(await via.delete(k), false, `second delete of ${k}`);
    assert.is(await e1.has(k), false, `has ${k} after delete`);
    assert.is(await e3.has(`never-set:${owner}`), false);
  }
}));

CacheJoin('setMany of 30 entries through one node and getMany through another return them in order, with a miss as undefined', bounded(async () => {
  const entries = Array.from({ length: 30 }, (_, i) => [`many:${i}`, i % 2 === 0 ? `s${i}` : { n: i }] as const);
  await e2.setMany(entries as unknown as Array<[string, Value]>);
  const got = await e3.getMany([...entries.map(([k]) => k), 'many:absent']);
  assert.equal(got, [...entries.map(([, v]) => v), undefined]);
  // Every one sits on its owner only.
  for (const [k] of entries) {
    const holders = [e1, e2, e3].filter((n) => n.local.has(k)).map((n) => n.node.nodeId);
    assert.equal(holders, [e1.ownerOf(k)], k);
  }
  await Promise.all(entries.map(([k]) => e1.delete(k)));
}));

CacheJoin('storing undefined deletes the key, on a remote owner and on the local one', bounded(async () => {
  for (const owner of ['e1', 'e2']) {
    let k = '';
    for (let i = 0; k === ''; i++) if (e1.ownerOf(`undef:${i}`) === owner) k = `undef:${i}`;
    await e1.set(k, 'here');
    assert.is(await e3.get(k), 'here');
    await e1.set(k, undefined as unknown as Value);
    assert.is(await e3.has(k), false, `${k} (owner ${owner}) deleted`);
    assert.is(await e1.get(k), undefined);
  }
}));

CacheJoin('stats().mesh on every node counts 3 reporting nodes and 300 keys, with balance ratios from 1 to 3', bounded(async () => {
  await waitFor(() => [e1, e2, e3].every((n) => { const m = n.stats().mesh; return m.nodes === 3 && m.keys === KEY_COUNT; }),
    { what: 'every node to see 300 keys reported by 3 nodes' });
  for (const n of [e1, e2, e3]) {
    const s = n.stats();
    assert.is(s.entries, n.local.stats().entries);
    assert.is(s.mesh.nodes, 3);
    assert.is(s.mesh.keys, KEY_COUNT);
    assert.ok(s.mesh.bytes > 0);
    assert.ok(s.mesh.keysMaxOverMean >= 1 && s.mesh.keysMaxOverMean < 3, `keys max/mean ${s.mesh.keysMaxOverMean}`);
    assert.ok(s.mesh.bytesMaxOverMean >= 1 && s.mesh.bytesMaxOverMean < 3, `bytes max/mean ${s.mesh.bytesMaxOverMean}`);
  }
}));

CacheJoin('after e3 leaves gracefully, e1 and e2 read all 300 keys (0 lost) and list e3 as left', bounded(async () => {
  const e3Had = e3.local.stats().entries;
  assert.ok(e3Had > 0, 'e3 owned some keys');
  await e3.leave();
  for (const n of [e1, e2]) {
    await waitFor(() => n.nodes().find((m) => m.nodeId === 'e3')?.state === 'left', { what: `${n.node.nodeId} to list e3 as left` });
    assert.equal(await missingKeys(n), [], `keys lost as read from ${n.node.nodeId}`);
    for (let i = 0; i < KEY_COUNT; i++) assert.ok(n.ownerOf(key(i)) !== 'e3', `${key(i)} no longer owned by e3`);
  }
  const values = await e2.getMany(Array.from({ length: KEY_COUNT }, (_, i) => key(i)));
  values.forEach((v, i) => assertValue(v, i, 'e2 after the leave'));
  assert.is(e1.local.stats().entries + e2.local.stats().entries, KEY_COUNT);
}));

CacheJoin('a 4th node joining after the leave gets keys handed to it within 4 s, and all 300 stay readable from every node', bounded(async () => {
  const e4 = await join('e4', e2.node.address);
  const live = [e1, e2, e4];
  await waitFor(() => live.every((n) => aliveCount(n) === 3), { what: 'e1, e2, e4 to see each other alive' });
  await waitFor(() => e4.local.stats().entries > 0, { timeoutMs: 4000, what: 'e4 to receive keys' });
  // Settled: every key on its owner only (a sum of 300 alone can be met half-way through a move).
  const settled = (): boolean => {
    for (let i = 0; i < KEY_COUNT; i++) {
      const owner = e4.ownerOf(key(i));
      for (const n of live) {
        if (n.ownerOf(key(i)) !== owner || n.local.has(key(i)) !== (n.node.nodeId === owner)) return false;
      }
    }
    return true;
  };
  await waitFor(settled, { timeoutMs: 5000, what: 'every key to sit on its owner only' });
  assert.is(live.reduce((sum, n) => sum + n.local.stats().entries, 0), KEY_COUNT);
  for (const n of live) {
    const values = await n.getMany(Array.from({ length: KEY_COUNT }, (_, i) => key(i)));
    values.forEach((v, i) => assertValue(v, i, `${n.node.nodeId} after e4 joined`));
  }
}));

CacheJoin.run();

// A node that has just joined owns keys it does not have yet: reads must fetch them from where
// the mesh had them without it (the hand-off window), before the rebalance batches arrive.
const JoinHandoff = suite('MeshCache.join hand-off reads on a node that has just joined');

JoinHandoff.after(async () => {
  await Promise.allSettled(nodes.splice(0).map((n) => n.close()));
});

JoinHandoff('a node joining a mesh of 2 holding 300 keys reads every key at once, before the rebalance reaches it', bounded(async () => {
  const a = await join('h1');
  const b = await join('h2', a.node.address);
  await waitFor(() => aliveCount(a) === 2 && aliveCount(b) === 2, { what: 'h1 and h2 to see each other' });
  await Promise.all(Array.from({ length: KEY_COUNT }, (_, i) => a.set(key(i), valueOf(i))));
  const c = await join('h3', b.node.address);
  const values = await c.getMany(Array.from({ length: KEY_COUNT }, (_, i) => key(i)));
  values.forEach((v, i) => assertValue(v, i, 'h3 right after joining'));
}));

JoinHandoff.run();
