/**
 * INFO memory keeps Redis's field meanings: used_memory is what maxmemory governs, so the usual
 * alert (used_memory / maxmemory near 1) neither fires for ever on a full cache nor misses one.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MeshcacheServer } from '../../src/server/server.js';
import { RespClient } from '../helpers/resp-client.js';

const memory = suite('INFO memory');

function infoFields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

memory('after writing 40 MB of 10 KB values into an 8 MB budget, used_memory stays within maxmemory and equals the budgeted bytes', async () => {
  const server = new MeshcacheServer({ port: 0, cache: { maxMemory: '8mb', shards: 4, compression: false } });
  const { port } = await server.listen();
  const c = await RespClient.connect(port);
  try {
    const value = 'v'.repeat(10 * 1024);
    for (let i = 0; i < 4096; i += 256) {
      const batch: string[][] = [];
      for (let j = i; j < i + 256; j++) batch.push(['SET', `key:${j}`, value]);
      for (const args of batch) await c.call(...args);
    }
    const info = infoFields(String(await c.call('INFO', 'memory')));
    const stats = server.cache.stats();
    const used = Number(info.get('used_memory'));
    const max = Number(info.get('maxmemory'));
    assert.is(max, 8 * 1024 * 1024);
    assert.ok(used <= max, `used_memory ${used} > maxmemory ${max}`);
    assert.ok(used > max * 0.8, `used_memory ${used} should be near a full budget (${max})`);
    assert.is(used, stats.usedBytes, 'the same figure as stats().usedBytes, /metrics and the dashboard');
    assert.is(Number(info.get('used_memory_dataset')) + Number(info.get('used_memory_overhead')), used);
    assert.ok(stats.evictions > 0, 'the budget was enforced by evicting');
    for (const field of ['used_memory_human', 'used_memory_rss', 'used_memory_rss_human', 'used_memory_dataset_perc',
      'total_system_memory', 'maxmemory_human', 'maxmemory_policy', 'mem_fragmentation_ratio', 'mem_not_counted_for_evict',
      'mem_allocator', 'used_memory_wasm', 'used_memory_heap']) {
      assert.ok(info.has(field), `INFO memory has ${field}`);
    }
    assert.ok(Number(info.get('used_memory_rss')) > used, 'RSS counts the whole process');
    assert.ok(Number(info.get('used_memory_wasm')) >= used, 'the WebAssembly memory holds the budgeted bytes');
  } finally {
    c.destroy();
    await server.close();
  }
});

memory('an empty cache reports 0 dataset bytes and no division by zero', async () => {
  const server = new MeshcacheServer({ port: 0, cache: { maxMemory: '4mb' } });
  const { port } = await server.listen();
  const c = await RespClient.connect(port);
  try {
    const info = infoFields(String(await c.call('INFO', 'memory')));
    assert.is(info.get('used_memory_dataset'), '0');
    assert.ok(!/NaN|Infinity/.test([...info.values()].join(' ')), 'no NaN or Infinity in any field');
  } finally {
    c.destroy();
    await server.close();
  }
});

memory.run();
