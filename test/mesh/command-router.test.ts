/**
 * Routing of RESP commands across owners, against a fake mesh: each key's owner comes from a
 * map, every node (this one included) is a tiny string store that answers the few commands the
 * router splits, and pullMoved can hand back a promise the test resolves when it chooses. The
 * specs come from the real command table, so key positions are the ones the server uses.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CROSSSLOT_REPLY, keyIndexes, routeCommand, type RouteTarget } from '../../src/mesh/command-router.js';
import { CommandTable, type CommandSpec } from '../../src/commands/registry.js';
import { registerAll } from '../../src/commands/index.js';

const TABLE = new CommandTable();
registerAll(TABLE);

function spec(name: string): CommandSpec {
  const s = TABLE.get(name);
  if (s === undefined) throw new Error(`no command ${name}`);
  return s;
}

const argv = (...words: string[]) => words.map((w) => Buffer.from(w));
const text = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const UNEXPECTED = '-ERR mesh: a node sent an unexpected reply to a split command\r\n';

/** A node's store: answers GET/SET/MGET/MSET/DEL/UNLINK/EXISTS/TOUCH in RESP2 or RESP3. */
class FakeStore {
  readonly data = new Map<string, string>();

  exec(args: Buffer[], resp: 2 | 3): Buffer {
    const name = args[0].toString().toLowerCase();
    const keys = args.slice(1).map(String);
    const nil = resp === 3 ? '_\r\n' : '$-1\r\n';
    const bulk = (v: string | undefined) => (v === undefined ? nil : `$${Buffer.byteLength(v)}\r\n${v}\r\n`);
    switch (name) {
      case 'get': return Buffer.from(bulk(this.data.get(keys[0])));
      case 'set': this.data.set(keys[0], keys[1]); return Buffer.from('+OK\r\n');
      case 'mget': return Buffer.from(`*${keys.length}\r\n${keys.map((k) => bulk(this.data.get(k))).join('')}`);
      case 'mset':
        for (let i = 0; i < keys.length; i += 2) this.data.set(keys[i], keys[i + 1]);
        return Buffer.from('+OK\r\n');
      case 'del': case 'unlink': {
        let n = 0;
        for (const k of keys) if (this.data.delete(k)) n++;
        return Buffer.from(`:${n}\r\n`);
      }
      case 'exists': case 'touch':
        return Buffer.from(`:${keys.filter((k) => this.data.has(k)).length}\r\n`);
      default:
        return Buffer.from(`-ERR fake store: ${name}\r\n`);
    }
  }
}

interface Forwarded { nodeId: string; args: string[]; raw: Buffer[]; resp: 2 | 3 }

/**
 * The fake mesh seen from this node ('local'): `owners` maps a key to a node id (absent = this
 * node). `replyOverride` lets a test make one node answer with given bytes.
 */
class FakeMesh implements RouteTarget {
  readonly owners = new Map<string, string>();
  readonly stores = new Map<string, FakeStore>([['local', new FakeStore()], ['node-b', new FakeStore()], ['node-c', new FakeStore()]]);
  readonly forwarded: Forwarded[] = [];
  readonly pulls: string[][] = [];
  readonly locals: string[][] = [];
  readonly ownerLookups: string[] = [];
  replyOverride = new Map<string, Buffer>();
  pull: Promise<void> | null = null;

  constructor(owners: Record<string, string> = {}) {
    for (const [k, o] of Object.entries(owners)) this.owners.set(k, o);
  }

  remoteOwner(key: Uint8Array): string | undefined {
    this.ownerLookups.push(text(key));
    return this.owners.get(text(key));
  }

  async forwardCommand(nodeId: string, args: Buffer[], resp: 2 | 3): Promise<Buffer> {
    this.forwarded.push({ nodeId, args: args.map(String), raw: args, resp });
    return this.replyOverride.get(nodeId) ?? this.stores.get(nodeId)!.exec(args, resp);
  }

  pullMoved(keys: Buffer[]): Promise<void> | null {
    this.pulls.push(keys.map(String));
    return this.pull;
  }

