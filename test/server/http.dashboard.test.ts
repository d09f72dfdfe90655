import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { MeshcacheServer } from '../../src/server/server.js';
import { createMetrics } from '../../src/server/metrics.js';
import { startHttp, type HttpEndpoint } from '../../src/server/http.js';

/** Debian's Chromium; playwright's own browser downloads are never used. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STEP_TIMEOUT_MS = 10_000;
const SHARDS = 8;

function bounded<T>(p: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms); }),
  ]);
}

const encode = (args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** Sends the commands over a raw socket and resolves once the trailing PING's +PONG arrives. */
function send(socket: Socket, commands: string[][]): Promise<void> {
  return bounded(new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.endsWith('+PONG\r\n')) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.write(commands.map(encode).join('') + encode(['PING']));
  }), 'replies');
}

const dashboard = suite('dashboard in headless Chromium');

if (!existsSync(CHROMIUM)) {
  dashboard('renders live figures (skipped: no browser)', () => {
    console.log(`  skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`);
  });
} else {
  const { chromium } = await import('playwright-core');
  type Browser = Awaited<ReturnType<typeof chromium.launchPersistentContext>>;
  let server: MeshcacheServer;
  let http: HttpEndpoint;
  let socket: Socket;
  let context: Browser | undefined;
  let profile: string;
  const problems: string[] = [];

  dashboard.before(async () => {
    const metrics = createMetrics(undefined, { processMetrics: false });
    server = new MeshcacheServer({ port: 0, cache: { maxMemory: '4mb', shards: SHARDS }, onCommand: metrics.onCommand });
    metrics.attach(server);
    await bounded(server.listen(), 'RESP listen');
    http = await bounded(startHttp({ server, metrics, port: 0 }), 'HTTP listen');
    socket = await bounded(new Promise<Socket>((resolve, reject) => {
      const s = connect(server.address!.port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    }), 'connect');
    const commands: string[][] = [];
    for (let i = 0; i < 64; i++) commands.push(['SET', `user:${i}`, 'x'.repeat(100)]);
    for (let i = 0; i < 48; i++) commands.push(['GET', `user:${i}`]);
    for (let i = 0; i < 16; i++) commands.push(['GET', `nobody:${i}`]);
    await send(socket, commands);
    profile = mkdtempSync(join(tmpdir(), 'meshcache-chromium-'));
    context = await bounded(chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 20_000,
      viewport: { width: 1100, height: 900 },
    }), 'launch Chromium', 25_000);
  });

  dashboard.after(async () => {
    socket?.destroy();
    await context?.close().catch((err: Error) => console.log(`  closing Chromium: ${err.message}`));
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
    await Promise.all([http?.close(), server?.close()]);
  });

  dashboard('shows the hit ratio, entries, clients, memory and one bar per shard as the server has them', async () => {
    const page = await context!.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await page.goto(`http://127.0.0.1:${http.address.port}/`);
    await page.waitForSelector('#status[data-state="live"]');
    const stats = server.cache.stats();
    const value = (id: string) => page.getAttribute(`#${id}`, 'data-value');
    assert.is(Number(await value('hit-ratio')), 48 / 64);
    assert.is(await page.textContent('#hit-ratio'), '75%');
    assert.is(Number(await value('hits')), 48);
    assert.is(Number(await value('misses')), 16);
    assert.is(Number(await value('entries')), 64);
    assert.is(Number(await value('clients')), 1);
    assert.is(Number(await value('evictions')), 0);
    assert.is(Number(await value('memory-used')), stats.usedBytes);
    assert.is(Number(await value('memory-budget')), 4 * 1024 * 1024);
    assert.is(await page.textContent('#memory-budget'), '4 MiB');
    const meter = await page.$eval('#memory-meter', (m) => (m as HTMLMeterElement).value);
    assert.ok(Math.abs(meter - stats.usedBytes / stats.budget) < 1e-9);
    const bars = await page.$$eval('#shard-bars .bar', (els) => els.map((e) => ({
      entries: Number((e as HTMLElement).dataset.entries),
      height: parseFloat(((e as HTMLElement).firstElementChild as HTMLElement).style.height),
    })));
    assert.is(bars.length, SHARDS);
    assert.equal(bars.map((b) => b.entries), stats.shards.map((s) => s.entries));
    const max = Math.max(...bars.map((b) => b.entries));
    bars.forEach((b, i) => assert.ok(Math.abs(b.height - (b.entries / max) * 100) < 1e-3, `bar ${i} height ${b.height}%`));
    const label = await page.getAttribute('#shard-bars', 'aria-label');
    assert.match(label!, new RegExp(`across ${SHARDS} shards.*most ${max}`));
    assert.is(Number(await value('balance')), stats.balance);
    await page.click('summary');
    await page.waitForSelector('#shard-rows tr');
    assert.is(await page.$$eval('#shard-rows tr', (rows) => rows.length), SHARDS);
    const shot = join(tmpdir(), 'meshcache-dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`  screenshot: ${shot}`);
    assert.equal(problems, [], 'no console errors (a CSP violation would show here)');
    await page.close();
  });

  dashboard('follows new writes: 32 more SETs show up as 96 entries within two polls', async () => {
    const page = await context!.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    await page.goto(`http://127.0.0.1:${http.address.port}/`);
    await page.waitForSelector('#status[data-state="live"]');
    const before = Number(await page.getAttribute('#commands-total', 'data-value'));
    await send(socket, Array.from({ length: 32 }, (_, i) => ['SET', `more:${i}`, 'y']));
    await page.waitForSelector('#entries[data-value="96"]', { timeout: 3000 });
    await page.waitForFunction((n) => Number(document.getElementById('commands-total')!.dataset.value) >= n, before + 33, { timeout: 3000 });
    const bars = await page.$$eval('#shard-bars .bar', (els) => els.map((e) => Number((e as HTMLElement).dataset.entries)));
    assert.is(bars.reduce((a, b) => a + b, 0), 96);
    await page.close();
  });

  dashboard('says so when the server stops answering, and keeps the last figures', async () => {
    const page = await context!.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    await page.goto(`http://127.0.0.1:${http.address.port}/`);
    await page.waitForSelector('#status[data-state="live"]');
    await http.close();
    await page.waitForSelector('#status[data-state="error"]', { timeout: 5000 });
    assert.match((await page.textContent('#status'))!, /Cannot reach the server/);
    assert.is(await page.getAttribute('#entries', 'data-value'), '96');
    await page.close();
  });
}

dashboard.run();
