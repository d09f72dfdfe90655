/**
 * The rebalancer's hand-off, driven with a real Cache on the old owner and a MemoryNetwork (every
 * frame through the real wire codec) to a fake new owner whose answer each test picks. What is
 * guarded: a key leaves the old owner only after its new owner acknowledged it, and only if it did
 * not change (or come back to this node) meanwhile.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Cache } from '../../src/index.js';
import { kStoreEncoded } from '../../src/cache/internal.js';
import { Rebalancer, type RebalancerDeps } from '../../src/mesh/rebalancer.js';
import { MessageType, type MeshFrame, type RebalanceEntry } from '../../src/mesh/wire.js';
import type { OutgoingFrame } from '../../src/mesh/transport.js';
import { MemoryNetwork } from '../helpers/memory-transport.js';
import { sleep, waitFor } from '../helpers/wait.js';

const OLD = 'old';
const NEW = 'new';
/** In `Harness.owners`: the key has no owner (ownerOf returns undefined). */
const NOBODY = '<nobody>';

/** What the fake new owner does with one Rebalance batch. */
type Answer = (entries: RebalanceEntry[], batchIndex: number) => 'ack' | 'nack' | 'silent' | 'store-only';

interface Harness {
  cache: Cache;
  /** The new owner's cache: what it stored from the hand-off. */
  target: Cache;
  rebalancer: Rebalancer;
  network: MemoryNetwork;
  /** Keys of every batch the new owner received, in order (as decoded from the wire). */
  batches: string[][];
  /** The entries as the new owner decoded them. */
  received: RebalanceEntry[];
  /** Timeouts the rebalancer asked for. */
  timeouts: number[];
  passesCompleted: number;
  /** Which node owns a key (tests change it mid-pass). */
  owners: Map<string, string>;
  epoch: { value: number };
  /** Messages the rebalancer logged at warn level, with their fields. */
  warnings: Array<[Record<string, unknown>, string]>;
  close(): Promise<void>;
}

/**
 * The old owner holds `keys` (value `v:<key>`); every key in `owners` maps to its owner, every
 * other key to NEW. `answer` decides, per batch, what the new owner replies. A silent batch is
 * given up after `requestTimeoutMs` (the rebalancer asks for 10 s; the harness shortens it).
 */
function harness(keys: string[], answer: Answer, options: Partial<RebalancerDeps> & { requestTimeoutMs?: number; onBatch?: (h: Harness, entries: RebalanceEntry[]) => void } = {}): Harness {
  const network = new MemoryNetwork();
  const from = network.transport(OLD);
  const to = network.transport(NEW);
  const cache = new Cache({ maxMemory: '8mb', shards: 2 });
  for (const k of keys) cache.set(k, `v:${k}`);
  const target = new Cache({ maxMemory: '8mb', shards: 2 });
  const h = {
    cache, target, network, batches: [], received: [], timeouts: [], passesCompleted: 0,
    owners: new Map<string, string>(), epoch: { value: 1 }, warnings: [],
  } as unknown as Harness;
  let index = 0;
  to.onFrame((frame: MeshFrame, _from, reply: (f: OutgoingFrame) => void) => {
    if (frame.type !== MessageType.Rebalance) return;
    const entries = frame.body.entries;
    h.batches.push(entries.map((e) => Buffer.from(e.key).toString()));
    h.received.push(...entries);
    options.onBatch?.(h, entries);
    const what = answer(entries, index++);
    if (what === 'silent') return;
    if (what === 'nack') {
      reply({ type: MessageType.Nack, body: { target: OLD } });
      return;
    }
    let stored = 0;
    for (const e of entries) if (target[kStoreEncoded](Buffer.from(e.key), e.value, e.valueType, e.ttlMs, true)) stored++;
    if (what === 'store-only') return; // stored, but the ack is lost
    reply({ type: MessageType.RebalanceAck, body: { epoch: frame.body.epoch, stored } });
  });
  const timeoutMs = options.requestTimeoutMs ?? 200;
  h.rebalancer = new Rebalancer(cache, {
    nodeId: OLD,
    batchEntries: 2,
    sweepIntervalMs: 60_000,
    ownerOf: (key) => {
      const owner = h.owners.get(Buffer.from(key).toString()) ?? NEW;
      return owner === NOBODY ? undefined : owner;
    },
    addressOf: (id) => (id === NEW ? to.address : id === OLD ? from.address : undefined),
    request: (address, frame, t) => {
      h.timeouts.push(t);
      return from.request(address, frame, timeoutMs);
    },
    epoch: () => h.epoch.value,
    logger: {
      info: () => {},
      debug: () => {},
      warn: (fields: Record<string, unknown>, msg: string) => { h.warnings.push([fields, msg]); },
    } as unknown as RebalancerDeps['logger'],
    rangeStats: null,
    onPassComplete: () => { h.passesCompleted++; },
    ...options,
  });
  h.close = async () => {
    h.rebalancer.stop();
    await from.close();
    await to.close();
    await cache.close();
    await target.close();
  };
  return h;
}

