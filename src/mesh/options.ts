/**
 * The mesh's options, in one place: `MESH_DEFAULTS` (every default of the node, the transport and
 * the range partitioner, which the CLI, `meshcache cluster` and the docs derive theirs from),
 * `MeshOptions` as callers give them (`MeshCache.join({ mesh })`, the sidecar's --mesh-* flags),
 * `ResolvedMeshOptions` with the defaults filled in, and the field checks that `resolveMeshOptions`,
 * `WsTransport` and `RangePartitioner` all call, so that one option is checked by one function with
 * one message: TypeError for a wrong type, RangeError for a bad value, each reading
 * `options.mesh.<name> must be …` (`options.mesh.maxRangeKeys must be a positive integer`), the
 * pattern of membership's and the cache's own options.
 * Membership overrides are validated here too, so a mistake is reported before anything listens.
 */
import type { Bytes, Milliseconds } from '../config.js';
import { rangeError, typeError } from '../errors.js';
import { MIN_SECRET_BYTES, secretBytes } from './auth.js';
import { resolveMembershipOptions, type MembershipLogger, type MembershipOptions } from './membership.js';
import { MAX_ADDRESS_BYTES, MAX_NODE_ID_BYTES } from './wire.js';

const MiB = 1024 * 1024;

/**
 * Every default of the mesh, in one literal: the node's (`MeshOptions`), the transport's
 * (`WsTransportOptions`) and the range partitioner's (`RangePartitionerOptions`). Each value's
 * reason is on the option it fills (the TSDoc of `MeshOptions`, docs/mesh-config.md).
 */
export const MESH_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 7380,
  preset: 'lan',
  partitioner: 'hash',
  vnodes: 160,
  rangesPerNode: 4,
  maxRangeKeys: 100_000,
  maxRangeBytes: 64 * MiB,
  forwardTimeoutMs: 2000,
  handoffWindowMs: 30_000,
  rebalanceBatchEntries: 512,
  statsIntervalMs: 2000,
  sweepIntervalMs: 30_000,
  handshakeTimeoutMs: 2000,
  maxBufferedBytes: 64 * MiB,
} as const);

/**
 * The accepted range of every integer option, `[min, max]` inclusive: the one table the checks
 * read, so a bound and its message cannot drift apart.
 */
export const MESH_INTEGER_BOUNDS = Object.freeze({
  port: [0, 65_535],
  vnodes: [1, 4096],
  rangesPerNode: [1, 1024],
  maxRangeKeys: [1, Number.MAX_SAFE_INTEGER],
  maxRangeBytes: [1, Number.MAX_SAFE_INTEGER],
  forwardTimeoutMs: [1, 600_000],
  handoffWindowMs: [0, 3_600_000],
  rebalanceBatchEntries: [1, 4096],
  statsIntervalMs: [10, 3_600_000],
  sweepIntervalMs: [10, 86_400_000],
  /** A minute: longer only keeps half-open peers around. */
  handshakeTimeoutMs: [1, 60_000],
  maxBufferedBytes: [1, Number.MAX_SAFE_INTEGER],
} as const satisfies Record<string, readonly [number, number]>);

/** An integer option's name. */
export type MeshIntegerOption = keyof typeof MESH_INTEGER_BOUNDS;

/** Longest host: `[host]:65535` must fit the wire's MAX_ADDRESS_BYTES (the host may become the address). */
export const MAX_HOST_BYTES: Bytes = MAX_ADDRESS_BYTES - '[]:65535'.length;

/** A logger with pino's shape (the sidecar passes its pino logger). */
export type MeshLogger = MembershipLogger;

/** TLS files for the mesh (paths, read once when the transport is created). */
export interface MeshTlsOptions {
  /** PEM certificate chain the server presents. */
  cert: string;
  /** PEM private key of `cert`. */
  key: string;
  /**
   * PEM CA bundle that outgoing connections trust; when absent they trust the system store.
   * Certificates are always verified (`rejectUnauthorized` stays true).
   */
  ca?: string;
}

