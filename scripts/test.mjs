#!/usr/bin/env node
// `npm test`: builds what is missing, checks the layer rule (`npm run lint:deps`) and the types of
// src/, test/ and bench/ (`npm run lint:types`), then runs every uvu suite under test/ (TypeScript
// through tsx). Exits non-zero when a check or a test fails. Extra arguments go to uvu (e.g. a file
// pattern); with them, only those tests run, without the two checks.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'build/core.wasm'))) {
  console.log('build/core.wasm is missing: running `npm run build` first');
  const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
const args = process.argv.slice(2);
if (args.length === 0) {
  for (const check of ['lint:deps', 'lint:types']) {
    const c = spawnSync('npm', ['run', '--silent', check], { cwd: root, stdio: 'inherit' });
    if (c.status !== 0) {
      console.error(`npm test: \`npm run ${check}\` failed (exit ${c.status})`);
      process.exit(c.status ?? 1);
    }
  }
}
const pattern = args[0] ?? '\\.test\\.ts$';
const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'node_modules/uvu/bin.js'), 'test', pattern, ...args.slice(1)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
