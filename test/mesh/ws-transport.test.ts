import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { computeProof, createNonce, REASON_AUTH_FAILED, REASON_NEEDS_SECRET } from '../../src/mesh/auth.js';
import { TransportError, type PeerInfo } from '../../src/mesh/transport.js';
import { decodeFrame, encodeFrame, ForwardOp, MAX_FRAME_BYTES, MessageType, type MeshFrame } from '../../src/mesh/wire.js';
import {
  kRemoteAddressOf,
  MESH_PATH,
  REASON_HANDSHAKE_TIMEOUT,
  REASON_TEXT,
  WsTransport,
  type WsTransportOptions,
} from '../../src/mesh/ws-transport.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** Whether `p` has settled by the time pending I/O callbacks and microtasks have run. */
async function settledYet(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => { settled = true; }, () => { settled = true; });
  await new Promise((r) => setImmediate(r));
  return settled;
}

const FIXTURES = fileURLToPath(new URL('../fixtures/mesh-tls/', import.meta.url));
const TLS = { cert: `${FIXTURES}cert.pem`, key: `${FIXTURES}key.pem` };
const TLS_CLIENT = { ...TLS, ca: `${FIXTURES}ca.pem` };
const SECRET = 'correct horse battery staple';
/** Every test body must finish within this (servers, dials and waits are all bounded). */
const TEST_LIMIT_MS = 8000;

/** What a test opened, closed after it whatever happened. */
const opened: Array<{ close(): unknown }> = [];

function transport(options: Partial<WsTransportOptions> & { nodeId: string }): WsTransport {
  const t = new WsTransport({ host: '127.0.0.1', port: 0, ...options });
  opened.push(t);
  return t;
}

async function started(options: Partial<WsTransportOptions> & { nodeId: string }): Promise<WsTransport> {
  const t = transport(options);
  await t.start();
  return t;
}

async function cleanup(): Promise<void> {
  const all = opened.splice(0);
  await Promise.all(all.map((x) => x.close()));
}

/** Runs `fn`, failing it when it takes longer than TEST_LIMIT_MS. */
function bounded(fn: () => Promise<void>): () => Promise<void> {
  return () => {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`test took over ${TEST_LIMIT_MS} ms`)), TEST_LIMIT_MS); });
    return Promise.race([fn(), limit]).finally(() => clearTimeout(timer));
  };
}

/** The TransportError a promise rejects with (fails when it resolves or rejects with something else). */
async function rejection(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof TransportError)) throw new Error(`expected a TransportError, got ${String(err)}`);
    return err;
  }
  throw new Error('expected a rejection, but it resolved');
}

/** How long a test waits for a transport to do something (each test is bounded by TEST_LIMIT_MS too). */
const WAIT_MS = 3000;

/** An Ack replying to every Ping, with the pinged target echoed in the gossip's `from`. */
function echoServer(t: WsTransport, seen: Array<{ frame: MeshFrame; from: PeerInfo }> = []): void {
  t.onFrame((frame, from, reply) => {
    seen.push({ frame, from });
    if (frame.type === MessageType.Ping) {
      reply({ type: MessageType.Ack, body: { nodeId: t.nodeId, gossip: [{ state: 0, nodeId: 'g', address: '', incarnation: 1n, from: frame.body.target }] } });
    }
  });
}

const ping = (target = 'a'): { type: typeof MessageType.Ping; body: { target: string; gossip: [] } } => ({ type: MessageType.Ping, body: { target, gossip: [] } });