/** Options of a mesh node (`MeshCache.join({ mesh })`, `meshcache serve --mesh-port …`). */
export interface MeshOptions {
  /** This node's id, unique in the mesh (1 to 256 UTF-8 bytes). @default `${hostname}:${port}` (a random suffix instead of the port with port 0) */
  nodeId?: string;
  /** Address the mesh endpoint binds. @default MESH_DEFAULTS.host ('127.0.0.1') */
  host?: string;
  /** Mesh port (ws). 0 = any free port. @default MESH_DEFAULTS.port (7380) */
  port?: number;
  /** Host peers should dial (when `host` is 0.0.0.0 or behind NAT). @default host, or 127.0.0.1 for a wildcard host */
  advertiseHost?: string;
  /** Seeds to join through: `host:port` of any members. @default [] (a mesh of one, until others join it) */
  join?: string[] | string;
  /**
   * Shared secret (≥ 16 bytes) that peers prove with a challenge–response HMAC; never sent. Without
   * it, only loopback peers are accepted. @default null
   */
  secret?: string | Buffer | null;
  /** TLS for the mesh (wss): PEM file paths. @default null (plain ws) */
  tls?: MeshTlsOptions | null;
  /** Membership timing preset: 'lan' (hosts on one network) or 'local' (one host, tests). @default MESH_DEFAULTS.preset ('lan') */
  preset?: 'lan' | 'local';
  /** Overrides of single membership parameters (docs/mesh-config.md). */
  membership?: Omit<MembershipOptions, 'preset' | 'logger'>;
  /** 'hash' (consistent-hash ring) or 'range' (ordered key ranges with splits). @default MESH_DEFAULTS.partitioner ('hash') */
  partitioner?: 'hash' | 'range';
  /** Ring points per node with the hash partitioner. @default MESH_DEFAULTS.vnodes (160) */
  vnodes?: number;
  /** Range partitioner: ranges per node at start. @default MESH_DEFAULTS.rangesPerNode (4) */
  rangesPerNode?: number;
  /** Range partitioner: split a range holding more keys than this. @default MESH_DEFAULTS.maxRangeKeys (100000) */
  maxRangeKeys?: number;
  /** Range partitioner: split a range holding more bytes than this. @default MESH_DEFAULTS.maxRangeBytes (64 MiB) */
  maxRangeBytes?: Bytes;
  /** How long a forwarded request may take before the caller gets an error. @default MESH_DEFAULTS.forwardTimeoutMs (2000) */
  forwardTimeoutMs?: Milliseconds;
  /** After an ownership change, how long a new owner asks a key's previous owner on a miss. 0: never. @default MESH_DEFAULTS.handoffWindowMs (30000) */
  handoffWindowMs?: Milliseconds;
  /** Entries per rebalance batch (each batch waits for its ack: the backpressure). @default MESH_DEFAULTS.rebalanceBatchEntries (512) */
  rebalanceBatchEntries?: number;
  /** How often the node tells the others its key count and bytes. @default MESH_DEFAULTS.statsIntervalMs (2000) */
  statsIntervalMs?: Milliseconds;
  /**
   * A rebalance pass runs at least this often without any change: it finds keys written under an
   * older view of the mesh and, with the range partitioner, checks ranges for splits. Each pass
   * scans this node's keys. @default MESH_DEFAULTS.sweepIntervalMs (30000)
   */
  sweepIntervalMs?: Milliseconds;
  /** Logger (pino-like). @default none */
  logger?: MeshLogger;
}

/** MeshOptions with every default filled in. */
export interface ResolvedMeshOptions {
  nodeId: string | null;
  host: string;
  port: number;
  advertiseHost: string | null;
  join: string[];
  secret: string | Buffer | null;
  tls: MeshTlsOptions | null;
  preset: 'lan' | 'local';
  membership: Omit<MembershipOptions, 'preset' | 'logger'>;
  partitioner: 'hash' | 'range';
  vnodes: number;
  rangesPerNode: number;
  maxRangeKeys: number;
  maxRangeBytes: Bytes;
  forwardTimeoutMs: Milliseconds;
  handoffWindowMs: Milliseconds;
  rebalanceBatchEntries: number;
  statsIntervalMs: Milliseconds;
  sweepIntervalMs: Milliseconds;
}

