/**
 * The sidecar's HTTP endpoint (node:http, no framework): Prometheus metrics, a JSON summary, a
 * live dashboard and a health check. Read-only and bounded: only GET and HEAD, request bodies
 * are never read (a request that announces one gets its reply and a closed connection), header
 * and request timeouts are short, and header size and connection count are capped.
 *
 * Routes: `GET /metrics` · `GET /api/stats` · `GET /` (dashboard) · `GET /healthz`.
 *
 * When the server has a password (requirepass), every route but /healthz requires it: HTTP Basic
 * (any user name; the password is the default user's) or `Authorization: Bearer <password>`,
 * compared in constant time. A browser that passed the Basic prompt for the dashboard resends the
 * credentials with the page's same-origin fetch of api/stats. With `tls` it speaks HTTPS.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type { MeshcacheServer } from './server.js';
import type { ServerMetrics } from './metrics.js';
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard/page.js';

/** Longest time to receive a request's headers, in ms. */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000;
/** Longest time to receive a whole request, in ms. */
export const HTTP_REQUEST_TIMEOUT_MS = 15_000;
/** How long an idle keep-alive connection stays open, in ms. */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Largest request head accepted, in bytes (a scraper or a browser needs far less). */
export const HTTP_MAX_HEADER_BYTES = 16 * 1024;
/** Longest time an HTTPS client has to finish its TLS handshake, in ms. */
export const HTTP_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** The realm a refused request is told to authenticate in (`WWW-Authenticate: Basic realm=…`). */
export const HTTP_AUTH_REALM = 'meshcache';
/** Most simultaneous HTTP connections; more are dropped at accept. */
export const HTTP_MAX_CONNECTIONS = 256;
/** How long close() waits for requests in flight before destroying their sockets, in ms. */
export const HTTP_CLOSE_GRACE_MS = 1_000;
/** Window ops/s is averaged over: the newest counter sample at least this old is the base, in ms. */
export const OPS_RATE_WINDOW_MS = 1_000;
/** Counter samples older than this are dropped, in ms. */
const OPS_SAMPLE_MAX_AGE_MS = 10_000;
/** Samples closer together than this are not stored (bounds the sample list), in ms. */
const OPS_SAMPLE_MIN_GAP_MS = 250;

export interface HttpOptions {
  /** The server whose cache and clients are reported. */
  server: MeshcacheServer;
  /** Its metrics (`createMetrics`), served at /metrics. */
  metrics: ServerMetrics;
  /** TCP port (0 = any free port). */
  port: number;
  /** Address to bind. @default '127.0.0.1' */
  host?: string;
  /**
   * Password every route but /healthz requires (Basic with any user name, or Bearer); null = open.
   * @default the server's requirepass (`server.state.requirepass`), read at each request
   */
  password?: string | null;
  /** Serve HTTPS with this PEM certificate chain and key; null = plain HTTP. @default null */
  tls?: { cert: string | Buffer; key: string | Buffer } | null;
  /**
   * Called for every problem: `handler` (a route threw; the client got a 500) and `client` (a
   * malformed or timed-out request; the client got a 4xx and a closed connection). Resets by
   * the peer are not reported.
   */
  onError?: (err: Error, kind: 'handler' | 'client', request?: { method: string; url: string }) => void;
}

/** A running HTTP endpoint. */
export interface HttpEndpoint {
  readonly address: AddressInfo;
  /** Stops accepting, lets requests in flight finish (up to HTTP_CLOSE_GRACE_MS), then resolves. */
  close(): Promise<void>;
}

/** What `GET /api/stats` returns. */
export interface ApiStats {
  version: string;
  /** Date.now() when computed. */
  timestamp: number;
  uptimeSeconds: number;
  clients: number;
  commands: {
    /** Commands processed since start. */
    total: number;
    /** Commands per second over about the last second (between two polls of this route). */
    opsPerSec: number;
  };
  hits: number;
  misses: number;
  hitRatio: number;
  entries: number;
  evictions: number;
  expirations: number;
  memory: { usedBytes: number; budgetBytes: number; wasmBytes: number; compressionSavedBytes: number };
  /** Largest shard entry count divided by the mean (1 = perfectly balanced). */
  balance: number;
  shards: Array<{ shard: number; entries: number; bytes: number; usedBytes: number }>;
  /** The mesh as this node sees it; null when the server is not in a mesh. */
  mesh: {
    nodeId: string;
    address: string;
    members: Array<{ nodeId: string; address: string; state: string; self: boolean; keys: number | null; bytes: number | null }>;
    /** Keys on the fullest owning node divided by the mean (1 = even). */
    keysBalance: number;
    forwarded: number;
    forwardErrors: number;
    rebalance: { sent: number; received: number; pending: number };
    /** Lifeguard local health (0 = healthy). */
    localHealth: number;
  } | null;
}