/** A bare ws client speaking raw bytes to a transport, to send what a real node never would. */
class RawPeer {
  readonly frames: MeshFrame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const r = decodeFrame(data);
      if (r.ok) this.frames.push(r.frame);
      this.#waiters.splice(0).forEach((w) => w());
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => { /* the close event carries what the tests check */ });
    opened.push({ close: () => ws.terminate() });
  }

  static connect(address: string): Promise<RawPeer> {
    const ws = new WebSocket(`ws://${address}${MESH_PATH}`, { perMessageDeflate: false });
    const peer = new RawPeer(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(peer));
      ws.once('error', reject);
    });
  }

  /** The next decoded frame (the n-th overall). */
  async frame(n: number): Promise<MeshFrame> {
    const deadline = Date.now() + 3000;
    while (this.frames.length <= n) {
      if (Date.now() > deadline) throw new Error(`no frame #${n}`);
      await new Promise<void>((resolve) => { this.#waiters.push(resolve); setTimeout(resolve, 50); });
    }
    return this.frames[n];
  }

  /** Completes the secret-less handshake as node `nodeId`; returns the HelloAck. */
  async handshake(nodeId = 'raw'): Promise<MeshFrame> {
    const challenge = await this.frame(0);
    assert.is(challenge.type, MessageType.AuthChallenge);
    this.ws.send(encodeFrame({ type: MessageType.Hello, body: { nodeId, address: '', incarnation: 0n, nonce: createNonce(), proof: new Uint8Array(0) } }));
    const ack = await this.frame(1);
    assert.is(ack.type, MessageType.HelloAck);
    return ack;
  }
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A TCP server that accepts and then says nothing (a peer hung before the WebSocket upgrade). */
async function silentServer(): Promise<{ port: number; server: NetServer }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => { sockets.add(s); s.on('error', () => { /* destroyed at cleanup */ }); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  opened.push({ close: () => { sockets.forEach((s) => s.destroy()); return new Promise<void>((r) => server.close(() => r())); } });
  return { port: (server.address() as { port: number }).port, server };
}

// ---------------------------------------------------------------------------------------------------

const exchange = suite('WsTransport request/reply');
exchange.after.each(cleanup);

exchange('two transports exchange a request and its reply, with the requestId, PeerInfo and counters set', bounded(async () => {
  const seen: Array<{ frame: MeshFrame; from: PeerInfo }> = [];
  const a = await started({ nodeId: 'node-a', incarnation: 7n });
  echoServer(a, seen);
  const b = await started({ nodeId: 'node-b', incarnation: 3n });
  assert.match(a.address, /^127\.0\.0\.1:\d+$/);

  const reply = await b.request(a.address, ping('node-a'), 2000);
  assert.is(reply.type, MessageType.Ack);
  assert.ok(reply.type === MessageType.Ack && reply.body.nodeId === 'node-a' && reply.body.gossip[0].from === 'node-a');
  assert.is(seen.length, 1);
  assert.is(reply.requestId, seen[0].frame.requestId);
  assert.ok(reply.requestId > 0);
  assert.equal(seen[0].from, { nodeId: 'node-b', address: b.address, incarnation: 3n });

  const sa = a.stats();
  const sb = b.stats();
  assert.is(sa.connections, 1);
  assert.is(sb.connections, 1);
  // b: Hello + Ping sent, AuthChallenge + HelloAck + Ack received
  assert.is(sb.framesSent, 2);
  assert.is(sb.framesReceived, 3);
  assert.is(sa.framesSent, 3);
  assert.is(sa.framesReceived, 2);
  assert.is(sa.bytesReceived, sb.bytesSent);
  assert.is(sb.bytesReceived, sa.bytesSent);
  assert.is(sa.authFailures + sa.malformedFrames + sb.authFailures + sb.malformedFrames, 0);
}));

exchange('20 concurrent first requests to one address share a single dial and each get their own reply', bounded(async () => {
  const seen: Array<{ frame: MeshFrame; from: PeerInfo }> = [];
  const a = await started({ nodeId: 'node-a' });
  echoServer(a, seen);
  const b = await started({ nodeId: 'node-b' });
  const targets = Array.from({ length: 20 }, (_, i) => `t${i}`);
  const replies = await Promise.all(targets.map((t) => b.request(a.address, ping(t), 2000)));
  assert.equal(replies.map((r) => (r.type === MessageType.Ack ? r.body.gossip[0].from : '?')), targets);
  assert.is(new Set(replies.map((r) => r.requestId)).size, 20);
  assert.is(a.stats().connections, 1);
  assert.is(b.stats().connections, 1);
}));

exchange('send delivers a frame without a reply; the receiver sees requestId 0', bounded(async () => {
  const seen: Array<{ frame: MeshFrame; from: PeerInfo }> = [];
  const a = await started({ nodeId: 'node-a' });
  echoServer(a, seen);
  const b = await started({ nodeId: 'node-b' });
  await b.send(a.address, { type: MessageType.Leave, body: { nodeId: 'node-b', incarnation: 1n } });
  await waitFor(() => seen.length === 1, { timeoutMs: WAIT_MS, what: 'the Leave' });
  assert.is(seen[0].frame.type, MessageType.Leave);
  assert.is(seen[0].frame.requestId, 0);
}));

exchange('a second reply to an answered request matches nothing: dropped and counted, while the first resolves it', bounded(async () => {
  const a = await started({ nodeId: 'node-a' });
  a.onFrame((_frame, _from, reply) => {
    reply({ type: MessageType.Ack, body: { nodeId: 'node-a', gossip: [] } });
    reply({ type: MessageType.Ack, body: { nodeId: 'node-a', gossip: [] } }); // its request is settled by now
  });
  const b = await started({ nodeId: 'node-b' });
  const r = await b.request(a.address, ping(), 2000);
  assert.is(r.type, MessageType.Ack);
  await waitFor(() => b.stats().droppedFrames === 1, { timeoutMs: WAIT_MS, what: 'the duplicate to be dropped' });
}));

exchange('a node that dials its own address is refused (self-connection) with ERR_MESH_CONNECT', bounded(async () => {
  const a = await started({ nodeId: 'node-a' });
  echoServer(a);
  const err = await rejection(a.request(a.address, ping(), 2000));
  assert.is(err.code, 'ERR_MESH_CONNECT');
  assert.is(a.stats().authFailures, 0);
}));

// ---------------------------------------------------------------------------------------------------

const auth = suite('WsTransport authentication');
auth.after.each(cleanup);

auth('peers sharing the secret (one as a string, one as a Buffer) connect and exchange frames', bounded(async () => {
  const a = await started({ nodeId: 'node-a', secret: SECRET });
  echoServer(a);
  const b = await started({ nodeId: 'node-b', secret: Buffer.from(SECRET) });
  const r = await b.request(a.address, ping(), 2000);
  assert.is(r.type, MessageType.Ack);
  assert.is(a.stats().authFailures, 0);
}));

auth('a client with the wrong secret is refused by the server: ERR_MESH_AUTH, counted, onRefused called, no frame delivered', bounded(async () => {
  const refused: Array<[string, string]> = [];
  const seen: Array<{ frame: MeshFrame; from: PeerInfo }> = [];
  const a = await started({ nodeId: 'node-a', secret: SECRET, onRefused: (remote, reason) => refused.push([remote, reason]) });
  echoServer(a, seen);
  const b = await started({ nodeId: 'node-b', secret: 'not the right secret at all' });
  const err = await rejection(b.request(a.address, ping(), 2000));
  assert.is(err.code, 'ERR_MESH_AUTH');
  assert.match(err.message, REASON_AUTH_FAILED);
  assert.is(a.stats().authFailures, 1);
  assert.is(refused.length, 1);
  assert.match(refused[0][0], /^127\.0\.0\.1:\d+$/);
  assert.is(refused[0][1], REASON_AUTH_FAILED);
  assert.is(seen.length, 0);
  assert.is(a.stats().connections, 0);
}));

auth('a client refuses a server that cannot prove the secret (server without one): ERR_MESH_AUTH, counted and reported on the client', bounded(async () => {
  const seen: Array<{ frame: MeshFrame; from: PeerInfo }> = [];
  const a = await started({ nodeId: 'impostor' }); // no secret: accepts loopback peers and sends an empty proof
  echoServer(a, seen);
  const refused: Array<[string, string]> = [];
  const b = await started({ nodeId: 'node-b', secret: SECRET, onRefused: (remote, reason) => refused.push([remote, reason]) });
  const err = await rejection(b.request(a.address, ping(), 2000));
  assert.is(err.code, 'ERR_MESH_AUTH');
  assert.match(err.message, 'failed to prove the shared secret');
  assert.is(b.stats().authFailures, 1);
  assert.equal(refused, [[a.address, REASON_AUTH_FAILED]]);
  await sleep(50);
  assert.is(seen.length, 0, 'the request never reached the impostor');
}));

/**
 * A hand-written mesh server (ws directly) that runs the server half of the handshake, replying to
 * Hello with whatever `ack` returns; `first` replaces the AuthChallenge when given.
 */
async function fakeServer(ack: (hello: MeshFrame & { type: 1 }, challenge: Buffer) => Uint8Array | null, first?: Uint8Array): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: MESH_PATH });
  await new Promise<void>((r) => wss.once('listening', r));
  const sockets = new Set<WebSocket>();
  opened.push({ close: () => { sockets.forEach((ws) => ws.terminate()); return new Promise<void>((r) => wss.close(() => r())); } });
  wss.on('connection', (ws) => {
    sockets.add(ws);
    const challenge = createNonce();
    ws.send(first ?? encodeFrame({ type: MessageType.AuthChallenge, body: { nonce: challenge } }));
    ws.on('message', (data: Buffer) => {
      const r = decodeFrame(data);
      if (r.ok && r.frame.type === MessageType.Hello) {
        const proof = ack(r.frame, challenge);
        if (proof !== null) ws.send(encodeFrame({ type: MessageType.HelloAck, body: { nodeId: 'fake', address: '', incarnation: 0n, nonce: new Uint8Array(0), proof } }));
      }
    });
  });
  return `127.0.0.1:${(wss.address() as { port: number }).port}`;
}

