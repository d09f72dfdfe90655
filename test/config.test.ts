import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBytes, resolveOptions, DEFAULTS } from '../src/config.js';
import { Cache } from '../src/index.js';

const bytes = suite('parseBytes');

bytes('reads numbers and unit strings the way Redis configs do', () => {
  assert.is(parseBytes(1234), 1234);
  assert.is(parseBytes('512mb'), 512 * 1024 * 1024);
  assert.is(parseBytes('2GB'), 2 * 1024 ** 3);
  assert.is(parseBytes('64kb'), 65536);
  assert.is(parseBytes('64KiB'), 65536);
  assert.is(parseBytes('100k'), 100_000);
  assert.is(parseBytes('1.5m'), 1_500_000);
  assert.is(parseBytes(' 3 mb '), 3 * 1024 * 1024);
});

bytes('rejects what is not a size', () => {
  for (const bad of ['', 'mb', '12 parsecs', '-1mb', 'NaN', '1e9', -1, NaN, Infinity, null, {}, [], true]) {
    assert.is(parseBytes(bad), undefined, String(bad));
  }
});

bytes.run();

const options = suite('options validation');

function throwsWith(fn: () => unknown, ctor: ErrorConstructor, message: string): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ctor);
    assert.is((err as Error).message, message);
    return;
  }
  assert.unreachable(`expected ${ctor.name}: ${message}`);
}

options('fills in the defaults', () => {
  const o = resolveOptions(undefined);
  assert.is(o.maxMemory, DEFAULTS.maxMemory);
  assert.is(o.shards, 16);
  assert.is(o.shardBudget, 4 * 1024 * 1024);
  assert.is(o.maxKeyBytes, 1024);
  assert.is(o.maxValueBytes, 2 * 1024 * 1024);
  assert.is(o.ttl, 0);
  assert.is(o.ttlResolution, 1);
  assert.is(o.maxEntries, 0);
});

options('picks fewer shards for a small maxMemory so that each keeps 1 MiB', () => {
  assert.is(resolveOptions({ maxMemory: '4mb' }).shards, 4);
  assert.is(resolveOptions({ maxMemory: '512kb' }).shards, 1);
  assert.is(resolveOptions({ maxMemory: '1gb' }).shards, 16);
});

options('every bad option throws TypeError or RangeError naming the option', () => {
  throwsWith(() => new Cache(42 as never), TypeError, 'options must be an object');
  throwsWith(() => new Cache({ maxMemory: true as never }), TypeError, "options.maxMemory must be a number of bytes or a string like '512mb'");
  throwsWith(() => new Cache({ maxMemory: '12 parsecs' }), RangeError, "options.maxMemory must be a number of bytes or a string like '512mb'");
  throwsWith(() => new Cache({ maxMemory: 1000 }), RangeError, 'options.maxMemory must be from 64 KiB to 3840 MiB (got 1000 bytes)');
  throwsWith(() => new Cache({ maxMemory: '4gb' }), RangeError, 'options.maxMemory must be from 64 KiB to 3840 MiB (got 4294967296 bytes)');
  throwsWith(() => new Cache({ shards: '4' as never }), TypeError, 'options.shards must be a number');
  throwsWith(() => new Cache({ shards: 3 }), RangeError, 'options.shards must be a power of two from 1 to 1024');
  throwsWith(() => new Cache({ shards: 2048 }), RangeError, 'options.shards must be a power of two from 1 to 1024');
  throwsWith(() => new Cache({ maxMemory: '1mb', shards: 32 }), RangeError, 'options.shards must leave each shard at least 64 KiB of maxMemory (1048576 / 32 is less)');
  throwsWith(() => new Cache({ maxEntries: -1 }), RangeError, 'options.maxEntries must be an integer from 0 to 4294967295');
  throwsWith(() => new Cache({ maxEntries: 1.5 }), RangeError, 'options.maxEntries must be an integer from 0 to 4294967295');
  throwsWith(() => new Cache({ maxEntries: '10' as never }), TypeError, 'options.maxEntries must be a number');
  throwsWith(() => new Cache({ ttl: -5 }), RangeError, 'options.ttl must be a finite number of milliseconds >= 0');
  throwsWith(() => new Cache({ ttl: Infinity }), RangeError, 'options.ttl must be a finite number of milliseconds >= 0');
  throwsWith(() => new Cache({ ttl: '1s' as never }), TypeError, 'options.ttl must be a number');
  throwsWith(() => new Cache({ ttlResolution: 5000 }), RangeError, 'options.ttlResolution must be an integer from 0 to 1000');
  throwsWith(() => new Cache({ maxKeyBytes: 0 }), RangeError, 'options.maxKeyBytes must be an integer from 1 to 65535');
  throwsWith(() => new Cache({ maxKeyBytes: 70000 }), RangeError, 'options.maxKeyBytes must be an integer from 1 to 65535');
  throwsWith(() => new Cache({ maxValueBytes: -1 }), RangeError, 'options.maxValueBytes must be an integer from 0 to 4294967295');
  throwsWith(() => new Cache({ maxMemory: '1mb', shards: 4, maxValueBytes: 1 << 20 }), RangeError,
    'options.maxValueBytes must be at most 260096 (one shard\'s budget, maxMemory / shards, less the key and ~1 KiB)');
  throwsWith(() => new Cache({ serializer: {} as never }), TypeError, 'options.serializer must be an object with serialize(value) and deserialize(bytes) functions');
  throwsWith(() => new Cache({ seed: -1 }), RangeError, 'options.seed must be an integer from 0 to 4294967295');
});

options('validation errors carry code ERR_INVALID_OPTION', () => {
  try {
    new Cache({ shards: 3 });
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, 'ERR_INVALID_OPTION');
  }
});

options.run();
