#!/usr/bin/env node
/**
 * `meshcache serve`: the sidecar. Flags override a JSON config file (--config), which overrides
 * the defaults. SIGINT / SIGTERM shut it down cleanly (stop accepting, finish replies in flight,
 * exit 0). Logs are JSON lines (pino) on stdout.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { pino } from 'pino';
import type { MeshcacheServer } from './server/server.js';
import { startServerThreads } from './server/threads.js';
import { createMetrics } from './server/metrics.js';
import { startHttp, type HttpEndpoint } from './server/http.js';
import { parseBytes } from './config.js';
import { MeshNode } from './mesh/node.js';
import { serveThreadRouting } from './mesh/thread-routing.js';
import { MESH_DEFAULTS, MESH_INTEGER_BOUNDS } from './mesh/options.js';
import { CommandTable } from './commands/registry.js';
import { registerAll } from './commands/index.js';
import { meshPlaceholder } from './commands/mesh.js';
import { checkUserLine, parseAclFile } from './commands/acl.js';

interface Flag {
  name: string;
  key: keyof ServeConfig;
  /** 'list': repeatable, one value each time; 'pair': repeatable, two values each time. */
  kind: 'int' | 'bytes' | 'string' | 'bool' | 'list' | 'pair';
  def: string;
  help: string;
}

/** Everything `serve` can be configured with (config-file keys are the camelCase names). */
export interface ServeConfig {
  port: number;
  host: string;
  maxMemory: string | number;
  shards?: number;
  threads: number;
  workers: number;
  http: number | null;
  requirepass: string | null;
  maxClients: number;
  logLevel: string;
  slowlogMs: number;
  /** Mesh port; null = no mesh (the mesh starts when this or `join` is set). */
  meshPort: number | null;
  /** Address the mesh binds; null = the same as `host`. */
  meshHost: string | null;
  /** Host peers dial to reach this node; null = meshHost (127.0.0.1 for a wildcard host). */
  meshAdvertise: string | null;
  /** Seeds: comma-separated host:port of mesh members. */
  join: string | null;
  /** Shared mesh secret (or the MESHCACHE_MESH_SECRET environment variable). */
  meshSecret: string | null;
  meshTlsCert: string | null;
  meshTlsKey: string | null;
  meshTlsCa: string | null;
  meshPreset: string;
  nodeId: string | null;
  partitioner: string;
  vnodes: number;
  /** Range partitioner: split a range holding more keys than this. */
  maxRangeKeys: number;
  /** Address the HTTP endpoint binds (independent of `host`). */
  httpHost: string;
  /** PEM certificate and key files: the HTTP endpoint speaks HTTPS (else tlsCert/tlsKey when given). */
  httpTlsCert: string | null;
  httpTlsKey: string | null;
  /** Port of the TLS listener for RESP clients; null = none. With it, port 0 turns the plain port off. */
  tlsPort: number | null;
  tlsCert: string | null;
  tlsKey: string | null;
  tlsCa: string | null;
  /** yes, no or optional; null = yes with tlsCa, else no (as in Redis). */
  tlsAuthClients: string | null;
  /**
   * Users, each `name rule rule…` in Redis's ACL rule syntax (--user, repeatable); after parsing,
   * also those read from `aclfile`.
   */
  users: string[];
  /** A file of users in Redis's users.acl format (one `user <name> <rules…>` line each). */
  aclfile: string | null;
  /** rename-command pairs: [name, newName]; '' as newName disables the command. */
  renameCommands: Array<[string, string]>;
  /** Per-client query buffer limit (bytes or a size like '64mb'; 0 = none); null = the server's default. */
  clientQueryBufferLimit: string | number | null;
  /**
   * Output limits as Redis's `client-output-buffer-limit normal`: "<hard> <soft> <soft seconds>"
   * (sizes like '256mb'; 0 = that limit off); null = the server's defaults. Parsed into `outputLimits`.
   */
  clientOutputBufferLimit: string | null;
  /** The parsed --client-output-buffer-limit. */
  outputLimits: { hardBytes: number; softBytes: number; softSeconds: number } | null;
  /** Limit on all clients' query buffers together (bytes or a size; 0 = none); null = the server's default. */
  maxMemoryClients: string | number | null;
  /** Close clients idle this many seconds (0 = never). */
  timeout: number;
  /** Close clients whose request stays unfinished this many seconds (0 = never). */
  partialRequestTimeout: number;
}