  /** The executor for this node's part. */
  execLocal(resp: 2 | 3 = 2): (args: Buffer[]) => Buffer {
    return (args) => {
      this.locals.push(args.map(String));
      return this.replyOverride.get('local') ?? this.stores.get('local')!.exec(args, resp);
    };
  }

  seed(nodeId: string, entries: Record<string, string>): void {
    for (const [k, v] of Object.entries(entries)) this.stores.get(nodeId)!.data.set(k, v);
  }
}

/** A promise with its resolve and reject, to hold a pull open. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** Lets pending microtasks and one macrotask turn run. */
const settle = () => new Promise((r) => setImmediate(r));

// ---------------------------------------------------------------------------------------------

const keys = suite('keyIndexes');

keys('GET k (argc 2, keys 1..1) has key index [1]', () => {
  assert.equal(keyIndexes(spec('get'), 2), [1]);
});

keys('SET k v EX 100 (argc 5, lastKey 1) has key index [1] only', () => {
  assert.equal(keyIndexes(spec('set'), 5), [1]);
});

keys('MGET with 4 keys (lastKey -1) has key indexes [1, 2, 3, 4]', () => {
  assert.equal(keyIndexes(spec('mget'), 5), [1, 2, 3, 4]);
});

keys('MSET with 3 pairs (lastKey -1, step 2) has key indexes [1, 3, 5]', () => {
  assert.equal(keyIndexes(spec('mset'), 7), [1, 3, 5]);
});

keys('DEL, EXISTS, UNLINK and TOUCH with 3 keys have key indexes [1, 2, 3]', () => {
  for (const name of ['del', 'exists', 'unlink', 'touch']) assert.equal(keyIndexes(spec(name), 4), [1, 2, 3], name);
});

keys('RENAME a b (keys 1..2) has key indexes [1, 2]', () => {
  assert.equal(keyIndexes(spec('rename'), 3), [1, 2]);
});

keys('keyless commands (PING, INFO, CONFIG, FLUSHALL, KEYS, SCAN) have no key index', () => {
  for (const name of ['ping', 'info', 'config', 'flushall', 'keys', 'scan', 'dbsize']) {
    assert.equal(keyIndexes(spec(name), 3), [], name);
  }
});

keys('lastKey -2 leaves the last argument out: argc 5 gives [1, 2, 3]', () => {
  const s: CommandSpec = { ...spec('mget'), name: 'fake', lastKey: -2 };
  assert.equal(keyIndexes(s, 5), [1, 2, 3]);
});

keys('a lastKey past the arguments is clamped: keys 1..3 with argc 2 gives [1]', () => {
  const s: CommandSpec = { ...spec('get'), name: 'fake', lastKey: 3 };
  assert.equal(keyIndexes(s, 2), [1]);
  assert.equal(keyIndexes(s, 6), [1, 2, 3]);
});

keys('a step of 0 counts as 1: keys 1..-1 with argc 4 gives [1, 2, 3]', () => {
  const s: CommandSpec = { ...spec('mget'), name: 'fake', step: 0 };
  assert.equal(keyIndexes(s, 4), [1, 2, 3]);
});

keys('step 2 with lastKey -1 over 8 words stops at index 7: [1, 3, 5, 7]', () => {
  assert.equal(keyIndexes(spec('mset'), 9), [1, 3, 5, 7]);
});

// ---------------------------------------------------------------------------------------------

const route = suite('routeCommand');

route('returns null for GET of a local key with nothing moving, so it runs synchronously', () => {
  const mesh = new FakeMesh();
  const r = routeCommand(spec('get'), argv('GET', 'k'), mesh, 2, mesh.execLocal());
  assert.is(r, null);
  assert.equal(mesh.pulls, [['k']]);
  assert.equal(mesh.forwarded, []);
  assert.equal(mesh.locals, [], 'the caller runs it, not the router');
});

route('returns null for MGET of 3 local keys and asks pullMoved about all 3', () => {
  const mesh = new FakeMesh();
  assert.is(routeCommand(spec('mget'), argv('MGET', 'a', 'b', 'c'), mesh, 2, mesh.execLocal()), null);
  assert.equal(mesh.pulls, [['a', 'b', 'c']]);
  assert.equal(mesh.ownerLookups, ['a', 'b', 'c']);
});

