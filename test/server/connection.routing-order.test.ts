/**
 * A connection keeps Redis's one guarantee per client — commands run in the order they came —
 * when the mesh makes some of them wait: a routed command marked kOrdered (its part here waits for
 * a hand-off pull) holds back the execution of the commands after it, while plain forwarded ones
 * do not (their replies still come back in order).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MeshcacheServer } from '../../src/server/server.js';
import { ordered } from '../../src/commands/registry.js';
import type { CommandRouting } from '../../src/commands/registry.js';
import { RespClient, encode } from '../helpers/resp-client.js';

const order = suite('routed command ordering on one connection');
let server: MeshcacheServer | null = null;
let client: RespClient | null = null;

order.after.each(async () => {
  client?.destroy();
  await server?.close();
  server = null;
  client = null;
});

let inFlight = 0;
let maxInFlight = 0;

/** A fake mesh: SET of `slow:*` keys completes here after 50 ms; `remote:*` keys answer after 50 ms from "elsewhere". */
function fakeMesh(s: MeshcacheServer, markOrdered: boolean): CommandRouting {
  return {
    routeCommand(spec, args) {
      const key = args[1]?.toString() ?? '';
      if (spec.name === 'set' && key.startsWith('slow:')) {
        const p = new Promise<Buffer>((resolve) => setTimeout(() => {
          s.cache.set(key, args[2].toString());
          resolve(Buffer.from('+OK\r\n'));
        }, 50));
        return markOrdered ? ordered(p) : p;
      }
      if (key.startsWith('remote:')) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return new Promise((resolve) => setTimeout(() => {
          inFlight--;
          resolve(Buffer.from('$6\r\nremote\r\n'));
        }, 50));
      }
      return null;
    },
  };
}

async function start(markOrdered: boolean): Promise<RespClient> {
  server = new MeshcacheServer({ port: 0, cache: { maxMemory: '8mb' } });
  const { port } = await server.listen();
  server.state.mesh = fakeMesh(server, markOrdered);
  client = await RespClient.connect(port);
  return client;
}

order('a GET pipelined behind a SET whose local part waits 50 ms for a pull sees that SET', async () => {
  const c = await start(true);
  c.write(Buffer.concat([encode('SET', 'slow:1', 'v1'), encode('GET', 'slow:1'), encode('GET', 'other')]));
  assert.equal(await c.replies(3), ['OK', 'v1', null]);
});

order('without the mark the same pipeline would read before the write (what the mark prevents)', async () => {
  const c = await start(false);
  c.write(Buffer.concat([encode('SET', 'slow:1', 'v1'), encode('GET', 'slow:1')]));
  assert.equal(await c.replies(2), ['OK', null]);
});

order('plain forwarded commands do not hold back local ones, and replies still come back in order', async () => {
  const c = await start(true);
  maxInFlight = 0;
  c.write(Buffer.concat([encode('GET', 'remote:1'), encode('SET', 'local', 'x'), encode('GET', 'remote:2'), encode('GET', 'local')]));
  assert.equal(await c.replies(4), ['remote', 'OK', 'remote', 'x']);
  assert.is(maxInFlight, 2, 'both forwarded GETs were in flight at once');
});

order.run();