const FLAGS: Flag[] = [
  { name: '--port', key: 'port', kind: 'int', def: '6380', help: 'TCP port for RESP clients (0 = any free port; 0 with --tls-port = no plain port, as in Redis)' },
  { name: '--host', key: 'host', kind: 'string', def: '127.0.0.1', help: 'address to bind; 0.0.0.0 for every interface' },
  { name: '--max-memory', key: 'maxMemory', kind: 'bytes', def: '256mb', help: "cache byte budget, e.g. '512mb', '2gb'" },
  { name: '--shards', key: 'shards', kind: 'int', def: 'auto', help: 'cache shards (power of two, 1-1024)' },
  { name: '--threads', key: 'threads', kind: 'int', def: '1', help: 'server threads accepting connections (more than 1 needs the native addon\'s SO_REUSEPORT; without it one thread serves, and the log says why)' },
  { name: '--workers', key: 'workers', kind: 'int', def: '0', help: 'shard-owner worker threads for sweeps, compaction and bulk work (0 = none)' },
  { name: '--http', key: 'http', kind: 'int', def: 'off', help: 'port for /metrics (Prometheus) and the dashboard' },
  { name: '--requirepass', key: 'requirepass', kind: 'string', def: 'none', help: 'password clients must AUTH with (user "default")' },
  { name: '--max-clients', key: 'maxClients', kind: 'int', def: '10000', help: 'most simultaneous clients' },
  { name: '--log-level', key: 'logLevel', kind: 'string', def: 'info', help: 'pino level: fatal, error, warn, info, debug, trace' },
  { name: '--slowlog-ms', key: 'slowlogMs', kind: 'int', def: '10', help: 'log commands slower than this (ms)' },
  { name: '--client-output-buffer-limit', key: 'clientOutputBufferLimit', kind: 'string', def: '"256mb 64mb 60"', help: 'output limits as Redis\'s normal class: "<hard> <soft> <soft-seconds>" (0 = that limit off)' },
  { name: '--client-query-buffer-limit', key: 'clientQueryBufferLimit', kind: 'bytes', def: '64mb, or 2 × proto-max-bulk-len if larger', help: 'disconnect a client whose unparsed input holds more (0 = no limit)' },
  { name: '--max-memory-clients', key: 'maxMemoryClients', kind: 'bytes', def: '256mb, or the client limit if larger', help: 'when all clients\' input holds more, disconnect the largest first (0 = no limit; per server thread)' },
  { name: '--timeout', key: 'timeout', kind: 'int', def: '0', help: 'close clients idle this many seconds (0 = never)' },
  { name: '--partial-request-timeout', key: 'partialRequestTimeout', kind: 'int', def: '30', help: 'close clients that leave a request unfinished, or stay silent before AUTH, this many seconds (0 = never)' },
  { name: '--mesh-port', key: 'meshPort', kind: 'int', def: `off (${MESH_DEFAULTS.port} with --join)`, help: 'port of the mesh endpoint (ws); turns the mesh on' },
  { name: '--mesh-host', key: 'meshHost', kind: 'string', def: 'same as --host', help: 'address the mesh endpoint binds' },
  { name: '--mesh-advertise', key: 'meshAdvertise', kind: 'string', def: 'the mesh host', help: 'host other nodes dial to reach this one' },
  { name: '--join', key: 'join', kind: 'string', def: 'none', help: 'seeds to join: host:port[,host:port...] of mesh members' },
  { name: '--mesh-secret', key: 'meshSecret', kind: 'string', def: '$MESHCACHE_MESH_SECRET', help: 'shared secret (16+ bytes) peers prove by HMAC; without it only loopback peers are accepted' },
  { name: '--mesh-tls-cert', key: 'meshTlsCert', kind: 'string', def: 'none', help: 'PEM certificate file: the mesh speaks wss' },
  { name: '--mesh-tls-key', key: 'meshTlsKey', kind: 'string', def: 'none', help: 'PEM private key file for --mesh-tls-cert' },
  { name: '--mesh-tls-ca', key: 'meshTlsCa', kind: 'string', def: 'system CAs', help: 'PEM CA file that signs the peers\' certificates' },
  { name: '--mesh-preset', key: 'meshPreset', kind: 'string', def: MESH_DEFAULTS.preset, help: 'failure-detector timing: lan or local (docs/mesh-config.md)' },
  { name: '--node-id', key: 'nodeId', kind: 'string', def: 'hostname:mesh-port', help: 'this node\'s id in the mesh' },
  { name: '--partitioner', key: 'partitioner', kind: 'string', def: MESH_DEFAULTS.partitioner, help: 'hash (consistent-hash ring) or range (ordered key ranges)' },
  { name: '--vnodes', key: 'vnodes', kind: 'int', def: String(MESH_DEFAULTS.vnodes), help: 'ring points per node (hash partitioner)' },
  { name: '--max-range-keys', key: 'maxRangeKeys', kind: 'int', def: String(MESH_DEFAULTS.maxRangeKeys), help: 'split a key range holding more keys than this (range partitioner)' },
  { name: '--http-host', key: 'httpHost', kind: 'string', def: '127.0.0.1', help: 'address the HTTP endpoint binds (not --host: metrics stay on loopback unless asked)' },
  { name: '--http-tls-cert', key: 'httpTlsCert', kind: 'string', def: '--tls-cert', help: 'PEM certificate file: the HTTP endpoint speaks HTTPS' },
  { name: '--http-tls-key', key: 'httpTlsKey', kind: 'string', def: '--tls-key', help: 'PEM private key file for --http-tls-cert' },
  { name: '--tls-port', key: 'tlsPort', kind: 'int', def: 'off', help: 'port for RESP clients over TLS (0 = any free port); with it, --port 0 turns the plain port off' },
  { name: '--tls-cert', key: 'tlsCert', kind: 'string', def: 'none', help: 'PEM certificate file for --tls-port (and HTTPS, without --http-tls-cert)' },
  { name: '--tls-key', key: 'tlsKey', kind: 'string', def: 'none', help: 'PEM private key file for --tls-cert' },
  { name: '--tls-ca', key: 'tlsCa', kind: 'string', def: 'none', help: 'PEM CA file that signs client certificates' },
  { name: '--tls-auth-clients', key: 'tlsAuthClients', kind: 'string', def: 'yes with --tls-ca, else no', help: 'client certificates: yes (required), optional (checked when shown) or no' },
  { name: '--user', key: 'users', kind: 'list', def: 'none', help: 'a user in Redis ACL rule syntax, e.g. "app on >secret ~* +@all -@dangerous" (repeatable)' },
  { name: '--aclfile', key: 'aclfile', kind: 'string', def: 'none', help: 'file of users in Redis\'s users.acl format (not with --user)' },
  { name: '--rename-command', key: 'renameCommands', kind: 'pair', def: 'none', help: 'rename a command; "" as the new name disables it (repeatable)' },
];

