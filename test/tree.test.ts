/**
 * The test tree mirrors src/: a unit test file is named after the src file it tests, optionally
 * with an aspect (`test/cache/cache.ttl.test.ts` tests src/cache/cache.ts's TTL). Multi-process and
 * real-client runs live in test/integration/; this file checks the tree itself.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const EXEMPT_DIRS = new Set(['integration', 'helpers', 'fixtures']);
const EXEMPT_FILES = new Set(['tree.test.ts']);

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!EXEMPT_DIRS.has(e.name)) out.push(...testFiles(join(dir, e.name)));
    } else if (e.name.endsWith('.test.ts') && !EXEMPT_FILES.has(e.name)) {
      out.push(join(dir, e.name));
    }
  }
  return out;
}

/** The src file a test file mirrors: its path with the aspect and `.test` dropped. */
export function mirroredSource(testPath: string): string {
  const rel = relative(join(root, 'test'), testPath).split(sep).join('/');
  const dir = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/') + 1) : '';
  const base = rel.slice(dir.length).replace(/\.test\.ts$/, '');
  return `src/${dir}${base.split('.')[0]}.ts`;
}

const tree = suite('test tree');

tree('every unit test file under test/ is named after a src file that exists', () => {
  const files = testFiles(join(root, 'test'));
  assert.ok(files.length > 40, `found only ${files.length} test files`);
  const orphans = files.filter((f) => !existsSync(join(root, mirroredSource(f)))).map((f) => relative(root, f));
  assert.equal(orphans, [], `test files that mirror no src file: ${orphans.join(', ')}`);
});

tree('mirroredSource drops the aspect: cache/cache.ttl.test.ts mirrors src/cache/cache.ts', () => {
  assert.is(mirroredSource(join(root, 'test/cache/cache.ttl.test.ts')), 'src/cache/cache.ts');
  assert.is(mirroredSource(join(root, 'test/lz4.test.ts')), 'src/lz4.ts');
  assert.is(mirroredSource(join(root, 'test/mesh/wire.fuzz.test.ts')), 'src/mesh/wire.ts');
});

tree.run();