route('returns null for a keyless command (INFO) without looking up owners or pulls', () => {
  const mesh = new FakeMesh();
  assert.is(routeCommand(spec('info'), argv('INFO', 'server'), mesh, 2, mesh.execLocal()), null);
  assert.equal(mesh.ownerLookups, []);
  assert.equal(mesh.pulls, []);
});

route('looks up only the key of SET k v EX 100, not the value or options', () => {
  const mesh = new FakeMesh();
  routeCommand(spec('set'), argv('SET', 'k', 'v', 'EX', '100'), mesh, 2, mesh.execLocal());
  assert.equal(mesh.ownerLookups, ['k']);
});

route('forwards GET of a key owned by node-b whole and relays its reply byte for byte', async () => {
  const mesh = new FakeMesh({ k: 'node-b' });
  mesh.seed('node-b', { k: 'value-on-b' });
  const args = argv('GET', 'k');
  const r = routeCommand(spec('get'), args, mesh, 2, mesh.execLocal());
  assert.ok(r !== null);
  assert.is(text(await r!), '$10\r\nvalue-on-b\r\n');
  assert.is(mesh.forwarded.length, 1);
  assert.is(mesh.forwarded[0].nodeId, 'node-b');
  assert.is(mesh.forwarded[0].raw, args, 'the same argument array, not a copy');
  assert.equal(mesh.pulls, [], 'no pull for a key this node does not own');
  assert.equal(mesh.locals, []);
});

route('forwards SET k v EX 100 with all 5 arguments and the RESP3 protocol to the one owner', async () => {
  const mesh = new FakeMesh({ k: 'node-c' });
  const r = await routeCommand(spec('set'), argv('SET', 'k', 'v', 'EX', '100'), mesh, 3, mesh.execLocal(3));
  assert.is(text(r!), '+OK\r\n');
  assert.equal(mesh.forwarded.map((f) => [f.nodeId, f.args, f.resp]), [['node-c', ['SET', 'k', 'v', 'EX', '100'], 3]]);
});

route('forwards MGET of 3 keys that all live on node-b as one command', async () => {
  const mesh = new FakeMesh({ a: 'node-b', b: 'node-b', c: 'node-b' });
  mesh.seed('node-b', { a: '1', c: '3' });
  const r = await routeCommand(spec('mget'), argv('MGET', 'a', 'b', 'c'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), '*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n');
  assert.equal(mesh.forwarded.map((f) => f.args), [['MGET', 'a', 'b', 'c']]);
});

route('merges MGET of 6 keys over 3 owners back in key order with RESP2 null bulks', async () => {
  const mesh = new FakeMesh({ k2: 'node-b', k3: 'node-c', k5: 'node-b', k6: 'node-c' });
  mesh.seed('local', { k1: 'one', k4: 'four' });
  mesh.seed('node-b', { k2: 'two' });
  mesh.seed('node-c', { k6: 'six' });
  const r = await routeCommand(spec('mget'), argv('MGET', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), '*6\r\n$3\r\none\r\n$3\r\ntwo\r\n$-1\r\n$4\r\nfour\r\n$-1\r\n$3\r\nsix\r\n');
  assert.equal(mesh.locals, [['MGET', 'k1', 'k4']]);
  assert.equal(mesh.forwarded.map((f) => [f.nodeId, f.args]).sort(), [['node-b', ['MGET', 'k2', 'k5']], ['node-c', ['MGET', 'k3', 'k6']]]);
  assert.equal(mesh.pulls, [['k1', 'k4']], 'only the local keys are pulled');
});

route('merges MGET of 5 keys over 3 owners with RESP3 `_` nulls when the client speaks RESP3', async () => {
  const mesh = new FakeMesh({ b1: 'node-b', c1: 'node-c', c2: 'node-c' });
  mesh.seed('node-b', { b1: 'B' });
  mesh.seed('node-c', { c2: 'C2' });
  const r = await routeCommand(spec('mget'), argv('MGET', 'c1', 'l1', 'b1', 'c2', 'l2'), mesh, 3, mesh.execLocal(3));
  assert.is(text(r!), '*5\r\n_\r\n_\r\n$1\r\nB\r\n$2\r\nC2\r\n_\r\n');
  for (const f of mesh.forwarded) assert.is(f.resp, 3);
});

