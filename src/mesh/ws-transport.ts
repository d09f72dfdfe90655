/**
 * `WsTransport`: the mesh `Transport` over WebSocket (ws), one binary frame (wire.ts) per message,
 * on the path MESH_PATH of an http or https server.
 *
 * Connections and what each carries:
 * - Incoming (a peer dialled us): after the handshake every frame goes to the `onFrame` handler
 *   with a `reply` that answers on that connection with the frame's requestId.
 * - Outgoing (we dialled a peer): at most one per address, opened on first use; concurrent first
 *   uses share one dial. Frames coming back are replies: the one whose requestId matches a pending
 *   request settles it, any other is dropped and counted.
 *
 * Every connection is authenticated before a frame is delivered, with the mutual challenge–response
 * described (transcript included) in auth.ts:
 * ```
 *   accepting side (server)                         dialling side (client)
 *   admission: no secret and not loopback → close 1008 REASON_NEEDS_SECRET
 *   AuthChallenge { Ns }                 ───────▶
 *                                        ◀───────   Hello { id, address, incarnation, Nc, Pc }
 *   verify Pc (or close 1008 REASON_AUTH_FAILED)
 *   HelloAck { id, address, incarnation, ∅, Ps } ─▶  verify Ps (or close 1008, ERR_MESH_AUTH)
 * ```
 * Any other frame before the handshake completes, a Hello with our own node id, or a handshake
 * left unfinished after `handshakeTimeoutMs` closes the connection (1008).
 *
 * Untrusted input never throws out of here: ws caps a message at MAX_FRAME_BYTES before buffering
 * it, `decodeFrame` checks every length inside, a malformed frame closes only its connection with
 * the wire error's close code (reason = the error code) and is counted, and a text message closes
 * with 1003.
 *
 * The options and their checks are in ws-options.ts; one connection's state (stage, nonces,
 * pending requests, cork) is in ws-connection.ts.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Milliseconds } from '../config.js';
import { computeProof, NONCE_BYTES, REASON_AUTH_FAILED, REASON_NEEDS_SECRET, refusalReason, verifyProof } from './auth.js';
import { MESH_DEFAULTS, type ResolvedMeshOptions } from './options.js';
import {
  TransportError,
  type FrameHandler,
  type OutgoingFrame,
  type PeerInfo,
  type Transport,
  type TransportStats,
} from './transport.js';
import { decodeFrame, encodeFrame, MAX_FRAME_BYTES, MessageType, type HelloBody, type MeshFrame } from './wire.js';
import { Connection } from './ws-connection.js';
import {
  fillOptions, resolvedTransportOptions, type FilledOptions, type WsTransportIdentity, type WsTransportOptions,
} from './ws-options.js';

export { CORK_MAX_FRAME_BYTES } from './ws-connection.js';
export { kRemoteAddressOf, type WsTransportIdentity, type WsTransportOptions, type WsTransportTls } from './ws-options.js';

/** The HTTP path the mesh endpoint answers on (`ws://host:port/mesh`). */
export const MESH_PATH = '/mesh';
/** The mesh port when none is given (MESH_DEFAULTS.port). */
export const DEFAULT_MESH_PORT: number = MESH_DEFAULTS.port;
/** How long `close()` waits for peers to answer the close handshake before cutting their sockets. */
export const CLOSE_GRACE_MS: Milliseconds = 1000;

/** Close reason for a Hello that carries our own node id (a node dialled itself, e.g. as a seed). */
export const REASON_SELF = 'meshcache: connected to itself';
/** Close reason for a handshake not finished within `handshakeTimeoutMs`. */
export const REASON_HANDSHAKE_TIMEOUT = 'meshcache: handshake timed out';
/** Close reason for a frame other than the handshake's next one before the handshake completes. */
export const REASON_UNEXPECTED_FRAME = 'meshcache: unexpected frame during the handshake';
/** Close reason for a text message (the mesh speaks binary frames only). */
export const REASON_TEXT = 'meshcache: text messages are not part of the mesh protocol';

