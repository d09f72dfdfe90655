import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type AddressInfo } from 'node:net';
import { Cache, MeshCache } from '../../src/index.js';
import { MeshNode } from '../../src/mesh/node.js';
import { MESH_DEFAULTS, resolveMeshOptions, type MeshOptions } from '../../src/mesh/options.js';
import { DEFAULT_MESH_PORT } from '../../src/mesh/ws-transport.js';
import { pollUntil } from '../helpers/wait.js';

/** Every test body must finish within this (servers, dials and joins are all bounded). */
const TEST_LIMIT_MS = 8000;
const SECRET = 'correct horse battery staple';

function bounded(fn: () => Promise<void>): () => Promise<void> {
  return () => {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`test took over ${TEST_LIMIT_MS} ms`)), TEST_LIMIT_MS); });
    return Promise.race([fn(), limit]).finally(() => clearTimeout(timer));
  };
}

/** The error `fn` throws (fails when it does not throw). */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw, but it returned');
}

/** The error a promise rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection, but it resolved');
}

/** Asserts that resolving `options` throws `type` with exactly `message` and code ERR_INVALID_OPTION. */
function rejects(options: unknown, type: typeof TypeError | typeof RangeError, message: string): void {
  const err = thrown(() => resolveMeshOptions(options as MeshOptions));
  assert.instance(err, type, `${JSON.stringify(options)} throws a ${type.name} (got ${err.constructor.name}: ${err.message})`);
  assert.is(err.message, message);
  assert.is(err.code, 'ERR_INVALID_OPTION');
}

/** A TCP port that was free a moment ago (bound on 127.0.0.1, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(0, '127.0.0.1', () => resolve()); });
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Whether a TCP server can listen on 127.0.0.1:`port` now (it is closed again at once). */
async function canBind(port: number): Promise<boolean> {
  const s = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((r) => s.close(() => r()));
  return ok;
}

// -------------------------------------------------------------------------------------------------

const Resolve = suite('resolveMeshOptions');

Resolve('fills every default from an empty object: port 7380, lan preset, hash ring of 160 vnodes, 2 s forwards', () => {
  assert.equal(resolveMeshOptions({}), {
    nodeId: null,
    host: '127.0.0.1',
    port: 7380,
    advertiseHost: null,
    join: [],
    secret: null,
    tls: null,
    preset: 'lan',
    membership: {},
    partitioner: 'hash',
    vnodes: 160,
    rangesPerNode: 4,
    maxRangeKeys: 100_000,
    maxRangeBytes: 64 * 1024 * 1024,
    forwardTimeoutMs: 2000,
    handoffWindowMs: 30_000,
    rebalanceBatchEntries: 512,
    statsIntervalMs: 2000,
    sweepIntervalMs: 30_000,
  });
});

Resolve('keeps given values: a 16-byte Buffer secret, tls paths with a ca, the range partitioner and the bounds of every range', () => {
  const secret = Buffer.alloc(16, 7);
  const r = resolveMeshOptions({
    nodeId: 'n1', host: '0.0.0.0', port: 0, advertiseHost: '10.0.0.5', secret,
    tls: { cert: 'c.pem', key: 'k.pem', ca: 'ca.pem' }, preset: 'local', membership: { probeIntervalMs: 300 },
    partitioner: 'range', vnodes: 4096, rangesPerNode: 1024, maxRangeKeys: 1, maxRangeBytes: 1,
    forwardTimeoutMs: 600_000, handoffWindowMs: 0, rebalanceBatchEntries: 4096, statsIntervalMs: 10, sweepIntervalMs: 86_400_000,
  });
  assert.is(r.nodeId, 'n1');
  assert.is(r.host, '0.0.0.0');
  assert.is(r.port, 0);
  assert.is(r.advertiseHost, '10.0.0.5');
  assert.is(r.secret, secret);
  assert.equal(r.tls, { cert: 'c.pem', key: 'k.pem', ca: 'ca.pem' });
  assert.is(r.preset, 'local');
  assert.equal(r.membership, { probeIntervalMs: 300 });
  assert.is(r.partitioner, 'range');
  assert.equal(
    [r.vnodes, r.rangesPerNode, r.maxRangeKeys, r.maxRangeBytes, r.forwardTimeoutMs, r.handoffWindowMs, r.rebalanceBatchEntries, r.statsIntervalMs, r.sweepIntervalMs],
    [4096, 1024, 1, 1, 600_000, 0, 4096, 10, 86_400_000],
  );
});