route('merges MGET over 2 remote owners without running anything locally', async () => {
  const mesh = new FakeMesh({ x: 'node-b', y: 'node-c' });
  mesh.seed('node-b', { x: 'X' });
  mesh.seed('node-c', { y: 'Y' });
  const r = await routeCommand(spec('mget'), argv('MGET', 'y', 'x'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), '*2\r\n$1\r\nY\r\n$1\r\nX\r\n');
  assert.equal(mesh.locals, []);
  assert.equal(mesh.pulls, []);
});

route('merges MGET of one key given twice on 2 owners into 3 replies in order', async () => {
  const mesh = new FakeMesh({ r: 'node-b' });
  mesh.seed('local', { l: 'L' });
  mesh.seed('node-b', { r: 'R' });
  const r = await routeCommand(spec('mget'), argv('MGET', 'l', 'r', 'l'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), '*3\r\n$1\r\nL\r\n$1\r\nR\r\n$1\r\nL\r\n');
});

route('splits MSET of 4 pairs over 3 owners keeping each key with its value', async () => {
  const mesh = new FakeMesh({ b1: 'node-b', c1: 'node-c', b2: 'node-b' });
  const r = await routeCommand(spec('mset'), argv('MSET', 'l1', 'v-l1', 'b1', 'v-b1', 'c1', 'v-c1', 'b2', 'v-b2'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), '+OK\r\n');
  assert.equal(mesh.locals, [['MSET', 'l1', 'v-l1']]);
  assert.equal(mesh.forwarded.map((f) => [f.nodeId, f.args]).sort(), [
    ['node-b', ['MSET', 'b1', 'v-b1', 'b2', 'v-b2']],
    ['node-c', ['MSET', 'c1', 'v-c1']],
  ]);
  assert.equal([...mesh.stores.get('local')!.data], [['l1', 'v-l1']]);
  assert.equal([...mesh.stores.get('node-b')!.data], [['b1', 'v-b1'], ['b2', 'v-b2']]);
  assert.equal([...mesh.stores.get('node-c')!.data], [['c1', 'v-c1']]);
});

route('leaves MSET k1 v1 k2 (an odd count) over 2 owners to the local handler: nothing is split or forwarded', () => {
  const mesh = new FakeMesh({ k2: 'node-b' });
  assert.is(routeCommand(spec('mset'), argv('MSET', 'k1', 'v1', 'k2'), mesh, 2, mesh.execLocal()), null);
  assert.equal(mesh.forwarded, []);
  assert.equal(mesh.locals, []);
});

route('answers a split MSET with the unexpected-reply error when one owner says :0 instead of OK', async () => {
  const mesh = new FakeMesh({ b1: 'node-b' });
  mesh.replyOverride.set('node-b', Buffer.from(':0\r\n'));
  const r = await routeCommand(spec('mset'), argv('MSET', 'l1', 'x', 'b1', 'y'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), UNEXPECTED);
});

route('sums DEL of 5 keys over 3 owners: 3 existed, the reply is :3', async () => {
  const mesh = new FakeMesh({ b1: 'node-b', b2: 'node-b', c1: 'node-c' });
  mesh.seed('local', { l1: 'x' });
  mesh.seed('node-b', { b1: 'x', b2: 'x' });
  const r = await routeCommand(spec('del'), argv('DEL', 'l1', 'b1', 'c1', 'b2', 'l2'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), ':3\r\n');
  assert.is(mesh.stores.get('node-b')!.data.size, 0);
  assert.is(mesh.stores.get('local')!.data.size, 0);
});

route('sums UNLINK over 2 owners: 2 existed of 4, the reply is :2', async () => {
  const mesh = new FakeMesh({ b1: 'node-b', b2: 'node-b' });
  mesh.seed('local', { l1: 'x' });
  mesh.seed('node-b', { b2: 'x' });
  const r = await routeCommand(spec('unlink'), argv('UNLINK', 'l1', 'b1', 'b2', 'l2'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), ':2\r\n');
});

