/**
 * The options of `WsTransport`: `WsTransportOptions` as callers give them, their check and
 * defaults (`fillOptions`), and the shortcut a mesh node takes (`resolvedTransportOptions`).
 *
 * Invariant: one validator per option. Every field the mesh options share (nodeId, host, port,
 * advertiseHost, secret, tls, handshakeTimeoutMs, maxBufferedBytes) is checked by options.ts's
 * function for it, with its message and its MESH_DEFAULTS default; options `resolveMeshOptions`
 * has already checked are never checked again, only completed (advertised host, a private copy of
 * the secret, the TLS files read once).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Bytes, Milliseconds } from '../config.js';
import { rangeError, typeError } from '../errors.js';
import { secretBytes } from './auth.js';
import { checkClock, REAL_CLOCK, type Clock } from './clock.js';
import {
  checkMeshHost, checkMeshInteger, checkMeshNodeId, checkMeshSecret, checkMeshTls, MESH_DEFAULTS, meshOptionName,
  type MeshTlsOptions, type ResolvedMeshOptions,
} from './options.js';

const U64_MAX = (1n << 64n) - 1n;

/** TLS files for the mesh (paths, read once when the transport is created). */
export type WsTransportTls = MeshTlsOptions;

/**
 * For tests only: a function that stands in for the socket's remote address in the admission
 * policy, so that the refusal of a non-loopback peer can be exercised without a second host.
 */
export const kRemoteAddressOf: unique symbol = Symbol('meshcache.ws-transport.remoteAddressOf');

/**
 * Options of `WsTransport`. Every field is checked by the same function `resolveMeshOptions` uses
 * for it (options.ts); a mistake throws TypeError or RangeError. Defaults come from MESH_DEFAULTS.
 */
export interface WsTransportOptions {
  /** This node's id (1 to MAX_NODE_ID_BYTES UTF-8 bytes), sent in Hello and proven by the handshake. */
  nodeId: string;
  /**
   * Interface to listen on. `0.0.0.0` / `::` listen everywhere, which without a `secret` still
   * admits loopback peers only.
   * @default '127.0.0.1'
   */
  host?: string;
  /** Port to listen on; 0 picks a free one (read it back from `address`). @default MESH_DEFAULTS.port (7380) */
  port?: number;
  /**
   * Host that goes into `address`, the `host:port` peers dial. Set it when `host` is a wildcard or
   * peers see this node under another name (NAT, containers).
   * @default host, or '127.0.0.1' when host is '0.0.0.0' or '::'
   */
  advertiseHost?: string;
  /**
   * Shared secret (≥ MIN_SECRET_BYTES; a string counts as UTF-8) every node of the mesh proves
   * with HMAC-SHA256; it never goes on the wire. null: no authentication, loopback peers only.
   * @default null
   */
  secret?: string | Buffer | null;
  /** Serve https/wss with these files and dial peers over wss://. null: plain ws. @default null */
  tls?: WsTransportTls | null;
  /**
   * Time a connection has, from accept (or from dialling), to finish the handshake. Shorter frees
   * slots held by silent peers sooner; too short fails over slow links. At most 60000.
   * @default MESH_DEFAULTS.handshakeTimeoutMs (2000)
   */
  handshakeTimeoutMs?: Milliseconds;
  /**
   * Bytes that may queue to one peer before `send`/`request` to it reject with
   * ERR_MESH_BACKPRESSURE. A frame is always accepted onto an empty queue, so one frame larger than
   * this still goes. Bounds the memory a slow peer can pin. @default MESH_DEFAULTS.maxBufferedBytes (64 MiB)
   */
  maxBufferedBytes?: Bytes;
  /** Initial incarnation (membership bumps `incarnation` later). @default 0n */
  incarnation?: bigint;
  /**
   * Timers for request and handshake timeouts (tests inject test/helpers/fake-clock.ts to assert
   * exact deadlines). @default REAL_CLOCK
   */
  clock?: Clock;
  /** Called when a peer is refused or fails authentication (`remote` is `ip:port` or the address dialled). */
  onRefused?: (remote: string, reason: string) => void;
  /** @internal For tests only; see kRemoteAddressOf. */
  [kRemoteAddressOf]?: (req: IncomingMessage) => string | undefined;
}

/** `WsTransportOptions` with every default filled in and the TLS files read. */
export interface FilledOptions {
  nodeId: string;
  host: string;
  port: number;
  advertiseHost: string;
  secret: Buffer | null;
  tls: { cert: Buffer; key: Buffer; ca: Buffer | undefined } | null;
  handshakeTimeoutMs: Milliseconds;
  maxBufferedBytes: Bytes;
  incarnation: bigint;
  onRefused: ((remote: string, reason: string) => void) | null;
  remoteAddressOf: ((req: IncomingMessage) => string | undefined) | null;
  clock: Clock;
}

/** Carries options `resolvedTransportOptions` has already filled past `fillOptions`'s checks. */
const kFilled: unique symbol = Symbol('meshcache.ws-transport.filled');

