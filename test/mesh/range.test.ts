import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MESH_DEFAULTS } from '../../src/mesh/options.js';
import { RangePartitioner, RANGE_DEFAULTS, type RangeStats } from '../../src/mesh/range.js';
import { RangeTable, compareKeys } from '../../src/mesh/range-table.js';
import { decodeFrame, encodeFrame, MAX_KEY_BYTES, MAX_RANGES, MessageType, type MeshFrame, type RangeTableBody } from '../../src/mesh/wire.js';
import type { OutgoingFrame } from '../../src/mesh/transport.js';
import { prng } from '../helpers/prng.js';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const bytes = (...v: number[]): Uint8Array => Uint8Array.from(v);
const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex');

function startsOf(t: RangeTable): string[] {
  return Array.from({ length: t.size }, (_, i) => hex(t.startOf(i)));
}
function ownersOf(t: RangeTable): string[] {
  return Array.from({ length: t.size }, (_, i) => t.ownerAt(i));
}
function spread(t: RangeTable, members: string[]): number {
  const counts = members.map((m) => t.ownedBy(m).length);
  return Math.max(...counts) - Math.min(...counts);
}
function table(body: RangeTableBody): RangeTable {
  const t = RangeTable.fromBody(body);
  if (!(t instanceof RangeTable)) throw new Error(t.error);
  return t;
}

/** Partitioners joined by an in-memory mesh: broadcasts are encoded, queued, decoded and delivered by `pump`. */
class FakeMesh {
  readonly nodes = new Map<string, RangePartitioner>();
  readonly queue: Array<{ from: string; bytes: Buffer }> = [];
  broadcasts = 0;

