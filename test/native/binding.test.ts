import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { configureMalloc, MALLOC_MMAP_THRESHOLD_BYTES, nativeStatus, trimMemory } from '../../src/native/binding.js';

const BINDING = new URL('../../src/native/binding.ts', import.meta.url).href;

/** configureMalloc() and trimMemory() in a child process with `env` (the results are cached per thread). */
function inChild(env: NodeJS.ProcessEnv): { malloc: { backend: string; mmapThresholdBytes: number | null; reason: string }; trimmed: boolean } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `
    const b = await import(${JSON.stringify(BINDING)});
    const malloc = b.configureMalloc();
    console.log(JSON.stringify({ malloc, trimmed: b.trimMemory() }));
  `], { encoding: 'utf8', env: { ...process.env, MALLOC_MMAP_THRESHOLD_: undefined, ...env }, timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const addon = nativeStatus().addon;
const glibc = process.platform === 'linux' && (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime !== undefined;

const malloc = suite('configureMalloc / trimMemory');

malloc('configureMalloc says which backend runs and why, and answers the same object every time', () => {
  const first = configureMalloc();
  assert.ok(first.backend === 'native' || first.backend === 'fallback');
  assert.type(first.reason, 'string');
  assert.ok(first.reason.length > 10, first.reason);
  assert.is(configureMalloc(), first);
  if (first.mmapThresholdBytes !== null) assert.type(first.mmapThresholdBytes, 'number');
});

malloc('with the addon on glibc, the mmap threshold is fixed at 32 MiB', () => {
  if (addon === null || !glibc) {
    console.log(`  skipped: ${addon === null ? nativeStatus().reason : 'not glibc'}`);
    return;
  }
  assert.is(MALLOC_MMAP_THRESHOLD_BYTES, 33_554_432);
  const r = inChild({});
  assert.is(r.malloc.backend, 'native', r.malloc.reason);
  assert.is(r.malloc.mmapThresholdBytes, 33_554_432);
  assert.match(r.malloc.reason, /M_MMAP_THRESHOLD, 33554432/);
  assert.type(r.trimmed, 'boolean');
});

malloc('trimMemory answers a boolean, true only with the addon', () => {
  const r = trimMemory();
  assert.type(r, 'boolean');
  if (addon === null) assert.is(r, false);
});

malloc('the addon checks its argument: 1 byte is a RangeError, a string a TypeError, a second call reports the first', () => {
  if (addon === null || !glibc) {
    console.log(`  skipped: ${addon === null ? nativeStatus().reason : 'not glibc'}`);
    return;
  }
  assert.throws(() => addon.configureMalloc(1), (e: Error) => e instanceof RangeError && /4096 to 33554432/.test(e.message));
  assert.throws(() => addon.configureMalloc('x' as unknown as number), (e: Error) => e instanceof TypeError);
  configureMalloc();
  const again = addon.configureMalloc(65_536);
  assert.is(again.applied, true);
  assert.is(again.mmapThresholdBytes, configureMalloc().mmapThresholdBytes ?? MALLOC_MMAP_THRESHOLD_BYTES);
  assert.is(again.reason, 'configured earlier in this process');
});

malloc('MESHCACHE_NATIVE=0: the fallback, with the reason; malloc is left alone and nothing is trimmed', () => {
  const r = inChild({ MESHCACHE_NATIVE: '0' });
  assert.equal(r.malloc, { backend: 'fallback', mmapThresholdBytes: null, reason: 'MESHCACHE_NATIVE=0' });
  assert.is(r.trimmed, false);
});

malloc('MALLOC_MMAP_THRESHOLD_=131072 in the environment is reported, with the addon (kept) and without it', () => {
  const without = inChild({ MESHCACHE_NATIVE: '0', MALLOC_MMAP_THRESHOLD_: '131072' });
  assert.is(without.malloc.backend, 'fallback');
  assert.is(without.malloc.mmapThresholdBytes, 131_072);
  assert.match(without.malloc.reason, /^MESHCACHE_NATIVE=0; MALLOC_MMAP_THRESHOLD_=131072 in the environment/);
  if (addon === null) return;
  const withAddon = inChild({ MALLOC_MMAP_THRESHOLD_: '131072' });
  assert.is(withAddon.malloc.backend, 'native');
  assert.is(withAddon.malloc.mmapThresholdBytes, 131_072);
  assert.match(withAddon.malloc.reason, /kept/);
});

malloc.run();