route('sums EXISTS over 3 owners counting a key given twice twice: :4 for 5 keys', async () => {
  const mesh = new FakeMesh({ b: 'node-b', c: 'node-c' });
  mesh.seed('local', { l: 'x' });
  mesh.seed('node-b', { b: 'x' });
  mesh.seed('node-c', { c: 'x' });
  const r = await routeCommand(spec('exists'), argv('EXISTS', 'l', 'b', 'c', 'b', 'missing'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), ':4\r\n');
});

route('sums TOUCH over 3 owners: :0 when none of the 3 keys exist', async () => {
  const mesh = new FakeMesh({ b: 'node-b', c: 'node-c' });
  const r = await routeCommand(spec('touch'), argv('TOUCH', 'l', 'b', 'c'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), ':0\r\n');
  assert.is(mesh.forwarded.length, 2);
});

route('returns node-c\'s error reply when 1 of 3 owners fails a split MGET', async () => {
  const mesh = new FakeMesh({ b: 'node-b', c: 'node-c' });
  mesh.replyOverride.set('node-c', Buffer.from('-ERR mesh: node node-c cannot be reached\r\n'));
  const r = await routeCommand(spec('mget'), argv('MGET', 'l', 'b', 'c'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), '-ERR mesh: node node-c cannot be reached\r\n');
});

route('returns the error of a split DEL and of a split MSET when one owner fails', async () => {
  const mesh = new FakeMesh({ b: 'node-b' });
  mesh.replyOverride.set('node-b', Buffer.from('-OOM command not allowed\r\n'));
  assert.is(text((await routeCommand(spec('del'), argv('DEL', 'l', 'b'), mesh, 2, mesh.execLocal()))!), '-OOM command not allowed\r\n');
  assert.is(text((await routeCommand(spec('mset'), argv('MSET', 'l', '1', 'b', '2'), mesh, 2, mesh.execLocal()))!), '-OOM command not allowed\r\n');
});

route('returns a local error reply of a split command', async () => {
  const mesh = new FakeMesh({ b: 'node-b' });
  mesh.replyOverride.set('local', Buffer.from('-ERR local failure\r\n'));
  const r = await routeCommand(spec('exists'), argv('EXISTS', 'l', 'b'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), '-ERR local failure\r\n');
});

route('answers an unexpected-reply error when an owner sends +OK to a split MGET', async () => {
  const mesh = new FakeMesh({ b: 'node-b' });
  mesh.replyOverride.set('node-b', Buffer.from('+OK\r\n'));
  const r = await routeCommand(spec('mget'), argv('MGET', 'l', 'b'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), UNEXPECTED);
});

route('answers an unexpected-reply error when an owner sends 1 element for 2 MGET keys', async () => {
  const mesh = new FakeMesh({ b1: 'node-b', b2: 'node-b' });
  mesh.replyOverride.set('node-b', Buffer.from('*1\r\n$1\r\nx\r\n'));
  const r = await routeCommand(spec('mget'), argv('MGET', 'l', 'b1', 'b2'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), UNEXPECTED);
});

route('answers an unexpected-reply error when an owner sends a truncated MGET array', async () => {
  const mesh = new FakeMesh({ b: 'node-b' });
  mesh.replyOverride.set('node-b', Buffer.from('*1\r\n$5\r\nab'));
  const r = await routeCommand(spec('mget'), argv('MGET', 'l', 'b'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), UNEXPECTED);
});

route('answers an unexpected-reply error when an owner sends a bulk string to a split DEL', async () => {
  const mesh = new FakeMesh({ b: 'node-b' });
  mesh.replyOverride.set('node-b', Buffer.from('$1\r\n1\r\n'));
  const r = await routeCommand(spec('del'), argv('DEL', 'l', 'b'), mesh, 2, mesh.execLocal());
  assert.is(text(r!), UNEXPECTED);
});