Resolve('accepts a 16-byte string secret counted in UTF-8 bytes (8 × "é") and null for secret and tls', () => {
  assert.is(resolveMeshOptions({ secret: 'é'.repeat(8) }).secret, 'é'.repeat(8));
  assert.is(resolveMeshOptions({ secret: null, tls: null }).secret, null);
  assert.is(resolveMeshOptions({ secret: null, tls: null }).tls, null);
});

Resolve('splits join given as the string "h:1, h:2," into 2 trimmed addresses, and keeps an array of 2 with an IPv6 literal', () => {
  assert.equal(resolveMeshOptions({ join: 'h:1, h:2,' }).join, ['h:1', 'h:2']);
  assert.equal(resolveMeshOptions({ join: 'h:1,h:2' }).join, ['h:1', 'h:2']);
  assert.equal(resolveMeshOptions({ join: ['[::1]:7380', 'db-1.example:65535'] }).join, ['[::1]:7380', 'db-1.example:65535']);
  assert.equal(resolveMeshOptions({ join: '' }).join, []);
});

Resolve('refuses options that are not an object (null, a string) with a TypeError', () => {
  rejects(null, TypeError, 'options.mesh must be an object');
  rejects('h:1', TypeError, 'options.mesh must be an object');
});

Resolve('refuses a non-string nodeId, host and advertiseHost with a TypeError, and an empty one with a RangeError', () => {
  rejects({ nodeId: 7 }, TypeError, 'options.mesh.nodeId must be a string');
  rejects({ nodeId: '' }, RangeError, 'options.mesh.nodeId must be 1 to 256 UTF-8 bytes of well-formed text');
  rejects({ nodeId: 'x'.repeat(257) }, RangeError, 'options.mesh.nodeId must be 1 to 256 UTF-8 bytes of well-formed text');
  rejects({ host: ['127.0.0.1'] }, TypeError, 'options.mesh.host must be a string');
  rejects({ host: '' }, RangeError, 'options.mesh.host must be 1 to 504 UTF-8 bytes of well-formed text');
  rejects({ advertiseHost: null }, TypeError, 'options.mesh.advertiseHost must be a string');
  rejects({ advertiseHost: '' }, RangeError, 'options.mesh.advertiseHost must be 1 to 504 UTF-8 bytes of well-formed text');
});

Resolve('refuses a port that is not a number (TypeError) or not an integer from 0 to 65535 (RangeError: 65536, -1, 1.5)', () => {
  rejects({ port: '7380' }, TypeError, 'options.mesh.port must be a number');
  for (const port of [65536, -1, 1.5, Number.NaN]) rejects({ port }, RangeError, 'options.mesh.port must be an integer from 0 to 65535');
});

Resolve('refuses join that is neither a string nor an array of strings with a TypeError', () => {
  rejects({ join: 7380 }, TypeError, 'options.mesh.join must be an array of "host:port" strings');
  rejects({ join: ['h:1', 2] }, TypeError, 'options.mesh.join must be an array of "host:port" strings');
  rejects({ join: null }, TypeError, 'options.mesh.join must be an array of "host:port" strings');
});

Resolve('refuses join addresses without a port, with a port over 65535, with a space or bare IPv6, as a string and as an array', () => {
  rejects({ join: 'h:1,h' }, RangeError, "options.mesh.join: 'h' is not a host:port address");
  rejects({ join: ['h:65536'] }, RangeError, "options.mesh.join: 'h:65536' is not a host:port address");
  rejects({ join: ['a b:1'] }, RangeError, "options.mesh.join: 'a b:1' is not a host:port address");
  rejects({ join: ['::1:7380'] }, RangeError, "options.mesh.join: '::1:7380' is not a host:port address");
  rejects({ join: ['h:123456'] }, RangeError, "options.mesh.join: 'h:123456' is not a host:port address");
  rejects({ join: 'h:' }, RangeError, "options.mesh.join: 'h:' is not a host:port address");
});

Resolve('refuses a secret of the wrong type (number, object) with a TypeError and one under 16 bytes (15-char string, 15-byte Buffer, "") with a RangeError', () => {
  rejects({ secret: 1234567890123456 }, TypeError, 'options.mesh.secret must be a string, a Buffer or null');
  rejects({ secret: { key: SECRET } }, TypeError, 'options.mesh.secret must be a string, a Buffer or null');
  rejects({ secret: 'x'.repeat(15) }, RangeError, 'options.mesh.secret must be at least 16 bytes');
  rejects({ secret: Buffer.alloc(15) }, RangeError, 'options.mesh.secret must be at least 16 bytes');
  rejects({ secret: '' }, RangeError, 'options.mesh.secret must be at least 16 bytes');
});

