/**
 * The mesh options of `meshcache serve` (flags, the MESHCACHE_MESH_SECRET variable and --config
 * keys) and the argument parser of `meshcache cluster`. A refused option makes `serve` print a
 * message and exit 2: every message is checked in-process with process.exit stubbed to throw,
 * and a few cases run the real CLI as a child process (one at a time: startup costs ~2 s of CPU)
 * to check the exit code end to end. Accepted options are parsed in-process.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseServeArgs } from '../src/cli.js';
import { assertRefused } from './helpers/cli.js';
import { parseClusterArgs } from '../src/cluster.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** A child that neither exits nor is expected to serve is killed after this (startup takes ~2 s when idle). */
const CHILD_TIMEOUT_MS = 60_000;
const SECRET_16 = '0123456789abcdef';

const dir = mkdtempSync(join(tmpdir(), 'meshcache-cli-mesh-'));

/** Writes a JSON config file into the test's temporary folder and returns its path. */
function configFile(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

interface Exit { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean }

const children = new Set<ChildProcess>();

/**
 * Runs `meshcache <args>` with MESHCACHE_MESH_SECRET set to `secretEnv` ('' = unset). The cases
 * below give port 0 so that one that wrongly starts a server binds nothing fixed; it is killed
 * after CHILD_TIMEOUT_MS.
 */
function runCli(args: string[], secretEnv = ''): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCACHE_MESH_SECRET: secretEnv },
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, CHILD_TIMEOUT_MS);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

// ---------------------------------------------------------------------------------------------

const serveArgs = suite('parseServeArgs (mesh options)');

let savedSecret: string | undefined;

serveArgs.before(() => {
  savedSecret = process.env.MESHCACHE_MESH_SECRET;
  delete process.env.MESHCACHE_MESH_SECRET;
});

serveArgs.after(() => {
  if (savedSecret === undefined) delete process.env.MESHCACHE_MESH_SECRET;
  else process.env.MESHCACHE_MESH_SECRET = savedSecret;
});

serveArgs('leaves the mesh off by default: no mesh port, seeds or secret; lan, hash, 160 vnodes', () => {
  const cfg = parseServeArgs([]);
  assert.is(cfg.meshPort, null);
  assert.is(cfg.join, null);
  assert.is(cfg.meshSecret, null);
  assert.is(cfg.meshHost, null);
  assert.is(cfg.meshAdvertise, null);
  assert.is(cfg.meshTlsCert, null);
  assert.is(cfg.meshTlsKey, null);
  assert.is(cfg.meshTlsCa, null);
  assert.is(cfg.nodeId, null);
  assert.is(cfg.meshPreset, 'lan');
  assert.is(cfg.partitioner, 'hash');
  assert.is(cfg.vnodes, 160);
});

serveArgs('turns the mesh on with --mesh-port 7400 (a number) and --mesh-port=0', () => {
  assert.is(parseServeArgs(['--mesh-port', '7400']).meshPort, 7400);
  assert.is(parseServeArgs(['--mesh-port=0']).meshPort, 0);
  assert.is(parseServeArgs(['--mesh-port', '65535']).meshPort, 65535);
});

serveArgs('implies mesh port 7380 when --join is given without --mesh-port', () => {
  const cfg = parseServeArgs(['--join', '10.0.0.1:7380,10.0.0.2:7380']);
  assert.is(cfg.meshPort, 7380);
  assert.is(cfg.join, '10.0.0.1:7380,10.0.0.2:7380');
});

serveArgs('keeps --mesh-port 7500 when --join is also given, in either order', () => {
  assert.is(parseServeArgs(['--join', '127.0.0.1:7380', '--mesh-port', '7500']).meshPort, 7500);
  assert.is(parseServeArgs(['--mesh-port', '7500', '--join', '127.0.0.1:7380']).meshPort, 7500);
  assert.is(parseServeArgs(['--join=127.0.0.1:7380', '--mesh-port=0']).meshPort, 0);
});

serveArgs('accepts a 16-byte secret, and one of 8 two-byte characters (16 bytes, 8 characters)', () => {
  assert.is(parseServeArgs(['--mesh-port', '0', '--mesh-secret', SECRET_16]).meshSecret, SECRET_16);
  assert.is(parseServeArgs(['--mesh-port', '0', '--mesh-secret', 'éééééééé']).meshSecret, 'éééééééé');
});