/**
 * Commands per second from deltas of a monotonic counter, sampled on demand (each /api/stats
 * call): the rate is measured against the newest sample at least OPS_RATE_WINDOW_MS old (or the
 * oldest one kept, when none is that old), so any number of pollers see the same figure.
 */
export class OpsRate {
  readonly #t: number[] = [];
  readonly #v: number[] = [];

  constructor(total: number, nowMs: number) {
    this.#t.push(nowMs);
    this.#v.push(total);
  }

  /** Records `total` at `nowMs` and returns the rate in per second. */
  sample(total: number, nowMs: number): number {
    const t = this.#t, v = this.#v;
    while (t.length > 1 && nowMs - t[1] >= OPS_SAMPLE_MAX_AGE_MS) { t.shift(); v.shift(); }
    let base = 0;
    for (let i = t.length - 1; i >= 0; i--) if (nowMs - t[i] >= OPS_RATE_WINDOW_MS) { base = i; break; }
    const dt = (nowMs - t[base]) / 1000;
    const rate = dt > 0 ? Math.max(0, total - v[base]) / dt : 0;
    if (nowMs - t[t.length - 1] >= OPS_SAMPLE_MIN_GAP_MS) { t.push(nowMs); v.push(total); }
    return rate;
  }
}

/** The JSON summary for one moment. */
export function apiStats(server: MeshcacheServer, rate: OpsRate, nowMs = Date.now()): ApiStats {
  const s = server.cache.stats();
  const total = server.counters.commandsProcessed;
  return {
    version: server.state.version,
    timestamp: nowMs,
    uptimeSeconds: Math.max(0, Math.floor((nowMs - server.state.startedAt) / 1000)),
    clients: server.clientCount,
    commands: { total, opsPerSec: Math.round(rate.sample(total, nowMs) * 10) / 10 },
    hits: s.hits,
    misses: s.misses,
    hitRatio: s.hitRatio,
    entries: s.entries,
    evictions: s.evictions,
    expirations: s.expirations,
    memory: { usedBytes: s.usedBytes, budgetBytes: s.budget, wasmBytes: s.memoryBytes, compressionSavedBytes: s.bytesSaved },
    balance: s.balance,
    shards: s.shards.map((sh, i) => ({ shard: i, entries: sh.entries, bytes: sh.bytes, usedBytes: sh.usedBytes })),
    mesh: meshStats(server),
  };
}

function meshStats(server: MeshcacheServer): ApiStats['mesh'] {
  const node = server.mesh;
  if (node === null) return null;
  const r = node.rebalanceStats();
  return {
    nodeId: node.nodeId,
    address: node.address,
    members: node.nodes().map((m) => ({ nodeId: m.nodeId, address: m.address, state: m.state, self: m.self, keys: m.keys, bytes: m.bytes })),
    keysBalance: node.balance().keysMaxOverMean,
    forwarded: node.counters.forwarded,
    forwardErrors: node.counters.forwardErrors,
    rebalance: { sent: r.sent, received: r.received, pending: r.pending },
    localHealth: node.membershipStats().localHealth,
  };
}

const COMMON_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' } as const;

type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Routes anyone may read when a password is set: a load balancer's probe has no credentials. */
const OPEN_ROUTES = new Set(['/healthz']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Whether an Authorization header carries `password`: `Basic base64(user:password)` with any user
 * name, or `Bearer password`. Both sides are hashed first, so the comparison takes the same time
 * whatever the length or content of the guess.
 */
export function authorized(header: string | undefined, password: string): boolean {
  if (header === undefined) return false;
  const space = header.indexOf(' ');
  if (space < 0) return false;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  let given: string;
  if (scheme === 'bearer') given = value;
  else if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    given = decoded.slice(colon + 1);
  } else return false;
  return timingSafeEqual(digest(given), digest(password));
}

