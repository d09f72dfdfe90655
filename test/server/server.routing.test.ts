import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MeshNode } from '../../src/mesh/node.js';
import { MeshcacheServer } from '../../src/server/server.js';
import { encode, ReplyError, RespClient, type Reply } from '../helpers/resp-client.js';
import { waitFor } from '../helpers/wait.js';

/** Every test body must finish within this (servers, joins and replies are all bounded). */
const TEST_LIMIT_MS = 8000;
/** How long node 1 waits for an owner before answering CLUSTERDOWN. */
const FORWARD_TIMEOUT_MS = 300;

function bounded(fn: () => Promise<void>): () => Promise<void> {
  return () => {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`test took over ${TEST_LIMIT_MS} ms`)), TEST_LIMIT_MS); });
    return Promise.race([fn(), limit]).finally(() => clearTimeout(timer));
  };
}

interface Side { server: MeshcacheServer; node: MeshNode; port: number }

async function side(nodeId: string, join?: string): Promise<Side> {
  const server = new MeshcacheServer({ port: 0, cache: { maxMemory: '16mb' } });
  opened.push(() => server.close());
  const { port } = await server.listen();
  const node = new MeshNode(server.cache, {
    port: 0, nodeId, preset: 'local', forwardTimeoutMs: FORWARD_TIMEOUT_MS, statsIntervalMs: 100,
    ...(join === undefined ? {} : { join: [join] }),
  });
  // Nodes close before their servers (cleanup runs in reverse order).
  opened.push(() => node.close());
  await node.start();
  server.attachMesh(node);
  return { server, node, port };
}

async function client(port: number): Promise<RespClient> {
  const c = await RespClient.connect(port);
  opened.push(async () => { c.destroy(); await c.closed; });
  return c;
}

/** Cleanups of what the suite opened, run newest first in `after`. */
const opened: Array<() => Promise<unknown>> = [];

/** `count` keys with `prefix` that node 1 sees owned by `owner`. */
function keysOwnedBy(owner: string, prefix: string, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (s1.node.ownerOf(Buffer.from(`${prefix}${i}`)) === owner) out.push(`${prefix}${i}`);
  return out;
}

const Routing = suite('MeshcacheServer with an attached MeshNode: routed RESP commands');

let s1: Side;
let s2: Side;

Routing.before(async () => {
  s1 = await side('r1');
  s2 = await side('r2', s1.node.address);
  await waitFor(() => [s1, s2].every((s) => s.node.nodes().filter((n) => n.state === 'alive').length === 2), { timeoutMs: 5000, what: 'r1 and r2 to see each other alive' });
});

Routing.after(async () => {
  for (const close of opened.splice(0).reverse()) await close().catch(() => undefined);
});

Routing('a pipeline of 200 SET/GET/INCR/MGET over 6 local and 6 remote keys, written at once, is answered in command order with the right values', bounded(async () => {
  const local = keysOwnedBy('r1', 'pipe:', 6);
  const remote = keysOwnedBy('r2', 'pipe:', 6);
  const keys = local.flatMap((k, i) => [k, remote[i]]); // alternating local, remote
  const [localMissing] = keysOwnedBy('r1', 'absent:', 1);
  const [remoteMissing] = keysOwnedBy('r2', 'absent:', 1);
  const counters = [keysOwnedBy('r1', 'ctr:', 1)[0], keysOwnedBy('r2', 'ctr:', 1)[0]];

  const model = new Map<string, string>();
  const commands: Buffer[] = [];
  const expected: Reply[] = [];
  for (let i = 0; i < 200; i++) {
    const k = keys[(i * 7) % keys.length];
    switch (i % 5) {
      case 0: {
        const v = `value-${i}`;
        commands.push(encode('SET', k, v));
        model.set(k, v);
        expected.push('OK');
        break;
      }
      case 1:
        commands.push(encode('GET', k));
        expected.push(model.get(k) ?? null);
        break;
      case 2: {
        const c = counters[i % 2];
        commands.push(encode('INCR', c));
        const n = Number(model.get(c) ?? '0') + 1;
        model.set(c, String(n));
        expected.push(n);
        break;
      }
      case 3: {
        // Spans both owners: local, remote, a missing key on each, the first key again.
        const mk = [local[i % 6], remote[(i + 1) % 6], localMissing, remoteMissing, keys[0]];
        commands.push(encode('MGET', ...mk));
        expected.push(mk.map((x) => model.get(x) ?? null));
        break;
      }
      default:
        commands.push(encode('GET', i % 2 === 0 ? remoteMissing : localMissing));
        expected.push(null);
    }
  }
  const forwardedBefore = s1.node.counters.forwarded;
  const c = await client(s1.port);
  c.write(Buffer.concat(commands));
  const replies = await c.replies(200, 5000);
  for (let i = 0; i < 200; i++) assert.equal(replies[i], expected[i], `reply ${i} to ${commands[i].toString('latin1').replace(/\r\n/g, ' ')}`);
  assert.equal(c.buffered, [], 'no reply beyond the 200');
  assert.ok(s1.node.counters.forwarded - forwardedBefore >= 80, `forwarded ${s1.node.counters.forwarded - forwardedBefore} requests to r2`);
  // Each key sits on its owner only.
  for (const k of local) assert.ok(s1.server.cache.has(k) && !s2.server.cache.has(k), `${k} on r1 only`);
  for (const k of remote) assert.ok(s2.server.cache.has(k) && !s1.server.cache.has(k), `${k} on r2 only`);
  assert.is(s2.server.cache.get(counters[1])?.toString(), model.get(counters[1]));
}));

