/**
 * Serving from several threads. With the native addon, every server thread opens its own
 * SO_REUSEPORT listening socket on the same port and the kernel spreads new connections across
 * them; each thread serves its connections over the same shared cache (Cache.attach). Without the
 * addon (no compiler at install, or not Linux), one thread serves everything and `reason` says why.
 * Connection counters, CLIENT LIST and INFO's stats are per thread; the cache is shared.
 * The TLS listener (`options.tls`) is the main thread's alone: the other threads share only the
 * plain port, so TLS clients are all served by the main thread.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { MeshcacheServer, type ServerOptions } from './server.js';
import { nativeStatus } from '../native/binding.js';
import type { CacheHandle } from '../core/handle.js';
import type { ServerState } from '../commands/registry.js';
import type { AttachableMesh } from '../commands/mesh.js';

const THREAD_FILE = import.meta.url.endsWith('.ts')
  ? new URL('./thread-tsx.mjs', import.meta.url)
  : new URL('./thread.js', import.meta.url);

const BACKLOG = 511;

/** workerData of a server thread. */
export interface ServerThreadData {
  handle: CacheHandle;
  host: string;
  port: number;
  threadIndex: number;
  options: Omit<ServerOptions, 'cache' | 'onCommand' | 'onClientError' | 'onTlsError' | 'fd' | 'port' | 'host' | 'threadIndex' | 'tls'>;
}

export interface ThreadedServer {
  /** The main thread's server. */
  main: MeshcacheServer;
  address: AddressInfo;
  /** Threads serving, the main one included. */
  threads: number;
  backend: 'native' | 'fallback';
  reason: string;
  /**
   * Joins every thread to a started mesh node: the main server attaches it, and each other thread
   * routes through it: `serveThread` (the mesh's serveThreadRouting, bound to the node by whoever
   * wires server and mesh together) answers one thread's requests on `port` and returns a stop
   * function.
   */
  attachMesh(node: AttachableMesh, serveThread: ServeThreadRouting): void;
  close(): Promise<void>;
}

/** Serves one server thread's mesh requests arriving on `port`; returns a function that stops it. */
export type ServeThreadRouting = (server: ServerState, port: MessagePort) => () => void;

/** Starts `threads` server threads (the calling thread is one) on one port. */
export async function startServerThreads(threads: number, options: ServerOptions): Promise<ThreadedServer> {
  const native = nativeStatus();
  const tlsOnly = options.port === null;
  if (threads <= 1 || native.addon === null || tlsOnly) {
    const main = new MeshcacheServer(options);
    const address = await main.listen();
    const reason = threads <= 1 ? 'one thread requested'
      : tlsOnly ? 'one thread serves: only the main thread serves TLS, and there is no plain port'
      : `one thread serves: ${native.reason}`;
    return { main, address, threads: 1, backend: native.backend, reason, attachMesh: (node) => main.attachMesh(node), close: () => main.close() };
  }
  const host = options.host ?? '127.0.0.1';
  const { fd, port } = native.addon.listenReusePort(host, options.port ?? 6380, BACKLOG);
  // One channel per sidecar, over which its threads keep their users in step.
  options = { ...options, aclChannel: options.aclChannel ?? `meshcache.acl.${process.pid}.${randomUUID()}` };
  const main = new MeshcacheServer({ ...options, fd });
  const address = await main.listen();
  const { cache: _cache, onCommand: _c, onClientError: _e, onTlsError: _te, fd: _fd, port: _p, host: _h, threadIndex: _t, tls: _tls, ...rest } = options;
  const workers: Worker[] = [];
  try {
    for (let i = 1; i < threads; i++) {
      const data: ServerThreadData = { handle: main.cache.handle, host, port, threadIndex: i, options: rest };
      const w = new Worker(THREAD_FILE, { workerData: data });
      const [msg] = await once(w, 'message') as [{ kind: string; error?: string }];
      if (msg.kind !== 'listening') throw new Error(`server thread ${i} failed to start: ${msg.error}`);
      workers.push(w);
    }
  } catch (err) {
    await Promise.all(workers.map((w) => w.terminate()));
    await main.close();
    throw err;
  }
  const stopRouting: Array<() => void> = [];
  const attachMesh = (node: AttachableMesh, serveThread: ServeThreadRouting) => {
    main.attachMesh(node);
    for (const w of workers) {
      const { port1, port2 } = new MessageChannel();
      w.postMessage({ kind: 'mesh', port: port2 }, [port2]);
      stopRouting.push(serveThread(main.state, port1));
    }
  };
  const close = async () => {
    await Promise.all(workers.map(async (w) => {
      w.postMessage({ kind: 'close' });
      const timer = setTimeout(() => void w.terminate(), 10_000);
      await once(w, 'exit');
      clearTimeout(timer);
    }));
    for (const stop of stopRouting) stop();
    await main.close();
  };
  return { main, address: { ...address, port }, threads, backend: 'native', reason: `${threads} threads share port ${port} through SO_REUSEPORT`, attachMesh, close };
}