serveArgs('takes the secret from MESHCACHE_MESH_SECRET, and --mesh-secret wins over it', () => {
  try {
    process.env.MESHCACHE_MESH_SECRET = 'secret-from-the-environment';
    assert.is(parseServeArgs(['--mesh-port', '0']).meshSecret, 'secret-from-the-environment');
    assert.is(parseServeArgs(['--mesh-port', '0', '--mesh-secret', SECRET_16]).meshSecret, SECRET_16);
    process.env.MESHCACHE_MESH_SECRET = '';
    assert.is(parseServeArgs(['--mesh-port', '0']).meshSecret, null, 'an empty variable means no secret');
  } finally {
    delete process.env.MESHCACHE_MESH_SECRET;
  }
});

serveArgs('keeps --mesh-tls-cert, --mesh-tls-key and --mesh-tls-ca paths as given', () => {
  const cfg = parseServeArgs(['--mesh-port', '0', '--mesh-tls-cert', 'a/cert.pem', '--mesh-tls-key', 'a/key.pem', '--mesh-tls-ca', 'a/ca.pem']);
  assert.is(cfg.meshTlsCert, 'a/cert.pem');
  assert.is(cfg.meshTlsKey, 'a/key.pem');
  assert.is(cfg.meshTlsCa, 'a/ca.pem');
});

serveArgs('accepts the local preset, the range partitioner and 1 and 4096 vnodes', () => {
  assert.is(parseServeArgs(['--mesh-port', '0', '--mesh-preset', 'local']).meshPreset, 'local');
  assert.is(parseServeArgs(['--mesh-port', '0', '--partitioner', 'range']).partitioner, 'range');
  assert.is(parseServeArgs(['--mesh-port', '0', '--vnodes', '1']).vnodes, 1);
  assert.is(parseServeArgs(['--mesh-port', '0', '--vnodes', '4096']).vnodes, 4096);
});

serveArgs('keeps --node-id, --mesh-host and --mesh-advertise as given', () => {
  const cfg = parseServeArgs(['--mesh-port', '0', '--node-id', 'edge-1', '--mesh-host', '0.0.0.0', '--mesh-advertise', '10.1.2.3']);
  assert.is(cfg.nodeId, 'edge-1');
  assert.is(cfg.meshHost, '0.0.0.0');
  assert.is(cfg.meshAdvertise, '10.1.2.3');
});

serveArgs('accepts --threads 2 with --mesh-port 7400 (server threads route through the main thread)', () => {
  const cfg = parseServeArgs(['--threads', '2', '--mesh-port', '7400']);
  assert.is(cfg.threads, 2);
  assert.is(cfg.meshPort, 7400);
});

serveArgs('reads the mesh keys of a --config file: meshPort, join, preset, partitioner, vnodes, secret, node id', () => {
  const path = configFile('mesh.json', {
    meshPort: 7411, join: '127.0.0.1:7380', meshPreset: 'local', partitioner: 'range', vnodes: 64,
    meshSecret: SECRET_16, nodeId: 'from-config', meshHost: '127.0.0.1', meshAdvertise: 'localhost',
  });
  const cfg = parseServeArgs(['--config', path]);
  assert.is(cfg.meshPort, 7411);
  assert.is(cfg.join, '127.0.0.1:7380');
  assert.is(cfg.meshPreset, 'local');
  assert.is(cfg.partitioner, 'range');
  assert.is(cfg.vnodes, 64);
  assert.is(cfg.meshSecret, SECRET_16);
  assert.is(cfg.nodeId, 'from-config');
  assert.is(cfg.meshHost, '127.0.0.1');
  assert.is(cfg.meshAdvertise, 'localhost');
});

serveArgs('implies mesh port 7380 for a --config file with join and no meshPort', () => {
  const cfg = parseServeArgs(['--config', configFile('join-only.json', { join: '10.0.0.9:7380' })]);
  assert.is(cfg.meshPort, 7380);
});

serveArgs('converts a --config meshPort given as the string "7402" to the number 7402', () => {
  assert.is(parseServeArgs(['--config', configFile('string-port.json', { meshPort: '7402' })]).meshPort, 7402);
});

serveArgs('lets flags win over --config: --mesh-preset lan and --vnodes 32 over local and 64', () => {
  const path = configFile('overridden.json', { meshPort: 7411, meshPreset: 'local', vnodes: 64 });
  const before = parseServeArgs(['--mesh-preset', 'lan', '--config', path, '--vnodes', '32']);
  assert.is(before.meshPreset, 'lan', 'a flag before --config still wins');
  assert.is(before.vnodes, 32);
  assert.is(before.meshPort, 7411);
});

serveArgs('refuses a 15-byte --mesh-secret', () => {
  assertRefused(['--mesh-port', '0', '--mesh-secret', '0123456789abcde'], 'meshSecret must be at least 16 bytes');
});

serveArgs('refuses a 15-byte MESHCACHE_MESH_SECRET', () => {
  assertRefused(['--mesh-port', '0'], 'meshSecret must be at least 16 bytes', 'fifteen-bytes!!');
});