Routing('a RESP3 client (HELLO 3) gets RESP3 replies to forwarded commands: _ for a missing remote key, where RESP2 gets $-1', bounded(async () => {
  const [remoteMissing, otherMissing] = keysOwnedBy('r2', 'resp3-absent:', 2);
  const [localMissing] = keysOwnedBy('r1', 'resp3-absent:', 1);
  const [remoteKey] = keysOwnedBy('r2', 'resp3-present:', 1);
  const c3 = await client(s1.port);
  const hello = await c3.call('HELLO', '3');
  assert.instance(hello, Map);
  assert.is((hello as Map<Reply, Reply>).get('proto'), 3);
  /** The raw bytes of the reply to one command. */
  const raw = async (c: RespClient, ...args: string[]): Promise<string> => {
    const chunks: Buffer[] = [];
    const onData = (b: Buffer): void => { chunks.push(b); };
    c.socket.on('data', onData);
    await c.call(...args);
    c.socket.off('data', onData);
    return Buffer.concat(chunks).toString('latin1');
  };
  assert.is(await raw(c3, 'GET', remoteMissing), '_\r\n');
  assert.is(await raw(c3, 'MGET', remoteMissing, otherMissing), '*2\r\n_\r\n_\r\n');
  assert.is(await raw(c3, 'MGET', localMissing, remoteMissing), '*2\r\n_\r\n_\r\n');
  assert.is(await raw(c3, 'SET', remoteKey, 'three'), '+OK\r\n');
  assert.is(await raw(c3, 'GET', remoteKey), '$5\r\nthree\r\n');
  const c2 = await client(s1.port);
  assert.is(await raw(c2, 'GET', remoteMissing), '$-1\r\n');
  assert.is(await raw(c2, 'MGET', localMissing, remoteMissing), '*2\r\n$-1\r\n$-1\r\n');
}));

Routing('INFO mesh answers only the Mesh section, naming node r1, its address and 2 balance nodes', bounded(async () => {
  await waitFor(() => s1.node.balance().nodes === 2, { timeoutMs: 3000, what: 'r2 to report its stats to r1' });
  const c = await client(s1.port);
  const text = await c.call('INFO', 'mesh');
  assert.type(text, 'string');
  const lines = (text as string).split('\r\n');
  assert.is(lines[0], '# Mesh');
  assert.ok(!(text as string).includes('# Server'), 'no other section');
  assert.ok(lines.includes('mesh_enabled:1'));
  assert.ok(lines.includes('mesh_node_id:r1'));
  assert.ok(lines.includes(`mesh_address:${s1.node.address}`));
  assert.ok(lines.includes('mesh_balance_nodes:2'));
  assert.ok(lines.includes('mesh_auth:loopback-only'));
}));