function readTlsFile(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${meshOptionName(name)}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The options once checked, before the derived parts (advertised host, secret bytes, TLS files). */
interface CheckedOptions {
  nodeId: string;
  host: string;
  port: number;
  advertiseHost: string | null;
  secret: string | Buffer | null;
  tls: MeshTlsOptions | null;
  handshakeTimeoutMs: Milliseconds;
  maxBufferedBytes: Bytes;
  incarnation: bigint;
  onRefused: ((remote: string, reason: string) => void) | null;
  remoteAddressOf: ((req: IncomingMessage) => string | undefined) | null;
  clock: Clock;
}

/** Checked options → filled ones: derives the advertised host, copies the secret, reads the TLS files. */
function complete(c: CheckedOptions): FilledOptions {
  const wildcard = c.host === '0.0.0.0' || c.host === '::';
  return {
    ...c,
    advertiseHost: c.advertiseHost ?? (wildcard ? '127.0.0.1' : c.host),
    // A private copy: the caller may reuse its Buffer.
    secret: c.secret === null ? null : Buffer.from(secretBytes(c.secret)),
    tls: c.tls === null ? null : {
      cert: readTlsFile('tls.cert', c.tls.cert),
      key: readTlsFile('tls.key', c.tls.key),
      ca: c.tls.ca === undefined ? undefined : readTlsFile('tls.ca', c.tls.ca),
    },
  };
}

/**
 * Validates `options` with options.ts's field checks and fills in the defaults from MESH_DEFAULTS
 * (reads the TLS files). Throws TypeError/RangeError. Options made by `resolvedTransportOptions`
 * are already filled and are not checked again.
 */
export function fillOptions(options: WsTransportOptions): FilledOptions {
  const prefilled = (options as { [kFilled]?: FilledOptions } | null)?.[kFilled];
  if (prefilled !== undefined) return prefilled;
  if (typeof options !== 'object' || options === null) throw typeError('ERR_INVALID_OPTION', 'options.mesh must be an object');
  let incarnation = 0n;
  if (options.incarnation !== undefined) {
    if (typeof options.incarnation !== 'bigint') throw typeError('ERR_INVALID_OPTION', `${meshOptionName('incarnation')} must be a bigint`);
    if (options.incarnation < 0n || options.incarnation > U64_MAX) throw rangeError('ERR_INVALID_OPTION', `${meshOptionName('incarnation')} must be from 0 to 2^64-1`);
    incarnation = options.incarnation;
  }
  if (options.onRefused !== undefined && typeof options.onRefused !== 'function') {
    throw typeError('ERR_INVALID_OPTION', `${meshOptionName('onRefused')} must be a function`);
  }
  const remoteAddressOf = options[kRemoteAddressOf];
  if (remoteAddressOf !== undefined && typeof remoteAddressOf !== 'function') throw new TypeError('options[kRemoteAddressOf] must be a function');
  return complete({
    nodeId: checkMeshNodeId(options.nodeId),
    host: checkMeshHost('host', options.host, MESH_DEFAULTS.host),
    port: checkMeshInteger('port', options.port),
    advertiseHost: checkMeshHost('advertiseHost', options.advertiseHost, null),
    secret: checkMeshSecret(options.secret),
    tls: checkMeshTls(options.tls),
    handshakeTimeoutMs: checkMeshInteger('handshakeTimeoutMs', options.handshakeTimeoutMs),
    maxBufferedBytes: checkMeshInteger('maxBufferedBytes', options.maxBufferedBytes),
    incarnation,
    onRefused: options.onRefused ?? null,
    remoteAddressOf: remoteAddressOf ?? null,
    clock: checkClock(options.clock, meshOptionName('clock')),
  });
}

/** What a mesh node gives `WsTransport.fromResolved` besides its resolved options. */
export interface WsTransportIdentity {
  /** The node's id (the resolved `nodeId`, or the one the node made up). */
  nodeId: string;
  /** The first incarnation. */
  incarnation: bigint;
  /** See WsTransportOptions.onRefused. */
  onRefused?: (remote: string, reason: string) => void;
}

/**
 * The transport options of a mesh node, from options `resolveMeshOptions` has already checked:
 * nothing is validated twice; only the derived parts are filled (advertised host, secret copy, TLS
 * files). The result is for `new WsTransport(...)` only.
 */
export function resolvedTransportOptions(mesh: ResolvedMeshOptions, identity: WsTransportIdentity): WsTransportOptions {
  const filled = complete({
    nodeId: identity.nodeId,
    host: mesh.host,
    port: mesh.port,
    advertiseHost: mesh.advertiseHost,
    secret: mesh.secret,
    tls: mesh.tls,
    handshakeTimeoutMs: MESH_DEFAULTS.handshakeTimeoutMs,
    maxBufferedBytes: MESH_DEFAULTS.maxBufferedBytes,
    incarnation: identity.incarnation,
    onRefused: identity.onRefused ?? null,
    remoteAddressOf: null,
    clock: REAL_CLOCK,
  });
  return { nodeId: identity.nodeId, [kFilled]: filled } as WsTransportOptions;
}