Resolve('refuses tls that is not { cert, key, ca? } strings (a string, no key, a numeric ca, a Buffer cert) with a TypeError naming the field', () => {
  rejects({ tls: 'cert.pem' }, TypeError, 'options.mesh.tls must be { cert, key, ca? } file paths, or null');
  rejects({ tls: { cert: 'c.pem' } }, TypeError, 'options.mesh.tls.key must be a file path string');
  rejects({ tls: { cert: 'c.pem', key: 'k.pem', ca: 5 } }, TypeError, 'options.mesh.tls.ca must be a file path string');
  rejects({ tls: { cert: Buffer.from('c'), key: 'k.pem' } }, TypeError, 'options.mesh.tls.cert must be a file path string');
});

Resolve('refuses a preset other than lan / local and a partitioner other than hash / range with a RangeError', () => {
  rejects({ preset: 'wan' }, RangeError, "options.mesh.preset must be 'lan' or 'local'");
  rejects({ preset: 'LAN' }, RangeError, "options.mesh.preset must be 'lan' or 'local'");
  rejects({ partitioner: 'ring' }, RangeError, "options.mesh.partitioner must be 'hash' or 'range'");
});

Resolve('refuses membership that is not an object (null, a number, a string) with a TypeError', () => {
  rejects({ membership: null }, TypeError, 'options.mesh.membership must be an object');
  rejects({ membership: 5 }, TypeError, 'options.mesh.membership must be an object');
  rejects({ membership: 'local' }, TypeError, 'options.mesh.membership must be an object');
});

Resolve('checks membership overrides when the options are read, naming them under membership', () => {
  rejects({ membership: { probeIntervalMs: -1 } }, RangeError, 'options.mesh.membership.probeIntervalMs must be a positive integer');
  rejects({ membership: { probeTimeoutMs: '400' } }, TypeError, 'options.mesh.membership.probeTimeoutMs must be a number');
});

Resolve('refuses a logger that is null or has no warn() with a TypeError', () => {
  rejects({ logger: null }, TypeError, 'options.mesh.logger must have info() and warn()');
  rejects({ logger: {} }, TypeError, 'options.mesh.logger must have info() and warn()');
  rejects({ logger: console.log }, TypeError, 'options.mesh.logger must have info() and warn()');
  rejects({ logger: { warn() {} } }, TypeError, 'options.mesh.logger must have info() and warn()');
});

const INTEGER_BOUNDS: Array<[string, number, number, string]> = [
  ['vnodes', 1, 4096, 'an integer from 1 to 4096'],
  ['rangesPerNode', 1, 1024, 'an integer from 1 to 1024'],
  ['maxRangeKeys', 1, Number.MAX_SAFE_INTEGER, 'a positive integer'],
  ['maxRangeBytes', 1, Number.MAX_SAFE_INTEGER, 'a positive integer'],
  ['forwardTimeoutMs', 1, 600_000, 'an integer from 1 to 600000'],
  ['handoffWindowMs', 0, 3_600_000, 'an integer from 0 to 3600000'],
  ['rebalanceBatchEntries', 1, 4096, 'an integer from 1 to 4096'],
  ['statsIntervalMs', 10, 3_600_000, 'an integer from 10 to 3600000'],
  ['sweepIntervalMs', 10, 86_400_000, 'an integer from 10 to 86400000'],
];

for (const [name, min, max, requirement] of INTEGER_BOUNDS) {
  Resolve(`refuses ${name} as a string (TypeError), and below ${min}, above ${max} or fractional (RangeError: must be ${requirement})`, () => {
    rejects({ [name]: String(min) }, TypeError, `options.mesh.${name} must be a number`);
    const message = `options.mesh.${name} must be ${requirement}`;
    rejects({ [name]: min - 1 }, RangeError, message);
    if (max < Number.MAX_SAFE_INTEGER) rejects({ [name]: max + 1 }, RangeError, message);
    rejects({ [name]: min + 0.5 }, RangeError, message);
    assert.is((resolveMeshOptions({ [name]: min } as MeshOptions) as unknown as Record<string, number>)[name], min);
    assert.is((resolveMeshOptions({ [name]: max } as MeshOptions) as unknown as Record<string, number>)[name], max);
  });
}