  add(id: string, options: ConstructorParameters<typeof RangePartitioner>[1] = {}): RangePartitioner {
    const p = new RangePartitioner({ nodeId: id, broadcast: (f: OutgoingFrame) => this.#send(id, f) }, options);
    this.nodes.set(id, p);
    return p;
  }

  #send(from: string, f: OutgoingFrame): void {
    this.broadcasts++;
    this.queue.push({ from, bytes: encodeFrame(f as MeshFrame) });
  }

  /** Delivers queued frames (and those they cause) to every other node; returns how many were delivered. */
  pump(): number {
    let n = 0;
    while (this.queue.length > 0) {
      const { from, bytes: buf } = this.queue.shift()!;
      const r = decodeFrame(buf);
      if (!r.ok) throw new Error(r.error.message);
      for (const [id, p] of this.nodes) if (id !== from) assert.ok(p.handleFrame(r.frame, from));
      n++;
    }
    return n;
  }

  get(id: string): RangePartitioner {
    return this.nodes.get(id)!;
  }

  /** Every node routes with the same table, version and coordinator included. */
  assertConverged(): RangeTable {
    const tables = [...this.nodes.values()].map((p) => p.table!);
    for (const t of tables) {
      assert.ok(t.sameLayout(tables[0]));
      assert.is(t.version, tables[0].version);
      assert.is(t.coordinator, tables[0].coordinator);
    }
    return tables[0];
  }
}

// ---------------------------------------------------------------------------------------------------

const Table = suite('RangeTable');

Table('initial: 4 nodes × 4 ranges start at 0x00, 0x10 … 0xf0, owned round-robin over the sorted ids, version 1', () => {
  const t = RangeTable.initial(['c', 'a', 'd', 'b']);
  assert.is(t.size, 16);
  assert.is(t.version, 1n);
  assert.is(t.coordinator, 'a');
  assert.equal(startsOf(t), ['', '10', '20', '30', '40', '50', '60', '70', '80', '90', 'a0', 'b0', 'c0', 'd0', 'e0', 'f0']);
  assert.equal(ownersOf(t), ['a', 'b', 'c', 'd', 'a', 'b', 'c', 'd', 'a', 'b', 'c', 'd', 'a', 'b', 'c', 'd']);
});

Table('initial is the same table for 20 shuffles of 5 node ids (duplicates ignored)', () => {
  const ids = ['node-3', 'node-1', 'node-5', 'node-2', 'node-4'];
  const ref = RangeTable.initial(ids, 3);
  assert.is(ref.size, 15);
  const rand = prng(7);
  for (let i = 0; i < 20; i++) {
    const shuffled = [...ids, ids[i % 5]].sort(() => rand() - 0.5);
    const t = RangeTable.initial(shuffled, 3);
    assert.equal(t.toBody(), ref.toBody());
    assert.not.ok(t.newerThan(ref));
    assert.not.ok(ref.newerThan(t));
  }
});

Table('initial with 100 nodes × 4 uses 400 ascending two-byte boundaries; 1 node × 65535 is the cap', () => {
  const t = RangeTable.initial(Array.from({ length: 100 }, (_, i) => `n${i}`), 4);
  assert.is(t.size, 400);
  for (let i = 1; i < t.size; i++) {
    assert.ok(compareKeys(t.startOf(i - 1), t.startOf(i)) < 0);
    assert.ok(t.startOf(i).length >= 1 && t.startOf(i).length <= 2);
  }
  assert.is(RangeTable.initial(['solo'], MAX_RANGES).size, MAX_RANGES);
  assert.throws(() => RangeTable.initial(['a', 'b'], 32768), (e: unknown) => e instanceof RangeError && /over the 65535-range cap/.test(e.message));
  assert.throws(() => RangeTable.initial([]), (e: unknown) => e instanceof RangeError && /at least one node id/.test(e.message));
  assert.throws(() => RangeTable.initial(['a', '']), RangeError);
  assert.throws(() => RangeTable.initial('a' as unknown as string[]), TypeError);
});

Table('ownerOf: the empty key, a key equal to a start, just below it, just above it, and 0xff…', () => {
  const t = RangeTable.initial(['a', 'b', 'c', 'd']);
  assert.is(t.indexOf(new Uint8Array(0)), 0);
  assert.is(t.ownerOf(new Uint8Array(0)), 'a');
  assert.is(t.indexOf(bytes(0x10)), 1); // equal to range 1's start
  assert.is(t.ownerOf(bytes(0x10)), 'b');
  assert.is(t.indexOf(bytes(0x0f, 0xff, 0xff, 0xff)), 0); // just below 0x10
  assert.is(t.ownerOf(bytes(0x0f, 0xff, 0xff, 0xff)), 'a');
  assert.is(t.indexOf(bytes(0x10, 0x00)), 1); // just above
  assert.is(t.indexOf(bytes(0x00)), 0);
  assert.is(t.indexOf(bytes(0xef, 0xff)), 14);
  assert.is(t.indexOf(bytes(0xf0)), 15);
  assert.is(t.indexOf(new Uint8Array(MAX_KEY_BYTES).fill(0xff)), 15);
  assert.is(t.ownerOf(new Uint8Array(MAX_KEY_BYTES).fill(0xff)), 'd');
  assert.is(t.ownerOf(b('user:42')), 'd'); // 'u' = 0x75
});

Table('indexOf agrees with a linear scan (Buffer.compare order) for 10,000 random keys over 64 uneven ranges', () => {
  const rand = prng(11);
  const randomKey = (): Uint8Array => Uint8Array.from({ length: Math.floor(rand() * 5) }, () => Math.floor(rand() * 256));
  let t = RangeTable.initial(['a', 'b']);
  while (t.size < 64) {
    const k = randomKey();
    if (k.length > 0 && compareKeys(t.startOf(t.indexOf(k)), k) !== 0) t = t.split(k, 'a');
  }
  for (let n = 0; n < 10_000; n++) {
    const k = randomKey();
    let want = 0;
    for (let i = 0; i < t.size; i++) if (Buffer.compare(Buffer.from(t.startOf(i)), Buffer.from(k)) <= 0) want = i;
    assert.is(t.indexOf(k), want);
  }
});

Table('split at "user:m" keeps every owner, adds one range owned like the one it cut, version + 1, coordinator = by', () => {
  const t = RangeTable.initial(['a', 'b', 'c', 'd']);
  const s = t.split(b('user:m'), 'c');
  assert.is(s.size, 17);
  assert.is(s.version, 2n);
  assert.is(s.coordinator, 'c');
  assert.is(hex(s.startOf(8)), hex(b('user:m')));
  assert.is(s.ownerAt(7), 'd');
  assert.is(s.ownerAt(8), 'd');
  for (const k of ['', 'a', 'user:a', 'user:m', 'user:z', 'zzz'].map(b)) assert.is(s.ownerOf(k), t.ownerOf(k));
  assert.is(t.size, 16); // the original is unchanged
  assert.is(t.version, 1n);
});

Table('split refuses an existing boundary, the empty key, a key over 65535 bytes and a 65536th range', () => {
  const t = RangeTable.initial(['a', 'b', 'c', 'd']);
  assert.throws(() => t.split(bytes(0x10), 'a'), (e: unknown) => e instanceof RangeError && /already starts range 1/.test(e.message));
  assert.throws(() => t.split(new Uint8Array(0), 'a'), (e: unknown) => e instanceof RangeError && /empty key/.test(e.message));
  assert.throws(() => t.split(new Uint8Array(MAX_KEY_BYTES + 1), 'a'), (e: unknown) => e instanceof RangeError && /at most 65535 bytes/.test(e.message));
  assert.throws(() => t.split('x' as unknown as Uint8Array, 'a'), TypeError);
  assert.throws(() => t.split(b('x'), ''), RangeError);
  const full = RangeTable.initial(['solo'], MAX_RANGES);
  assert.throws(() => full.split(bytes(0x00, 0x00, 0x01), 'solo'), (e: unknown) => e instanceof RangeError && /cap is 65535/.test(e.message));
});

Table('reassign after removing 1 of 4 nodes moves only its 4 ranges and leaves 6/5/5', () => {
  const t = RangeTable.initial(['a', 'b', 'c', 'd']);
  const r = t.reassign(['a', 'b', 'c'], 'a');
  assert.is(r.version, 2n);
  assert.is(r.coordinator, 'a');
  for (let i = 0; i < t.size; i++) if (t.ownerAt(i) !== 'd') assert.is(r.ownerAt(i), t.ownerAt(i), `range ${i} moved`);
  assert.equal(r.ownedBy('d'), []);
  assert.equal([r.ownedBy('a').length, r.ownedBy('b').length, r.ownedBy('c').length], [6, 5, 5]);
  assert.ok(spread(r, ['a', 'b', 'c']) <= 1);
});

Table('reassign adding a 5th node moves 3 ranges, all to it, one from each of b, c, d (their highest index)', () => {
  const t = RangeTable.initial(['a', 'b', 'c', 'd']);
  const r = t.reassign(['a', 'b', 'c', 'd', 'e'], 'a');
  const moved: number[] = [];
  for (let i = 0; i < t.size; i++) {
    if (r.ownerAt(i) !== t.ownerAt(i)) {
      moved.push(i);
      assert.is(r.ownerAt(i), 'e');
    }
  }
  assert.equal(moved, [13, 14, 15]);
  assert.equal([...r.countByOwner()], [['a', 4], ['b', 3], ['c', 3], ['d', 3], ['e', 3]]);
  assert.ok(spread(r, ['a', 'b', 'c', 'd', 'e']) <= 1);
});

Table('reassign is idempotent, ignores member order, and returns the same object when nothing moves', () => {
  const t = RangeTable.initial(['a', 'b', 'c', 'd']);
  assert.is(t.reassign(['d', 'c', 'b', 'a'], 'z'), t);
  const r1 = t.reassign(['b', 'a', 'e'], 'a');
  const r2 = t.reassign(['e', 'b', 'a', 'a'], 'a');
  assert.equal(r1.toBody(), r2.toBody());
  assert.is(r1.reassign(['a', 'b', 'e'], 'q'), r1);
  assert.throws(() => t.reassign([], 'a'), (e: unknown) => e instanceof RangeError && /at least one node id/.test(e.message));
});

Table('reassign balances 10 ranges all on a over a and b to 5/5, moving a\'s 5 highest ranges', () => {
  let t = RangeTable.initial(['a']);
  for (const k of ['0', '1', '2', '3', '4', '5'].map(b)) t = t.split(k, 'a');
  assert.is(t.size, 10);
  const r = t.reassign(['a', 'b'], 'a');
  assert.equal(ownersOf(r), ['a', 'a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'b']);
});

Table('newerThan: the higher version wins, then the lower coordinator, and identical tables are equal', () => {
  const t = RangeTable.initial(['a', 'b']);
  const byB = t.split(b('m'), 'b');
  const byC = t.split(b('n'), 'c');
  const byBagain = t.split(b('m'), 'b');
  assert.ok(byB.newerThan(t));
  assert.not.ok(t.newerThan(byB));
  assert.ok(byB.newerThan(byC)); // both version 2: 'b' < 'c'
  assert.not.ok(byC.newerThan(byB));
  assert.not.ok(byB.newerThan(byBagain));
  assert.not.ok(byBagain.newerThan(byB));
  const later = byC.split(b('x'), 'z');
  assert.ok(later.newerThan(byB)); // version 3 beats a lower coordinator at 2
  // Same version and coordinator, different layouts: exactly one of them is newer.
  const m1 = t.split(b('m'), 'b');
  const m2 = t.split(b('q'), 'b');
  assert.is(m1.newerThan(m2), !m2.newerThan(m1));
});

Table('toBody and fromBody round-trip through an encoded RangeTable frame', () => {
  const t = RangeTable.initial(['a', 'b', 'c']).split(b('user:'), 'b').reassign(['a', 'b'], 'a');
  const r = decodeFrame(encodeFrame({ type: MessageType.RangeTable, body: t.toBody() }));
  assert.ok(r.ok);
  if (!r.ok) return;
  const body = r.frame.body as RangeTableBody;
  const back = table(body);
  assert.equal(back.toBody(), t.toBody());
  body.ranges[1].start[0] ^= 0xff; // decoded starts are views into the frame's buffer
  assert.is(hex(back.startOf(1)), hex(t.startOf(1)), 'the table copied them');
  assert.is(back.version, t.version);
  assert.ok(back.sameLayout(t));
});

Table('fromBody rejects bad tables with a reason, without throwing', () => {
  const ok = { version: 3n, coordinator: 'a', ranges: [{ start: bytes(), owner: 'a' }, { start: b('m'), owner: 'b' }] };
  assert.ok(RangeTable.fromBody(ok) instanceof RangeTable);
  const cases: Array<[string, unknown, RegExp]> = [
    ['unsorted', { ...ok, ranges: [{ start: bytes(), owner: 'a' }, { start: b('m'), owner: 'b' }, { start: b('c'), owner: 'a' }] }, /range 2 start is not above range 1's/],
    ['duplicate', { ...ok, ranges: [{ start: bytes(), owner: 'a' }, { start: b('m'), owner: 'b' }, { start: b('m'), owner: 'a' }] }, /range 2 start is not above/],
    ['no empty first start', { ...ok, ranges: [{ start: b('a'), owner: 'a' }, { start: b('m'), owner: 'b' }] }, /first range must start at the empty key/],
    ['empty owner', { ...ok, ranges: [{ start: bytes(), owner: 'a' }, { start: b('m'), owner: '' }] }, /range 1 owner must be a non-empty node id/],
    ['no ranges', { ...ok, ranges: [] }, /has no ranges/],
    ['version 0', { ...ok, version: 0n }, /version must be a bigint/],
    ['number version', { ...ok, version: 3 }, /version must be a bigint/],
    ['empty coordinator', { ...ok, coordinator: '' }, /coordinator must be a non-empty/],
    ['string start', { ...ok, ranges: [{ start: '', owner: 'a' }] }, /range 0 start is not bytes/],
    ['long start', { ...ok, ranges: [{ start: bytes(), owner: 'a' }, { start: new Uint8Array(MAX_KEY_BYTES + 1), owner: 'b' }] }, /over the 65535-byte cap/],
    ['null range', { ...ok, ranges: [null] }, /range 0 is not an object/],
    ['null body', null, /not an object/],
    ['ranges not an array', { ...ok, ranges: 'x' }, /ranges must be an array/],
  ];
  for (const [name, body, message] of cases) {
    const r = RangeTable.fromBody(body);
    assert.not.ok(r instanceof RangeTable, name);
    assert.match((r as { error: string }).error, message, name);
  }
});

Table('fromBody copies the starts: changing the frame buffer afterwards does not change the table', () => {
  const start = b('m');
  const t = table({ version: 1n, coordinator: 'a', ranges: [{ start: bytes(), owner: 'a' }, { start, owner: 'b' }] });
  start[0] = 0x7a;
  assert.is(hex(t.startOf(1)), hex(b('m')));
  assert.is(t.ownerOf(b('n')), 'b');
});

Table('describe reports ranges, version, coordinator and ranges per node', () => {
  const d = RangeTable.initial(['b', 'a']).split(b('k'), 'b').describe();
  assert.equal(d, { ranges: 9, version: '2', coordinator: 'b', rangesByNode: { a: 4, b: 5 } }); // 'k' cut b's range [0x60, 0x80)
});

Table.run();

// ---------------------------------------------------------------------------------------------------

const SplitPoint = suite('RangeTable.splitPoint');

SplitPoint('is the median of 5 distinct keys and the upper median of 4', () => {
  assert.is(hex(RangeTable.splitPoint(['e', 'a', 'd', 'b', 'c'].map(b))!), hex(b('c')));
  assert.is(hex(RangeTable.splitPoint(['d', 'a', 'c', 'b'].map(b))!), hex(b('c')));
  assert.is(hex(RangeTable.splitPoint(['b', 'a'].map(b))!), hex(b('b')));
});

SplitPoint('collapses duplicates before taking the median, and orders bytes unsigned, shorter first', () => {
  assert.is(hex(RangeTable.splitPoint(['a', 'a', 'a', 'a', 'b', 'c'].map(b))!), hex(b('b')));
  assert.is(hex(RangeTable.splitPoint([bytes(0xff), bytes(0x01), bytes(0x01, 0x00)])!), '0100');
});

SplitPoint('is null for no keys, one key, or one key sampled 50 times', () => {
  assert.is(RangeTable.splitPoint([]), null);
  assert.is(RangeTable.splitPoint([b('a')]), null);
  assert.is(RangeTable.splitPoint(Array.from({ length: 50 }, () => b('same'))), null);
  assert.throws(() => RangeTable.splitPoint(['a'] as unknown as Uint8Array[]), TypeError);
});

SplitPoint.run();

// ---------------------------------------------------------------------------------------------------

const Options = suite('RangePartitioner options');
const host = { nodeId: 'a', broadcast: () => {} };

Options('defaults: 4 ranges per node, 100,000 keys, 64 MiB per range, the same as the mesh node\'s', () => {
  const p = new RangePartitioner(host);
  assert.equal({ ...p.options }, { rangesPerNode: 4, maxRangeKeys: 100_000, maxRangeBytes: 64 * 1024 * 1024 });
  assert.equal({ ...p.options }, { ...RANGE_DEFAULTS });
  assert.equal({ ...RANGE_DEFAULTS }, { rangesPerNode: MESH_DEFAULTS.rangesPerNode, maxRangeKeys: MESH_DEFAULTS.maxRangeKeys, maxRangeBytes: MESH_DEFAULTS.maxRangeBytes });
  assert.is(p.kind, 'range');
});

const RANGE_OPTION_MESSAGES = [
  ['rangesPerNode', 'options.mesh.rangesPerNode must be an integer from 1 to 1024'],
  ['maxRangeKeys', 'options.mesh.maxRangeKeys must be a positive integer'],
  ['maxRangeBytes', 'options.mesh.maxRangeBytes must be a positive integer'],
] as const;

for (const [name, message] of RANGE_OPTION_MESSAGES) {
  Options(`${message}: '8' is a TypeError (must be a number); 0, -1, 1.5 and NaN are RangeErrors`, () => {
    assert.throws(() => new RangePartitioner(host, { [name]: '8' as unknown as number }), (e: unknown) => e instanceof TypeError && e.message === `options.mesh.${name} must be a number`);
    for (const v of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new RangePartitioner(host, { [name]: v }), (e: unknown) => e instanceof RangeError && e.message === message, String(v));
    }
    assert.is(new RangePartitioner(host, { [name]: 3 }).options[name], 3);
  });
}

Options('options.mesh.rangesPerNode must be at most 1024; options must be an object; host is checked', () => {
  assert.is(new RangePartitioner(host, { rangesPerNode: 1024 }).options.rangesPerNode, 1024);
  assert.throws(() => new RangePartitioner(host, { rangesPerNode: 1025 }), (e: unknown) => e instanceof RangeError && e.message === 'options.mesh.rangesPerNode must be an integer from 1 to 1024');
  assert.throws(() => new RangePartitioner(host, 5 as unknown as object), (e: unknown) => e instanceof TypeError && e.message === 'options.mesh must be an object');
  assert.throws(() => new RangePartitioner({ nodeId: '', broadcast: () => {} }), (e: unknown) => e instanceof TypeError && /host.nodeId/.test(e.message));
  assert.throws(() => new RangePartitioner({ nodeId: 'a' } as never), (e: unknown) => e instanceof TypeError && /host.broadcast/.test(e.message));
});

Options.run();

// ---------------------------------------------------------------------------------------------------

const Part = suite('RangePartitioner');

Part('routes nothing before members; the first setMembers builds the initial table and moves the epoch', () => {
  const p = new RangePartitioner(host);
  assert.is(p.ownerOf(b('k')), undefined);
  assert.is(p.rangeOf(b('k')), -1);
  assert.is(p.epoch, 0);
  p.setMembers(['b', 'a']);
  assert.is(p.epoch, 1);
  assert.is(p.table!.size, 8);
  assert.is(p.ownerOf(bytes(0x1f)), 'a');
  assert.is(p.ownerOf(bytes(0x20)), 'b');
  assert.is(p.ownerOf(bytes(0x40)), 'a');
  assert.is(p.rangeOf(bytes(0xff)), 7);
  p.setMembers(['a', 'b']);
  assert.is(p.epoch, 1, 'the same members again change nothing');
  p.setMembers([]);
  assert.is(p.ownerOf(b('k')), undefined);
  assert.is(p.epoch, 2);
  p.setMembers(['a', 'b']);
  assert.is(p.ownerOf(bytes(0x40)), 'a');
  assert.is(p.epoch, 3);
});

Part('setMembers after a node leaves moves only its ranges, bumps the epoch once, and broadcasts nothing', () => {
  const mesh = new FakeMesh();
  const p = mesh.add('a');
  p.setMembers(['a', 'b', 'c', 'd']);
  mesh.queue.length = 0;
  mesh.broadcasts = 0;
  const before = p.table!;
  const epoch = p.epoch;
  p.setMembers(['a', 'b', 'c']);
  assert.is(p.epoch, epoch + 1);
  assert.is(mesh.broadcasts, 0);
  for (let i = 0; i < before.size; i++) if (before.ownerAt(i) !== 'd') assert.is(p.table!.ownerAt(i), before.ownerAt(i));
  assert.is(p.table!.ownedBy('d').length, 0);
  assert.ok(spread(p.table!, ['a', 'b', 'c']) <= 1);
  assert.is(p.baseTable, before, 'the agreed table stays the one the members were derived from');
});

Part('snapshot keeps answering with the ownership it was taken at', () => {
  const p = new RangePartitioner(host);
  p.setMembers(['a', 'b', 'c', 'd']);
  const owned = p.snapshot();
  p.setMembers(['a']);
  assert.is(p.ownerOf(bytes(0x30)), 'a');
  assert.is(owned(bytes(0x30)), 'd');
  assert.is(new RangePartitioner(host).snapshot()(b('x')), undefined);
});

Part('two partitioners converge on one table after one splits a hot range and broadcasts it', () => {
  const mesh = new FakeMesh();
  const a = mesh.add('a', { maxRangeKeys: 100 });
  const bNode = mesh.add('b', { maxRangeKeys: 100 });
  a.setMembers(['a', 'b']);
  bNode.setMembers(['a', 'b']);
  mesh.pump();
  mesh.assertConverged();
  const hot = Array.from({ length: 1000 }, (_, i) => [b(`${String.fromCharCode(0x00)}k${String(i).padStart(4, '0')}`), 10] as const);
  assert.is(a.rangeOf(hot[0][0]), 0);
  const stats = a.collectStats(hot, 64, prng(3));
  assert.is(stats.length, 1);
  const epochB = bNode.epoch;
  assert.is(a.maybeSplit(stats), 1);
  assert.is(mesh.pump(), 1);
  const t = mesh.assertConverged();
  assert.is(t.size, 9);
  assert.is(t.coordinator, 'a');
  assert.is(bNode.epoch, epochB + 1);
  assert.ok(t.ownedBy('a').includes(0) && t.ownedBy('b').includes(1), 'the upper half went to b, which owned fewer ranges');
  assert.is(a.describe().splits, 1);
});

Part('nodes that saw different membership steps converge on one table, and a late frame from a concurrent split wins by order', () => {
  const mesh = new FakeMesh();
  const ids = ['a', 'b', 'c', 'd'];
  for (const id of ids) mesh.add(id, { maxRangeKeys: 10 });
  for (const id of ids) mesh.get(id).setMembers(ids);
  mesh.pump();
  // a sees d leave, then e join; b sees both at once; c sees e join first, then d leave; d is gone.
  mesh.nodes.delete('d');
  mesh.add('e', { maxRangeKeys: 10 });
  mesh.get('a').setMembers(['a', 'b', 'c']);
  mesh.get('a').setMembers(['a', 'b', 'c', 'e']);
  mesh.get('b').setMembers(['e', 'c', 'b', 'a']);
  mesh.get('c').setMembers(['a', 'b', 'c', 'd', 'e']);
  mesh.get('c').setMembers(['a', 'b', 'c', 'e']);
  mesh.get('e').setMembers(['a', 'b', 'c', 'e']);
  mesh.pump();
  const t = mesh.assertConverged();
  assert.ok(spread(t, ['a', 'b', 'c', 'e']) <= 1);
  assert.is(t.ownedBy('d').length, 0);

  // a and b split different ranges at the same time; both broadcasts cross; every node keeps one.
  const keysIn = (p: RangePartitioner, index: number): Array<readonly [Uint8Array, number]> => {
    const start = p.table!.startOf(index);
    return Array.from({ length: 50 }, (_, i) => [Uint8Array.from([...start, 0x01, i]), 1] as const);
  };
  const ia = t.ownedBy('a')[0];
  const ib = t.ownedBy('b')[0];
  assert.is(mesh.get('a').maybeSplit(mesh.get('a').collectStats(keysIn(mesh.get('a'), ia), 16, prng(1))), 1);
  assert.is(mesh.get('b').maybeSplit(mesh.get('b').collectStats(keysIn(mesh.get('b'), ib), 16, prng(2))), 1);
  mesh.pump();
  const after = mesh.assertConverged();
  assert.is(after.size, t.size + 1);
  assert.is(after.coordinator, 'a', 'equal versions: the lower coordinator wins');
});

Part('a node that joins late adopts the mesh\'s split table, pushed when it appears', () => {
  const mesh = new FakeMesh();
  const a = mesh.add('a', { maxRangeKeys: 5 });
  const bNode = mesh.add('b', { maxRangeKeys: 5 });
  a.setMembers(['a', 'b']);
  bNode.setMembers(['a', 'b']);
  mesh.pump();
  const keys = Array.from({ length: 20 }, (_, i) => [bytes(0x01, i), 1] as const);
  assert.is(a.maybeSplit(a.collectStats(keys, 8, prng(5))), 1);
  mesh.pump();
  const c = mesh.add('c');
  c.setMembers(['a', 'b', 'c']); // c's own first table is version 1
  assert.is(c.table!.size, 12);
  a.setMembers(['a', 'b', 'c']);
  bNode.setMembers(['a', 'b', 'c']);
  mesh.pump();
  const t = mesh.assertConverged();
  assert.is(t.size, 9);
  assert.ok(spread(t, ['a', 'b', 'c']) <= 1);
});

Part('an invalid table is ignored and counted; an older one is ignored; other frame types are not handled', () => {
  const p = new RangePartitioner(host);
  p.setMembers(['a', 'b']);
  const epoch = p.epoch;
  const frame = (body: unknown): MeshFrame => ({ version: 1, type: MessageType.RangeTable, flags: 0, requestId: 0, body } as MeshFrame);
  assert.ok(p.handleFrame(frame({ version: 9n, coordinator: 'b', ranges: [{ start: b('a'), owner: 'b' }] }), 'b'));
  assert.ok(p.handleFrame(frame({ version: 9n, coordinator: 'b', ranges: [{ start: bytes(), owner: 'b' }, { start: b('m'), owner: '' }] }), 'b'));
  assert.is(p.describe().invalidTables, 2);
  assert.is(p.epoch, epoch);
  const older = RangeTable.initial(['a', 'b', 'z']); // version 1, coordinator 'a', 12 ranges: a larger layout than ours
  assert.ok(p.handleFrame(frame(older.toBody()), 'b'));
  assert.is(p.table!.size, 8);
  assert.is(p.epoch, epoch);
  assert.not.ok(p.handleFrame({ version: 1, type: MessageType.Ping, flags: 0, requestId: 0, body: { target: 'a' } } as MeshFrame, 'b'));
});

Part('RangeSplit from the range\'s owner is made and broadcast; from anyone else it is ignored and counted', () => {
  const mesh = new FakeMesh();
  const a = mesh.add('a');
  const bNode = mesh.add('b');
  a.setMembers(['a', 'b']);
  bNode.setMembers(['a', 'b']);
  mesh.pump();
  const split = (at: Uint8Array): MeshFrame => ({ version: 1, type: MessageType.RangeSplit, flags: 0, requestId: 0, body: { version: 1n, at } });
  // 0x25 is in range 1 [0x20, 0x40), owned by b.
  assert.ok(a.handleFrame(split(bytes(0x25)), 'a'));
  assert.is(a.describe().invalidSplits, 1);
  assert.is(a.table!.size, 8);
  assert.ok(a.handleFrame(split(bytes(0x25)), 'b'));
  assert.is(a.table!.size, 9);
  assert.is(hex(a.table!.startOf(2)), '25');
  assert.is(mesh.pump(), 1);
  mesh.assertConverged();
  assert.ok(a.handleFrame(split(bytes(0x25)), 'b'), 'a split that is made already is acknowledged');
  assert.is(a.table!.size, 9);
  assert.ok(a.handleFrame(split(new Uint8Array(0)), 'b'));
  assert.is(a.describe().invalidSplits, 2);
});

Part('maybeSplit splits only ranges it owns that are over maxRangeKeys or maxRangeBytes, and skips stale stats', () => {
  const p = new RangePartitioner({ nodeId: 'a', broadcast: () => {} }, { maxRangeKeys: 10, maxRangeBytes: 1000 });
  p.setMembers(['a', 'b']);
  const sample = ['0', '1', '2', '3'].map((s) => bytes(0x01, s.charCodeAt(0)));
  const stats = (rangeIndex: number, keys: number, bytesHeld: number): RangeStats => ({ rangeIndex, keys, bytes: bytesHeld, sample: sample.map((k) => Uint8Array.from([rangeIndex * 0x20, ...k])) });
  assert.is(p.maybeSplit([stats(0, 10, 1000)]), 0, 'at the limits, not over');
  assert.is(p.maybeSplit([stats(1, 50, 10)]), 0, 'range 1 is b\'s');
  assert.is(p.maybeSplit([stats(99, 50, 10)]), 0, 'no such range');
  assert.is(p.maybeSplit([{ ...stats(0, 50, 10), sample: [] }]), 0, 'nothing to split at');
  assert.is(p.maybeSplit([{ ...stats(0, 50, 10), sample: [bytes(0x50), bytes(0x51)] }]), 0, 'samples from another range: stale');
  assert.is(p.table!.size, 8);
  assert.is(p.maybeSplit([stats(2, 1, 1001), stats(0, 11, 0)]), 2);
  assert.is(p.table!.size, 10);
  assert.is(p.describe().splits, 2);
  assert.throws(() => p.maybeSplit('x' as never), TypeError);
  assert.throws(() => p.maybeSplit([{ rangeIndex: -1, keys: 1, bytes: 1, sample: [] }]), RangeError);
});

Part('collectStats counts keys and bytes per range and samples at most sampleSize distinct copies', () => {
  const p = new RangePartitioner(host);
  p.setMembers(['a', 'b']); // 8 ranges of 0x20
  const entries: Array<readonly [Uint8Array, number]> = [];
  for (let i = 0; i < 1000; i++) entries.push([bytes(0x00, i >> 8, i & 0xff), 3]);
  for (let i = 0; i < 5; i++) entries.push([bytes(0xe0, i), 100]);
  const s = p.collectStats(entries, 16, prng(9));
  assert.equal(s.map((x) => [x.rangeIndex, x.keys, x.bytes, x.sample.length]), [[0, 1000, 3000, 16], [7, 5, 500, 5]]);
  assert.is(new Set(s[0].sample.map(hex)).size, 16);
  for (const k of s[0].sample) assert.is(p.rangeOf(k), 0);
  entries[1000][0][1] = 0x09;
  assert.is(hex(s[1].sample[0]), 'e000', 'samples are copies');
  assert.throws(() => p.collectStats(entries, 1), RangeError);
});

Part('describe: kind, ranges, version, ranges per node, splits and invalid tables', () => {
  const p = new RangePartitioner(host);
  assert.equal(p.describe(), { kind: 'range', ranges: 0, version: '0', coordinator: '', members: 0, splits: 0, invalidTables: 0, invalidSplits: 0 });
  p.setMembers(['a', 'b', 'c']);
  assert.equal(p.describe(), {
    kind: 'range', ranges: 12, version: '1', coordinator: 'a', members: 3, splits: 0, invalidTables: 0, invalidSplits: 0,
    'ranges.a': 4, 'ranges.b': 4, 'ranges.c': 4,
  });
});

Part('100,000 keys under the hot prefix "user:" start on one node; after 6 splits no node holds more than 2× the mean', () => {
  const ids = ['a', 'b', 'c', 'd'];
  const mesh = new FakeMesh();
  for (const id of ids) mesh.add(id, { maxRangeKeys: 5000 });
  for (const id of ids) mesh.get(id).setMembers(ids);
  mesh.pump();
  const rand = prng(2024);
  const keys = Array.from({ length: 100_000 }, () => b(`user:${Math.floor(rand() * 1e9).toString().padStart(9, '0')}`));
  const perNode = (t: RangeTable): Map<string, number> => {
    const counts = new Map(ids.map((id) => [id, 0]));
    for (const k of keys) counts.set(t.ownerOf(k), counts.get(t.ownerOf(k))! + 1);
    return counts;
  };
  assert.is(perNode(mesh.get('a').table!).get('d'), 100_000);

  let splits = 0;
  for (let round = 0; round < 6; round++) {
    // The owner of the fullest range sees it over maxRangeKeys and splits it.
    const t = mesh.get('a').table!;
    const perRange = new Map<number, number>();
    for (const k of keys) perRange.set(t.indexOf(k), (perRange.get(t.indexOf(k)) ?? 0) + 1);
    const [index] = [...perRange].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0];
    const owner = mesh.get(t.ownerAt(index));
    const local = keys.filter((k) => owner.table!.ownerOf(k) === t.ownerAt(index)).map((k) => [k, 50] as const);
    splits += owner.maybeSplit(owner.collectStats(local, 64, prng(round)).filter((s) => s.rangeIndex === index));
    mesh.pump();
    mesh.assertConverged();
  }
  assert.is(splits, 6);
  const t = mesh.assertConverged();
  assert.is(t.size, 22);
  assert.ok(spread(t, ids) <= 1);
  const counts = perNode(t);
  const mean = 100_000 / ids.length;
  for (const [id, n] of counts) assert.ok(n <= 2 * mean, `${id} holds ${n} keys, over 2× the mean ${mean}`);
  assert.ok(Math.min(...counts.values()) > 0, 'every node holds some of the hot keys');
});

Part.run();