route('refuses MSETNX over 2 owners with CROSSSLOT and runs nothing', async () => {
  const mesh = new FakeMesh({ b: 'node-b' });
  const r = await routeCommand(spec('msetnx'), argv('MSETNX', 'l', '1', 'b', '2'), mesh, 2, mesh.execLocal());
  assert.is(r, CROSSSLOT_REPLY);
  assert.is(text(r!), "-CROSSSLOT Keys in request don't hash to the same node\r\n");
  assert.equal(mesh.forwarded, []);
  assert.equal(mesh.locals, []);
  assert.equal(mesh.pulls, []);
});

route('refuses RENAME and RENAMENX from node-b to node-c with CROSSSLOT', async () => {
  const mesh = new FakeMesh({ src: 'node-b', dst: 'node-c' });
  assert.is(await routeCommand(spec('rename'), argv('RENAME', 'src', 'dst'), mesh, 2, mesh.execLocal()), CROSSSLOT_REPLY);
  assert.is(await routeCommand(spec('renamenx'), argv('RENAMENX', 'src', 'dst'), mesh, 2, mesh.execLocal()), CROSSSLOT_REPLY);
  assert.equal(mesh.forwarded, []);
});

route('refuses RENAME of a local key to a remote one with CROSSSLOT', async () => {
  const mesh = new FakeMesh({ dst: 'node-b' });
  assert.is(await routeCommand(spec('rename'), argv('RENAME', 'src', 'dst'), mesh, 2, mesh.execLocal()), CROSSSLOT_REPLY);
});

route('forwards RENAME and MSETNX whole when both keys live on node-b', async () => {
  const mesh = new FakeMesh({ a: 'node-b', z: 'node-b' });
  await routeCommand(spec('rename'), argv('RENAME', 'a', 'z'), mesh, 2, mesh.execLocal());
  await routeCommand(spec('msetnx'), argv('MSETNX', 'a', '1', 'z', '2'), mesh, 2, mesh.execLocal());
  assert.equal(mesh.forwarded.map((f) => [f.nodeId, f.args]), [
    ['node-b', ['RENAME', 'a', 'z']],
    ['node-b', ['MSETNX', 'a', '1', 'z', '2']],
  ]);
});

route('waits for a pending pullMoved before running GET of a local key', async () => {
  const mesh = new FakeMesh();
  mesh.seed('local', { k: 'moved-in' });
  const pull = deferred();
  mesh.pull = pull.promise;
  const r = routeCommand(spec('get'), argv('GET', 'k'), mesh, 2, mesh.execLocal());
  assert.ok(r !== null, 'a pending pull makes the command asynchronous');
  await settle();
  assert.equal(mesh.locals, [], 'not run before the pull resolves');
  pull.resolve();
  assert.is(text(await r!), '$8\r\nmoved-in\r\n');
  assert.equal(mesh.locals, [['GET', 'k']]);
});

route('runs the local part of a split MGET only after its pull, while the remote part goes at once', async () => {
  const mesh = new FakeMesh({ b: 'node-b' });
  mesh.seed('local', { l: 'L' });
  mesh.seed('node-b', { b: 'B' });
  const pull = deferred();
  mesh.pull = pull.promise;
  const r = routeCommand(spec('mget'), argv('MGET', 'b', 'l'), mesh, 2, mesh.execLocal());
  await settle();
  assert.is(mesh.forwarded.length, 1, 'the remote part is not held back by the pull');
  assert.equal(mesh.locals, []);
  assert.equal(mesh.pulls, [['l']]);
  pull.resolve();
  assert.is(text(await r!), '*2\r\n$1\r\nB\r\n$1\r\nL\r\n');
});

route('rejects the routed reply with the pull\'s error when pullMoved fails', async () => {
  const mesh = new FakeMesh();
  const pull = deferred();
  mesh.pull = pull.promise;
  const r = routeCommand(spec('get'), argv('GET', 'k'), mesh, 2, mesh.execLocal());
  pull.reject(new Error('previous owner went away'));
  try {
    await r;
    assert.unreachable('should have rejected');
  } catch (err) {
    assert.is((err as Error).message, 'previous owner went away');
  }
  assert.equal(mesh.locals, []);
});

keys.run();
route.run();
