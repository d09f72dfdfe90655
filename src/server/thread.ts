/**
 * A server thread (runs inside a worker_threads Worker started by threads.ts): attaches the
 * shared cache, opens its own SO_REUSEPORT socket on the shared port, serves until told to close.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { ThreadRouting } from '../mesh/thread-routing.js';
import { Cache } from '../cache/cache.js';
import { MeshcacheServer } from './server.js';
import { nativeStatus } from '../native/binding.js';
import type { ServerThreadData } from './threads.js';

const data = workerData as ServerThreadData;
const port = parentPort!;
try {
  const addon = nativeStatus().addon;
  if (addon === null) throw new Error(nativeStatus().reason);
  const cache = Cache.attach(data.handle);
  const { fd } = addon.listenReusePort(data.host, data.port, 511);
  const server = new MeshcacheServer({ ...data.options, cache, fd, threadIndex: data.threadIndex });
  await server.listen();
  let routing: ThreadRouting | null = null;
  port.on('message', (msg: { kind: string; port?: MessagePort }) => {
    if (msg.kind === 'mesh' && msg.port !== undefined) {
      routing = new ThreadRouting(cache, msg.port);
      const r = routing;
      server.attachRouting(r, () => r.info());
      return;
    }
    if (msg.kind !== 'close') return;
    server.close().then(() => { routing?.close(); return cache.close(); }).finally(() => process.exit(0));
  });
  port.postMessage({ kind: 'listening' });
} catch (err) {
  port.postMessage({ kind: 'error', error: (err as Error).message });
}
