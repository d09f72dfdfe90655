/** The input-limit flags of `meshcache serve`: parsed values, defaults and refusals. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseServeArgs } from '../src/cli.js';
import { assertRefused } from './helpers/cli.js';

const flags = suite('parseServeArgs (input limits)');

flags('leaves both buffer limits to the server by default, the idle timeout off and the partial-request timeout at 30 s', () => {
  const cfg = parseServeArgs([]);
  assert.is(cfg.clientQueryBufferLimit, null);
  assert.is(cfg.maxMemoryClients, null);
  assert.is(cfg.timeout, 0);
  assert.is(cfg.partialRequestTimeout, 30);
});

flags('reads sizes for the buffer limits (32mb, 1gb, 0) and whole seconds for the timeouts', () => {
  const cfg = parseServeArgs(['--client-query-buffer-limit', '32mb', '--max-memory-clients=1gb', '--timeout', '300', '--partial-request-timeout', '5']);
  assert.is(cfg.clientQueryBufferLimit, 32 * 1024 * 1024);
  assert.is(cfg.maxMemoryClients, 1024 * 1024 * 1024);
  assert.is(cfg.timeout, 300);
  assert.is(cfg.partialRequestTimeout, 5);
  const off = parseServeArgs(['--client-query-buffer-limit', '0', '--max-memory-clients', '0', '--partial-request-timeout', '0']);
  assert.is(off.clientQueryBufferLimit, 0);
  assert.is(off.maxMemoryClients, 0);
  assert.is(off.partialRequestTimeout, 0);
});

flags('refuses a buffer limit that is not a size, naming the option', () => {
  assertRefused(['--client-query-buffer-limit', 'lots'], "clientQueryBufferLimit must be a size like '64mb', or 0 for no limit (got lots)");
  assertRefused(['--max-memory-clients', '-1mb'], "maxMemoryClients must be a size like '64mb', or 0 for no limit (got -1mb)");
});

flags('refuses a timeout that is not a whole number of seconds from 0 to a year', () => {
  assertRefused(['--timeout', '-1'], 'timeout must be an integer from 0 to 31536000 (got -1)');
  assertRefused(['--timeout', '1.5'], 'timeout must be an integer from 0 to 31536000 (got 1.5)');
  assertRefused(['--partial-request-timeout', 'soon'], 'partialRequestTimeout must be an integer from 0 to 31536000 (got soon)');
});

flags('--client-output-buffer-limit reads Redis\'s "<hard> <soft> <seconds>" and passes it to the server', () => {
  assert.is(parseServeArgs([]).outputLimits, null, 'the server\'s defaults');
  const cfg = parseServeArgs(['--client-output-buffer-limit', '128mb 32mb 10']);
  assert.equal(cfg.outputLimits, { hardBytes: 128 * 1024 * 1024, softBytes: 32 * 1024 * 1024, softSeconds: 10 });
  assert.equal(parseServeArgs(['--client-output-buffer-limit=0 0 0']).outputLimits, { hardBytes: 0, softBytes: 0, softSeconds: 0 });
});

flags('refuses a --client-output-buffer-limit that is not three values', () => {
  for (const bad of ['128mb 32mb', 'lots 1mb 10', '1mb 1mb -1', '1mb 1mb 10 extra']) {
    assertRefused(['--client-output-buffer-limit', bad], `--client-output-buffer-limit must be "<hard> <soft> <soft-seconds>", e.g. "256mb 64mb 60" (got ${JSON.stringify(bad)})`);
  }
});

flags.run();
