#!/usr/bin/env node
// Builds the optional native addon (native/) with node-gyp when a compiler is present. Never
// fails the install: without a compiler, or if the build breaks, meshcache runs on its pure
// fallbacks; the outcome is written to native/build/status.json, which src/native/binding.ts
// reports at run time. Set MESHCACHE_SKIP_NATIVE=1 to skip the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const statusFile = join(nativeDir, 'build', 'status.json');

function done(built, reason) {
  mkdirSync(dirname(statusFile), { recursive: true });
  writeFileSync(statusFile, JSON.stringify({ built, reason, at: new Date().toISOString() }, null, 2) + '\n');
  console.log(`meshcache: native addon ${built ? 'built' : 'not built'}: ${reason}`);
  process.exit(0);
}

if (process.env.MESHCACHE_SKIP_NATIVE === '1') done(false, 'MESHCACHE_SKIP_NATIVE=1');
if (process.platform !== 'linux') done(false, `SO_REUSEPORT balancing is only used on Linux (this is ${process.platform})`);
const cxx = spawnSync(process.env.CXX || 'c++', ['--version'], { encoding: 'utf8' });
if (cxx.status !== 0) done(false, 'no C++ compiler found (c++ --version failed); using the single-thread fallback');
let gyp;
try {
  gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  done(false, 'node-gyp is not installed');
}
// Build against the running Node's own headers (no download: the install may be offline).
const args = [gyp, 'rebuild', '--directory', nativeDir];
const prefix = process.env.npm_config_nodedir || dirname(dirname(process.execPath));
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
if (r.status !== 0) {
  const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-5).join(' | ');
  done(false, `node-gyp rebuild failed (${tail})`);
}
done(true, 'node-gyp rebuild succeeded');
