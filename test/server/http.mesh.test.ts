/**
 * The monitoring surfaces of a sidecar in a mesh: /api/stats gains a `mesh` object (null without a
 * mesh) that the dashboard draws, and /metrics gains the meshcache_mesh_* series.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MeshcacheServer } from '../../src/server/server.js';
import { createMetrics } from '../../src/server/metrics.js';
import { startHttp, type ApiStats, type HttpEndpoint } from '../../src/server/http.js';
import { MeshNode } from '../../src/mesh/node.js';

const http = suite('HTTP endpoint of a sidecar in a mesh');
const cleanups: Array<() => Promise<void>> = [];

http.after.each(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sidecar(mesh: boolean): Promise<{ server: MeshcacheServer; http: HttpEndpoint; node: MeshNode | null; base: string }> {
  const metrics = createMetrics(undefined, { processMetrics: false });
  const server = new MeshcacheServer({ port: 0, cache: { maxMemory: '8mb' }, onCommand: metrics.onCommand });
  await server.listen();
  cleanups.push(() => server.close());
  metrics.attach(server);
  let node: MeshNode | null = null;
  if (mesh) {
    node = new MeshNode(server.cache, { port: 0, nodeId: 'dash-1', preset: 'local' });
    await node.start();
    cleanups.push(() => node!.close());
    server.attachMesh(node);
  }
  const endpoint = await startHttp({ server, metrics, port: 0, host: '127.0.0.1' });
  cleanups.push(() => endpoint.close());
  return { server, http: endpoint, node, base: `http://127.0.0.1:${endpoint.address.port}` };
}

http('/api/stats has mesh: null without a mesh; the mesh counters read 0 and no member is counted', async () => {
  const { base } = await sidecar(false);
  const stats = await (await fetch(`${base}/api/stats`)).json() as ApiStats;
  assert.is(stats.mesh, null);
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /meshcache_mesh_forwarded_total 0/);
  assert.not.match(text, /meshcache_mesh_members\{/);
});

http('/api/stats lists this node as the one alive member with its 25 keys, and /metrics counts it', async () => {
  const { base, server, node } = await sidecar(true);
  for (let i = 0; i < 25; i++) server.cache.set(`k${i}`, 'v');
  const stats = await (await fetch(`${base}/api/stats`)).json() as ApiStats;
  assert.ok(stats.mesh !== null);
  assert.is(stats.mesh!.nodeId, 'dash-1');
  assert.is(stats.mesh!.address, node!.address);
  assert.equal(stats.mesh!.members, [{ nodeId: 'dash-1', address: node!.address, state: 'alive', self: true, keys: 25, bytes: server.cache.stats().bytes }]);
  assert.is(stats.mesh!.keysBalance, 1);
  assert.equal(stats.mesh!.rebalance, { sent: 0, received: 0, pending: 0 });
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /meshcache_mesh_members\{state="alive"\} 1/);
  assert.match(text, /meshcache_mesh_members\{state="dead"\} 0/);
  assert.match(text, /meshcache_mesh_forwarded_total 0/);
  assert.match(text, /meshcache_mesh_local_health 0/);
});

http('the dashboard page carries the mesh section, hidden until the stats have a mesh', async () => {
  const { base } = await sidecar(true);
  const html = await (await fetch(`${base}/`)).text();
  assert.match(html, /<section class="card wide" id="mesh" hidden/);
  assert.match(html, /id="mesh-rows"/);
  assert.match(html, /renderMesh\(st\.mesh \?\? null\)/);
});

http.run();
