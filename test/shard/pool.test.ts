import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cache } from '../../src/index.js';
import { kPool } from '../../src/cache/internal.js';
import { kTable } from '../../src/core/handle.js';
import { sleep } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'meshcache-test-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function code(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

const owners = suite('shard owners');

owners('every shard has exactly one owner, shown in stats()', async () => {
  const c = new Cache({ maxMemory: '16mb', shards: 8, workers: 3 });
  await c.ready();
  const w = c.stats().workers!;
  assert.is(w.threads, 3);
  assert.equal(w.owners, [0, 1, 2, 0, 1, 2, 0, 1]);
  await c.close();
  assert.is(new Cache({ maxMemory: '16mb', shards: 2, workers: 8 }).options.workers, 2, 'no more workers than shards');
});

owners('the owners sweep expired entries that nobody reads again within about a second', async () => {
  const c = new Cache({ maxMemory: '16mb', shards: 4, workers: 2, sweepInterval: 100, compression: false });
  await c.ready();
  // 500 ms: long enough that a loaded machine finishes writing before anything expires.
  for (let i = 0; i < 20_000; i++) c.set(`k${i}`, 'x'.repeat(100), { ttl: 500 });
  for (let i = 0; i < 1000; i++) c.set(`keep${i}`, 'y');
  const full = c.stats();
  assert.is(full.entries, 21_000);
  await sleep(500 + 1300); // expiry, then about a second of sweeping
  const s = c.stats();
  assert.is(s.entries, 1000, `entries left ${s.entries}`);
  assert.is(s.expirations, 20_000);
  assert.ok(s.bytes < full.bytes / 10, `bytes ${s.bytes} of ${full.bytes}`);
  assert.ok(s.workers!.swept >= 20_000);
  await c.close();
});

owners('scan returns every key present throughout, while other keys are written and deleted', async () => {
  for (const workers of [0, 2]) {
    const c = new Cache({ maxMemory: '64mb', shards: 4, workers });
    await c.ready();
    const stable = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      c.set(`stable:${i}`, 'v');
      stable.add(`stable:${i}`);
    }
    const seen = new Set<string>();
    let churn = 0;
    for await (const key of c.scan({ count: 500 })) {
      seen.add(key as string);
      // Between batches: grow the index with new keys and delete some churn keys.
      if (churn < 60_000) {
        for (let j = 0; j < 5; j++) c.set(`churn:${churn++}`, 'x');
        if (churn % 7 === 0) c.delete(`churn:${churn - 3}`);
      }
    }
    for (const k of stable) if (!seen.has(k)) assert.unreachable(`scan with ${workers} workers missed ${k}`);
    assert.ok(churn > 50_000, `only ${churn} writes during the scan`);
    await c.close();
  }
});

owners('scan filters with a glob and can yield Buffers; bad scan options throw', async () => {
  const c = new Cache({ maxMemory: '8mb' });
  for (const k of ['user:1', 'user:2', 'user:10', 'order:1', 'us?r']) c.set(k, 'v');
  const users: string[] = [];
  for await (const k of c.scan({ match: 'user:?' })) users.push(k as string);
  assert.equal(users.sort(), ['user:1', 'user:2']);
  const esc: string[] = [];
  for await (const k of c.scan({ match: 'us\\?r' })) esc.push(k as string);
  assert.equal(esc, ['us?r']);
  const bufs: unknown[] = [];
  for await (const k of c.scan({ match: 'order:*', keys: 'buffer' })) bufs.push(k);
  assert.ok(Buffer.isBuffer(bufs[0]));
  assert.is((bufs[0] as Buffer).toString(), 'order:1');
  for (const bad of [{ count: 0 }, { count: 1.5 }, { keys: 'hex' }]) {
    const err = await (async () => { for await (const _ of c.scan(bad as never)) void _; })().catch((e) => e);
    assert.instance(err, RangeError);
  }
  await c.close();
});