const USAGE = `Usage: meshcache serve [options]
       meshcache cluster [--nodes 3] (a local mesh on loopback; meshcache cluster --help)

Runs the meshcache sidecar: a Redis-protocol (RESP2/RESP3) server over an in-memory cache.

Options:
${FLAGS.map((f) => `  ${(f.name + (f.kind === 'bool' ? '' : f.kind === 'pair' ? ' <name> <new>' : ' <value>')).padEnd(24)} ${f.help} (default: ${f.def})`).join('\n')}
  --config <file>          JSON file with any of the options above as camelCase keys
                           (port, host, maxMemory, shards, threads, workers, http,
                           requirepass, maxClients, logLevel, slowlogMs, meshPort,
                           meshHost, meshAdvertise, join, meshSecret, meshTlsCert,
                           meshTlsKey, meshTlsCa, meshPreset, nodeId, partitioner,
                           vnodes, maxRangeKeys, httpHost, httpTlsCert,
                           httpTlsKey, tlsPort, tlsCert, tlsKey, tlsCa,
                           tlsAuthClients, users (array), aclfile,
                           renameCommands (object: name to new name),
                           clientQueryBufferLimit, clientOutputBufferLimit,
                           maxMemoryClients, timeout,
                           partialRequestTimeout); flags win
  -h, --help               show this help
  -v, --version            print the version

Signals: SIGINT and SIGTERM stop accepting, finish replies in flight and exit 0.
`;