auth('a client refuses a server whose proof is made with another secret, or is its own proof reflected back: ERR_MESH_AUTH, counted', bounded(async () => {
  const refused: Array<[string, string]> = [];
  const b = await started({ nodeId: 'node-b', secret: SECRET, onRefused: (remote, reason) => refused.push([remote, reason]) });
  const wrong = await fakeServer((hello, challenge) => computeProof('another secret, 16+ bytes', 'server', hello.body.nonce, challenge, 'fake'));
  const e1 = await rejection(b.request(wrong, ping(), 2000));
  assert.is(e1.code, 'ERR_MESH_AUTH');
  const reflecting = await fakeServer((hello) => hello.body.proof);
  const e2 = await rejection(b.request(reflecting, ping(), 2000));
  assert.is(e2.code, 'ERR_MESH_AUTH');
  assert.is(b.stats().authFailures, 2);
  assert.equal(refused, [[wrong, REASON_AUTH_FAILED], [reflecting, REASON_AUTH_FAILED]]);
  // the control: a fake server that knows the secret is accepted
  const honest = await fakeServer((hello, challenge) => computeProof(SECRET, 'server', hello.body.nonce, challenge, 'fake'));
  await b.send(honest, ping());
  assert.is(b.stats().authFailures, 2);
}));

auth('a client closes 1008 and rejects ERR_MESH_CONNECT when the server sends another frame instead of AuthChallenge', bounded(async () => {
  const b = await started({ nodeId: 'node-b' });
  const rude = await fakeServer(() => null, encodeFrame(ping()));
  const err = await rejection(b.request(rude, ping(), 2000));
  assert.is(err.code, 'ERR_MESH_CONNECT');
  assert.match(err.message, 'expected AuthChallenge');
}));

auth('a client without a secret is refused by a server that has one', bounded(async () => {
  const refused: string[] = [];
  const a = await started({ nodeId: 'node-a', secret: SECRET, onRefused: (_r, reason) => refused.push(reason) });
  echoServer(a);
  const b = await started({ nodeId: 'node-b' });
  const err = await rejection(b.request(a.address, ping(), 2000));
  assert.is(err.code, 'ERR_MESH_AUTH');
  assert.is(a.stats().authFailures, 1);
  assert.equal(refused, [REASON_AUTH_FAILED]);
}));