owners('snapshot and restore round-trip 1M entries, TTLs and compressed values included', async () => {
  const c = new Cache({ maxMemory: '512mb', shards: 8, workers: 2 });
  await c.ready();
  const n = 1_000_000;
  for (let i = 0; i < n; i++) c.set(`key:${i}`, `value:${i}`);
  c.set('big', 'z'.repeat(50_000)); // stored compressed
  const ttlSetAt = Date.now();
  c.set('ttl', 'soon', { ttl: 60_000 });
  c.set('gone', 'expired', { ttl: 1 });
  await sleep(5);
  const path = join(dir, 'one-million.snap');
  const info = await c.snapshot(path);
  assert.is(info.entries, n + 2);
  const r = await Cache.restore(path, { maxMemory: '512mb', shards: 4 });
  assert.is(r.size, n + 2);
  for (let i = 0; i < n; i += 997) assert.is(r.get(`key:${i}`), `value:${i}`);
  assert.is(r.get(`key:${n - 1}`), `value:${n - 1}`);
  assert.is(r.get('big'), 'z'.repeat(50_000));
  assert.is(r.stats().compressedEntries, 1);
  // The absolute expiry survives the round trip, however long it took on a loaded machine.
  const left = r.ttl('ttl')!;
  assert.ok(Math.abs(Date.now() + left - (ttlSetAt + 60_000)) < 100, `ttl ${left} after ${Date.now() - ttlSetAt} ms`);
  assert.is(r.get('gone'), undefined);
  await r.close();
  await c.close();
});

owners('a corrupt or truncated snapshot is refused with a clear error and loads nothing', async () => {
  const c = new Cache({ maxMemory: '8mb' });
  for (let i = 0; i < 1000; i++) c.set(`k${i}`, `v${i}`);
  const path = join(dir, 'good.snap');
  await c.snapshot(path);
  const good = readFileSync(path);
  const variants: Array<[string, Buffer]> = [
    ['truncated', good.subarray(0, good.length - 40)],
    ['cut to the header', good.subarray(0, 32)],
    ['a flipped byte in a record', Buffer.from(good).fill(0x7f, 200, 201) as unknown as Buffer],
    ['bad magic', Buffer.concat([Buffer.from('NOTASNAP'), good.subarray(8)])],
    ['empty', Buffer.alloc(0)],
  ];
  const target = new Cache({ maxMemory: '8mb' });
  target.set('mine', 'untouched');
  for (const [name, bytes] of variants) {
    const bad = join(dir, 'bad.snap');
    writeFileSync(bad, bytes);
    const e1 = await Cache.restore(bad, { maxMemory: '8mb' }).catch((e) => e);
    assert.is(code(e1), 'ERR_SNAPSHOT_CORRUPT', name);
    assert.match((e1 as Error).message, /is corrupt or truncated/);
    const e2 = await target.load(bad).catch((e) => e);
    assert.is(code(e2), 'ERR_SNAPSHOT_CORRUPT', name);
    assert.is(target.size, 1, `${name}: the target cache was changed`);
    assert.is(target.get('mine'), 'untouched');
  }
  assert.is(await target.load(path), 1000);
  assert.is(target.size, 1001);
  const missing = await Cache.restore(join(dir, 'nope.snap')).catch((e) => e);
  assert.is(code(missing), 'ENOENT');
  await c.close();
  await target.close();
});

owners.run();

const recovery = suite('lock recovery');

/** The shard of `key`, the memory's Int32 view, and the main thread's table. */
function shardInfo(c: Cache, key: string) {
  const t = c[kTable]();
  const shard = t.x.shardOfKey(t.encodeKey(key));
  const i32 = new Int32Array(t.memory.buffer as unknown as SharedArrayBuffer);
  const lockIndex = (t.shardsBase + shard * 4096) >> 2;
  return { t, shard, i32, lockIndex };
}

recovery('a lock held by a thread that died mid-operation is taken over and its shard repaired', async () => {
  const c = new Cache({ maxMemory: '32mb', shards: 4, seed: 5 });
  for (let i = 0; i < 5000; i++) c.set(`k${i}`, `v${i}`);
  c.set('big', 'q'.repeat(20_000));
  const victim = Cache.attach(c.handle); // another thread slot, which will "die"
  const deadTid = victim[kTable]().tid;
  const { t, shard, i32, lockIndex } = shardInfo(c, 'k1');
  // Simulate death inside a core call: the lock is held and the shard is half updated — its
  // index pointer and queue heads are wiped, as if the dead thread was rebuilding them.
  Atomics.store(i32, lockIndex, deadTid);
  const hdr = (t.shardsBase + shard * 4096) >> 2;
  i32[hdr + 64 / 4] = 0; // index pointer
  i32[hdr + 96 / 4] = 0; // small queue head
  i32[hdr + 104 / 4] = 0; // main queue head
  assert.is(t.x.markThreadDead(deadTid), 1);
  // Any thread that needs the shard now takes it over and repairs it.
  for (let i = 0; i < 5000; i++) assert.is(c.get(`k${i}`), `v${i}`);
  assert.is(c.get('big'), 'q'.repeat(20_000));
  assert.is(c.size, 5001);
  assert.is(Atomics.load(i32, lockIndex), 0, 'the lock was released');
  c.set('after', 'repair');
  assert.is(c.get('after'), 'repair');
  c.delete('k2');
  assert.is(c.get('k2'), undefined);
  await c.close();
});