Routing('MESH NODES lists r1 (myself) and r2 alive; MESH OWNER names the owner of a local and a remote key; MESH BALANCE counts 2 nodes', bounded(async () => {
  const c = await client(s1.port);
  const nodes = await c.call('MESH', 'NODES');
  assert.type(nodes, 'string');
  const lines = (nodes as string).trimEnd().split('\n');
  assert.is(lines.length, 2);
  assert.match(lines[0], new RegExp(`^r1 ${s1.node.address.replace(/\./g, '\\.')} alive \\d+ keys=\\d+ bytes=\\d+ myself$`));
  assert.match(lines[1], new RegExp(`^r2 ${s2.node.address.replace(/\./g, '\\.')} alive \\d+ keys=\\d+ bytes=\\d+$`));

  const [lk] = keysOwnedBy('r1', 'owner:', 1);
  const [rk] = keysOwnedBy('r2', 'owner:', 1);
  assert.is(await c.call('MESH', 'OWNER', lk), 'r1');
  assert.is(await c.call('MESH', 'OWNER', rk), 'r2');
  // Node 2 agrees, asked through its own server.
  const c2 = await client(s2.port);
  assert.is(await c2.call('MESH', 'OWNER', rk), 'r2');

  const b = s1.node.balance();
  const balance = await c.call('MESH', 'BALANCE');
  assert.equal(balance, ['nodes', 2, 'keys', b.keys, 'keys_max_over_mean', b.keysMaxOverMean.toFixed(3), 'bytes_max_over_mean', b.bytesMaxOverMean.toFixed(3)]);
}));

Routing('MESH HELP lists the 4 subcommands; MESH BOGUS and MESH NODES with an extra argument are errors', bounded(async () => {
  const c = await client(s1.port);
  const help = await c.call('MESH', 'HELP');
  assert.ok(Array.isArray(help));
  assert.is((help as string[])[0], 'MESH <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
  for (const sub of ['NODES', 'OWNER <key>', 'BALANCE', 'HELP']) assert.ok((help as string[]).includes(sub), sub);
  assert.equal(await c.call('MESH', 'BOGUS'), new ReplyError("ERR unknown subcommand 'BOGUS'. Try MESH HELP."));
  assert.equal(await c.call('MESH', 'NODES', 'extra'), new ReplyError("ERR wrong number of arguments for 'mesh|nodes' command"));
  assert.equal(await c.call('MESH', 'OWNER'), new ReplyError("ERR wrong number of arguments for 'mesh|owner' command"));
  assert.equal(await c.call('MESH'), new ReplyError("ERR wrong number of arguments for 'mesh' command"));
}));

Routing('QUIT right behind a forwarded GET still delivers the forwarded value, then OK, then closes', bounded(async () => {
  const [rk] = keysOwnedBy('r2', 'quit:', 1);
  s2.server.cache.set(rk, 'from-r2');
  const c = await client(s1.port);
  c.write(Buffer.concat([encode('GET', rk), encode('QUIT'), encode('GET', rk)]));
  assert.is(await c.next(), 'from-r2');
  assert.is(await c.next(), 'OK');
  assert.ok(await c.closedWithin(2000), 'the server closed the connection');
  assert.equal(c.buffered, [], 'the command after QUIT was not answered');
}));

// Last: stops r2.
Routing(`a GET whose owner r2 was closed without leaving answers CLUSTERDOWN within ${FORWARD_TIMEOUT_MS} ms, and the replies behind it keep their order`, bounded(async () => {
  const [rk] = keysOwnedBy('r2', 'down:', 1);
  const [lk] = keysOwnedBy('r1', 'down:', 1);
  const c = await client(s1.port);
  assert.is(await c.call('SET', rk, 'before'), 'OK');
  const errorsBefore = s1.node.counters.forwardErrors;
  await s2.node.close();
  assert.is(s1.node.ownerOf(Buffer.from(rk)), 'r2', 'r1 has not yet noticed');
  const started = Date.now();
  c.write(Buffer.concat([encode('GET', rk), encode('SET', lk, 'after'), encode('GET', lk)]));
  const [down, ok, value] = await c.replies(3, 3000);
  const elapsed = Date.now() - started;
  assert.instance(down, ReplyError);
  assert.match((down as ReplyError).message, /^CLUSTERDOWN the owner of this key \(r2\) cannot be reached: /);
  assert.ok(elapsed < FORWARD_TIMEOUT_MS + 200, `answered in ${elapsed} ms`);
  assert.is(ok, 'OK');
  assert.is(value, 'after');
  assert.is(s1.node.counters.forwardErrors, errorsBefore + 1);
}));

Routing.run();
