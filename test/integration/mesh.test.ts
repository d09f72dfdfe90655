/**
 * The mesh across processes on loopback: 4 then 5 `meshcache serve` nodes with the `lan` preset.
 * Join, routing from every node (single- and multi-key commands), SIGKILL detection time, rejoin
 * after restart, a join and a graceful leave under write load with no key lost, and peers with a
 * wrong or missing secret refused. Every child is killed at the end, whatever happens.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MeshProc, waitForState } from '../helpers/mesh-proc.js';
import { ReplyError } from '../helpers/resp-client.js';
import { pollUntil, sleep, waitFor } from '../helpers/wait.js';

const mesh = suite('mesh of node processes');
const procs: MeshProc[] = [];
const SECRET = 'integration-test-secret-0123456789';

function start(nodeId: string, join: MeshProc[] = [], extra: Partial<ConstructorParameters<typeof MeshProc>[0]> = {}): MeshProc {
  const p = new MeshProc({ nodeId, join: join.map((j) => j.meshAddress), secret: SECRET, ...extra });
  procs.push(p);
  return p;
}

const live = () => procs.filter((p) => p.alive && p.port !== 0 && p.meshAddress !== '' && !p.nodeId.startsWith('intruder'));

mesh.after(async () => {
  for (const p of procs) p.kill();
  await Promise.all(procs.map((p) => p.exited));
});

let a: MeshProc, b: MeshProc, c: MeshProc, d: MeshProc;

mesh('4 nodes join through the first and all list 4 alive members', async () => {
  a = await start('node-a').ready();
  [b, c, d] = await Promise.all([start('node-b', [a]).ready(), start('node-c', [a]).ready(), start('node-d', [a]).ready()]);
  for (const p of [a, b, c, d]) {
    for (const id of ['node-a', 'node-b', 'node-c', 'node-d']) await waitForState([p], id, 'alive', 10_000);
    const members = await p.members();
    assert.is(members.size, 4, `${p.nodeId} sees ${[...members.keys()].join(',')}`);
  }
  const info = String(await a.call('INFO', 'mesh'));
  assert.match(info, /mesh_enabled:1/);
  assert.match(info, /mesh_node_id:node-a/);
  assert.match(info, /mesh_auth:hmac-sha256/);
});

mesh('routes every key from every node: 400 keys set through random nodes read back from each', async () => {
  const nodes = [a, b, c, d];
  for (let i = 0; i < 400; i++) assert.is(await nodes[i % 4].call('SET', `key:${i}`, `value-${i}`), 'OK');
  for (const p of nodes) {
    for (let i = 0; i < 400; i += 7) assert.is(await p.call('GET', `key:${i}`), `value-${i}`, `${p.nodeId} key:${i}`);
  }
  // Each key lives on exactly one node: the local sizes add up to 400, and all nodes hold some.
  const sizes = await Promise.all(nodes.map(async (p) => Number(await p.call('DBSIZE'))));
  assert.is(sizes.reduce((x, y) => x + y, 0), 400, `sizes ${sizes}`);
  for (const s of sizes) assert.ok(s > 40, `an owner holds ${s} of 400 keys`);
  // Every node names the same owner.
  for (let i = 0; i < 40; i++) {
    const owners = await Promise.all(nodes.map((p) => p.call('MESH', 'OWNER', `key:${i}`)));
    assert.is(new Set(owners).size, 1, `owners of key:${i}: ${owners}`);
  }
  const balance = await a.call('MESH', 'BALANCE');
  assert.ok(Array.isArray(balance) || balance instanceof Map);
});

mesh('splits multi-key commands across owners and refuses cross-node MSETNX', async () => {
  const keys = Array.from({ length: 20 }, (_, i) => `key:${i}`);
  const got = await b.call('MGET', ...keys, 'missing:1');
  assert.equal(got, [...keys.map((_, i) => `value-${i}`), null]);
  assert.is(await c.call('EXISTS', ...keys, 'missing:1'), 20);
  assert.is(await d.call('MSET', 'm:1', 'x', 'm:2', 'y', 'm:3', 'z', 'm:4', 'w'), 'OK');
  assert.equal(await a.call('MGET', 'm:1', 'm:2', 'm:3', 'm:4'), ['x', 'y', 'z', 'w']);
  assert.is(await a.call('DEL', 'm:1', 'm:2', 'm:3', 'm:4', 'm:5'), 4);
  assert.equal(await b.call('MGET', 'm:1', 'm:4'), [null, null]);
  const spread = await a.call('MSETNX', 'key:1', 'a', 'key:2', 'b', 'key:3', 'c', 'key:4', 'd', 'key:5', 'e');
  assert.instance(spread, ReplyError);
  assert.match((spread as ReplyError).message, /^CROSSSLOT/);
  // Commands with a count or value reply also route: INCR on a key another node owns.
  for (const p of [a, b, c, d]) await p.call('INCR', 'counter');
  assert.is(await c.call('GET', 'counter'), '4');
});

mesh('a SIGKILLed node is marked dead by every other node within 3 s (lan preset)', async () => {
  // Everyone sees everyone alive before the kill (a false suspicion earlier would show here).
  for (const p of [a, b, c]) {
    const view = await p.members();
    assert.is(view.get('node-d')?.state, 'alive', `${p.nodeId} sees node-d ${view.get('node-d')?.state} before the kill`);
  }
  const suspicions = await Promise.all([a, b, c, d].map(async (p) => Number(String(await p.call('INFO', 'mesh')).match(/mesh_suspect_events_seen:(\d+)/)?.[1])));
  console.log(`  suspect events seen before the kill: ${suspicions.join(', ')}`);
  const killedAt = Date.now();
  d.kill('SIGKILL');
  const others = [a, b, c];
  await waitForState(others, 'node-d', 'dead', 10_000);
  // The log line may reach us a moment after MESH NODES shows the state: wait for it.
  const deadLine = (p: MeshProc) => p.logs.find((l) => l.msg === 'mesh: member state' && l.nodeId === 'node-d' && l.state === 'dead' && (l.time as number) >= killedAt);
  await waitFor(() => others.every((p) => deadLine(p) !== undefined), { timeoutMs: 5000, what: 'every node to log node-d dead' });
  const times = others.map((p) => (deadLine(p)!.time as number) - killedAt);
  console.log(`  SIGKILL detection (ms until each node marked it dead): ${times.join(', ')}`);
  for (const t of times) assert.ok(t < 3000, `detected after ${t} ms`);
  // The keys it owned now belong to the others; new writes to them work from every node.
  for (let i = 0; i < 50; i++) assert.is(await [a, b, c][i % 3].call('SET', `after-kill:${i}`, 'v'), 'OK');
  for (let i = 0; i < 50; i++) assert.is(await [c, a, b][i % 3].call('GET', `after-kill:${i}`), 'v');
});

mesh('a restarted node rejoins under its id with a higher incarnation and takes keys again', async () => {
  const before = (await a.members()).get('node-d')!;
  d = await start('node-d', [b]).ready();
  await waitForState([a, b, c, d], 'node-d', 'alive', 10_000);
  const after = (await a.members()).get('node-d')!;
  assert.ok(BigInt(after.incarnation) > BigInt(before.incarnation), `${after.incarnation} > ${before.incarnation}`);
  // Rebalancing hands it its share: after a moment it holds keys.
  await pollUntil(async () => Number(await d.call('DBSIZE')) !== 0, { timeoutMs: 15_000, intervalMs: 100 });
  if (Number(await d.call('DBSIZE')) === 0) {
    for (const p of [a, b, c, d]) {
      const info = String(await p.call('INFO', 'mesh')).split('\r\n').filter((l) => /rebalance|epoch|members_|handoff|forward_errors/.test(l));
      console.log(`  ${p.nodeId}: ${info.join(' ')}\n  ${String(await p.call('MESH', 'NODES')).replace(/\n/g, ' | ')}`);
    }
  }
  assert.ok(Number(await d.call('DBSIZE')) > 0, 'the rejoined node holds keys');
  // What was written while it was away is readable through it (some of it handed to it now).
  for (let i = 0; i < 50; i++) assert.is(await d.call('GET', `after-kill:${i}`), 'v');
  // Its earlier keys died with it (replication comes with the next issue): the rest are readable.
  let found = 0;
  for (let i = 0; i < 400; i++) if (await d.call('GET', `key:${i}`) === `value-${i}`) found++;
  assert.ok(found > 200 && found < 400, `${found} of 400 early keys survive the SIGKILL of one of 4 owners`);
});

mesh('a join and a graceful leave under write load lose no key', async () => {
  // The early keys that survived the SIGKILL above must survive the join and the leave too.
  const survivors: number[] = [];
  for (let i = 0; i < 400; i++) if (await a.call('GET', `key:${i}`) === `value-${i}`) survivors.push(i);
  let stop = false;
  let written = 0;
  const errors: string[] = [];
  const writer = async (w: number) => {
    while (!stop) {
      const targets = live().filter((p) => p.nodeId !== 'node-b' || !leaving);
      const p = targets[written % targets.length];
      const i = written++;
      try {
        const r = await p.call('SET', `load:${w}:${i}`, `v${i}`);
        if (r !== 'OK') errors.push(`${Date.now()}: SET load:${w}:${i} on ${p.nodeId}: ${String(r instanceof ReplyError ? r.message : r)}`);
        else acked.push(`load:${w}:${i}`);
      } catch (err) {
        // A client of the leaving node sees its connection end once the node has handed its
        // keys over: that write was not acknowledged, and a real client retries elsewhere.
        if (!(leaving && p === b)) errors.push(`SET on ${p.nodeId}: ${(err as Error).message}`);
      }
    }
  };
  const acked: string[] = [];
  let leaving = false;
  const writers = [writer(0), writer(1), writer(2)];
  await sleep(500);
  const e = await start('node-e', [c]).ready();
  await waitForState([a, b, c, d, e], 'node-e', 'alive', 10_000);
  await sleep(1000);
  leaving = true;
  b.kill('SIGTERM');
  const exit = await b.exited;
  assert.is(exit.code, 0, `node-b exit ${JSON.stringify(exit)}: ${b.stderr.slice(-2000)}`);
  await waitForState([a, c, d, e], 'node-b', 'left', 10_000);
  await sleep(500);
  stop = true;
  await Promise.all(writers);
  if (errors.length > 0) {
    // What the nodes saw of node-b's departure, to tell a routing gap from a slow leave.
    for (const p of [a, e, b]) {
      const seen = p.logs.filter((l) => (l.msg === 'mesh: member state' && l.nodeId === 'node-b') || /left|handed/.test(l.msg));
      console.log(`  ${p.nodeId}: ${JSON.stringify(seen.map((l) => [l.time, l.msg, l.state]))}`);
    }
  }
  assert.equal(errors, [], `write errors: ${errors.slice(0, 5).join('; ')}`);
  assert.ok(acked.length > 200, `${acked.length} writes acknowledged`);
  // Every acknowledged write is readable, from every remaining node.
  const remaining = [a, c, d, e];
  let lost = 0;
  for (let i = 0; i < acked.length; i++) {
    const key = acked[i];
    const p = remaining[i % remaining.length];
    const v = await p.call('GET', key);
    if (v !== `v${key.slice(key.lastIndexOf(':') + 1)}`) lost++;
  }
  for (const i of survivors) if (await remaining[i % 4].call('GET', `key:${i}`) !== `value-${i}`) lost++;
  console.log(`  join + graceful leave under load: ${acked.length} writes acknowledged + ${survivors.length} earlier keys, ${lost} lost`);
  assert.is(lost, 0);
  const left = b.logs.find((l) => l.msg === 'mesh: handed keys over, leaving');
  assert.ok(left !== undefined && (left.moved as number) > 0, 'node-b handed its keys over');
});

mesh('refuses peers with a wrong secret or none, and they never become members', async () => {
  const wrong = new MeshProc({ nodeId: 'intruder-1', join: [a.meshAddress], secret: 'a-wrong-secret-0123456789' });
  const none = new MeshProc({ nodeId: 'intruder-2', join: [a.meshAddress] });
  procs.push(wrong, none);
  const [w, n] = await Promise.all([wrong.exited, none.exited]);
  assert.is.not(w.code, 0, 'the wrong-secret node cannot join');
  assert.is.not(n.code, 0, 'the secret-less node cannot join');
  assert.match(wrong.stdout + wrong.stderr, /cannot start the mesh|ERR_MESH/);
  await a.log('mesh: refused a peer');
  const members = await a.members();
  assert.not.ok(members.has('intruder-1'));
  assert.not.ok(members.has('intruder-2'));
  assert.ok(Number(String(await a.call('INFO', 'mesh')).match(/mesh_transport_auth_failures:(\d+)/)?.[1]) >= 2);
});

mesh.run();