/** WebSocket close codes this file sends (RFC 6455 §7.4.1); malformed frames use wire.ts's. */
const WsClose = {
  Normal: 1000,
  GoingAway: 1001,
  Unsupported: 1003,
  PolicyViolation: 1008,
} as const;

const EMPTY = new Uint8Array(0);
const U32_MAX = 0xffff_ffff;
/** Longest delay a Node timer takes (a longer one fires at once). */
const MAX_TIMER_MS: Milliseconds = 2 ** 31 - 1;

/** `TransportStats` plus the counters particular to this transport. */
export interface WsTransportStats extends TransportStats {
  /** Frames received and delivered nowhere: replies matching no pending request, frames with no handler set. */
  droppedFrames: number;
  /** Replies not sent: the connection had closed, or its queue was over maxBufferedBytes. */
  droppedReplies: number;
  /** Exceptions thrown by the onFrame or onPeerDisconnect handler (caught and reported as warnings). */
  handlerErrors: number;
}

/** `host:port`, with an IPv6 host in brackets. */
function joinHostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The mesh transport over WebSocket; see the file comment for the protocol. */
export class WsTransport implements Transport {
  /** This node's id. */
  readonly nodeId: string;
  /** This node's incarnation, sent in every Hello and HelloAck. */
  incarnation: bigint;