serveArgs('refuses an empty --mesh-secret', () => {
  assertRefused(['--mesh-port', '0', '--mesh-secret', ''], 'meshSecret must be at least 16 bytes');
});

serveArgs('refuses --mesh-tls-cert without --mesh-tls-key, and the key without the cert', () => {
  assertRefused(['--mesh-port', '0', '--mesh-tls-cert', 'cert.pem'], '--mesh-tls-cert and --mesh-tls-key go together');
  assertRefused(['--mesh-port', '0', '--mesh-tls-key', 'key.pem'], '--mesh-tls-cert and --mesh-tls-key go together');
  assertRefused(['--mesh-port', '0', '--mesh-tls-ca', 'ca.pem', '--mesh-tls-key', 'key.pem'], '--mesh-tls-cert and --mesh-tls-key go together');
});

serveArgs('refuses --mesh-preset wan and LAN (names are lower-case)', () => {
  assertRefused(['--mesh-port', '0', '--mesh-preset', 'wan'], 'meshPreset must be lan or local (got wan)');
  assertRefused(['--mesh-port', '0', '--mesh-preset', 'LAN'], 'meshPreset must be lan or local (got LAN)');
});

serveArgs('refuses --partitioner ring', () => {
  assertRefused(['--mesh-port', '0', '--partitioner', 'ring'], 'partitioner must be hash or range (got ring)');
});

serveArgs('refuses --vnodes 0, 4097, 1.5 and many', () => {
  for (const v of ['0', '4097', '1.5', 'many']) {
    assertRefused(['--mesh-port', '0', '--vnodes', v], `vnodes must be an integer from 1 to 4096 (got ${v})`);
  }
});

serveArgs('refuses --mesh-port 65536, -1 and seven', () => {
  for (const v of ['65536', '-1', 'seven']) assertRefused(['--mesh-port', v], `meshPort must be an integer from 0 to 65535 (got ${v})`);
});

serveArgs('refuses --join and --mesh-secret with no value', () => {
  assertRefused(['--join'], '--join needs a value');
  assertRefused(['--mesh-port', '0', '--mesh-secret'], '--mesh-secret needs a value');
});

serveArgs('refuses the unknown flag --mesh-seed', () => {
  assertRefused(['--mesh-seed', '127.0.0.1:7380'], "unknown option '--mesh-seed'");
});

serveArgs('refuses a --config file with meshPreset "wan", and one with a 5-byte meshSecret', () => {
  assertRefused(['--config', configFile('bad-preset.json', { meshPort: 0, meshPreset: 'wan' })], 'meshPreset must be lan or local (got wan)');
  assertRefused(['--config', configFile('short-secret.json', { meshPort: 0, meshSecret: 'short' })], 'meshSecret must be at least 16 bytes');
});

serveArgs('refuses --config string options given as numbers: meshSecret 12345678901234567, join 5', () => {
  assertRefused(['--config', configFile('number-secret.json', { meshPort: 0, meshSecret: 12345678901234567 })], 'meshSecret must be a string (got 12345678901234568)');
  assertRefused(['--config', configFile('number-join.json', { join: 5 })], 'join must be a string (got 5)');
});

serveArgs('refuses a --config file with meshTlsCert and no meshTlsKey', () => {
  assertRefused(['--config', configFile('cert-only.json', { meshPort: 0, meshTlsCert: 'cert.pem' })], '--mesh-tls-cert and --mesh-tls-key go together');
});

serveArgs('refuses a --config file with the unknown key meshSeeds, naming the file', () => {
  const path = configFile('unknown-key.json', { meshSeeds: ['127.0.0.1:7380'] });
  assertRefused(['--config', path], `${path}: unknown option 'meshSeeds'`);
});

serveArgs('exits the real CLI with code 2 and the message for a 15-byte --mesh-secret', async () => {
  const r = await runCli(['serve', '--port', '0', '--mesh-port', '0', '--mesh-secret', '0123456789abcde']);
  assert.is(r.timedOut, false, `serve should exit at once (stdout: ${r.stdout.slice(0, 300)})`);
  assert.is(r.code, 2, r.stderr);
  assert.is(r.stderr, "meshcache: meshSecret must be at least 16 bytes\nRun 'meshcache serve --help' for the options.\n");
  assert.is(r.stdout, '');
});

serveArgs('exits the real CLI with code 2 for a --config file with meshPreset "wan"', async () => {
  const path = configFile('cli-bad-preset.json', { port: 0, meshPort: 0, meshPreset: 'wan' });
  const r = await runCli(['serve', '--config', path]);
  assert.is(r.timedOut, false, `serve should exit at once (stdout: ${r.stdout.slice(0, 300)})`);
  assert.is(r.code, 2, r.stderr);
  assert.ok(r.stderr.startsWith('meshcache: meshPreset must be lan or local (got wan)\n'), r.stderr);
});

