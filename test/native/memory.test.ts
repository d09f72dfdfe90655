import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runInNewContext } from 'node:vm';
import { collectGarbage } from '../../src/native/memory.js';
import { sleep } from '../helpers/wait.js';

const gc = suite('collectGarbage');

gc('frees an unreachable 8 MiB Buffer at once, without --expose-gc', async () => {
  let freed = false;
  const registry = new FinalizationRegistry(() => { freed = true; });
  (() => { registry.register(Buffer.alloc(8 * 1024 * 1024, 1), 'big'); })();
  await sleep(0); // the Buffer's job ends: nothing keeps it now
  assert.is(collectGarbage(), true);
  await sleep(10); // finalization callbacks run in a later task
  assert.is(freed, true);
});

gc('leaves no gc global behind: not here (unless node ran with --expose-gc), not in new contexts', () => {
  const hadGc = process.execArgv.includes('--expose-gc');
  collectGarbage();
  assert.is(typeof (globalThis as { gc?: unknown }).gc === 'function', hadGc);
  assert.is(runInNewContext('typeof gc'), hadGc ? 'function' : 'undefined');
});

gc.run();
