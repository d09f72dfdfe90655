/**
 * One WebSocket of `WsTransport`, to or from a peer: where it is in its life (handshake stages,
 * open, closed), the handshake's nonces and deadline, the requests waiting on it, and the
 * end-of-tick cork that lets the small frames of one tick leave in one write.
 *
 * Invariants: a connection only moves forward (challenge → ack → open → closed; a server skips
 * ack), and `queuedBytes()` counts only bytes the socket really holds back — frames corked this
 * tick leave at the end of the tick and are not a queue, so they never trip backpressure.
 */
import type { WebSocket } from 'ws';
import { createNonce } from './auth.js';
import type { ClockTimer } from './clock.js';
import type { PeerInfo, TransportError } from './transport.js';
import type { MeshFrame } from './wire.js';

/** Frames at least this large are written at once rather than corked until the end of the tick. */
export const CORK_MAX_FRAME_BYTES = 64 * 1024;

/** Bytes ws adds to each message at most (frame header with an 8-byte length, client mask). */
const WS_FRAME_HEADER_MAX_BYTES = 14;

/** A request waiting for its reply (both settle it once and clear its timeout). */
export interface Pending {
  resolve: (frame: MeshFrame) => void;
  reject: (err: TransportError) => void;
}

/** Where a connection is in its life. */
export type Stage =
  | 'challenge' // client: waiting for AuthChallenge; server: AuthChallenge sent, waiting for Hello
  | 'ack' // client: Hello sent, waiting for HelloAck
  | 'open' // authenticated: frames flow
  | 'closed'; // closed or closing: nothing more is read or written

/** One WebSocket to or from a peer; see the file comment. */
export class Connection {
  stage: Stage = 'challenge';
  /** The authenticated peer, set when the handshake completes. */
  peer: PeerInfo | null = null;
  /** This side's nonce (server: the challenge; client: the Hello's). */
  ownNonce: Buffer = createNonce();
  /** The other side's nonce (client only: the server's challenge). */
  peerNonce: Buffer | null = null;
  /** The handshake deadline, until the handshake completes. */
  /** The handshake deadline (the transport's clock's timer) until the handshake ends. */
  timer: ClockTimer | null = null;
  /** The last socket or TLS error, reported when the connection then closes. */
  lastError: Error | null = null;
  /** Outgoing only: requests in flight, by requestId. */
  readonly pending = new Map<number, Pending>();
  /** Outgoing only: settles the dial once the handshake completes or fails. */
  dial: { resolve: (c: Connection) => void; reject: (err: TransportError) => void } | null = null;
  /** The socket is corked until the end of this tick (see `cork`). */
  #corked = false;
  /** Frame bytes written while corked this tick. */
  #corkedBytes = 0;
  /** Which cork the pending end-of-tick uncork belongs to. */
  #corkGeneration = 0;

  constructor(
    readonly ws: WebSocket,
    readonly outgoing: boolean,
    /** For messages: the address dialled, or the peer's `ip:port`. */
    readonly remote: string,
  ) {}

  /** Bytes the socket holds back beyond this tick's corked frames (what backpressure counts). */
  queuedBytes(): number {
    return this.ws.bufferedAmount - (this.#corked ? this.#corkedBytes : 0);
  }

  /**
   * Called before writing a frame of `bytes`: corks the socket until the current tick's work
   * (promise continuations included) is done, so the frames sent meanwhile — a pipeline's forwarded
   * commands, a burst of replies — leave in one write instead of one syscall each (profiling showed
   * those writes as the largest cost of forwarding). `_socket` is ws's own field for the socket.
   */
  cork(bytes: number): void {
    const socket = (this.ws as unknown as { _socket?: { cork?: () => void; uncork?: () => void } })._socket;
    if (typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function') return;
    if (bytes >= CORK_MAX_FRAME_BYTES) {
      // A large frame goes out at once (after what is corked), so bufferedAmount shows it.
      if (this.#corked) {
        this.#corked = false;
        this.#corkedBytes = 0;
        socket.uncork();
      }
      return;
    }
    if (!this.#corked) {
      socket.cork();
      this.#corked = true;
      const generation = ++this.#corkGeneration;
      process.nextTick(() => {
        if (this.#corkGeneration === generation) {
          this.#corked = false;
          this.#corkedBytes = 0;
        }
        socket.uncork!();
      });
    }
    this.#corkedBytes += bytes + WS_FRAME_HEADER_MAX_BYTES;
  }
}
