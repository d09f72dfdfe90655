/**
 * The mesh node's options: `MeshOptions` as callers give them (`Cache.join({ mesh })`, the
 * sidecar's --mesh-* flags), `ResolvedMeshOptions` with the defaults filled in, and the one
 * function that validates the first into the second (TypeError / RangeError with
 * `options.mesh.<name> must be …`). Membership overrides are validated here too, so a mistake is
 * reported before anything listens.
 */
import { rangeError, typeError } from '../errors.js';
import { resolveMembershipOptions, type MembershipLogger, type MembershipOptions } from './membership.js';

/** Milliseconds. */
type Milliseconds = number;

/** A logger with pino's shape (the sidecar passes its pino logger). */
export type MeshLogger = MembershipLogger;

/** Options of a mesh node (`Cache.join({ mesh })`, `meshcache serve --mesh-port …`). */
export interface MeshOptions {
  /** This node's id, unique in the mesh. @default `${hostname}:${port}` (a random suffix instead of the port with port 0) */
  nodeId?: string;
  /** Address the mesh endpoint binds. @default '127.0.0.1' */
  host?: string;
  /** Mesh port (ws). 0 = any free port. @default 7380 */
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
  tls?: { cert: string; key: string; ca?: string } | null;
  /** Membership timing preset: 'lan' (hosts on one network) or 'local' (one host, tests). @default 'lan' */
  preset?: 'lan' | 'local';
  /** Overrides of single membership parameters (docs/mesh-config.md). */
  membership?: Omit<MembershipOptions, 'preset' | 'logger'>;
  /** 'hash' (consistent-hash ring) or 'range' (ordered key ranges with splits). @default 'hash' */
  partitioner?: 'hash' | 'range';
  /** Ring points per node with the hash partitioner. @default 160 */
  vnodes?: number;
  /** Range partitioner: ranges per node at start. @default 4 */
  rangesPerNode?: number;
  /** Range partitioner: split a range holding more keys than this. @default 100000 */
  maxRangeKeys?: number;
  /** Range partitioner: split a range holding more bytes than this. @default 64 MiB */
  maxRangeBytes?: number;
  /** How long a forwarded request may take before the caller gets an error. @default 2000 */
  forwardTimeoutMs?: Milliseconds;
  /** After an ownership change, how long a new owner asks a key's previous owner on a miss. @default 30000 */
  handoffWindowMs?: Milliseconds;
  /** Entries per rebalance batch (each batch waits for its ack: the backpressure). @default 512 */
  rebalanceBatchEntries?: number;
  /** How often the node tells the others its key count and bytes. @default 2000 */
  statsIntervalMs?: Milliseconds;
  /**
   * A rebalance pass runs at least this often without any change: it finds keys written under an
   * older view of the mesh and, with the range partitioner, checks ranges for splits. Each pass
   * scans this node's keys. @default 30000
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
  tls: { cert: string; key: string; ca?: string } | null;
  preset: 'lan' | 'local';
  membership: Omit<MembershipOptions, 'preset' | 'logger'>;
  partitioner: 'hash' | 'range';
  vnodes: number;
  rangesPerNode: number;
  maxRangeKeys: number;
  maxRangeBytes: number;
  forwardTimeoutMs: number;
  handoffWindowMs: number;
  rebalanceBatchEntries: number;
  statsIntervalMs: number;
  sweepIntervalMs: number;
}

const ADDRESS = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/;

function posInt(o: Record<string, unknown>, name: string, def: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'number') throw typeError('ERR_INVALID_OPTION', `options.mesh.${name} must be a number`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw rangeError('ERR_INVALID_OPTION', `options.mesh.${name} must be an integer from ${min} to ${max}`);
  }
  return v;
}

/** Validates mesh options and fills in the defaults (TypeError / RangeError on a mistake). */
export function resolveMeshOptions(options: MeshOptions): ResolvedMeshOptions {
  if (options === null || typeof options !== 'object') throw typeError('ERR_INVALID_OPTION', 'options.mesh must be an object');
  const o = options as Record<string, unknown>;
  const str = (name: string): string | null => {
    const v = o[name];
    if (v === undefined) return null;
    if (typeof v !== 'string' || v.length === 0) throw typeError('ERR_INVALID_OPTION', `options.mesh.${name} must be a non-empty string`);
    return v;
  };
  let join: string[] = [];
  if (o.join !== undefined) {
    const raw = typeof o.join === 'string' ? o.join.split(',').map((s) => s.trim()).filter((s) => s !== '') : o.join;
    if (!Array.isArray(raw) || raw.some((s) => typeof s !== 'string')) throw typeError('ERR_INVALID_OPTION', 'options.mesh.join must be an array of "host:port" strings');
    for (const s of raw as string[]) {
      if (!ADDRESS.test(s) || Number(s.slice(s.lastIndexOf(':') + 1)) > 65535) {
        throw rangeError('ERR_INVALID_OPTION', `options.mesh.join: '${s}' is not a host:port address`);
      }
    }
    join = raw as string[];
  }
  const secret = o.secret ?? null;
  if (secret !== null && typeof secret !== 'string' && !Buffer.isBuffer(secret)) throw typeError('ERR_INVALID_OPTION', 'options.mesh.secret must be a string, a Buffer or null');
  if (secret !== null && Buffer.byteLength(secret as string) < 16) throw rangeError('ERR_INVALID_OPTION', 'options.mesh.secret must be at least 16 bytes');
  const tls = o.tls ?? null;
  if (tls !== null) {
    const t = tls as Record<string, unknown>;
    if (typeof tls !== 'object' || typeof t.cert !== 'string' || typeof t.key !== 'string' || (t.ca !== undefined && typeof t.ca !== 'string')) {
      throw typeError('ERR_INVALID_OPTION', 'options.mesh.tls must be { cert, key, ca? } file paths, or null');
    }
  }
  const preset = o.preset ?? 'lan';
  if (preset !== 'lan' && preset !== 'local') throw rangeError('ERR_INVALID_OPTION', "options.mesh.preset must be 'lan' or 'local'");
  const partitioner = o.partitioner ?? 'hash';
  if (partitioner !== 'hash' && partitioner !== 'range') throw rangeError('ERR_INVALID_OPTION', "options.mesh.partitioner must be 'hash' or 'range'");
  const membership = o.membership === undefined ? {} : o.membership;
  if (membership === null || typeof membership !== 'object') throw typeError('ERR_INVALID_OPTION', 'options.mesh.membership must be an object');
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
    throw typeError('ERR_INVALID_OPTION', 'options.mesh.logger must have info() and warn()');
  }
  return {
    nodeId: str('nodeId'),
    host: str('host') ?? '127.0.0.1',
    port: posInt(o, 'port', 7380, 0, 65535),
    advertiseHost: str('advertiseHost'),
    join,
    secret: secret as string | Buffer | null,
    tls: tls as ResolvedMeshOptions['tls'],
    preset,
    membership: membership as ResolvedMeshOptions['membership'],
    partitioner,
    vnodes: posInt(o, 'vnodes', 160, 1, 4096),
    rangesPerNode: posInt(o, 'rangesPerNode', 4, 1, 1024),
    maxRangeKeys: posInt(o, 'maxRangeKeys', 100_000),
    maxRangeBytes: posInt(o, 'maxRangeBytes', 64 * 1024 * 1024),
    forwardTimeoutMs: posInt(o, 'forwardTimeoutMs', 2000, 1, 600_000),
    handoffWindowMs: posInt(o, 'handoffWindowMs', 30_000, 0, 3_600_000),
    rebalanceBatchEntries: posInt(o, 'rebalanceBatchEntries', 512, 1, 4096),
    statsIntervalMs: posInt(o, 'statsIntervalMs', 2000, 10, 3_600_000),
    sweepIntervalMs: posInt(o, 'sweepIntervalMs', 30_000, 10, 86_400_000),
  };
}

