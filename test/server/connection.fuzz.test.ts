import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MeshcacheServer } from '../../src/server/server.js';
import { RespClient, encode } from '../helpers/resp-client.js';
import { FuzzBatches, Gen, LIMITS, errorText, isProtocolError, parseLocally, sendFuzzBatch } from '../helpers/resp-fuzz.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Random and mutated RESP request streams against the parser and a live server. Set FUZZ_SEED to
 * replay a run; the seed is printed either way.
 */
const SEED = Number(process.env.FUZZ_SEED ?? (Date.now() % 2 ** 31));

const IN_PROCESS_INPUTS = 100_000;
const SOCKET_INPUTS = 8_000;
const CONCURRENT_CONNECTIONS = 8;

// ---------------------------------------------------------------------------------------------------

const fuzz = suite(`Fuzz: random and mutated RESP input (seed ${SEED}; replay with FUZZ_SEED=${SEED})`);

fuzz(`${IN_PROCESS_INPUTS.toLocaleString('en')} inputs in-process through the parser in random chunks: never throws, only Redis's error texts, nothing buffered after an error, same commands however chunked`, () => {
  const g = new Gen(SEED);
  let errors = 0;
  let commands = 0;
  for (let i = 0; i < IN_PROCESS_INPUTS; i++) {
    const input = g.input();
    const cuts = [0, g.int(input.length + 1), g.int(input.length + 1), input.length].sort((a, b) => a - b);
    const chunks = [0, 1, 2].map((k) => input.subarray(cuts[k], cuts[k + 1]));
    const r = parseLocally(chunks);
    commands += r.commands.length;
    if (r.error !== null) {
      errors++;
      assert.ok(isProtocolError(r.error), `input ${i}: unexpected error text ${JSON.stringify(r.error)}`);
      assert.is(r.buffered, 0, `input ${i}: bytes kept after an error`);
    }
    // Chunking never changes the commands, nor whether the input is malformed (it may change which
    // error: like Redis, a count line over the cap is "too big" until its newline has arrived).
    const whole = parseLocally([input]);
    assert.is(whole.error === null, r.error === null, `input ${i}: chunking changed the outcome: ${whole.error} / ${r.error}`);
    assert.is(whole.commands.length, r.commands.length, `input ${i}: chunking changed the commands`);
  }
  assert.ok(errors > IN_PROCESS_INPUTS / 10, `only ${errors} inputs were malformed`);
  assert.ok(commands > IN_PROCESS_INPUTS, `only ${commands} commands parsed`);
});

fuzz(`${SOCKET_INPUTS.toLocaleString('en')} inputs over real connections (clean inputs batched per connection, each batch ended by one that may break it): the server never crashes, replies are well-formed RESP, a well-behaved client gets correct answers throughout`, async () => {
  const handlerErrors: string[] = [];
  const server = new MeshcacheServer({
    port: 0, cache: { maxMemory: '32mb' }, closeTimeoutMs: 1000, ...LIMITS,
    onClientError: (_c, kind, detail) => { if (kind === 'handler') handlerErrors.push(detail); },
  });
  const { port } = await server.listen();
  const g = new Gen(SEED ^ 0x5bd1e995);
  let running = true;
  // The well-behaved client: pipelined SET / GET / ECHO / PING rounds, every reply checked.
  const checker = (async () => {
    const c = await RespClient.connect(port);
    let rounds = 0;
    try {
      while (running) {
        const v = `good-${rounds}-${'z'.repeat(rounds % 100)}`;
        c.write(Buffer.concat([encode('SET', `good:${rounds % 20}`, v), encode('GET', `good:${rounds % 20}`), encode('ECHO', v), encode('PING')]));
        assert.equal(await c.replies(4, 10_000), ['OK', v, v, 'PONG'], `round ${rounds}`);
        rounds++;
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      c.destroy();
    }
    return rounds;
  })();
  const checkerDone = checker.then((rounds) => ({ rounds, e: null }), (e: unknown) => ({ rounds: 0, e }));

  const batches = new FuzzBatches(g, SOCKET_INPUTS);
  let connections = 0;
  let closedByServer = 0;
  let errorReplies = 0;
  const worker = async () => {
    for (let batch = batches.next(); batch !== null; batch = batches.next()) {
      connections++;
      const r = await sendFuzzBatch(port, batch, 10_000);
      assert.ok(r.closed, `a fuzz connection was still open 10 s after its input ended: ${JSON.stringify(Buffer.concat(batch).toString('latin1').slice(0, 200))}`);
      // Whatever was sent, the replies decode as complete RESP values.
      assert.is(r.partial, null, `a partial reply at the end: ${JSON.stringify(r.partial?.subarray(0, 80).toString('latin1'))}`);
      errorReplies += r.replies.filter((x) => errorText(x) !== null).length;
      const last = errorText(r.replies.at(-1));
      if (last !== null && isProtocolError(last)) closedByServer++;
    }
  };
  const started = Date.now();
  try {
    try {
      await Promise.all(Array.from({ length: CONCURRENT_CONNECTIONS }, worker));
    } finally {
      running = false;
    }
    const { rounds, e } = await checkerDone;
    if (e !== null) throw e;
    const seconds = (Date.now() - started) / 1000;
    console.log(`  ${batches.sent} inputs over ${connections} connections in ${seconds.toFixed(1)} s; ${server.counters.protocolErrors} protocol errors, ${errorReplies} error replies, ${rounds} checker rounds`);
    assert.is(batches.sent, SOCKET_INPUTS);
    assert.ok(rounds >= 20, `the well-behaved client completed only ${rounds} rounds`);
    assert.ok(server.counters.protocolErrors > 0);
    assert.ok(closedByServer > 0);
    assert.equal(handlerErrors, [], 'a command handler threw');
    await waitFor(() => server.clientCount === 0, { timeoutMs: 3000, what: 'every fuzz connection to be gone' });
    // Still serving.
    const c = await RespClient.connect(port);
    assert.is(await c.call('SET', 'after', 'fuzz'), 'OK');
    assert.is(await c.call('GET', 'after'), 'fuzz');
    assert.is(await c.call('PING'), 'PONG');
    c.destroy();
  } finally {
    running = false;
    await server.close();
  }
});

fuzz.run();