function isPem(v: unknown): v is string | Buffer {
  return (typeof v === 'string' && v !== '') || (Buffer.isBuffer(v) && v.length > 0);
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...COMMON_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Starts the HTTP endpoint; resolves once it listens. */
export function startHttp(options: HttpOptions): Promise<HttpEndpoint> {
  const { server, metrics, port, host = '127.0.0.1', tls = null, onError } = options;
  if (server === null || typeof server !== 'object' || typeof server.cache?.stats !== 'function') throw new TypeError('options.server must be a MeshcacheServer');
  if (metrics === null || typeof metrics !== 'object' || typeof metrics.render !== 'function') throw new TypeError('options.metrics must come from createMetrics()');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError('options.port must be an integer from 0 to 65535');
  if (typeof host !== 'string' || host === '') throw new TypeError('options.host must be a non-empty string');
  if (onError !== undefined && typeof onError !== 'function') throw new TypeError('options.onError must be a function');
  if (options.password !== undefined && options.password !== null && (typeof options.password !== 'string' || options.password === '')) {
    throw new TypeError('options.password must be a non-empty string or null');
  }
  if (tls !== null && (typeof tls !== 'object' || !isPem(tls.cert) || !isPem(tls.key))) throw new TypeError('options.tls must be null or { cert, key } with PEM strings or Buffers');
  const password = (): string | null => options.password !== undefined ? options.password : server.state.requirepass;

  const rate = new OpsRate(server.counters.commandsProcessed, Date.now());
  const routes = new Map<string, Route>([
    ['/', (_req, res) => send(res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML, {
      'content-security-policy': DASHBOARD_CSP, 'cache-control': 'no-cache',
    })],
    ['/metrics', async (_req, res) => send(res, 200, metrics.contentType, await metrics.render(), { 'cache-control': 'no-store' })],
    ['/api/stats', (_req, res) => send(res, 200, 'application/json; charset=utf-8', JSON.stringify(apiStats(server, rate)), { 'cache-control': 'no-store' })],
    ['/healthz', (_req, res) => send(res, 200, 'text/plain; charset=utf-8', 'ok\n', { 'cache-control': 'no-store' })],
  ]);

  const serverOptions = {
    maxHeaderSize: HTTP_MAX_HEADER_BYTES,
    headersTimeout: HTTP_HEADERS_TIMEOUT_MS,
    requestTimeout: HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: HTTP_KEEP_ALIVE_TIMEOUT_MS,
    // Checks the two timeouts above every second instead of every 30 s (Node's default).
    connectionsCheckingInterval: 1_000,
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0];
    // A body is never read: answer, then close the connection rather than drain it.
    const announcesBody = (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')
      || req.headers['transfer-encoding'] !== undefined;
    if (announcesBody) res.setHeader('connection', 'close');
    // Every route but the open ones needs the password, unknown ones too (a 404 would say which exist).
    const pass = password();
    if (pass !== null && !OPEN_ROUTES.has(path) && !authorized(req.headers.authorization, pass)) {
      return send(res, 401, 'text/plain; charset=utf-8', 'unauthorized\n', {
        'www-authenticate': `Basic realm="${HTTP_AUTH_REALM}"`, 'cache-control': 'no-store',
      });
    }
    const route = routes.get(path);
    if (route === undefined) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
    }
    const fail = (err: unknown) => {
      onError?.(err instanceof Error ? err : new Error(String(err)), 'handler', { method: req.method ?? '', url });
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    };
    try {
      const done = route(req, res);
      if (done instanceof Promise) done.catch(fail);
    } catch (err) {
      fail(err);
    }
  };
  const http = tls === null ? createServer(serverOptions, handle)
    : createHttpsServer({ ...serverOptions, cert: tls.cert, key: tls.key, handshakeTimeout: HTTP_TLS_HANDSHAKE_TIMEOUT_MS }, handle);
  // A failed handshake (not TLS, a bad or slow client) is a client problem, like a malformed request.
  if (tls !== null) http.on('tlsClientError', (err: NodeJS.ErrnoException) => { if (err.code !== 'ECONNRESET') onError?.(err, 'client'); });
  http.maxConnections = HTTP_MAX_CONNECTIONS;
  http.maxHeadersCount = 64;
  http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    onError?.(err, 'client');
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      http.on('error', (err) => onError?.(err, 'handler'));
      let closing: Promise<void> | null = null;
      resolve({
        address: http.address() as AddressInfo,
        close() {
          if (closing !== null) return closing;
          closing = new Promise<void>((done) => {
            const grace = setTimeout(() => http.closeAllConnections(), HTTP_CLOSE_GRACE_MS);
            grace.unref();
            http.close(() => {
              clearTimeout(grace);
              done();
            });
            http.closeIdleConnections();
          });
          return closing;
        },
      });
    });
  });
}
