/** In-process sidecars for tests: `withServer` and a background client that keeps doing round trips. */
import { MeshcacheServer, type ServerOptions } from '../../src/server/server.js';
import { RespClient } from './resp-client.js';
import { sleep } from './wait.js';

/** Runs `fn` against a server on 127.0.0.1 port 0 (16 MiB cache, `options` over that); always closed. */
export async function withServer(options: ServerOptions, fn: (server: MeshcacheServer, port: number) => Promise<void>): Promise<void> {
  const server = new MeshcacheServer({ port: 0, cache: { maxMemory: '16mb' }, closeTimeoutMs: 500, ...options });
  const { port } = await server.listen();
  try {
    await fn(server, port);
  } finally {
    await server.close();
  }
}

/**
 * A client on `port` that runs `round(client, n)` (which asserts its replies) again and again,
 * `pauseMs` apart, until `stop()`, which resolves to the number of rounds and the slowest one, or
 * rejects with the first failure.
 */
export function roundTrips(
  port: number, round: (c: RespClient, n: number) => Promise<void>, pauseMs: number,
): { stop: () => Promise<{ rounds: number; worstMs: number }> } {
  let running = true;
  const done = (async () => {
    const c = await RespClient.connect(port);
    let rounds = 0;
    let worstMs = 0;
    try {
      while (running) {
        const started = performance.now();
        await round(c, rounds);
        worstMs = Math.max(worstMs, performance.now() - started);
        rounds++;
        await sleep(pauseMs);
      }
    } finally {
      c.destroy();
    }
    return { rounds, worstMs };
  })();
  const settled = done.then((r) => ({ r, e: null }), (e: unknown) => ({ r: null, e }));
  return {
    stop: async () => {
      running = false;
      const { r, e } = await settled;
      if (e !== null) throw e;
      return r!;
    },
  };
}