  readonly #o: FilledOptions;
  #port: number;
  #server: HttpServer | null = null;
  #wss: WebSocketServer | null = null;
  #handler: FrameHandler | null = null;
  #disconnectHandler: ((peer: PeerInfo) => void) | null = null;
  #started = false;
  #closing: Promise<void> | null = null;
  #nextRequestId = 0;
  /** Connections not yet closed, both directions. */
  readonly #connections = new Set<Connection>();
  /** The outgoing connection (open or still dialling) for each address. */
  readonly #outgoing = new Map<string, { conn: Connection; ready: Promise<Connection> }>();
  /** Every socket until its 'close' event, with a promise of that event (close() waits on them). */
  readonly #sockets = new Map<WebSocket, Promise<void>>();
  readonly #stats = {
    authFailures: 0, malformedFrames: 0, framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0,
    requestTimeouts: 0, droppedFrames: 0, droppedReplies: 0, handlerErrors: 0,
  };

  /**
   * A transport from `options`, each checked (TypeError / RangeError) and defaulted from
   * MESH_DEFAULTS (ws-options.ts); reads the TLS files. Listens on `start()`.
   */
  constructor(options: WsTransportOptions) {
    this.#o = fillOptions(options);
    this.nodeId = this.#o.nodeId;
    this.incarnation = this.#o.incarnation;
    this.#port = this.#o.port;
  }

  /**
   * The transport of a mesh node, from options `resolveMeshOptions` has already checked: nothing is
   * validated twice; only the derived parts are filled (advertised host, secret copy, TLS files).
   */
  static fromResolved(mesh: ResolvedMeshOptions, identity: WsTransportIdentity): WsTransport {
    return new WsTransport(resolvedTransportOptions(mesh, identity));
  }

  /** `advertiseHost:port`; with port 0, empty until `start()` has bound a port. */
  get address(): string {
    return this.#port === 0 ? '' : joinHostPort(this.#o.advertiseHost, this.#port);
  }

  /** Listens on host:port (path MESH_PATH). Rejects when the port cannot be bound. */
  async start(): Promise<void> {
    if (this.#started) throw new Error('WsTransport.start: already started');
    if (this.#closing !== null) throw new Error('WsTransport.start: the transport is closed');
    this.#started = true;
    const tls = this.#o.tls;
    const server = tls === null ? createHttpServer() : createHttpsServer({ cert: tls.cert, key: tls.key });
    // Plain HTTP requests get a clear answer instead of hanging; upgrades go to ws.
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end(`meshcache mesh endpoint: connect with WebSocket at ${MESH_PATH}\n`);
    });
    const wss = new WebSocketServer({
      server, path: MESH_PATH, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false,
    });
    wss.on('connection', (ws, req) => this.#onIncoming(ws, req));
    // Listen errors are reported by start(); after that the server has nothing else to fail on.
    wss.on('error', (err) => { if (this.#server !== null) process.emitWarning(`meshcache mesh server: ${err.message}`); });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(this.#o.port, this.#o.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.#server = server;
    this.#wss = wss;
    this.#port = (server.address() as AddressInfo).port;
  }

  /** Sets the handler of incoming frames (one; set it before `start()`). */
  onFrame(handler: FrameHandler): void {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    this.#handler = handler;
  }

  /** Sets the handler called when an authenticated connection closes without this side closing it. */
  onPeerDisconnect(handler: (peer: PeerInfo) => void): void {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    this.#disconnectHandler = handler;
  }

  /**
   * Sends `frame` (requestId 0) to the peer at `address`, dialling it first if needed; resolves
   * once the frame is queued. A malformed frame throws at once (encodeFrame's TypeError /
   * RangeError); rejects with ERR_MESH_CONNECT / ERR_MESH_AUTH / ERR_MESH_BACKPRESSURE / ERR_MESH_CLOSED.
   */
  send(address: string, frame: OutgoingFrame): Promise<void> {
    checkAddress(address);
    const bytes = encodeFrame({ ...frame, requestId: 0 } as MeshFrame);
    return this.#dial(address).then((conn) => {
      const err = this.#write(conn, bytes);
      if (err !== null) throw err;
    });
  }

  /**
   * Sends `frame` with a fresh requestId and resolves with the reply. `timeoutMs` covers
   * everything, dialling included. A malformed frame or a bad timeout throws at once.
   */
  request(address: string, frame: OutgoingFrame, timeoutMs: Milliseconds): Promise<MeshFrame> {
    checkAddress(address);
    if (typeof timeoutMs !== 'number') throw new TypeError('timeoutMs must be a number');
    if (!(timeoutMs > 0) || timeoutMs > MAX_TIMER_MS) throw new RangeError(`timeoutMs must be a number from 1 to ${MAX_TIMER_MS}`);
    this.#nextRequestId = this.#nextRequestId >= U32_MAX ? 1 : this.#nextRequestId + 1; // 0 means "no request"
    const requestId = this.#nextRequestId;
    const bytes = encodeFrame({ ...frame, requestId } as MeshFrame);
    return new Promise<MeshFrame>((resolve, reject) => {
      let conn: Connection | null = null;
      let settled = false;
      const done = (): boolean => {
        if (settled) return false;
        settled = true;
        this.#o.clock.clearTimeout(timer);
        conn?.pending.delete(requestId);
        return true;
      };
      const timer = this.#o.clock.setTimeout(() => {
        if (!done()) return;
        this.#stats.requestTimeouts++;
        reject(new TransportError('ERR_MESH_TIMEOUT', `no reply from ${address} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#dial(address).then(
        (c) => {
          if (settled) return;
          conn = c;
          const err = this.#write(c, bytes);
          if (err !== null) {
            if (done()) reject(err);
            return;
          }
          c.pending.set(requestId, {
            resolve: (f) => { if (done()) resolve(f); },
            reject: (e) => { if (done()) reject(e); },
          });
        },
        (err: TransportError) => { if (done()) reject(err); },
      );
    });
  }

  /** Bytes queued to `address` and not yet written; 0 when not connected. */
  bufferedBytes(address: string): number {
    const out = this.#outgoing.get(address);
    return out === undefined || out.conn.stage !== 'open' ? 0 : out.conn.ws.bufferedAmount;
  }

  /** Closes the outgoing connection to `address`, if any; its pending requests reject with ERR_MESH_CLOSED. */
  disconnect(address: string): void {
    const out = this.#outgoing.get(address);
    if (out === undefined) return;
    this.#shut(out.conn, WsClose.Normal, 'meshcache: disconnected', new TransportError('ERR_MESH_CLOSED', `disconnected from ${address}`));
  }

  /** A snapshot of the counters. */
  stats(): WsTransportStats {
    return { connections: this.#connections.size, ...this.#stats };
  }

  /**
   * Closes every connection (1001) and stops listening; pending requests and dials reject with
   * ERR_MESH_CLOSED. Resolves once the server is closed; sockets that have not finished the close
   * handshake after CLOSE_GRACE_MS are cut. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeNow();
    return this.#closing;
  }

  async #closeNow(): Promise<void> {
    const closed = new TransportError('ERR_MESH_CLOSED', 'the mesh transport closed');
    for (const conn of [...this.#connections]) this.#shut(conn, WsClose.GoingAway, 'meshcache: node shutting down', closed);
    const server = this.#server;
    const serverClosed = server === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    this.#wss?.close();
    const socketsClosed = Promise.all(this.#sockets.values());
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([socketsClosed, new Promise<void>((resolve) => { grace = setTimeout(resolve, CLOSE_GRACE_MS); })]);
    clearTimeout(grace);
    for (const ws of this.#sockets.keys()) ws.terminate();
    await socketsClosed;
    await serverClosed;
  }

  // -------------------------------------------------------------------------------------------------
  // Connections

  /** The outgoing connection to `address`, authenticated; dials it if there is none. */
  #dial(address: string): Promise<Connection> {
    if (this.#closing !== null) return Promise.reject(new TransportError('ERR_MESH_CLOSED', 'the mesh transport is closed'));
    const existing = this.#outgoing.get(address);
    if (existing !== undefined) return existing.ready;
    const url = address.includes('://') ? address : `${this.#o.tls === null ? 'ws' : 'wss'}://${address}${MESH_PATH}`;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, {
        perMessageDeflate: false,
        maxPayload: MAX_FRAME_BYTES,
        handshakeTimeout: this.#o.handshakeTimeoutMs,
        followRedirects: false,
        ca: this.#o.tls?.ca,
        rejectUnauthorized: true,
      });
    } catch (err) { // an address that makes no URL
      return Promise.reject(new TransportError('ERR_MESH_CONNECT', `cannot dial ${address}: ${(err as Error).message}`));
    }
    const conn = new Connection(ws, true, address);
    const ready = new Promise<Connection>((resolve, reject) => { conn.dial = { resolve, reject }; });
    this.#outgoing.set(address, { conn, ready });
    this.#attach(conn);
    conn.timer = this.#o.clock.setTimeout(() => {
      this.#shut(conn, WsClose.PolicyViolation, REASON_HANDSHAKE_TIMEOUT,
        new TransportError('ERR_MESH_CONNECT', `connecting to ${address} timed out after ${this.#o.handshakeTimeoutMs} ms`));
    }, this.#o.handshakeTimeoutMs);
    return ready;
  }

  /** Accepts a connection: admission policy, then the challenge. */
  #onIncoming(ws: WebSocket, req: IncomingMessage): void {
    const ip = this.#o.remoteAddressOf === null ? req.socket.remoteAddress : this.#o.remoteAddressOf(req);
    const conn = new Connection(ws, false, joinHostPort(ip ?? 'unknown', req.socket.remotePort ?? 0));
    this.#attach(conn);
    if (this.#closing !== null) {
      this.#shut(conn, WsClose.GoingAway, 'meshcache: node shutting down', null);
      return;
    }
    const refusal = refusalReason(ip, this.#o.secret !== null);
    if (refusal !== null) {
      this.#refuse(conn, refusal);
      return;
    }
    conn.timer = this.#o.clock.setTimeout(() => this.#refuse(conn, REASON_HANDSHAKE_TIMEOUT), this.#o.handshakeTimeoutMs);
    this.#write(conn, encodeFrame({ type: MessageType.AuthChallenge, body: { nonce: conn.ownNonce } }));
  }

  #attach(conn: Connection): void {
    const ws = conn.ws;
    this.#connections.add(conn);
    this.#sockets.set(ws, new Promise<void>((resolve) => ws.once('close', () => { this.#sockets.delete(ws); resolve(); })));
    ws.on('message', (data, isBinary) => this.#onMessage(conn, data, isBinary));
    ws.on('close', (code, reason) => this.#onClose(conn, code, reason.toString('utf8')));
    ws.on('error', (err: Error & { code?: string }) => {
      // ws's own protocol checks (a message over maxPayload, a bad opcode…): the peer sent a malformed frame.
      if (typeof err.code === 'string' && err.code.startsWith('WS_ERR_')) this.#stats.malformedFrames++;
      conn.lastError = err;
    });
  }

  /** The peer closed (or the socket failed): settle what waits on the connection. */
  #onClose(conn: Connection, code: number, reason: string): void {
    if (conn.stage === 'closed') return; // we closed it: already settled
    const peer = conn.peer;
    let err: TransportError;
    if (peer !== null) {
      err = new TransportError('ERR_MESH_CLOSED', `connection to ${conn.remote} closed (${code}${reason === '' ? '' : ` ${reason}`})`);
    } else if (code === WsClose.PolicyViolation && (reason === REASON_AUTH_FAILED || reason === REASON_NEEDS_SECRET)) {
      err = new TransportError('ERR_MESH_AUTH', `${conn.remote} refused authentication: ${reason}`);
    } else {
      const why = conn.lastError?.message ?? `closed during the handshake (${code}${reason === '' ? '' : ` ${reason}`})`;
      err = new TransportError('ERR_MESH_CONNECT', `cannot connect to ${conn.remote}: ${why}`);
    }
    this.#shut(conn, null, null, err);
    if (peer !== null && this.#closing === null && this.#disconnectHandler !== null) {
      try {
        this.#disconnectHandler(peer);
      } catch (e) {
        this.#handlerFailed('onPeerDisconnect', e);
      }
    }
  }

  /**
   * Ends a connection once: removes it from the maps, settles its dial or pending requests with
   * `err`, and closes the socket with `code` / `reason` (null: it is already closed).
   */
  #shut(conn: Connection, code: number | null, reason: string | null, err: TransportError | null): void {
    if (conn.stage === 'closed') return;
    const wasOpen = conn.stage === 'open';
    conn.stage = 'closed';
    if (conn.timer !== null) this.#o.clock.clearTimeout(conn.timer);
    conn.timer = null;
    this.#connections.delete(conn);
    if (conn.outgoing && this.#outgoing.get(conn.remote)?.conn === conn) this.#outgoing.delete(conn.remote);
    const failure = err ?? new TransportError('ERR_MESH_CLOSED', `connection to ${conn.remote} closed`);
    if (!wasOpen && conn.dial !== null) conn.dial.reject(failure);
    conn.dial = null;
    for (const p of [...conn.pending.values()]) p.reject(failure);
    conn.pending.clear();
    if (code !== null) conn.ws.close(code, reason ?? '');
  }

  /** Refuses a connection during the handshake (counted, reported through onRefused). */
  #refuse(conn: Connection, reason: string, err?: TransportError): void {
    if (conn.stage === 'closed') return;
    this.#stats.authFailures++;
    if (this.#o.onRefused !== null) {
      try {
        this.#o.onRefused(conn.remote, reason);
      } catch (e) {
        this.#handlerFailed('onRefused', e);
      }
    }
    this.#shut(conn, WsClose.PolicyViolation, reason, err ?? null);
  }

  #handlerFailed(which: string, e: unknown): void {
    this.#stats.handlerErrors++;
    process.emitWarning(`meshcache mesh: the ${which} handler threw: ${(e as Error)?.stack ?? String(e)}`);
  }

  /**
   * Queues encoded bytes on an open connection. Returns ERR_MESH_BACKPRESSURE (without writing)
   * when the queue is not empty and the frame would take it past maxBufferedBytes.
   */
  #write(conn: Connection, bytes: Buffer): TransportError | null {
    if (conn.stage === 'closed' || conn.ws.readyState !== WebSocket.OPEN) {
      return new TransportError('ERR_MESH_CLOSED', `connection to ${conn.remote} closed`);
    }
    // Small frames corked during this tick are not a queue yet: they leave at the end of the tick.
    const queued = conn.queuedBytes();
    if (queued > 0 && queued + bytes.length > this.#o.maxBufferedBytes) {
      return new TransportError('ERR_MESH_BACKPRESSURE', `${queued} bytes already queued to ${conn.remote}; ${bytes.length} more would pass maxBufferedBytes (${this.#o.maxBufferedBytes})`);
    }
    conn.cork(bytes.length);
    conn.ws.send(bytes, { binary: true });
    this.#stats.framesSent++;
    this.#stats.bytesSent += bytes.length;
    return null;
  }

  // -------------------------------------------------------------------------------------------------
  // Frames

  #onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.stage === 'closed') return;
    if (!isBinary) {
      this.#shut(conn, WsClose.Unsupported, REASON_TEXT, new TransportError('ERR_MESH_CONNECT', `${conn.remote} sent a text message`));
      return;
    }
    // binaryType is 'nodebuffer': one Buffer per message (ws joins fragments, capped at maxPayload).
    const buf = data as Buffer;
    this.#stats.bytesReceived += buf.length;
    const result = decodeFrame(buf);
    if (!result.ok) {
      this.#stats.malformedFrames++;
      const { code, closeCode, message } = result.error;
      this.#shut(conn, closeCode, code, new TransportError(conn.peer === null ? 'ERR_MESH_CONNECT' : 'ERR_MESH_CLOSED', `${conn.remote} sent a malformed frame: ${code} ${message}`));
      return;
    }
    this.#stats.framesReceived++;
    const frame = result.frame;
    if (conn.stage !== 'open') {
      if (conn.outgoing) this.#clientHandshake(conn, frame);
      else this.#serverHandshake(conn, frame);
      return;
    }
    if (frame.type === MessageType.Hello || frame.type === MessageType.HelloAck || frame.type === MessageType.AuthChallenge) {
      this.#shut(conn, WsClose.PolicyViolation, 'meshcache: handshake frame on an open connection', null);
      return;
    }
    if (conn.outgoing) {
      const pending = frame.requestId === 0 ? undefined : conn.pending.get(frame.requestId);
      if (pending === undefined) this.#stats.droppedFrames++;
      else pending.resolve(frame);
      return;
    }
    const handler = this.#handler;
    if (handler === null) {
      this.#stats.droppedFrames++;
      return;
    }
    const requestId = frame.requestId;
    const reply = (out: OutgoingFrame): void => {
      const bytes = encodeFrame({ ...out, requestId } as MeshFrame); // a malformed reply is the handler's bug: throws
      if (this.#write(conn, bytes) !== null) this.#stats.droppedReplies++;
    };
    try {
      handler(frame, conn.peer as PeerInfo, reply);
    } catch (e) {
      this.#handlerFailed('onFrame', e);
    }
  }

  /** Server side: expects Hello answering our challenge; replies HelloAck with our proof. */
  #serverHandshake(conn: Connection, frame: MeshFrame): void {
    if (frame.type !== MessageType.Hello) {
      this.#refuse(conn, REASON_UNEXPECTED_FRAME);
      return;
    }
    const hello = frame.body;
    if (hello.nodeId === this.nodeId) {
      this.#shut(conn, WsClose.PolicyViolation, REASON_SELF, null);
      return;
    }
    const secret = this.#o.secret;
    if (secret !== null && !verifyProof(secret, 'client', conn.ownNonce, hello.nonce, hello.nodeId, hello.proof)) {
      this.#refuse(conn, REASON_AUTH_FAILED);
      return;
    }
    const proof = secret === null ? EMPTY : computeProof(secret, 'server', hello.nonce, conn.ownNonce, this.nodeId);
    const ack: HelloBody = { nodeId: this.nodeId, address: this.address, incarnation: this.incarnation, nonce: EMPTY, proof };
    this.#open(conn, hello);
    this.#write(conn, encodeFrame({ type: MessageType.HelloAck, requestId: frame.requestId, body: ack }));
  }

  /** Client side: answers AuthChallenge with Hello, then verifies the server's HelloAck. */
  #clientHandshake(conn: Connection, frame: MeshFrame): void {
    const secret = this.#o.secret;
    const fail = (code: 'ERR_MESH_CONNECT' | 'ERR_MESH_AUTH', reason: string, message: string): void => {
      const err = new TransportError(code, `${conn.remote}: ${message}`);
      if (code === 'ERR_MESH_AUTH') this.#refuse(conn, reason, err);
      else this.#shut(conn, WsClose.PolicyViolation, reason, err);
    };
    if (conn.stage === 'challenge') {
      if (frame.type !== MessageType.AuthChallenge) {
        fail('ERR_MESH_CONNECT', REASON_UNEXPECTED_FRAME, `expected AuthChallenge, got message type ${frame.type}`);
        return;
      }
      if (secret !== null && frame.body.nonce.length !== NONCE_BYTES) {
        fail('ERR_MESH_AUTH', REASON_AUTH_FAILED, `the challenge nonce is ${frame.body.nonce.length} bytes, not ${NONCE_BYTES}`);
        return;
      }
      conn.peerNonce = Buffer.from(frame.body.nonce); // a copy: the view pins the whole message buffer
      const proof = secret === null ? EMPTY : computeProof(secret, 'client', conn.peerNonce, conn.ownNonce, this.nodeId);
      conn.stage = 'ack';
      const hello: HelloBody = { nodeId: this.nodeId, address: this.address, incarnation: this.incarnation, nonce: conn.ownNonce, proof };
      this.#write(conn, encodeFrame({ type: MessageType.Hello, body: hello }));
      return;
    }
    if (frame.type !== MessageType.HelloAck) {
      fail('ERR_MESH_CONNECT', REASON_UNEXPECTED_FRAME, `expected HelloAck, got message type ${frame.type}`);
      return;
    }
    const ack = frame.body;
    if (ack.nodeId === this.nodeId) {
      fail('ERR_MESH_CONNECT', REASON_SELF, 'the address is this node itself');
      return;
    }
    if (secret !== null && !verifyProof(secret, 'server', conn.ownNonce, conn.peerNonce as Buffer, ack.nodeId, ack.proof)) {
      fail('ERR_MESH_AUTH', REASON_AUTH_FAILED, `the server (${ack.nodeId}) failed to prove the shared secret`);
      return;
    }
    this.#open(conn, ack);
    const dial = conn.dial;
    conn.dial = null;
    dial?.resolve(conn);
  }

  /** The handshake is done: the connection carries frames from now on. */
  #open(conn: Connection, hello: HelloBody): void {
    if (conn.timer !== null) this.#o.clock.clearTimeout(conn.timer);
    conn.timer = null;
    conn.stage = 'open';
    conn.peer = { nodeId: hello.nodeId, address: hello.address, incarnation: hello.incarnation };
  }
}

function checkAddress(address: unknown): void {
  if (typeof address !== 'string') throw new TypeError('address must be a string');
  if (address.length === 0) throw new RangeError('address must not be empty');
}