Resolve('every default comes from MESH_DEFAULTS, and DEFAULT_MESH_PORT is its port', () => {
  const r = resolveMeshOptions({});
  for (const [name, value] of Object.entries(MESH_DEFAULTS)) {
    if (name in r) assert.is((r as unknown as Record<string, unknown>)[name], value, name);
  }
  assert.is(DEFAULT_MESH_PORT, MESH_DEFAULTS.port);
  assert.is(MESH_DEFAULTS.port, 7380);
});

Resolve.run();

// -------------------------------------------------------------------------------------------------

const Node = suite('MeshNode');

/** What a test opened, closed after it whatever happened. */
const opened: Array<{ close(): Promise<unknown> }> = [];

Node.after.each(async () => {
  await Promise.allSettled(opened.splice(0).map((x) => x.close()));
});

Node('a node with a 28-byte secret refuses an embedded peer without one: the join rejects and 1 auth failure is counted', bounded(async () => {
  const cache = new Cache({ maxMemory: '8mb' });
  opened.push(cache);
  const guarded = new MeshNode(cache, { port: 0, nodeId: 'guarded', preset: 'local', secret: SECRET });
  opened.push(guarded);
  await guarded.start();
  const failuresBefore = Number(new Map(guarded.info()).get('mesh_transport_auth_failures'));
  assert.is(failuresBefore, 0);
  assert.is(new Map(guarded.info()).get('mesh_auth'), 'hmac-sha256');

  const err = await rejection(MeshCache.join({ maxMemory: '8mb', mesh: { port: 0, nodeId: 'open', preset: 'local', join: [guarded.address] } }));
  assert.is(err.code, 'ERR_MESH_JOIN');
  assert.match(err.message, guarded.address);
  assert.match(err.message, /refused authentication|auth/i);
  assert.is(Number(new Map(guarded.info()).get('mesh_transport_auth_failures')), failuresBefore + 1);
  assert.is(guarded.transportStats().authFailures, failuresBefore + 1);
  assert.equal(guarded.nodes().map((n) => n.nodeId), ['guarded'], 'the refused peer did not become a member');
}));

Node('two embedded nodes with the same 28-byte secret join each other and both count 0 auth failures', bounded(async () => {
  const a = await MeshCache.join({ maxMemory: '8mb', mesh: { port: 0, nodeId: 'sa', preset: 'local', secret: SECRET } });
  opened.push(a);
  const b = await MeshCache.join({ maxMemory: '8mb', mesh: { port: 0, nodeId: 'sb', preset: 'local', secret: Buffer.from(SECRET), join: [a.node.address] } });
  opened.push(b);
  await pollUntil(() => a.nodes().filter((n) => n.state === 'alive').length >= 2, { timeoutMs: 3000, intervalMs: 20 });
  assert.equal(a.nodes().map((n) => `${n.nodeId}:${n.state}`), ['sa:alive', 'sb:alive']);
  assert.is(a.node.transportStats().authFailures, 0);
  assert.is(b.node.transportStats().authFailures, 0);
}));

Node('MeshCache.join through a seed nobody listens on rejects with ERR_MESH_JOIN and frees its mesh port for the next bind', bounded(async () => {
  const deadSeed = await freePort();
  const port = await freePort();
  const err = await rejection(MeshCache.join({ maxMemory: '8mb', mesh: { port, nodeId: 'lonely', preset: 'local', join: [`127.0.0.1:${deadSeed}`] } }));
  assert.is(err.code, 'ERR_MESH_JOIN');
  assert.match(err.message, `127.0.0.1:${deadSeed}`);
  assert.ok(await canBind(port), `port ${port} can be bound again after the failed join`);
  // And a node can take the very same port afterwards.
  const again = await MeshCache.join<string>({ maxMemory: '8mb', mesh: { port, nodeId: 'second-try', preset: 'local' } });
  opened.push(again);
  assert.is(again.node.address, `127.0.0.1:${port}`);
  await again.set('k', 'v');
  assert.is(await again.get('k'), 'v');
}));

Node('MeshCache.join refuses options.mesh that is missing with a TypeError, before binding anything', bounded(async () => {
  const err = await rejection(MeshCache.join({ maxMemory: '8mb' } as unknown as Parameters<typeof MeshCache.join>[0]));
  assert.instance(err, TypeError);
  assert.is(err.message, 'options.mesh must be an object (the mesh options)');
  const bad = await rejection(MeshCache.join({ maxMemory: '8mb', mesh: { port: 0, vnodes: 0 } }));
  assert.instance(bad, RangeError);
  assert.is(bad.message, 'options.mesh.vnodes must be an integer from 1 to 4096');
}));

Node.run();