// ---------------------------------------------------------------------------------------------

const clusterArgs = suite('parseClusterArgs');

class Refused extends Error {}
const fail = (message: string): never => { throw new Refused(message); };

function refusal(argv: string[]): string {
  try {
    const cfg = parseClusterArgs(argv, fail);
    return `accepted: ${JSON.stringify(cfg)}`;
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    return err.message;
  }
}

clusterArgs('defaults to 3 nodes from RESP 6380 and mesh 7380, 64mb, lan, hash, warn', () => {
  assert.equal(parseClusterArgs([], fail), {
    nodes: 3, port: 6380, meshPort: 7380, maxMemory: '64mb', meshPreset: 'lan', partitioner: 'hash', logLevel: 'warn',
  });
});

clusterArgs('reads every option, in the spaced and the = forms', () => {
  assert.equal(parseClusterArgs([
    '--nodes', '5', '--port=16000', '--mesh-port', '17000', '--max-memory=32mb', '--mesh-preset', 'local',
    '--partitioner=range', '--log-level', 'debug',
  ], fail), { nodes: 5, port: 16000, meshPort: 17000, maxMemory: '32mb', meshPreset: 'local', partitioner: 'range', logLevel: 'debug' });
});

clusterArgs('accepts 1 and 32 nodes', () => {
  assert.is(parseClusterArgs(['--nodes', '1'], fail).nodes, 1);
  assert.is(parseClusterArgs(['--nodes', '32'], fail).nodes, 32);
});

clusterArgs('refuses --nodes 0, 33, 2.5, "three" and a missing value', () => {
  assert.is(refusal(['--nodes', '0']), '--nodes must be an integer from 1 to 32 (got 0)');
  assert.is(refusal(['--nodes', '33']), '--nodes must be an integer from 1 to 32 (got 33)');
  assert.is(refusal(['--nodes', '2.5']), '--nodes must be an integer from 1 to 32 (got 2.5)');
  assert.is(refusal(['--nodes=three']), '--nodes must be an integer from 1 to 32 (got three)');
  assert.is(refusal(['--nodes']), '--nodes needs a value');
});

clusterArgs('refuses --port 0 and --mesh-port 70000', () => {
  assert.is(refusal(['--port', '0']), '--port must be an integer from 1 to 65535 (got 0)');
  assert.is(refusal(['--mesh-port', '70000']), '--mesh-port must be an integer from 1 to 65535 (got 70000)');
});

clusterArgs('refuses RESP ports 7379-7381 over mesh ports 7380-7382 (3 nodes overlap)', () => {
  assert.is(refusal(['--port', '7379', '--mesh-port', '7380']), 'the RESP and mesh port ranges overlap');
  assert.is(refusal(['--port', '7382', '--mesh-port', '7380']), 'the RESP and mesh port ranges overlap');
  assert.is(refusal(['--port', '7380', '--mesh-port', '7380', '--nodes', '1']), 'the RESP and mesh port ranges overlap');
});

clusterArgs('accepts adjacent ranges: RESP 7377-7379 and mesh 7380-7382', () => {
  assert.is(parseClusterArgs(['--port', '7377', '--mesh-port', '7380'], fail).port, 7377);
  assert.is(parseClusterArgs(['--port', '7383', '--mesh-port', '7380'], fail).port, 7383);
});

clusterArgs('refuses 4 nodes from RESP port 65533 or mesh port 65534 (past 65535)', () => {
  assert.is(refusal(['--nodes', '4', '--port', '65533']), 'the ports of the last node would pass 65535');
  assert.is(refusal(['--nodes', '4', '--mesh-port', '65534']), 'the ports of the last node would pass 65535');
  assert.is(parseClusterArgs(['--nodes', '3', '--port', '65533', '--mesh-port', '20000'], fail).port, 65533, '65533-65535 fits');
});

clusterArgs('refuses the unknown options --threads and a stray word', () => {
  assert.is(refusal(['--threads', '2']), "unknown option '--threads'");
  assert.is(refusal(['nodes']), "unknown option 'nodes'");
});

clusterArgs('is refused by `meshcache cluster --nodes 0` with exit code 2 and the message', async () => {
  const r = await runCli(['cluster', '--nodes', '0']);
  assert.is(r.timedOut, false);
  assert.is(r.code, 2);
  assert.ok(r.stderr.includes('meshcache: --nodes must be an integer from 1 to 32 (got 0)'), r.stderr);
});

clusterArgs.after(async () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

serveArgs.run();
clusterArgs.run();