function fail(message: string): never {
  process.stderr.write(`meshcache: ${message}\nRun 'meshcache serve --help' for the options.\n`);
  process.exit(2);
}

/** Parses `serve`'s arguments into a config (exported for tests). */
export function parseServeArgs(argv: string[]): ServeConfig {
  const cfg: ServeConfig = {
    port: 6380, host: '127.0.0.1', maxMemory: '256mb', threads: 1, workers: 0, http: null,
    requirepass: null, maxClients: 10_000, logLevel: 'info', slowlogMs: 10,
    meshPort: null, meshHost: null, meshAdvertise: null, join: null, meshSecret: process.env.MESHCACHE_MESH_SECRET || null,
    meshTlsCert: null, meshTlsKey: null, meshTlsCa: null, meshPreset: MESH_DEFAULTS.preset, nodeId: null, partitioner: MESH_DEFAULTS.partitioner, vnodes: MESH_DEFAULTS.vnodes,
    maxRangeKeys: MESH_DEFAULTS.maxRangeKeys,
    httpHost: '127.0.0.1', httpTlsCert: null, httpTlsKey: null,
    tlsPort: null, tlsCert: null, tlsKey: null, tlsCa: null, tlsAuthClients: null,
    users: [], aclfile: null, renameCommands: [],
    clientQueryBufferLimit: null, clientOutputBufferLimit: null, outputLimits: null, maxMemoryClients: null, timeout: 0, partialRequestTimeout: 30,
  };
  const fromFlags: Partial<Record<keyof ServeConfig, unknown>> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--config') {
      const path = argv[++i];
      if (path === undefined) fail('--config needs a file');
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(path, 'utf8'));
      } catch (err) {
        fail(`cannot read the config file ${path}: ${(err as Error).message}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail(`${path} must hold a JSON object`);
      for (const [k, v] of Object.entries(parsed as object)) {
        if (!FLAGS.some((f) => f.key === k)) fail(`${path}: unknown option '${k}'`);
        if (k === 'users' && !(Array.isArray(v) && v.every((u) => typeof u === 'string'))) fail(`${path}: users must be an array of strings`);
        if (k === 'renameCommands') {
          if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.values(v as object).every((n) => typeof n === 'string')) fail(`${path}: renameCommands must be an object of command name to new name`);
          cfg.renameCommands = Object.entries(v as Record<string, string>);
          continue;
        }
        (cfg as unknown as Record<string, unknown>)[k] = v;
      }
      continue;
    }
    const flag = FLAGS.find((f) => f.name === a || a.startsWith(f.name + '='));
    if (flag === undefined) fail(`unknown option '${a}'`);
    if (flag.kind === 'pair') {
      if (a !== flag.name) fail(`${flag.name} takes two values: ${flag.name} <name> <new name>`);
      const from = argv[++i];
      const to = argv[++i];
      if (from === undefined || to === undefined) fail(`${flag.name} needs a command name and a new name ("" to disable it)`);
      ((fromFlags[flag.key] ??= []) as Array<[string, string]>).push([from, to]);
      continue;
    }
    if (flag.kind === 'list') {
      const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (value === undefined) fail(`${flag.name} needs a value`);
      ((fromFlags[flag.key] ??= []) as string[]).push(value);
      continue;
    }
    const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
    if (value === undefined) fail(`${flag.name} needs a value`);
    fromFlags[flag.key] = value;
  }
  for (const [k, v] of Object.entries(fromFlags)) (cfg as unknown as Record<string, unknown>)[k] = v;
  // Values from a config file may be any JSON: string options must be strings.
  for (const f of FLAGS) {
    const v = (cfg as unknown as Record<string, unknown>)[f.key];
    if (f.kind === 'string' && v !== null && v !== undefined && typeof v !== 'string') fail(`${f.key} must be a string (got ${JSON.stringify(v)})`);
  }
  const int = (k: keyof ServeConfig, min: number, max: number) => {
    const v = cfg[k];
    if (v === null || v === undefined) return;
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isInteger(n) || n < min || n > max) fail(`${k} must be an integer from ${min} to ${max} (got ${String(v)})`);
    (cfg as unknown as Record<string, unknown>)[k] = n;
  };
  int('port', 0, 65535);
  int('threads', 1, 256);
  int('workers', 0, 128);
  int('maxClients', 1, 1_000_000);
  int('slowlogMs', 0, 3_600_000);
  if (cfg.shards !== undefined) int('shards', 1, 1024);
  if (cfg.http !== null) int('http', 0, 65535);
  if (parseBytes(cfg.maxMemory) === undefined) fail(`maxMemory must be a size like '512mb' (got ${String(cfg.maxMemory)})`);
  for (const k of ['clientQueryBufferLimit', 'maxMemoryClients'] as const) {
    const v = cfg[k];
    if (v === null) continue;
    const n = parseBytes(v);
    if (n === undefined || !Number.isSafeInteger(n)) fail(`${k} must be a size like '64mb', or 0 for no limit (got ${String(v)})`);
    cfg[k] = n;
  }
  if (cfg.clientOutputBufferLimit !== null) {
    const parts = cfg.clientOutputBufferLimit.trim().split(/\s+/);
    const [hard, soft] = parts.slice(0, 2).map((p) => parseBytes(p));
    const seconds = Number(parts[2]);
    if (parts.length !== 3 || hard === undefined || soft === undefined || !Number.isSafeInteger(hard) || !Number.isSafeInteger(soft)
        || !Number.isInteger(seconds) || seconds < 0 || seconds > 31_536_000) {
      fail(`--client-output-buffer-limit must be "<hard> <soft> <soft-seconds>", e.g. "256mb 64mb 60" (got ${JSON.stringify(cfg.clientOutputBufferLimit)})`);
    }
    cfg.outputLimits = { hardBytes: hard, softBytes: soft, softSeconds: seconds };
  }
  int('timeout', 0, 31_536_000);
  int('partialRequestTimeout', 0, 31_536_000);
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(cfg.logLevel)) fail(`logLevel must be one of fatal, error, warn, info, debug, trace, silent`);
  if (typeof cfg.host !== 'string' || cfg.host === '') fail('host must be a non-empty string');
  if (cfg.meshPort !== null) int('meshPort', 0, 65535);
  int('vnodes', ...MESH_INTEGER_BOUNDS.vnodes);
  int('maxRangeKeys', ...MESH_INTEGER_BOUNDS.maxRangeKeys);
  if (cfg.join !== null && cfg.meshPort === null) cfg.meshPort = MESH_DEFAULTS.port;
  if (!['lan', 'local'].includes(cfg.meshPreset)) fail(`meshPreset must be lan or local (got ${String(cfg.meshPreset)})`);
  if (!['hash', 'range'].includes(cfg.partitioner)) fail(`partitioner must be hash or range (got ${String(cfg.partitioner)})`);
  if ((cfg.meshTlsCert === null) !== (cfg.meshTlsKey === null)) fail('--mesh-tls-cert and --mesh-tls-key go together');
  if (cfg.meshSecret !== null && Buffer.byteLength(cfg.meshSecret) < 16) fail('meshSecret must be at least 16 bytes');
  checkTlsConfig(cfg);
  checkUsers(cfg);
  return cfg;
}

/** The PEM files of the TLS listener and of HTTPS, read (null where not configured). */
export interface TlsFiles {
  /** For `--tls-port`. */
  resp: { cert: Buffer; key: Buffer; ca: Buffer | undefined; authClients: 'yes' | 'no' | 'optional' } | null;
  /** For the HTTP endpoint. */
  http: { cert: Buffer; key: Buffer } | null;
}

/** Reads one PEM file named by `flag`, or stops with a line naming the flag. */
function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    fail(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Checks that `cert` and `key` (and `ca`) parse and belong together, or stops naming the flags. */
function checkPems(flags: string, pem: { cert: Buffer; key: Buffer; ca?: Buffer }): void {
  try {
    createSecureContext(pem);
  } catch (err) {
    fail(`${flags}: ${(err as Error).message}`);
  }
}

/** Reads and checks the TLS files the config names. Stops with a line naming the flag on a bad one. */
export function readTlsFiles(cfg: ServeConfig): TlsFiles {
  let resp: TlsFiles['resp'] = null;
  if (cfg.tlsPort !== null) {
    const cert = readPem('--tls-cert', cfg.tlsCert!), key = readPem('--tls-key', cfg.tlsKey!);
    const ca = cfg.tlsCa === null ? undefined : readPem('--tls-ca', cfg.tlsCa);
    checkPems(ca === undefined ? '--tls-cert/--tls-key' : '--tls-cert/--tls-key/--tls-ca', { cert, key, ca });
    const authClients = (cfg.tlsAuthClients ?? (ca === undefined ? 'no' : 'yes')) as 'yes' | 'no' | 'optional';
    resp = { cert, key, ca, authClients };
  }
  let http: TlsFiles['http'] = null;
  if (cfg.http !== null && (cfg.httpTlsCert !== null || cfg.tlsCert !== null)) {
    const [certFlag, keyFlag, certPath, keyPath] = cfg.httpTlsCert !== null
      ? ['--http-tls-cert', '--http-tls-key', cfg.httpTlsCert, cfg.httpTlsKey!]
      : ['--tls-cert', '--tls-key', cfg.tlsCert!, cfg.tlsKey!];
    const cert = readPem(certFlag, certPath), key = readPem(keyFlag, keyPath);
    checkPems(`${certFlag}/${keyFlag}`, { cert, key });
    http = { cert, key };
  }
  return { resp, http };
}

/** The TLS and HTTP-host options: pairs that go together, values in range, files that read. */
function checkTlsConfig(cfg: ServeConfig): void {
  if (typeof cfg.httpHost !== 'string' || cfg.httpHost === '') fail('httpHost must be a non-empty string');
  if (cfg.tlsPort !== null) {
    const n = typeof cfg.tlsPort === 'number' ? cfg.tlsPort : Number(cfg.tlsPort);
    if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`tlsPort must be an integer from 0 to 65535 (got ${String(cfg.tlsPort)})`);
    cfg.tlsPort = n;
  }
  if ((cfg.tlsCert === null) !== (cfg.tlsKey === null)) fail('--tls-cert and --tls-key go together');
  if ((cfg.httpTlsCert === null) !== (cfg.httpTlsKey === null)) fail('--http-tls-cert and --http-tls-key go together');
  if (cfg.tlsPort !== null && cfg.tlsCert === null) fail('--tls-port needs --tls-cert and --tls-key');
  if (cfg.tlsPort !== null && cfg.tlsPort !== 0 && cfg.tlsPort === cfg.port) fail(`--tls-port and --port must differ (both ${cfg.port}); --port 0 turns the plain port off`);
  if (cfg.httpTlsCert !== null && cfg.http === null) fail('--http-tls-cert needs --http');
  if (cfg.tlsCa !== null && cfg.tlsPort === null) fail('--tls-ca needs --tls-port');
  if (cfg.tlsAuthClients !== null) {
    if (!['yes', 'no', 'optional'].includes(cfg.tlsAuthClients)) fail(`tlsAuthClients must be yes, no or optional (got ${String(cfg.tlsAuthClients)})`);
    if (cfg.tlsPort === null) fail('--tls-auth-clients needs --tls-port');
    if (cfg.tlsAuthClients !== 'no' && cfg.tlsCa === null) fail(`--tls-auth-clients ${cfg.tlsAuthClients} needs --tls-ca (the CA that signs client certificates)`);
  }
  readTlsFiles(cfg);
}

/**
 * Checks --user, --aclfile and --rename-command against the command table the server will have
 * (MESH included: rules may name it before a mesh starts), and reads the ACL file's users into
 * `cfg.users`.
 */
function checkUsers(cfg: ServeConfig): void {
  const table = new CommandTable();
  registerAll(table);
  table.add(meshPlaceholder(''));
  for (const [name, to] of cfg.renameCommands) {
    if (table.get(name.toLowerCase()) === undefined) fail(`--rename-command: no command named '${name}'`);
    if (/[\s\0]/.test(to)) fail(`--rename-command: the new name of ${name} may not contain spaces`);
    try {
      table.rename(name, to);
    } catch (err) {
      fail(`--rename-command: ${(err as Error).message}`);
    }
  }
  for (const line of cfg.users) {
    const why = checkUserLine(line, table);
    if (why !== null) fail(`--user ${JSON.stringify(line)}: ${why}`);
  }
  if (cfg.aclfile !== null) {
    if (cfg.users.length > 0) fail('--aclfile and --user cannot be used together (as in Redis: put every user in the file)');
    let text: string;
    try {
      text = readFileSync(cfg.aclfile, 'utf8');
    } catch (err) {
      fail(`--aclfile: cannot read ${cfg.aclfile}: ${(err as Error).message}`);
    }
    const parsed = parseAclFile(text, table);
    if ('error' in parsed) fail(`--aclfile ${cfg.aclfile} ${parsed.error}`);
    cfg.users = parsed.users;
  }
}

/**
 * Starts the sidecar from a parsed config: the RESP server (plain, and with `tlsPort` over TLS;
 * `port` 0 with `tlsPort` means TLS only), and with `http` set, the HTTP endpoint (/metrics,
 * /api/stats, the dashboard, /healthz) on that port and `httpHost`, over HTTPS with a
 * certificate, behind `requirepass` when one is set. SIGINT / SIGTERM close both and exit.
 * Resolves once both listen.
 */
export async function serve(cfg: ServeConfig): Promise<MeshcacheServer> {
  const log = pino({ level: cfg.logLevel, base: { pid: process.pid } });
  const slowNs = cfg.slowlogMs * 1e6;
  // Metrics exist before the server: their command hook is a constructor option.
  const metrics = cfg.http === null ? null : createMetrics();
  const tlsFiles = readTlsFiles(cfg);
  const threaded = await startServerThreads(cfg.threads, {
    // As in Redis, port 0 beside a TLS port turns the plain listener off.
    port: cfg.tlsPort !== null && cfg.port === 0 ? null : cfg.port,
    host: cfg.host,
    tls: tlsFiles.resp === null ? null : { port: cfg.tlsPort!, ...tlsFiles.resp },
    onTlsError: (err, remote) => log.warn({ client: remote, detail: err.message.trim() }, 'tls handshake failed'),
    requirepass: cfg.requirepass,
    users: cfg.users,
    renameCommands: cfg.renameCommands,
    maxClients: cfg.maxClients,
    clientQueryBufferLimit: cfg.clientQueryBufferLimit === null ? undefined : Number(cfg.clientQueryBufferLimit),
    outputLimits: cfg.outputLimits ?? undefined,
    maxMemoryClients: cfg.maxMemoryClients === null ? undefined : Number(cfg.maxMemoryClients),
    timeoutSeconds: cfg.timeout,
    partialRequestTimeoutSeconds: cfg.partialRequestTimeout,
    cache: { maxMemory: cfg.maxMemory, shards: cfg.shards, workers: cfg.workers },
    onCommand: (name, ns, ok, routed) => {
      metrics?.onCommand(name, ns, ok);
      // The slow log is about work done here: a routed command's time is mostly the mesh round
      // trip, and its owner logs it if running it was slow.
      if (routed) return;
      if (slowNs > 0 && ns > slowNs) log.warn({ command: name, ms: ns / 1e6 }, 'slow command');
    },
    onClientError: (client, kind, detail) => log.warn({ client: client.addr, id: client.id, kind, detail }, 'client error'),
  });
  const server = threaded.main;
  metrics?.attach(server);
  const addr = server.address;
  const tlsAddr = server.tlsAddress;
  let http: HttpEndpoint | null = null;
  if (metrics !== null && cfg.http !== null) {
    try {
      http = await startHttp({
        server, metrics, port: cfg.http, host: cfg.httpHost, tls: tlsFiles.http,
        onError: (err, kind, req) => {
          if (kind === 'handler') log.error({ err, ...req }, 'http handler error');
          else log.warn({ code: (err as NodeJS.ErrnoException).code, detail: err.message }, 'http client error');
        },
      });
    } catch (err) {
      log.error({ err, host: cfg.httpHost, port: cfg.http }, 'cannot start the HTTP endpoint');
      await threaded.close();
      throw err;
    }
  }
  let mesh: MeshNode | null = null;
  if (cfg.meshPort !== null) {
    mesh = new MeshNode(server.cache, {
      nodeId: cfg.nodeId ?? undefined,
      host: cfg.meshHost ?? cfg.host,
      port: cfg.meshPort,
      advertiseHost: cfg.meshAdvertise ?? undefined,
      join: cfg.join ?? undefined,
      secret: cfg.meshSecret,
      tls: cfg.meshTlsCert === null ? null : { cert: cfg.meshTlsCert, key: cfg.meshTlsKey!, ca: cfg.meshTlsCa ?? undefined },
      preset: cfg.meshPreset as 'lan' | 'local',
      partitioner: cfg.partitioner as 'hash' | 'range',
      vnodes: cfg.vnodes,
      maxRangeKeys: cfg.maxRangeKeys,
      logger: log,
    });
    try {
      await mesh.start();
    } catch (err) {
      log.error({ err, meshPort: cfg.meshPort, join: cfg.join }, 'cannot start the mesh');
      await mesh.close();
      await Promise.all([threaded.close(), http?.close()]);
      throw err;
    }
    const node = mesh;
    threaded.attachMesh(node, (state, port) => serveThreadRouting(node, state, port));
  }
  const serving = { threads: threaded.threads, backend: threaded.backend, reason: threaded.reason };
  if (threaded.threads < cfg.threads) log.warn({ ...serving, requested: cfg.threads }, 'serving from fewer threads than requested');
  else log.info(serving, 'server threads');
  log.info({
    host: (addr ?? tlsAddr)?.address ?? cfg.host, port: addr === null ? null : threaded.address.port, tlsPort: tlsAddr?.port ?? null,
    http: http?.address.port ?? null, httpHost: http === null ? null : http.address.address, https: http !== null && tlsFiles.http !== null,
    maxMemory: server.cache.options.maxMemory, shards: server.cache.options.shards, workers: cfg.workers,
    mesh: mesh === null ? null : { nodeId: mesh.nodeId, address: mesh.address },
  }, 'meshcache listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const close = () => Promise.all([threaded.close(), http?.close()]);
    // Without a mesh, stop accepting before saying so (whoever reads the log may connect at once).
    // In a mesh, leave first, while still serving: clients here are routed to the new owners as
    // the keys are handed over.
    const closed = mesh === null ? close() : null;
    log.info({ signal, clients: server.clientCount }, 'shutting down');
    (closed ?? mesh!.leave({ timeoutMs: 20_000 }).then(close)).then(() => {
      log.info('stopped');
      process.exit(0);
    }, (err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return server;
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === 'cluster' && (rest.includes('-h') || rest.includes('--help'))) {
    const { CLUSTER_USAGE } = await import('./cluster.js');
    process.stdout.write(CLUSTER_USAGE);
    return;
  }
  if (cmd === '-h' || cmd === '--help' || cmd === undefined || rest.includes('-h') || rest.includes('--help')) {
    process.stdout.write(USAGE);
    process.exit(cmd === undefined ? 2 : 0);
  }
  if (cmd === '-v' || cmd === '--version') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(pkg.version + '\n');
    return;
  }
  if (cmd === 'cluster') {
    const { parseClusterArgs, startCluster } = await import('./cluster.js');
    const cluster = await startCluster(parseClusterArgs(rest, fail));
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      process.stdout.write('stopping the cluster\n');
      void cluster.stop().then(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return;
  }
  if (cmd !== 'serve') fail(`unknown command '${cmd}'`);
  await serve(parseServeArgs(rest));
}

if (process.argv[1] !== undefined && new URL(import.meta.url).pathname === (await import('node:fs')).realpathSync(process.argv[1])) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`meshcache: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