recovery('a lock held by a live thread times out with ERR_LOCK_TIMEOUT after lockTimeout and changes nothing', async () => {
  const c = new Cache({ maxMemory: '8mb', shards: 2, lockTimeout: 50 });
  c.set('k', 'v');
  const other = Cache.attach(c.handle);
  const { i32, lockIndex } = shardInfo(c, 'k');
  Atomics.store(i32, lockIndex, other[kTable]().tid);
  const t0 = Date.now();
  let err: unknown;
  try {
    c.get('k');
  } catch (e) {
    err = e;
  }
  assert.is(code(err), 'ERR_LOCK_TIMEOUT');
  assert.ok(Date.now() - t0 >= 45, 'waited about lockTimeout');
  assert.throws(() => c.set('k', 'w'), (e: unknown) => code(e) === 'ERR_LOCK_TIMEOUT');
  assert.ok(c.stats().contended >= 2);
  Atomics.store(i32, lockIndex, 0);
  assert.is(c.get('k'), 'v');
  await other.close();
  await c.close();
});

recovery('lockTimeout and workers options are validated', () => {
  assert.throws(() => new Cache({ lockTimeout: 0 }), (e: Error) => e instanceof RangeError && e.message === 'options.lockTimeout must be an integer from 1 to 3600000');
  assert.throws(() => new Cache({ workers: 'two' as never }), (e: Error) => e instanceof TypeError && e.message === 'options.workers must be a boolean or a number');
  assert.throws(() => new Cache({ workers: -1 }), (e: Error) => e instanceof RangeError && e.message === 'options.workers must be an integer from 0 to 128');
  assert.throws(() => new Cache({ sweepInterval: -1 }), (e: Error) => e instanceof RangeError && e.message === 'options.sweepInterval must be an integer from 0 to 3600000');
});

recovery('terminating a worker in the middle of bulk work, 15 times: every shard serves and nothing written before is lost', async () => {
  const c = new Cache({ maxMemory: '256mb', shards: 8, workers: 2, sweepInterval: 20 });
  await c.ready();
  const before = 20_000;
  for (let i = 0; i < before; i++) c.set(`base:${i}`, `value:${i}:${'x'.repeat(i % 50)}`, { ttl: i % 3 === 0 ? 600_000 : 0 });
  let kills = 0;
  for (let round = 0; round < 15; round++) {
    const entries = Array.from({ length: 20_000 }, (_, i) => [`bulk:${round}:${i}`, `b${i}`] as const);
    const work = c.setManyAsync(entries).catch((e) => e);
    await sleep(round % 5);
    const victims = c[kPool]()!.workers;
    const w = victims[round % victims.length];
    if (w) {
      await w.terminate();
      kills++;
    }
    await work;
    await c.ready(); // the replacement is up
  }
  assert.ok(kills >= 10, `only ${kills} kills`);
  for (let i = 0; i < before; i++) {
    const v = c.get(`base:${i}`);
    if (v !== `value:${i}:${'x'.repeat(i % 50)}`) assert.unreachable(`base:${i} is ${String(v)}`);
  }
  // Every shard still takes writes and reads from every thread.
  for (let i = 0; i < 200; i++) c.set(`after:${i}`, i);
  for (let i = 0; i < 200; i++) assert.is(c.get(`after:${i}`), i);
  await c.setManyAsync(Array.from({ length: 2000 }, (_, i) => [`late:${i}`, i] as const));
  assert.is(c.get('late:1999'), 1999);
  const s = c.stats().workers!;
  assert.ok(s.restarts >= kills, `restarts ${s.restarts}`);
  await c.close();
});

recovery.run();
