import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { coreModule, createMemory, instantiateCore } from '../../src/core/wasm.js';
import * as wasm from '../../src/core/wasm.js';
import { CORE_CONSTANTS, CORE_INITIAL_PAGES } from '../../src/core/constants.generated.js';
// @ts-expect-error: a plain .mjs build script, without type declarations
import { renderLayout, readCoreConstants } from '../../scripts/gen-constants.mjs';

const layout = suite('core module layout');

layout('imports only the shared memory: no host calls, no abort import', () => {
  const imports = WebAssembly.Module.imports(coreModule());
  assert.equal(imports.map((i) => `${i.module}.${i.name}:${i.kind}`), ['env.memory:memory']);
});

layout('has no data segments and no start function that could rewrite shared memory per thread', () => {
  const wat = readFileSync(new URL('../../build/core.wat', import.meta.url), 'utf8');
  assert.not.match(wat, /\(data /);
  assert.not.match(wat, /\(start /);
  // Mutable globals are per-instance (per-thread) copies; none may be a shadow stack pointer.
  assert.not.match(wat, /__stack_pointer/);
  const globals = [...wat.matchAll(/\(global \$(\S+) \(mut/g)].map((m) => m[1]);
  for (const g of globals) assert.match(g, /^assembly\/(table|lz4)\//, `unexpected mutable global ${g}`);
});

layout.run();

// One source of truth: the host's constants are the module's exported globals, through
// constants.generated.ts. These suites fail when the generated file, src/core/wasm.ts or the
// module drift apart.

const WAT = readFileSync(new URL('../../build/core.wat', import.meta.url), 'utf8');
const WASM_BYTES = readFileSync(new URL('../../build/core.wasm', import.meta.url));
const ASCONFIG = readFileSync(new URL('../../asconfig.json', import.meta.url), 'utf8');
/** The module's memory import limits, as the .wat declares them: [initial pages, maximum pages]. */
function memoryLimits(): [number, number] {
  const m = /\(import "env" "memory" \(memory \$\S+ (\d+) (\d+) shared\)\)/.exec(WAT);
  assert.ok(m, 'the module imports a shared memory with a maximum');
  return [Number(m![1]), Number(m![2])];
}

const generated = suite('constants.generated.ts');

generated('is exactly what scripts/gen-constants.mjs renders from build/core.wasm and asconfig.json', () => {
  const committed = readFileSync(new URL('../../src/core/constants.generated.ts', import.meta.url), 'utf8');
  assert.fixture(committed, renderLayout(WASM_BYTES, ASCONFIG), 'run `npm run build:wasm` and commit src/core/constants.generated.ts');
});

generated('holds every global the module exports, with its value', () => {
  const fromModule = readCoreConstants(WASM_BYTES, CORE_INITIAL_PAGES);
  assert.equal({ ...CORE_CONSTANTS }, fromModule);
  // The layout the host reads most: 1024 shards' headers of 4 KiB after 1024 thread slots of 32 B.
  assert.is(fromModule.THREAD_SLOT_BYTES, 32);
  assert.is(fromModule.T_RESULT, 12);
  assert.is(fromModule.SHARDS_BASE, fromModule.THREADS_BASE + fromModule.MAX_THREADS * fromModule.THREAD_SLOT_BYTES);
});

generated('CORE_INITIAL_PAGES is the minimum the module declares for its memory, MAX_PAGES its maximum', () => {
  const [initial, maximum] = memoryLimits();
  assert.is(CORE_INITIAL_PAGES, initial);
  assert.is(wasm.MAX_PAGES, maximum);
});

const hostConstants = suite('src/core/wasm.ts constants');

/** wasm.ts names that differ from the module global they copy. */
const RENAMED: Record<string, string> = {
  ENTRY_HEADER_BYTES: 'ENTRY_HEADER',
  BLOCK_OVERHEAD_BYTES: 'BLOCK_OVERHEAD',
  SCAN_RECORD_HEADER_BYTES: 'SCAN_RECORD_HEADER',
};

hostConstants('every numeric export equals a module global, a difference of two, or the memory limit', () => {
  const g = readCoreConstants(WASM_BYTES, CORE_INITIAL_PAGES);
  const derived: Record<string, number> = {
    T_COMPRESS_NS_FROM_RESULT: g.T_COMPRESS_NS - g.T_RESULT,
    T_DECOMPRESS_NS_FROM_RESULT: g.T_DECOMPRESS_NS - g.T_RESULT,
    MAX_PAGES: memoryLimits()[1],
  };
  let checked = 0;
  for (const [name, value] of Object.entries(wasm)) {
    if (typeof value !== 'number') continue;
    const source = RENAMED[name] ?? name;
    const expected = source in g ? g[source] : derived[name];
    assert.ok(expected !== undefined, `${name} in src/core/wasm.ts has no source in the module: export it from assembly/index.ts`);
    assert.is(value, expected, name);
    checked++;
  }
  assert.ok(checked >= 50, `checked ${checked} constants`);
});

hostConstants('a thread slot and the shard headers lie where the host computes them', () => {
  const memory = createMemory(8 * 1024 * 1024);
  const core = instantiateCore(coreModule(), memory);
  assert.is(core.init(2, 1 << 20, 0, 1, 2, 65536, 100, 1, 1000), 0);
  const tid = core.attach();
  assert.ok(tid >= 1);
  const slot = wasm.THREADS_BASE + (tid - 1) * wasm.THREAD_SLOT_BYTES;
  assert.is(core.resultPtr(), slot + wasm.T_RESULT);
  assert.is(core.shardsBase(), wasm.SHARDS_BASE);
  // A slot's compression timers are where the host adds to them: the core zeroes neither.
  const view = new DataView(memory.buffer);
  view.setFloat64(core.resultPtr() + wasm.T_COMPRESS_NS_FROM_RESULT, 1.5, true);
  assert.is(view.getFloat64(slot + wasm.T_COMPRESS_NS, true), 1.5);
  // A key set on shard 0 or 1 shows in that shard header's entry count and sets counter.
  const key = new TextEncoder().encode('layout-key');
  new Uint8Array(memory.buffer, core.scratchPtr(), key.length).set(key);
  const shard = core.shardOfKey(key.length);
  assert.is(core.set(key.length, key.length, 0, 0, 0, 0, 1), 0);
  const s = wasm.SHARDS_BASE + shard * wasm.SHARD_BYTES;
  assert.is(view.getUint32(s + wasm.S_COUNT, true), 1);
  assert.is(view.getBigUint64(s + wasm.S_SETS, true), 1n);
  assert.is(view.getBigUint64(s + wasm.S_ENTRY_BYTES, true) > BigInt(wasm.ENTRY_HEADER_BYTES + key.length), true);
  core.detach();
});

hostConstants('the header tables fit below the thread slots', () => {
  assert.ok(wasm.H_OWNERS + wasm.MAX_SHARDS * 2 <= wasm.H_WORKERS);
  assert.ok(wasm.HEADER_BASE + wasm.H_WORKERS + wasm.MAX_REGISTERED_WORKERS * wasm.WORKER_ENTRY_BYTES <= wasm.THREADS_BASE);
});

generated.run();
hostConstants.run();
