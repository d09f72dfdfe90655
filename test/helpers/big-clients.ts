/**
 * Clients that make a sidecar hold a lot of memory and then go (issue 11), and an RSS peak sampler:
 * for test/integration/memory-return.test.ts and bench/memory-return.bench.ts.
 */
import { connect, type Socket } from 'node:net';
import { RespClient } from './resp-client.js';
import { prng, randomBytes } from './prng.js';
import { waitFor } from './wait.js';

const MiB = 1024 * 1024;

/** One field of INFO (all sections) as a number. */
async function infoField(c: RespClient, field: string): Promise<number> {
  const text = await c.call('INFO', 'everything') as string;
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(text);
  if (m === null) throw new Error(`no ${field} in INFO`);
  return Number(m[1]);
}

/**
 * `clients` connections each send a SET of `valueBytes` but its final CRLF; once the server holds
 * all of it (INFO clients_input_buffer_bytes), they disconnect, and this resolves when the server
 * has seen them go. Needs maxmemory-clients and client-query-buffer-limit above what they send.
 */
export async function partialSets(port: number, clients = 20, valueBytes = 8 * MiB): Promise<void> {
  const value = Buffer.alloc(valueBytes, 0x78);
  const sockets: Socket[] = [];
  const probe = await RespClient.connect(port);
  try {
    for (let i = 0; i < clients; i++) {
      sockets.push(await new Promise<Socket>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      }));
    }
    for (const s of sockets) {
      s.on('error', () => { /* a reset as we destroy it mid-write is expected */ });
      s.write(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${valueBytes}\r\n`);
      s.write(value);
    }
    await waitFor(async () => await infoField(probe, 'clients_input_buffer_bytes') >= clients * valueBytes, {
      timeoutMs: 60_000, what: `the server to hold ${clients} × ${valueBytes} bytes`,
    });
    for (const s of sockets) s.destroy();
    await waitFor(async () => await infoField(probe, 'connected_clients') === 1, { timeoutMs: 20_000, what: 'the clients to be gone' });
    const held = await infoField(probe, 'clients_input_buffer_bytes');
    if (held !== 0) throw new Error(`the server still holds ${held} bytes of input`);
  } finally {
    for (const s of sockets) s.destroy();
    probe.destroy();
  }
}

/**
 * Stores a random value of `valueBytes` (random: stored as it is, not compressed) and reads MGET of
 * it `count` times whole with one client, which then disconnects. Resolves to the reply's bytes.
 */
export async function bigMget(port: number, count = 200, valueBytes = 8 * MiB): Promise<number> {
  const c = await RespClient.connect(port);
  try {
    if (await c.call('SET', 'big', Buffer.from(randomBytes(prng(8), valueBytes))) !== 'OK') throw new Error('SET big failed');
    c.decode = false;
    const total = `*${count}\r\n`.length + count * (`$${valueBytes}\r\n`.length + valueBytes + 2);
    const start = c.receivedBytes;
    c.write(`*${count + 1}\r\n$4\r\nMGET\r\n${'$3\r\nbig\r\n'.repeat(count)}`);
    await waitFor(() => c.receivedBytes - start >= total, { timeoutMs: 120_000, what: 'the whole MGET reply' });
    return c.receivedBytes - start;
  } finally {
    c.destroy();
  }
}

/**
 * What a server does before it is measured: store and read back an 8 MiB value and pipeline 300
 * SETs (the first large request grows the heap and compiles the hot paths, which is not what the
 * RSS after a big client measures).
 */
export async function warmUp(port: number): Promise<void> {
  const c = await RespClient.connect(port);
  try {
    const value = Buffer.alloc(8 * MiB, 0x77);
    const set = await c.call('SET', 'warm', value);
    if (set !== 'OK') throw new Error(`SET warm: ${String((set as { message?: string })?.message ?? set)}`);
    if ((await c.call('GET', 'warm') as string).length !== value.length) throw new Error('GET warm: wrong length');
    await c.call('DEL', 'warm');
    for (let i = 0; i < 300; i++) c.write(`SET k${i} v${i}\r\n`);
    await c.replies(300, 30_000);
  } finally {
    c.destroy();
  }
}

/** Samples `rss()` every 50 ms until stopped; `stop()` gives the largest value seen. */
export function rssPeak(rss: () => number): { stop(): number } {
  let peak = rss();
  const timer = setInterval(() => { peak = Math.max(peak, rss()); }, 50);
  timer.unref();
  return { stop() { clearInterval(timer); return Math.max(peak, rss()); } };
}