auth('a secret-less server refuses a non-loopback peer with 1008 and the --mesh-secret reason (remote address injected as 192.0.2.7)', bounded(async () => {
  const refused: Array<[string, string]> = [];
  const a = await started({ nodeId: 'node-a', onRefused: (remote, reason) => refused.push([remote, reason]), [kRemoteAddressOf]: () => '192.0.2.7' });
  echoServer(a);
  const raw = await RawPeer.connect(a.address);
  assert.equal(await raw.closed, { code: 1008, reason: REASON_NEEDS_SECRET });
  assert.is(raw.frames.length, 0, 'no challenge is sent to a refused peer');
  const b = await started({ nodeId: 'node-b' });
  const err = await rejection(b.request(a.address, ping(), 2000));
  assert.is(err.code, 'ERR_MESH_AUTH');
  assert.match(err.message, REASON_NEEDS_SECRET);
  assert.is(a.stats().authFailures, 2);
  assert.is(refused.length, 2);
  assert.match(refused[0][0], /^192\.0\.2\.7:\d+$/);
  assert.is(refused[0][1], REASON_NEEDS_SECRET);
}));

auth('a secret-less server on 0.0.0.0 refuses a peer dialling it over a real non-loopback interface, and admits it with a secret', bounded(async () => {
  const ip = Object.values(networkInterfaces()).flat().find((i) => i !== undefined && !i.internal && i.family === 'IPv4')?.address;
  if (ip === undefined) {
    console.log('  (no non-loopback IPv4 interface here: the injected-address test above covers the policy)');
    return;
  }
  const a = await started({ nodeId: 'node-a', host: '0.0.0.0' });
  echoServer(a);
  assert.match(a.address, /^127\.0\.0\.1:/); // the advertised host defaults to loopback for a wildcard bind
  const port = Number(a.address.split(':')[1]);
  const b = await started({ nodeId: 'node-b' });
  const err = await rejection(b.request(`${ip}:${port}`, ping(), 2000));
  assert.is(err.code, 'ERR_MESH_AUTH');
  assert.is(a.stats().authFailures, 1);
  // the same peer over loopback is admitted
  assert.is((await b.request(a.address, ping(), 2000)).type, MessageType.Ack);
  // and with a shared secret, the non-loopback address is admitted too
  const c = await started({ nodeId: 'node-c', host: '0.0.0.0', secret: SECRET });
  echoServer(c);
  const d = await started({ nodeId: 'node-d', secret: SECRET });
  assert.is((await d.request(`${ip}:${Number(c.address.split(':')[1])}`, ping(), 2000)).type, MessageType.Ack);
}));

auth(`a peer that does not finish the handshake is closed at handshakeTimeoutMs (150 ms), not before, and counted`, bounded(async () => {
  const refused: string[] = [];
  const clock = new FakeClock();
  const a = await started({ nodeId: 'node-a', handshakeTimeoutMs: 150, clock, onRefused: (_r, reason) => refused.push(reason) });
  const raw = await RawPeer.connect(a.address);
  await waitFor(() => clock.pending > 0, { timeoutMs: WAIT_MS, what: 'the handshake deadline to be armed' });
  clock.advance(149);
  assert.equal(refused, [], 'still open 1 ms before the deadline');
  clock.advance(1);
  assert.equal(refused, [REASON_HANDSHAKE_TIMEOUT]);
  const closed = await raw.closed;
  assert.equal(closed, { code: 1008, reason: REASON_HANDSHAKE_TIMEOUT });
  assert.is((await raw.frame(0)).type, MessageType.AuthChallenge);
  assert.is(a.stats().authFailures, 1);
  assert.equal(refused, [REASON_HANDSHAKE_TIMEOUT]);
}));

// ---------------------------------------------------------------------------------------------------

const malformed = suite('WsTransport malformed input');
malformed.after.each(cleanup);

