/**
 * The HTTP endpoint behind a password and over HTTPS: with requirepass set, /, /metrics, /api/stats
 * (and unknown paths) answer 401 with a Basic challenge unless the request carries the password
 * (Basic with any user name, or Bearer); /healthz stays open. `authorized` is checked on its own.
 * Servers bind 127.0.0.1 port 0 and are closed after each suite.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { fileURLToPath } from 'node:url';
import { MeshcacheServer } from '../../src/server/server.js';
import { createMetrics } from '../../src/server/metrics.js';
import { startHttp, authorized, type HttpEndpoint, type ApiStats } from '../../src/server/http.js';

const STEP_TIMEOUT_MS = 5000;
const PASSWORD = 'correct horse battery staple';
const FIXTURES = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const CA = readFileSync(FIXTURES + 'ca.pem');
const SERVER_TLS = { cert: readFileSync(FIXTURES + 'server-cert.pem'), key: readFileSync(FIXTURES + 'server-key.pem') };

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One GET (or `method`) with the given headers, over HTTP or, with `ca`, HTTPS; bounded. */
function get(port: number, path: string, headers: Record<string, string> = {}, options: { ca?: Buffer; method?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`GET ${path}: no answer within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    const req = (options.ca === undefined ? httpRequest : httpsRequest)({
      host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, agent: false, ca: options.ca, servername: 'localhost',
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode!, headers: res.headers, body }); });
    });
    req.once('error', (err) => { clearTimeout(timer); reject(err); });
    req.end();
  });
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const bearer = (password: string) => ({ authorization: `Bearer ${password}` });

interface Ctx { server: MeshcacheServer; http: HttpEndpoint; port: number }

async function startPair(ctx: Ctx, requirepass: string | null, extra: Partial<Parameters<typeof startHttp>[0]> = {}): Promise<void> {
  const metrics = createMetrics();
  ctx.server = new MeshcacheServer({ port: 0, requirepass, cache: { maxMemory: '8mb', shards: 2 }, onCommand: metrics.onCommand });
  metrics.attach(ctx.server);
  await ctx.server.listen();
  ctx.http = await startHttp({ server: ctx.server, metrics, port: 0, host: '127.0.0.1', ...extra });
  ctx.port = ctx.http.address.port;
}

async function stopPair(ctx: Ctx): Promise<void> {
  await ctx.http?.close();
  await ctx.server?.close();
}

// ---------------------------------------------------------------------------------------------

const guarded = suite<Ctx>('startHttp with requirepass');
guarded.before((ctx) => startPair(ctx, PASSWORD));
guarded.after(stopPair);

guarded('refuses /, /metrics, /api/stats and an unknown path without credentials: 401, a Basic challenge, no detail', async (ctx) => {
  for (const path of ['/', '/metrics', '/api/stats', '/api/other', '/nope']) {
    const r = await get(ctx.port, path);
    assert.is(r.status, 401, path);
    assert.is(r.headers['www-authenticate'], 'Basic realm="meshcache"', path);
    assert.is(r.body, 'unauthorized\n', path);
  }
  const head = await get(ctx.port, '/metrics', {}, { method: 'HEAD' });
  assert.is(head.status, 401, 'HEAD /metrics');
});

guarded('refuses a wrong password, an empty one and a prefix of the right one, by Basic and by Bearer', async (ctx) => {
  for (const wrong of ['wrong', '', PASSWORD.slice(0, -1), PASSWORD + 'e']) {
    assert.is((await get(ctx.port, '/metrics', basic('default', wrong))).status, 401, `Basic ${JSON.stringify(wrong)}`);
    assert.is((await get(ctx.port, '/metrics', bearer(wrong))).status, 401, `Bearer ${JSON.stringify(wrong)}`);
  }
  // Basic carries the password byte for byte (an HTTP header value loses its trailing spaces).
  assert.is((await get(ctx.port, '/metrics', basic('default', PASSWORD + ' '))).status, 401, 'Basic with a trailing space');
  assert.is((await get(ctx.port, '/metrics', { authorization: `Digest ${PASSWORD}` })).status, 401, 'another scheme');
  assert.is((await get(ctx.port, '/metrics', { authorization: Buffer.from(PASSWORD).toString('base64') })).status, 401, 'no scheme');
});

guarded('accepts Basic with user default or any other name, and Bearer, on all three routes', async (ctx) => {
  for (const auth of [basic('default', PASSWORD), basic('prometheus', PASSWORD), basic('', PASSWORD), bearer(PASSWORD)]) {
    const metrics = await get(ctx.port, '/metrics', auth);
    assert.is(metrics.status, 200, auth.authorization);
    assert.match(metrics.body, /^meshcache_connected_clients /m);
    const stats = await get(ctx.port, '/api/stats', auth);
    assert.is(stats.status, 200);
    assert.is((JSON.parse(stats.body) as ApiStats).version.length > 0, true);
    const page = await get(ctx.port, '/', auth);
    assert.is(page.status, 200);
    assert.match(page.body, /<title>/);
  }
  assert.is((await get(ctx.port, '/nope', bearer(PASSWORD))).status, 404, 'an unknown path is a 404 once authorized');
});

guarded('the dashboard fetches api/stats from its own origin, so a browser resends the Basic credentials', async (ctx) => {
  const page = await get(ctx.port, '/', basic('default', PASSWORD));
  // A relative URL and fetch's default credentials mode ('same-origin'); 'omit' would drop them.
  assert.match(page.body, /fetch\('api\/stats'/);
  assert.not.match(page.body, /credentials:\s*'omit'/);
  const stats = await get(ctx.port, '/api/stats', basic('default', PASSWORD));
  assert.is(stats.status, 200);
});

guarded('leaves /healthz open, and it says only ok', async (ctx) => {
  const r = await get(ctx.port, '/healthz');
  assert.is(r.status, 200);
  assert.is(r.body, 'ok\n');
  assert.is(r.headers['www-authenticate'], undefined);
});

const open = suite<Ctx>('startHttp without a password');
open.before((ctx) => startPair(ctx, null));
open.after(stopPair);

open('serves /metrics and /api/stats with no Authorization header, as before', async (ctx) => {
  assert.is((await get(ctx.port, '/metrics')).status, 200);
  assert.is((await get(ctx.port, '/api/stats')).status, 200);
});

const explicit = suite<Ctx>('startHttp options.password');
explicit.after(stopPair);

explicit('options.password null opens the endpoint of a server with requirepass; a string guards an open one', async (ctx) => {
  await startPair(ctx, PASSWORD, { password: null });
  assert.is((await get(ctx.port, '/metrics')).status, 200);
  await stopPair(ctx);
  await startPair(ctx, null, { password: 'http-only' });
  assert.is((await get(ctx.port, '/metrics')).status, 401);
  assert.is((await get(ctx.port, '/metrics', bearer('http-only'))).status, 200);
});

explicit('refuses options.password "" and options.tls without a key', () => {
  const metrics = createMetrics();
  const server = new MeshcacheServer({ port: 0, cache: { maxMemory: '4mb', shards: 1 } });
  try {
    assert.throws(() => startHttp({ server, metrics, port: 0, password: '' }), /options\.password must be a non-empty string or null/);
    assert.throws(() => startHttp({ server, metrics, port: 0, tls: { cert: SERVER_TLS.cert, key: '' } }), /options\.tls must be null or \{ cert, key \}/);
  } finally {
    void server.close();
  }
});

const https = suite<Ctx>('startHttp over HTTPS');
https.before((ctx) => startPair(ctx, PASSWORD, { tls: SERVER_TLS }));
https.after(stopPair);

https('serves /metrics over TLS to a client that trusts the CA, behind the same password', async (ctx) => {
  assert.is((await get(ctx.port, '/metrics', {}, { ca: CA })).status, 401);
  const r = await get(ctx.port, '/metrics', basic('default', PASSWORD), { ca: CA });
  assert.is(r.status, 200);
  assert.match(r.body, /^meshcache_connected_clients /m);
  assert.is((await get(ctx.port, '/healthz', {}, { ca: CA })).body, 'ok\n');
});

https('a plain HTTP request to the HTTPS port gets no HTTP answer', async (ctx) => {
  let answer: string;
  try {
    answer = String((await get(ctx.port, '/healthz')).status);
  } catch (err) {
    answer = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
  assert.is.not(answer, '200');
});

const check = suite('authorized');

check('takes Basic with any user name and Bearer, case-insensitive scheme, and nothing else', () => {
  assert.ok(authorized(basic('default', 'pw').authorization, 'pw'));
  assert.ok(authorized(basic('anyone', 'pw').authorization, 'pw'));
  assert.ok(authorized(`basic ${Buffer.from(':pw').toString('base64')}`, 'pw'));
  assert.ok(authorized('Bearer pw', 'pw'));
  assert.ok(authorized('bearer pw', 'pw'));
  assert.ok(authorized(basic('u', 'p:w').authorization, 'p:w'), 'a colon in the password');
  assert.not.ok(authorized(undefined, 'pw'));
  assert.not.ok(authorized('Bearer', 'pw'));
  assert.not.ok(authorized('Bearer pW', 'pw'));
  assert.not.ok(authorized(`Basic ${Buffer.from('pw').toString('base64')}`, 'pw'), 'Basic without a colon');
  assert.not.ok(authorized('Token pw', 'pw'));
});

guarded.run();
open.run();
explicit.run();
https.run();
check.run();
