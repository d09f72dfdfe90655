#!/usr/bin/env node
// Runs one benchmark area: `npm run bench -- <area> [args]` runs bench/<area>.bench.ts in a child
// `node --import tsx --expose-gc` (plus the area's own flags), inheriting stdio and exiting with the
// child's code. `npm run bench` with no area lists the areas. See bench/README.md.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BENCH_DIR = `${ROOT}bench/`;
const SUFFIX = '.bench.ts';

/** Per-area needs; an area without an entry needs nothing special. */
const AREAS = {
  cache: { wasm: true, nodeFlags: ['--max-old-space-size=8192'] },
  hitratio: { wasm: true, nodeFlags: ['--max-old-space-size=4096'] },
  fill30m: { wasm: true, nodeFlags: ['--max-old-space-size=4096'] },
  codec: { wasm: true },
};

/** The first line of a bench file's top comment, as its one-line description. */
function describe(file) {
  const text = readFileSync(`${BENCH_DIR}${file}`, 'utf8');
  const match = /\/\*\*?\s*\n?\s*\*?\s*(.+)/.exec(text);
  return match ? match[1].trim() : '';
}

function listAreas() {
  const files = existsSync(BENCH_DIR) ? readdirSync(BENCH_DIR).filter((f) => f.endsWith(SUFFIX)).sort() : [];
  console.log('usage: npm run bench -- <area> [args]    (e.g. npm run bench -- hitratio --quick)\n\nareas:');
  for (const file of files) {
    const name = file.slice(0, -SUFFIX.length);
    const mark = AREAS[name]?.wasm ? '*' : ' ';
    console.log(`  ${name.padEnd(10)}${mark} ${describe(file)}`);
  }
  console.log('\n* needs build/core.wasm (npm run build:wasm); cache, hitratio and fill30m take --peers-only to skip meshcache.');
  return files.length;
}

const [area, ...args] = process.argv.slice(2);
if (!area || area === '--help' || area === '-h') {
  listAreas();
  process.exit(0);
}

const script = `${BENCH_DIR}${area}${SUFFIX}`;
if (!existsSync(script)) {
  console.error(`bench: no area "${area}" (no bench/${area}${SUFFIX})\n`);
  listAreas();
  process.exit(2);
}

const needs = AREAS[area] ?? {};
if (needs.wasm && !args.includes('--peers-only')) {
  const missing = !existsSync(`${ROOT}src/index.ts`)
    ? 'src/index.ts does not exist yet'
    : !existsSync(`${ROOT}build/core.wasm`)
      ? 'build/core.wasm is missing'
      : undefined;
  if (missing) {
    console.error(`bench: area "${area}" needs meshcache, but ${missing}.`);
    console.error('       Run `npm run build:wasm` first, or pass --peers-only to measure only the peers.');
    process.exit(2);
  }
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--expose-gc', ...(needs.nodeFlags ?? []), script, ...args],
  { cwd: ROOT, stdio: 'inherit' },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  else process.exit(code ?? 1);
});