malformed('garbage after a valid handshake closes that connection with the wire close code (reason = error code), counted; another peer keeps working', bounded(async () => {
  const seen: Array<{ frame: MeshFrame; from: PeerInfo }> = [];
  const a = await started({ nodeId: 'node-a' });
  echoServer(a, seen);
  const b = await started({ nodeId: 'node-b' });
  assert.is((await b.request(a.address, ping(), 2000)).type, MessageType.Ack);

  const cases: Array<[Buffer, number, string]> = [
    [Buffer.from([1, 2, 3]), 1002, 'ERR_MESH_TRUNCATED'],
    [Buffer.from([1, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 1003, 'ERR_MESH_TYPE'],
    [Buffer.from([9, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 1003, 'ERR_MESH_VERSION'],
    [Buffer.concat([encodeFrame(ping()), Buffer.from([0])]), 1002, 'ERR_MESH_TRAILING'],
    [Buffer.from([1, 3, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0xc3, 0x28]), 1007, 'ERR_MESH_UTF8'],
    [Buffer.from([1, 3, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff]), 1009, 'ERR_MESH_LENGTH'],
  ];
  for (const [bytes, code, reason] of cases) {
    const raw = await RawPeer.connect(a.address);
    const ack = await raw.handshake();
    assert.ok(ack.type === MessageType.HelloAck && ack.body.nodeId === 'node-a' && ack.body.proof.length === 0);
    raw.ws.send(bytes);
    assert.equal(await raw.closed, { code, reason }, reason);
  }
  assert.is(a.stats().malformedFrames, cases.length);
  assert.is(seen.length, 1, 'no malformed frame reached the handler');
  // b's connection was never touched
  assert.is((await b.request(a.address, ping(), 2000)).type, MessageType.Ack);
  assert.is(a.stats().connections, 1);
}));

malformed('garbage before the handshake closes with its wire code; a valid non-Hello frame closes 1008; both counted', bounded(async () => {
  const a = await started({ nodeId: 'node-a' });
  echoServer(a);
  const r1 = await RawPeer.connect(a.address);
  await r1.frame(0);
  r1.ws.send(Buffer.from([1, 2, 3]));
  assert.equal(await r1.closed, { code: 1002, reason: 'ERR_MESH_TRUNCATED' });
  assert.is(a.stats().malformedFrames, 1);

  const r2 = await RawPeer.connect(a.address);
  await r2.frame(0);
  r2.ws.send(encodeFrame(ping()));
  const closed = await r2.closed;
  assert.is(closed.code, 1008);
  assert.is(a.stats().authFailures, 1);
  assert.is(a.stats().connections, 0);
}));

malformed('a text message closes with 1003, before and after the handshake', bounded(async () => {
  const a = await started({ nodeId: 'node-a' });
  echoServer(a);
  const r1 = await RawPeer.connect(a.address);
  r1.ws.send('PING');
  assert.equal(await r1.closed, { code: 1003, reason: REASON_TEXT });
  const r2 = await RawPeer.connect(a.address);
  await r2.handshake();
  r2.ws.send('{"type":"ping"}');
  assert.equal(await r2.closed, { code: 1003, reason: REASON_TEXT });
}));

malformed(`a message over MAX_FRAME_BYTES (${MAX_FRAME_BYTES} + 1 bytes) is refused by ws with 1009 and counted`, bounded(async () => {
  const a = await started({ nodeId: 'node-a' });
  echoServer(a);
  const raw = await RawPeer.connect(a.address);
  await raw.handshake();
  raw.ws.send(Buffer.alloc(MAX_FRAME_BYTES + 1));
  assert.is((await raw.closed).code, 1009);
  assert.is(a.stats().malformedFrames, 1);
}));

// ---------------------------------------------------------------------------------------------------

const failures = suite('WsTransport failures and timeouts');
failures.after.each(cleanup);

failures('a request to a closed port rejects ERR_MESH_CONNECT in under 1 s', bounded(async () => {
  const b = await started({ nodeId: 'node-b' });
  const port = await closedPort();
  const t0 = Date.now();
  const err = await rejection(b.request(`127.0.0.1:${port}`, ping(), 5000));
  const ms = Date.now() - t0;
  assert.is(err.code, 'ERR_MESH_CONNECT');
  assert.ok(ms < 1000, `took ${ms} ms`);
  assert.is(b.stats().connections, 0);
  // send fails the same way
  assert.is((await rejection(b.send(`127.0.0.1:${port}`, ping()))).code, 'ERR_MESH_CONNECT');
}));

failures('a request with no reply rejects ERR_MESH_TIMEOUT after its 200 ms timeout, counted; the connection stays usable', bounded(async () => {
  const a = await started({ nodeId: 'node-a' });
  a.onFrame((frame, _from, reply) => {
    if (frame.type === MessageType.Ping && frame.body.target === 'answer') reply({ type: MessageType.Ack, body: { nodeId: 'node-a', gossip: [] } });
  });
  const clock = new FakeClock();
  const b = await started({ nodeId: 'node-b', clock });
  const framesBefore = a.stats().framesReceived;
  const pending = b.request(a.address, ping('silence'), 200);
  await waitFor(() => a.stats().framesReceived > framesBefore, { timeoutMs: WAIT_MS, what: 'the request to reach node-a' });
  clock.advance(199);
  assert.not.ok(await settledYet(pending), 'no timeout 1 ms before it is due');
  clock.advance(1);
  const err = await rejection(pending);
  assert.is(err.code, 'ERR_MESH_TIMEOUT');
  assert.is(b.stats().requestTimeouts, 1);
  assert.is((await b.request(a.address, ping('answer'), 2000)).type, MessageType.Ack);
}));

failures('the request timeout includes connecting: a peer hung before the upgrade gives ERR_MESH_TIMEOUT at 300 ms', bounded(async () => {
  const { port } = await silentServer();
  const clock = new FakeClock();
  const b = await started({ nodeId: 'node-b', handshakeTimeoutMs: 5000, clock });
  const pending = b.request(`127.0.0.1:${port}`, ping(), 300);
  clock.advance(299);
  assert.not.ok(await settledYet(pending), 'no timeout 1 ms before it is due');
  clock.advance(1);
  const err = await rejection(pending);
  assert.is(err.code, 'ERR_MESH_TIMEOUT');
}));

failures('a dial whose handshake does not finish in handshakeTimeoutMs (200 ms) rejects ERR_MESH_CONNECT', bounded(async () => {
  const { port } = await silentServer();
  const clock = new FakeClock();
  const b = await started({ nodeId: 'node-b', handshakeTimeoutMs: 200, clock });
  const pending = b.request(`127.0.0.1:${port}`, ping(), 5000);
  clock.advance(199);
  assert.not.ok(await settledYet(pending), 'still dialling 1 ms before the handshake deadline');
  clock.advance(1);
  const err = await rejection(pending);
  assert.is(err.code, 'ERR_MESH_CONNECT');
}));

failures('pending requests reject ERR_MESH_CLOSED when the peer closes, and onPeerDisconnect fires on the client', bounded(async () => {
  const a = await started({ nodeId: 'node-a', incarnation: 5n });
  a.onFrame(() => { /* never replies */ });
  const b = await started({ nodeId: 'node-b' });
  const gone: PeerInfo[] = [];
  b.onPeerDisconnect((p) => gone.push(p));
  const pending = [b.request(a.address, ping('1'), 5000), b.request(a.address, ping('2'), 5000)];
  await waitFor(() => a.stats().framesReceived === 3, { timeoutMs: WAIT_MS, what: 'both requests to be in flight' });
  const errors = Promise.all(pending.map(rejection)); // handlers attached before the rejections happen
  const t0 = Date.now();
  await a.close();
  const errs = await errors;
  assert.equal(errs.map((e) => e.code), ['ERR_MESH_CLOSED', 'ERR_MESH_CLOSED']);
  assert.ok(Date.now() - t0 < 2000);
  await waitFor(() => gone.length === 1, { timeoutMs: WAIT_MS, what: 'onPeerDisconnect' });
  assert.equal(gone, [{ nodeId: 'node-a', address: a.address, incarnation: 5n }]);
  assert.is(b.stats().connections, 0);
}));

failures('onPeerDisconnect fires on the server when the client side closes, and not on the side that closed', bounded(async () => {
  const a = await started({ nodeId: 'node-a' });
  echoServer(a);
  const gone: PeerInfo[] = [];
  a.onPeerDisconnect((p) => gone.push(p));
  const b = await started({ nodeId: 'node-b', incarnation: 9n });
  const bGone: PeerInfo[] = [];
  b.onPeerDisconnect((p) => bGone.push(p));
  await b.request(a.address, ping(), 2000);
  await b.close();
  await waitFor(() => gone.length === 1, { timeoutMs: WAIT_MS, what: 'onPeerDisconnect on a' });
  assert.equal(gone, [{ nodeId: 'node-b', address: b.address, incarnation: 9n }]);
  assert.is(bGone.length, 0);
  assert.is(a.stats().connections, 0);
}));

failures('disconnect(address) rejects pending requests with ERR_MESH_CLOSED and the next request redials', bounded(async () => {
  const a = await started({ nodeId: 'node-a' });
  a.onFrame((frame, _from, reply) => {
    if (frame.type === MessageType.Ping && frame.body.target === 'answer') reply({ type: MessageType.Ack, body: { nodeId: 'node-a', gossip: [] } });
  });
  const b = await started({ nodeId: 'node-b' });
  const pending = b.request(a.address, ping('silence'), 5000);
  await waitFor(() => a.stats().framesReceived === 2, { timeoutMs: WAIT_MS, what: 'the request to arrive' });
  b.disconnect(a.address);
  assert.is((await rejection(pending)).code, 'ERR_MESH_CLOSED');
  assert.is(b.stats().connections, 0);
  assert.is((await b.request(a.address, ping('answer'), 2000)).type, MessageType.Ack);
  assert.is(b.stats().connections, 1);
}));

failures('close() closes every connection, resolves promptly, and later requests reject ERR_MESH_CLOSED', bounded(async () => {
  const a = await started({ nodeId: 'node-a' });
  echoServer(a);
  const b = await started({ nodeId: 'node-b' });
  echoServer(b);
  await b.request(a.address, ping(), 2000);
  await a.request(b.address, ping(), 2000);
  const raw = await RawPeer.connect(a.address);
  await raw.handshake();
  const t0 = Date.now();
  await Promise.all([a.close(), a.close()]);
  assert.ok(Date.now() - t0 < 2000);
  assert.is(a.stats().connections, 0);
  assert.is((await raw.closed).code, 1001);
  assert.is((await rejection(a.request(b.address, ping(), 1000))).code, 'ERR_MESH_CLOSED');
  await waitFor(() => b.stats().connections === 0, { timeoutMs: WAIT_MS, what: 'b to see both connections close' });
}));

failures('backpressure: with maxBufferedBytes 1024, a second 16 MiB frame queued behind the first rejects ERR_MESH_BACKPRESSURE', bounded(async () => {
  const a = await started({ nodeId: 'node-a' });
  let received = 0;
  a.onFrame(() => { received++; });
  const b = await started({ nodeId: 'node-b', maxBufferedBytes: 1024 });
  await b.send(a.address, ping()); // dial first, so both sends below go out in the same tick
  const big = { type: MessageType.Forward, body: { op: ForwardOp.Set, ttlMs: 0, valueType: 0, key: new Uint8Array(1), value: new Uint8Array(16 * 1024 * 1024) } } as const;
  const results = await Promise.allSettled([b.send(a.address, big), b.send(a.address, big)]);
  assert.is(results[0].status, 'fulfilled', 'a frame always goes onto an empty queue');
  assert.is(results[1].status, 'rejected');
  const err = (results[1] as PromiseRejectedResult).reason as TransportError;
  assert.ok(err instanceof TransportError);
  assert.is(err.code, 'ERR_MESH_BACKPRESSURE');
  await waitFor(() => received === 2, { timeoutMs: 5000, what: 'the first big frame to arrive' });
  assert.is(b.bufferedBytes(a.address), 0);
  assert.is(b.bufferedBytes('127.0.0.1:1'), 0);
  // once drained, sending works again
  await b.send(a.address, ping());
  await waitFor(() => received === 3, { timeoutMs: WAIT_MS, what: 'the last ping' });
}));

// ---------------------------------------------------------------------------------------------------

const tls = suite('WsTransport over TLS (wss)');
tls.after.each(cleanup);

tls('wss with the test CA works end to end, with a secret as well', bounded(async () => {
  const a = await started({ nodeId: 'node-a', tls: TLS, secret: SECRET });
  echoServer(a);
  const b = await started({ nodeId: 'node-b', tls: TLS_CLIENT, secret: SECRET });
  const r = await b.request(a.address, ping('node-a'), 3000);
  assert.is(r.type, MessageType.Ack);
  assert.is(a.stats().authFailures, 0);
  // b serves wss as well, and a trusts the CA too once given it
  echoServer(b);
  const c = await started({ nodeId: 'node-c', tls: TLS_CLIENT, secret: SECRET });
  assert.is((await c.request(b.address, ping(), 3000)).type, MessageType.Ack);
}));

tls('a wss client that does not trust the CA (system store only) refuses the certificate: ERR_MESH_CONNECT', bounded(async () => {
  const a = await started({ nodeId: 'node-a', tls: TLS });
  echoServer(a);
  const b = await started({ nodeId: 'node-b', tls: TLS }); // no ca
  const err = await rejection(b.request(a.address, ping(), 3000));
  assert.is(err.code, 'ERR_MESH_CONNECT');
  assert.match(err.message, /certificate/i);
}));

tls('a plain ws client cannot talk to a wss server', bounded(async () => {
  const a = await started({ nodeId: 'node-a', tls: TLS });
  echoServer(a);
  const b = await started({ nodeId: 'node-b' });
  const err = await rejection(b.request(a.address, ping(), 3000));
  assert.is(err.code, 'ERR_MESH_CONNECT');
}));

// ---------------------------------------------------------------------------------------------------

const options = suite('WsTransport options');
options.after.each(cleanup);

function throwsWith(opts: unknown, kind: typeof TypeError | typeof RangeError, message: string): void {
  try {
    new WsTransport(opts as WsTransportOptions);
  } catch (err) {
    assert.instance(err, kind);
    assert.is((err as Error).message, message);
    if (kind === TypeError || kind === RangeError) assert.is((err as { code?: string }).code, 'ERR_INVALID_OPTION');
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(opts, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
}

options('the defaults: host 127.0.0.1, port 7380, advertised as 127.0.0.1:7380, incarnation 0', () => {
  const t = new WsTransport({ nodeId: 'n' });
  assert.is(t.address, '127.0.0.1:7380');
  assert.is(t.incarnation, 0n);
  assert.is(t.nodeId, 'n');
  assert.is(new WsTransport({ nodeId: 'n', host: '0.0.0.0', port: 9 }).address, '127.0.0.1:9');
  assert.is(new WsTransport({ nodeId: 'n', host: '::', port: 9 }).address, '127.0.0.1:9');
  assert.is(new WsTransport({ nodeId: 'n', host: '0.0.0.0', advertiseHost: '10.1.2.3', port: 9 }).address, '10.1.2.3:9');
  assert.is(new WsTransport({ nodeId: 'n', host: '::1', port: 9 }).address, '[::1]:9');
  assert.is(new WsTransport({ nodeId: 'n', port: 0 }).address, '', 'unknown until start() binds a port');
});

options('options itself must be an object', () => throwsWith(null, TypeError, 'options.mesh must be an object'));
options('nodeId must be a string', () => throwsWith({}, TypeError, 'options.mesh.nodeId must be a string'));
options('nodeId must be 1 to 256 UTF-8 bytes', () => {
  throwsWith({ nodeId: '' }, RangeError, 'options.mesh.nodeId must be 1 to 256 UTF-8 bytes of well-formed text');
  throwsWith({ nodeId: 'x'.repeat(257) }, RangeError, 'options.mesh.nodeId must be 1 to 256 UTF-8 bytes of well-formed text');
  throwsWith({ nodeId: 'a\ud800' }, RangeError, 'options.mesh.nodeId must be 1 to 256 UTF-8 bytes of well-formed text');
});
options('host must be a non-empty string', () => {
  throwsWith({ nodeId: 'n', host: 1 }, TypeError, 'options.mesh.host must be a string');
  throwsWith({ nodeId: 'n', host: '' }, RangeError, 'options.mesh.host must be 1 to 504 UTF-8 bytes of well-formed text');
});
options('port must be an integer from 0 to 65535', () => {
  throwsWith({ nodeId: 'n', port: '7380' }, TypeError, 'options.mesh.port must be a number');
  for (const port of [-1, 65_536, 1.5, NaN]) throwsWith({ nodeId: 'n', port }, RangeError, 'options.mesh.port must be an integer from 0 to 65535');
});
options('advertiseHost must be a non-empty string', () => {
  throwsWith({ nodeId: 'n', advertiseHost: null }, TypeError, 'options.mesh.advertiseHost must be a string');
  throwsWith({ nodeId: 'n', advertiseHost: '' }, RangeError, 'options.mesh.advertiseHost must be 1 to 504 UTF-8 bytes of well-formed text');
});
options('secret must be a string, a Buffer or null, of at least 16 bytes', () => {
  throwsWith({ nodeId: 'n', secret: 123 }, TypeError, 'options.mesh.secret must be a string, a Buffer or null');
  throwsWith({ nodeId: 'n', secret: 'fifteen bytes!!' }, RangeError, 'options.mesh.secret must be at least 16 bytes');
  throwsWith({ nodeId: 'n', secret: Buffer.alloc(15) }, RangeError, 'options.mesh.secret must be at least 16 bytes');
  assert.ok(new WsTransport({ nodeId: 'n', secret: 'sixteen bytes!!!' }));
  assert.ok(new WsTransport({ nodeId: 'n', secret: null }));
});
options('tls must be { cert, key, ca? } file paths that can be read', () => {
  throwsWith({ nodeId: 'n', tls: 'yes' }, TypeError, 'options.mesh.tls must be { cert, key, ca? } file paths, or null');
  throwsWith({ nodeId: 'n', tls: { key: TLS.key } }, TypeError, 'options.mesh.tls.cert must be a file path string');
  throwsWith({ nodeId: 'n', tls: { cert: TLS.cert } }, TypeError, 'options.mesh.tls.key must be a file path string');
  throwsWith({ nodeId: 'n', tls: { ...TLS, ca: 1 } }, TypeError, 'options.mesh.tls.ca must be a file path string');
  assert.throws(() => new WsTransport({ nodeId: 'n', tls: { ...TLS, ca: `${FIXTURES}missing.pem` } }), /options\.mesh\.tls\.ca: cannot read .*missing\.pem/);
});
options('handshakeTimeoutMs must be an integer from 1 to 60000', () => {
  throwsWith({ nodeId: 'n', handshakeTimeoutMs: '2s' }, TypeError, 'options.mesh.handshakeTimeoutMs must be a number');
  throwsWith({ nodeId: 'n', handshakeTimeoutMs: 0 }, RangeError, 'options.mesh.handshakeTimeoutMs must be an integer from 1 to 60000');
  throwsWith({ nodeId: 'n', handshakeTimeoutMs: 60_001 }, RangeError, 'options.mesh.handshakeTimeoutMs must be an integer from 1 to 60000');
});
options('maxBufferedBytes must be a positive integer', () => {
  throwsWith({ nodeId: 'n', maxBufferedBytes: 1n }, TypeError, 'options.mesh.maxBufferedBytes must be a number');
  throwsWith({ nodeId: 'n', maxBufferedBytes: 0 }, RangeError, 'options.mesh.maxBufferedBytes must be a positive integer');
  throwsWith({ nodeId: 'n', maxBufferedBytes: 1.5 }, RangeError, 'options.mesh.maxBufferedBytes must be a positive integer');
});
options('incarnation must be a bigint from 0 to 2^64-1', () => {
  throwsWith({ nodeId: 'n', incarnation: 1 }, TypeError, 'options.mesh.incarnation must be a bigint');
  throwsWith({ nodeId: 'n', incarnation: -1n }, RangeError, 'options.mesh.incarnation must be from 0 to 2^64-1');
  throwsWith({ nodeId: 'n', incarnation: 1n << 64n }, RangeError, 'options.mesh.incarnation must be from 0 to 2^64-1');
});
options('onRefused must be a function', () => throwsWith({ nodeId: 'n', onRefused: 'log' }, TypeError, 'options.mesh.onRefused must be a function'));
options('clock must have now(), setTimeout() and clearTimeout()', () => {
  for (const clock of [null, 1, {}, { now: () => 0, setTimeout: () => 0 }]) {
    throwsWith({ nodeId: 'n', clock }, TypeError, 'options.mesh.clock must have now(), setTimeout() and clearTimeout()');
  }
});

options('send/request throw at once for a bad address, timeout or frame', () => {
  const t = transport({ nodeId: 'n' });
  assert.throws(() => t.request('', ping(), 100), RangeError);
  assert.throws(() => t.request(1 as never, ping(), 100), TypeError);
  assert.throws(() => t.request('127.0.0.1:1', ping(), 0), RangeError);
  assert.throws(() => t.request('127.0.0.1:1', ping(), 2 ** 31), RangeError);
  assert.throws(() => t.request('127.0.0.1:1', ping(), '1' as never), TypeError);
  assert.throws(() => t.send('127.0.0.1:1', { type: MessageType.Ping, body: { target: '' } } as never), RangeError);
});

options('start() rejects when the port is taken', bounded(async () => {
  const a = await started({ nodeId: 'node-a' });
  const port = Number(a.address.split(':')[1]);
  const b = transport({ nodeId: 'node-b', port });
  const err = await b.start().then(() => null, (e: Error & { code?: string }) => e);
  assert.is(err?.code, 'EADDRINUSE');
}));

exchange.run();
auth.run();
malformed.run();
failures.run();
tls.run();
options.run();