// -------------------------------------------------------------------------------------------------
// Field checks: the one validator of each option, called by every path that takes it.

/** `options.mesh.<name>`: how every message names an option. */
export function meshOptionName(name: string): string {
  return `options.mesh.${name}`;
}

/** What an integer option must be, as its messages say it. */
function integerRequirement(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) return min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer of at least ${min}`;
  return `an integer from ${min} to ${max}`;
}

/**
 * The integer option `name` (bounds from MESH_INTEGER_BOUNDS), or its MESH_DEFAULTS value when
 * undefined. TypeError `options.mesh.<name> must be a number` for a non-number; RangeError
 * `options.mesh.<name> must be <requirement>` outside the bounds or fractional, the requirement
 * read from the bounds (`a positive integer`, `a non-negative integer`, `an integer from 1 to 4096`).
 */
export function checkMeshInteger(name: MeshIntegerOption, value: unknown): number {
  if (value === undefined) return MESH_DEFAULTS[name];
  const [min, max] = MESH_INTEGER_BOUNDS[name];
  if (typeof value !== 'number') throw typeError('ERR_INVALID_OPTION', `${meshOptionName(name)} must be a number`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError('ERR_INVALID_OPTION', `${meshOptionName(name)} must be ${integerRequirement(min, max)}`);
  }
  return value;
}

/** A string option of 1 to `maxBytes` UTF-8 bytes of well-formed text (nodeId, host, advertiseHost). */
export function checkMeshText(name: string, value: unknown, maxBytes: Bytes): string {
  if (typeof value !== 'string') throw typeError('ERR_INVALID_OPTION', `${meshOptionName(name)} must be a string`);
  const n = Buffer.byteLength(value, 'utf8');
  if (n === 0 || n > maxBytes || /\p{Cs}/u.test(value)) {
    throw rangeError('ERR_INVALID_OPTION', `${meshOptionName(name)} must be 1 to ${maxBytes} UTF-8 bytes of well-formed text`);
  }
  return value;
}

/** A node id: 1 to MAX_NODE_ID_BYTES UTF-8 bytes (it goes into Hello and every member record). */
export function checkMeshNodeId(value: unknown): string {
  return checkMeshText('nodeId', value, MAX_NODE_ID_BYTES);
}

/**
 * A host (`host`, `advertiseHost`): 1 to MAX_HOST_BYTES, so that `[host]:65535` fits the wire's
 * address cap (the host may become the address); `def` when undefined.
 */
export function checkMeshHost<D extends string | null>(name: 'host' | 'advertiseHost', value: unknown, def: D): string | D {
  return value === undefined ? def : checkMeshText(name, value, MAX_HOST_BYTES);
}

/** The shared secret: null, or a string (UTF-8) / Buffer of at least MIN_SECRET_BYTES. */
export function checkMeshSecret(value: unknown): string | Buffer | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) throw typeError('ERR_INVALID_OPTION', `${meshOptionName('secret')} must be a string, a Buffer or null`);
  if (secretBytes(value).length < MIN_SECRET_BYTES) throw rangeError('ERR_INVALID_OPTION', `${meshOptionName('secret')} must be at least ${MIN_SECRET_BYTES} bytes`);
  return value;
}

/** TLS file paths: null, or `{ cert, key, ca? }` strings (the files are read by the transport). */
export function checkMeshTls(value: unknown): MeshTlsOptions | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object') throw typeError('ERR_INVALID_OPTION', `${meshOptionName('tls')} must be { cert, key, ca? } file paths, or null`);
  const t = value as Record<string, unknown>;
  for (const k of ['cert', 'key'] as const) {
    if (typeof t[k] !== 'string') throw typeError('ERR_INVALID_OPTION', `${meshOptionName(`tls.${k}`)} must be a file path string`);
  }
  if (t.ca !== undefined && typeof t.ca !== 'string') throw typeError('ERR_INVALID_OPTION', `${meshOptionName('tls.ca')} must be a file path string`);
  return t.ca === undefined ? { cert: t.cert as string, key: t.key as string } : { cert: t.cert as string, key: t.key as string, ca: t.ca as string };
}

/** One of `choices` (a string option with a closed set of values), or `def` when undefined. */
function checkChoice<T extends string>(name: string, value: unknown, choices: readonly T[], def: T): T {
  if (value === undefined) return def;
  if (!choices.includes(value as T)) throw rangeError('ERR_INVALID_OPTION', `${meshOptionName(name)} must be ${choices.map((c) => `'${c}'`).join(' or ')}`);
  return value as T;
}

const ADDRESS = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/;

/** Seeds: a comma-separated string or an array of `host:port` strings. */
function checkJoin(value: unknown): string[] {
  if (value === undefined) return [];
  const raw = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s !== '') : value;
  if (!Array.isArray(raw) || raw.some((s) => typeof s !== 'string')) throw typeError('ERR_INVALID_OPTION', `${meshOptionName('join')} must be an array of "host:port" strings`);
  for (const s of raw as string[]) {
    if (!ADDRESS.test(s) || Number(s.slice(s.lastIndexOf(':') + 1)) > 65535) {
      throw rangeError('ERR_INVALID_OPTION', `${meshOptionName('join')}: '${s}' is not a host:port address`);
    }
  }
  return raw as string[];
}

/** Validates mesh options and fills in the defaults (TypeError / RangeError on a mistake). */
export function resolveMeshOptions(options: MeshOptions): ResolvedMeshOptions {
  if (options === null || typeof options !== 'object') throw typeError('ERR_INVALID_OPTION', 'options.mesh must be an object');
  const o = options as Record<string, unknown>;
  const preset = checkChoice('preset', o.preset, ['lan', 'local'] as const, MESH_DEFAULTS.preset);
  const membership = o.membership === undefined ? {} : o.membership;
  if (membership === null || typeof membership !== 'object') throw typeError('ERR_INVALID_OPTION', `${meshOptionName('membership')} must be an object`);
  try {
    resolveMembershipOptions({ ...(membership as MembershipOptions), preset });
  } catch (err) {
    // Membership names its options `options.mesh.<name>`; here they sit under `membership`.
    const message = (err as Error).message.replace('options.mesh.', 'options.mesh.membership.');
    if (err instanceof TypeError) throw typeError('ERR_INVALID_OPTION', message);
    if (err instanceof RangeError) throw rangeError('ERR_INVALID_OPTION', message);
    throw err;
  }
  const logger = o.logger as MeshLogger | null | undefined;
  if (logger !== undefined && (logger === null || typeof logger !== 'object' || typeof logger.info !== 'function' || typeof logger.warn !== 'function')) {
    throw typeError('ERR_INVALID_OPTION', `${meshOptionName('logger')} must have info() and warn()`);
  }
  return {
    nodeId: o.nodeId === undefined ? null : checkMeshNodeId(o.nodeId),
    host: checkMeshHost('host', o.host, MESH_DEFAULTS.host),
    port: checkMeshInteger('port', o.port),
    advertiseHost: checkMeshHost('advertiseHost', o.advertiseHost, null),
    join: checkJoin(o.join),
    secret: checkMeshSecret(o.secret),
    tls: checkMeshTls(o.tls),
    preset,
    membership: membership as ResolvedMeshOptions['membership'],
    partitioner: checkChoice('partitioner', o.partitioner, ['hash', 'range'] as const, MESH_DEFAULTS.partitioner),
    vnodes: checkMeshInteger('vnodes', o.vnodes),
    rangesPerNode: checkMeshInteger('rangesPerNode', o.rangesPerNode),
    maxRangeKeys: checkMeshInteger('maxRangeKeys', o.maxRangeKeys),
    maxRangeBytes: checkMeshInteger('maxRangeBytes', o.maxRangeBytes),
    forwardTimeoutMs: checkMeshInteger('forwardTimeoutMs', o.forwardTimeoutMs),
    handoffWindowMs: checkMeshInteger('handoffWindowMs', o.handoffWindowMs),
    rebalanceBatchEntries: checkMeshInteger('rebalanceBatchEntries', o.rebalanceBatchEntries),
    statsIntervalMs: checkMeshInteger('statsIntervalMs', o.statsIntervalMs),
    sweepIntervalMs: checkMeshInteger('sweepIntervalMs', o.sweepIntervalMs),
  };
}