/** Every key of `c` with its value, sorted by key. */
async function contents(c: Cache): Promise<Array<[string, unknown]>> {
  const out: Array<[string, unknown]> = [];
  for await (const k of c.scan()) out.push([String(k), c.get(k as string)]);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

const KEYS = ['a', 'b', 'c', 'd', 'e'];
const ALL = KEYS.map((k) => [k, `v:${k}`] as [string, unknown]);

/** One pass (a deadline already past stops `drain` after its first pass). */
function onePass(h: Harness): Promise<number> {
  return h.rebalancer.drain(0);
}

const failed = suite('Rebalancer: a hand-off that is not acknowledged keeps the keys');

failed('every batch nacked: all 5 keys stay on the old owner with their values, 5 pending, 3 failures', async () => {
  const h = harness(KEYS, () => 'nack');
  assert.is(await onePass(h), 0);
  assert.equal(h.batches.flat().sort(), KEYS, 'every key was offered');
  assert.equal(await contents(h.cache), ALL);
  const s = h.rebalancer.stats();
  assert.is(s.sent, 0);
  assert.is(s.pending, 5);
  assert.is(s.failures, 3); // batches of 2, 2 and 1
  assert.is(s.passes, 1);
  assert.is(h.passesCompleted, 0, 'a pass with keys pending does not report the hand-off done');
  assert.equal(h.warnings[0], [{ owner: NEW, entries: 2, err: `unexpected reply type ${MessageType.Nack}` }, 'mesh: rebalance batch not acknowledged; retrying later']);
  await h.close();
});

failed('a batch the new owner stored but never acked (timeout): the keys stay on the old owner too', async () => {
  const h = harness(KEYS, () => 'store-only', { requestTimeoutMs: 30 });
  assert.is(await onePass(h), 0);
  assert.equal(await contents(h.cache), ALL);
  assert.is(h.target.size, 5, 'the new owner did store them');
  const s = h.rebalancer.stats();
  assert.is(s.pending, 5);
  assert.is(s.failures, 3);
  assert.equal(h.timeouts, [10_000, 10_000, 10_000], 'each batch waits up to 10 s for its ack');
  assert.is(h.network.errors.length, 0);
  await h.close();
});

failed('the new owner unreachable (connection refused): nothing is deleted', async () => {
  const h = harness(KEYS, () => 'ack');
  h.network.kill(`mem:${NEW}`);
  assert.is(await onePass(h), 0);
  assert.equal(await contents(h.cache), ALL);
  assert.is(h.rebalancer.stats().pending, 5);
  assert.is(h.rebalancer.stats().failures, 3);
  await h.close();
});

failed('only the keys of the one failed batch stay; those of the acked batches leave', async () => {
  const h = harness(KEYS, (_e, i) => (i === 1 ? 'silent' : 'ack'), { requestTimeoutMs: 30 });
  assert.is(await onePass(h), 3);
  assert.is(h.batches.length, 3);
  const kept = h.batches[1].sort();
  assert.is(kept.length, 2);
  assert.equal(await contents(h.cache), kept.map((k) => [k, `v:${k}`]));
  const s = h.rebalancer.stats();
  assert.is(s.sent, 3);
  assert.is(s.pending, 2);
  assert.is(s.failures, 1);
  await h.close();
});

failed('an owner with no known address: the keys stay, pending, and no frame is sent', async () => {
  const h = harness(KEYS, () => 'ack', { addressOf: () => undefined });
  assert.is(await onePass(h), 0);
  assert.equal(await contents(h.cache), ALL);
  assert.is(h.batches.length, 0);
  assert.is(h.rebalancer.stats().pending, 5);
  assert.is(h.rebalancer.stats().failures, 0);
  await h.close();
});

failed.run();

const acked = suite('Rebalancer: an acknowledged hand-off deletes only unchanged keys');

acked('all batches acked: the 5 keys move, with their values, and the pass reports the hand-off done', async () => {
  const h = harness(KEYS, () => 'ack');
  assert.is(await onePass(h), 5);
  assert.equal(await contents(h.cache), []);
  assert.equal(await contents(h.target), ALL);
  const s = h.rebalancer.stats();
  assert.is(s.sent, 5);
  assert.is(s.pending, 0);
  assert.is(s.failures, 0);
  assert.is(h.passesCompleted, 1);
  await h.close();
});

acked('a key rewritten on the old owner during the hand-off stays with its new value (and is pending)', async () => {
  const h = harness(KEYS, () => 'ack', {
    onBatch: (hh, entries) => {
      for (const e of entries) if (Buffer.from(e.key).toString() === 'c') hh.cache.set('c', 'rewritten');
    },
  });
  assert.is(await onePass(h), 4);
  assert.equal(await contents(h.cache), [['c', 'rewritten']]);
  assert.is(h.target.get('c'), 'v:c', 'the new owner got the value as it was read');
  assert.is(h.rebalancer.stats().pending, 1);
  assert.is(h.passesCompleted, 0);
  await h.close();
});

acked('a key deleted on the old owner during the hand-off is neither counted sent nor pending', async () => {
  const h = harness(KEYS, () => 'ack', {
    onBatch: (hh, entries) => {
      for (const e of entries) if (Buffer.from(e.key).toString() === 'b') hh.cache.delete('b');
    },
  });
  assert.is(await onePass(h), 4);
  assert.equal(await contents(h.cache), []);
  const s = h.rebalancer.stats();
  assert.is(s.sent, 4);
  assert.is(s.pending, 0);
  await h.close();
});

acked('a key whose ownership came back to this node during the hand-off stays', async () => {
  const h = harness(KEYS, () => 'ack', {
    onBatch: (hh, entries) => {
      for (const e of entries) if (Buffer.from(e.key).toString() === 'd') hh.owners.set('d', OLD);
    },
  });
  assert.is(await onePass(h), 4);
  assert.equal(await contents(h.cache), [['d', 'v:d']]);
  assert.is(h.rebalancer.stats().pending, 0);
  await h.close();
});

acked('keys this node owns (or nobody owns) are never offered or deleted, nor counted pending', async () => {
  const h = harness(KEYS, () => 'ack');
  h.owners.set('a', OLD);
  h.owners.set('b', NOBODY);
  assert.is(await onePass(h), 3);
  assert.equal(h.batches.flat().sort(), ['c', 'd', 'e']);
  assert.equal(await contents(h.cache), [['a', 'v:a'], ['b', 'v:b']]);
  assert.is(h.rebalancer.stats().pending, 0);
  assert.is(h.passesCompleted, 1);
  await h.close();
});

acked('4 keys in batches of 2 make exactly 2 batches (no empty one at the end)', async () => {
  const h = harness(['a', 'b', 'c', 'd'], () => 'ack');
  assert.is(await onePass(h), 4);
  assert.equal(h.batches.map((b) => b.length), [2, 2]);
  const s = h.rebalancer.stats();
  assert.ok(s.lastPassMs >= 0 && s.lastPassMs < 60_000, `lastPassMs ${s.lastPassMs}`);
  await h.close();
});

acked('a key that expires or is deleted after the scan read it, before its turn, is skipped', async () => {
  let deleted: string | undefined;
  const h = harness(KEYS, () => 'ack', {
    onBatch: (hh, entries) => {
      if (deleted !== undefined) return;
      // All 5 keys came in one scan batch; delete one the pass has not reached yet.
      const offered = new Set(entries.map((e) => Buffer.from(e.key).toString()));
      deleted = KEYS.find((k) => !offered.has(k))!;
      hh.cache.delete(deleted);
    },
  });
  assert.is(await onePass(h), 4);
  assert.not.ok(h.batches.flat().includes(deleted!));
  assert.equal(await contents(h.cache), []);
  assert.is(h.target.get(deleted!), undefined, 'the deleted key was not resurrected on the new owner');
  await h.close();
});

acked('without a logger a failed batch still keeps its keys', async () => {
  const h = harness(KEYS, () => 'nack', { logger: null });
  assert.is(await onePass(h), 0);
  assert.equal(await contents(h.cache), ALL);
  assert.is(h.rebalancer.stats().pending, 5);
  await h.close();
});

acked('entries go out with their value type and the TTL left (0 = none); expiring ones are skipped', async () => {
  const h = harness([], () => 'ack');
  h.cache.set('plain', 'text');
  h.cache.set('num', 42);
  h.cache.set('ttl', 'soon', { ttl: 60_000 });
  assert.is(await onePass(h), 3);
  const byKey = new Map(h.received.map((e) => [Buffer.from(e.key).toString(), e]));
  assert.is(byKey.get('plain')!.ttlMs, 0);
  const ttlMs = byKey.get('ttl')!.ttlMs;
  assert.ok(ttlMs > 59_000 && ttlMs <= 60_000, `ttlMs ${ttlMs}`);
  assert.is(h.target.get('num'), 42);
  assert.is(h.target.get('plain'), 'text');
  assert.is(h.target.get('ttl'), 'soon');
  await h.close();
});

acked('a pass whose epoch changed meanwhile does not report the hand-off done', async () => {
  const h = harness(KEYS, () => 'ack', { onBatch: (hh) => { hh.epoch.value = 2; } });
  assert.is(await onePass(h), 5);
  assert.is(h.passesCompleted, 0);
  const sent = h.received.length;
  assert.is(sent, 5);
  await h.close();
});

acked('the range collector gets every locally owned key with its size, then finish', async () => {
  const added: Array<[string, number]> = [];
  let finished = 0;
  const h = harness(KEYS, () => 'ack', {
    rangeStats: () => ({ add: (k, bytes) => { added.push([Buffer.from(k).toString(), bytes]); }, finish: () => { finished++; } }),
  });
  h.owners.set('a', OLD);
  h.owners.set('bb', OLD);
  h.cache.set('bb', 'xyz');
  await onePass(h);
  assert.equal(added.sort(), [['a', 1 + 'v:a'.length], ['bb', 2 + 'xyz'.length]]); // key + stored value bytes
  assert.is(finished, 1);
  await h.close();
});

acked.run();

const passes = suite('Rebalancer: when passes run');

passes('tick starts a pass at once while keys are pending, and not once none are', async () => {
  let accept = false;
  const h = harness(KEYS, () => (accept ? 'ack' : 'nack'));
  await onePass(h);
  assert.is(h.rebalancer.stats().pending, 5);
  accept = true;
  h.rebalancer.tick();
  assert.is(h.rebalancer.stats().inProgress, 1, 'the tick started a pass');
  h.rebalancer.tick(); // while one runs: no second pass
  await waitFor(() => h.rebalancer.stats().inProgress === 0, { timeoutMs: 5000, what: 'the pass to end' });
  assert.is(h.rebalancer.stats().passes, 2);
  assert.equal(await contents(h.cache), []);
  h.rebalancer.tick();
  assert.is(h.rebalancer.stats().inProgress, 0, 'nothing pending and a pass ran within sweepIntervalMs');
  await h.close();
});

passes('tick sweeps once sweepIntervalMs has passed since the last pass; a stopped rebalancer never does', async () => {
  const h = harness(KEYS, () => 'ack', { sweepIntervalMs: 1 });
  await sleep(5);
  h.rebalancer.tick();
  assert.is(h.rebalancer.stats().inProgress, 1);
  await waitFor(() => h.rebalancer.stats().inProgress === 0, { timeoutMs: 5000, what: 'the pass to end' });
  assert.equal(await contents(h.cache), []);
  h.rebalancer.stop();
  await sleep(5);
  h.rebalancer.tick();
  assert.is(h.rebalancer.stats().inProgress, 0);
  await h.close();
});

passes('schedule runs a pass after its debounce; scheduled passes after stop() never run', async () => {
  const h = harness(KEYS, () => 'ack');
  h.rebalancer.schedule();
  h.rebalancer.schedule(); // a burst of changes: one debounced pass
  assert.is(h.rebalancer.stats().inProgress, 0, 'debounced, not at once');
  // Within 1.5 s: the 100 ms debounced pass, not the settling pass 2 s later.
  await waitFor(() => h.rebalancer.stats().passes === 1 && h.rebalancer.stats().inProgress === 0, { timeoutMs: 1500, what: 'the scheduled pass' });
  assert.equal(await contents(h.cache), []);
  await h.close();
  const stopped = harness(KEYS, () => 'ack');
  stopped.rebalancer.schedule();
  stopped.rebalancer.stop();
  stopped.rebalancer.schedule();
  await sleep(300); // three debounce periods
  assert.is(stopped.rebalancer.stats().passes, 0);
  assert.equal(await contents(stopped.cache), ALL);
  await stopped.close();
});

passes('stop() during a pass ends it: keys not yet offered stay, and the hand-off is not reported done', async () => {
  const h = harness(KEYS, () => 'ack', { onBatch: (hh) => hh.rebalancer.stop() });
  assert.is(await onePass(h), 2);
  assert.is(h.batches.length, 1);
  assert.equal((await contents(h.cache)).length, 3);
  assert.is(h.rebalancer.stats().passes, 0);
  assert.is(h.passesCompleted, 0);
  await h.close();
});

passes('drain retries until the new owner acks and returns how many keys it handed over', async () => {
  const h = harness(KEYS, (_e, i) => (i < 3 ? 'nack' : 'ack'));
  assert.is(await h.rebalancer.drain(Date.now() + 10_000), 5);
  assert.is(h.batches.length, 6);
  assert.is(h.rebalancer.stats().passes, 2, 'drain stops as soon as nothing is pending');
  assert.equal(await contents(h.cache), []);
  await h.close();
});

passes('drain counts only the keys handed over during that drain', async () => {
  const h = harness(KEYS, (_e, i) => (i === 0 ? 'nack' : 'ack'));
  assert.is(await onePass(h), 3);
  assert.is(await h.rebalancer.drain(0), 2);
  assert.is(h.rebalancer.stats().sent, 5);
  await h.close();
});

passes('a pass during which the epoch changed is run again at once', async () => {
  const h = harness(KEYS, () => 'ack', {
    sweepIntervalMs: 1,
    onBatch: (hh) => { if (hh.epoch.value === 1) hh.epoch.value = 2; },
  });
  await sleep(5);
  h.rebalancer.tick();
  await waitFor(() => h.rebalancer.stats().inProgress === 0, { timeoutMs: 5000, what: 'the passes to end' });
  assert.is(h.rebalancer.stats().passes, 2);
  assert.is(h.passesCompleted, 1, 'the second pass ran under one epoch throughout');
  await h.close();
});

passes('a pass that throws is logged and the rebalancer keeps working', async () => {
  let broken = true;
  const h = harness(KEYS, () => 'ack', {
    ownerOf: (key) => {
      if (broken) throw new Error('ring unavailable');
      return Buffer.from(key).toString() === '' ? OLD : NEW;
    },
    sweepIntervalMs: 1,
  });
  await sleep(5);
  h.rebalancer.tick();
  await waitFor(() => h.rebalancer.stats().inProgress === 0, { timeoutMs: 5000, what: 'the failed pass to end' });
  assert.equal(h.warnings, [[{ err: 'ring unavailable' }, 'mesh: rebalance pass failed']]);
  broken = false;
  await sleep(5);
  h.rebalancer.tick();
  await waitFor(() => h.rebalancer.stats().inProgress === 0, { timeoutMs: 5000, what: 'the next pass to end' });
  assert.equal(await contents(h.cache), []);
  await h.close();
  // Without a logger the failure is dropped quietly (an unhandled rejection would end this run).
  let fail = true;
  const quiet = harness(KEYS, () => 'ack', {
    logger: null,
    sweepIntervalMs: 1,
    ownerOf: () => { if (fail) throw new Error('ring unavailable'); return NEW; },
  });
  await sleep(5);
  quiet.rebalancer.tick();
  await waitFor(() => quiet.rebalancer.stats().inProgress === 0, { timeoutMs: 5000, what: 'the failed pass to end' });
  await sleep(5);
  fail = false;
  quiet.rebalancer.tick();
  await waitFor(() => quiet.rebalancer.stats().inProgress === 0, { timeoutMs: 5000, what: 'the next pass to end' });
  assert.equal(await contents(quiet.cache), []);
  await quiet.close();
});

passes.run();
