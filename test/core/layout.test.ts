import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { coreModule } from '../../src/core/wasm.js';

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
