// @ts-check
/**
 * StrykerJS mutation testing of the modules that guard data (results: docs/mutation.md).
 *
 * uvu has no Stryker runner plugin, so the "command" runner runs uvu through tsx from the
 * sandbox's src/ (coverageAnalysis must then be "off": every mutant runs the whole command).
 * `npm run mutation` mutates all three modules against their three test files. On a small machine
 * run one module at a time against only its own tests, which is several times faster:
 *   MUTATE=rebalancer npm run mutation     (also: snapshot, wire, or a list: rebalancer,snapshot)
 * test/mesh/wire.fuzz.test.ts is left out: its seed changes per run and it takes seconds.
 */

/** Module → the source (or line range) mutated and the uvu file pattern (under test/) that guards it. */
const MODULES = {
  rebalancer: { mutate: 'src/mesh/rebalancer.ts', tests: 'mesh/rebalancer' },
  snapshot: { mutate: 'src/shard/snapshot.ts', tests: 'shard/snapshot' },
  // The frame decoder only: wireError, the Reader, the body decoders and decodeFrame.
  wire: { mutate: 'src/mesh/wire.ts:299-596', tests: 'mesh/wire' },
};

const only = process.env.MUTATE === undefined || process.env.MUTATE === '' ? undefined : process.env.MUTATE;
const names = only === undefined ? Object.keys(MODULES) : only.split(',');
for (const name of names) {
  if (!(name in MODULES)) throw new RangeError(`MUTATE must list some of ${Object.keys(MODULES).join(', ')} (got ${only})`);
}
const picked = names.map((name) => MODULES[/** @type {keyof MODULES} */ (name)]);
const pattern = `(${picked.map((m) => m.tests).join('|')})\\.test\\.ts$`;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'command',
  commandRunner: { command: `node --import tsx node_modules/uvu/bin.js test "${pattern}"` },
  coverageAnalysis: 'off',
  mutate: picked.map((m) => m.mutate),
  // assembly/ is AssemblyScript (decorators Babel cannot parse); the tests load build/core.wasm.
  disableTypeChecks: '{src,test}/**/*.ts',
  ignorePatterns: ['dist', 'bench', 'docs', 'reports', '.stryker-tmp'],
  tempDirName: '.stryker-tmp',
  concurrency: 2,
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${names.join('-')}.html` },
  jsonReporter: { fileName: `reports/mutation/${names.join('-')}.json` },
};
