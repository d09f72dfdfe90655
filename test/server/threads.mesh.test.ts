/**
 * A multi-threaded sidecar in a mesh (`--threads 2` with a mesh node on the main thread): the
 * second server thread looks owners up in the ring in shared memory, runs its own keys itself and
 * sends the rest through the main thread; MESH and INFO mesh answer on every thread.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServerThreads, type ThreadedServer } from '../../src/server/threads.js';
import { nativeStatus } from '../../src/native/binding.js';
import { MeshcacheServer } from '../../src/server/server.js';
import { MeshNode } from '../../src/mesh/node.js';
import { serveThreadRouting } from '../../src/mesh/thread-routing.js';
import { RespClient } from '../helpers/resp-client.js';
import { sleep, waitFor } from '../helpers/wait.js';

const threads = suite('server threads in a mesh');

threads('connections on both threads route 60 keys through a 2-node mesh and answer MESH and INFO mesh', async () => {
  if (nativeStatus().addon === null) {
    console.log(`  skipped: ${nativeStatus().reason}`);
    return;
  }
  let t: ThreadedServer | null = null;
  let other: MeshcacheServer | null = null;
  const nodes: MeshNode[] = [];
  const clients: RespClient[] = [];
  try {
    t = await startServerThreads(2, { port: 0, cache: { maxMemory: '16mb' } });
    assert.is(t.threads, 2);
    const a = new MeshNode(t.main.cache, { port: 0, nodeId: 'tm-a', preset: 'local' });
    nodes.push(a);
    await a.start();
    t.attachMesh(a, (state, port) => serveThreadRouting(a, state, port));
    other = new MeshcacheServer({ port: 0, cache: { maxMemory: '16mb' } });
    await other.listen();
    const b = new MeshNode(other.cache, { port: 0, nodeId: 'tm-b', preset: 'local', join: [a.address] });
    nodes.push(b);
    await b.start();
    other.attachMesh(b);
    await waitFor(() => a.nodes().filter((m) => m.state === 'alive').length >= 2 && b.nodes().filter((m) => m.state === 'alive').length >= 2,
      { timeoutMs: 5000, intervalMs: 20, what: 'the 2-node mesh to form' });
    await sleep(1200); // the threads' routing state is re-announced every second
    // Connections until both threads serve some.
    const byThread = new Map<string, RespClient>();
    for (let i = 0; i < 40 && byThread.size < 2; i++) {
      const c = await RespClient.connect(t.address.port);
      clients.push(c);
      const info = String(await c.call('INFO', 'server'));
      byThread.set(/server_thread:(\d+)/.exec(info)![1], c);
    }
    assert.equal([...byThread.keys()].sort(), ['0', '1'], 'connections on both threads');
    for (const [thread, c] of byThread) {
      for (let i = 0; i < 60; i++) assert.is(await c.call('SET', `t${thread}:k${i}`, `v${i}`), 'OK');
    }
    // Every key is on its owner only, and readable from both threads and from the other node.
    const otherClient = await RespClient.connect(other.address!.port);
    clients.push(otherClient);
    for (const thread of ['0', '1']) {
      for (let i = 0; i < 60; i++) {
        for (const c of [...byThread.values(), otherClient]) assert.is(await c.call('GET', `t${thread}:k${i}`), `v${i}`);
      }
    }
    assert.is(Number(await byThread.get('0')!.call('DBSIZE')) + Number(await otherClient.call('DBSIZE')), 120);
    assert.ok(Number(await otherClient.call('DBSIZE')) > 20, 'the other node owns some of the keys');
    const nodesText = String(await byThread.get('1')!.call('MESH', 'NODES'));
    assert.match(nodesText, /^tm-a .* alive .* myself$/m);
    assert.match(nodesText, /^tm-b .* alive /m);
    assert.match(String(await byThread.get('1')!.call('INFO', 'mesh')), /mesh_node_id:tm-a/);
    assert.is(await byThread.get('1')!.call('MESH', 'OWNER', 't1:k0'), await otherClient.call('MESH', 'OWNER', 't1:k0'));
  } finally {
    for (const c of clients) c.destroy();
    for (const n of nodes) await n.close();
    await other?.close();
    await t?.close();
  }
});

threads.run();
