import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MeshcacheServer } from '../../src/server/server.js';
import { RespParser } from '../../src/resp/parser.js';
import { RespClient, decodeReply, encode, type Reply } from '../helpers/resp-client.js';
import { waitFor } from '../helpers/wait.js';
import { prng } from '../helpers/prng.js';

/**
 * Random and mutated RESP request streams against the parser and a live server. Set FUZZ_SEED to
 * replay a run; the seed is printed either way.
 */
const SEED = Number(process.env.FUZZ_SEED ?? (Date.now() % 2 ** 31));

/** The server's caps, lowered so that random input reaches every one of them. */
const LIMITS = { maxInlineBytes: 512, maxArgs: 64 };
const IN_PROCESS_INPUTS = 100_000;
const SOCKET_INPUTS = 8_000;
const CONCURRENT_CONNECTIONS = 8;

const PROTOCOL_ERRORS = [
  'ERR Protocol error: invalid multibulk length', 'ERR Protocol error: invalid bulk length',
  'ERR Protocol error: too big inline request', 'ERR Protocol error: too big mbulk count string',
  'ERR Protocol error: too big bulk count string', 'ERR Protocol error: unbalanced quotes in request',
];

function isProtocolError(text: string): boolean {
  return PROTOCOL_ERRORS.includes(text) || /^ERR Protocol error: expected '\$', got '[\s\S]'$/.test(text);
}

class Gen {
  readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = prng(seed);
  }

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  text(max: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789:-_ '): string {
    let s = '';
    for (let i = this.int(max + 1); i > 0; i--) s += alphabet[this.int(alphabet.length)];
    return s;
  }

  bytes(max: number): Buffer {
    const b = Buffer.alloc(this.int(max + 1));
    for (let i = 0; i < b.length; i++) b[i] = this.int(256);
    return b;
  }

  /** A command from the families that exist, with fuzz-only keys (`fz:`), sometimes malformed. */
  command(): string[] {
    const key = () => `fz:${this.int(50)}`;
    switch (this.int(16)) {
      case 0: return ['PING'];
      case 1: return ['PING', this.text(20)];
      case 2: return ['ECHO', this.text(40)];
      case 3: case 4: return ['GET', key()];
      case 5: case 6: return ['SET', key(), this.rnd() < 0.05 ? 'v'.repeat(2000 + this.int(3000)) : this.text(60)];
      case 7: return ['DBSIZE'];
      case 8: return this.rnd() < 0.5 ? ['INFO'] : ['INFO', this.pick(['server', 'clients', 'stats', 'nosuch', 'everything'])];
      case 9: return ['CLIENT', this.pick(['ID', 'GETNAME', 'INFO', 'LIST', 'HELP', 'NOPE'])];
      case 10: return ['CLIENT', 'SETNAME', this.text(10, 'abcxyz -\n')];
      case 11: return ['HELLO', ...(this.rnd() < 0.5 ? [] : [this.pick(['2', '3', '4', 'x'])])];
      case 12: return [this.pick(['get', 'Set', 'echo', 'ping', 'client', 'hello', 'dbsize', 'auth', 'select'])];
      case 13: return [this.text(8, 'ABCXYZ'), this.text(5)];
      case 14: return ['AUTH', this.text(8)];
      default: return ['SELECT', this.pick(['0', '1', 'x'])];
    }
  }

  /** `args` as a multibulk or, sometimes, an inline request with quoting. */
  encodeCommand(args: string[]): Buffer {
    if (this.rnd() < 0.7 || args.some((a) => a.includes('\n') || a.length > 200)) return encode(...args);
    const words = args.map((a) => (a === '' || a.includes(' ') || this.rnd() < 0.2 ? `"${a.replace(/[\\"]/g, (c) => '\\' + c)}"` : a));
    return Buffer.from(words.join(this.pick([' ', '  ', '\t'])) + this.pick(['\r\n', '\n']), 'latin1');
  }

  /** 1-8 valid commands pipelined. */
  pipeline(): Buffer {
    return Buffer.concat(Array.from({ length: 1 + this.int(8) }, () => this.encodeCommand(this.command())));
  }

  /** One fuzz input: a valid pipeline, a mutation of one, or garbage. */
  input(): Buffer {
    const base = this.pipeline();
    switch (this.int(12)) {
      case 0: case 1: return base;
      case 2: { // flip 1-5 bytes
        const b = Buffer.from(base);
        for (let i = 1 + this.int(5); i > 0; i--) b[this.int(b.length)] = this.int(256);
        return b;
      }
      case 3: return base.subarray(0, this.int(base.length)); // truncate
      case 4: { // a count replaced by a huge, negative or malformed one
        const s = base.toString('latin1');
        const counts = [...s.matchAll(/[*$](\d+)\r\n/g)];
        if (counts.length === 0) return base;
        const m = this.pick(counts);
        const repl = this.pick(['999999999999', '2147483648', '4294967296', '-1', '-2', '100000', '5000000', '1e3', '0x10', '', '01', '9'.repeat(30)]);
        const at = m.index! + 1;
        return Buffer.from(s.slice(0, at) + repl + s.slice(at + m[1].length), 'latin1');
      }
      case 5: return this.bytes(200); // random garbage
      case 6: // inline junk: quotes, backslashes, escapes, CR/LF
        return Buffer.from(this.text(120, 'ab "\'\\x4Z\r\n\t*$:+-0123'), 'latin1');
      case 7: { // splice two pipelines at random points
        const other = this.pipeline();
        return Buffer.concat([base.subarray(0, this.int(base.length + 1)), other.subarray(this.int(other.length + 1))]);
      }
      case 8: { // delete a range
        const from = this.int(base.length);
        return Buffer.concat([base.subarray(0, from), base.subarray(from + 1 + this.int(20))]);
      }
      case 9: { // insert CR, LF, * or $ at random places
        let b = base;
        for (let i = 1 + this.int(4); i > 0; i--) {
          const at = this.int(b.length + 1);
          b = Buffer.concat([b.subarray(0, at), Buffer.from(this.pick(['\r', '\n', '\r\n', '*', '$', '"', '\0'])), b.subarray(at)]);
        }
        return b;
      }
      case 10: // an over-long inline line or count line
        return Buffer.from(this.pick(['PING ', '*', '*1\r\n$']) + '1'.repeat(LIMITS.maxInlineBytes + this.int(200)) + (this.rnd() < 0.5 ? '\r\n' : ''), 'latin1');
      default: // too many arguments, or a count with nothing after it
        return Buffer.from(this.pick([`*${LIMITS.maxArgs + 1 + this.int(1000)}\r\n`, `*${1 + this.int(LIMITS.maxArgs)}\r\n`, '*1\r\n$3\r\n']), 'latin1');
    }
  }
}

/** Parses `input` in-process as the server would, in the given chunks. */
function parseLocally(chunks: Buffer[]): { commands: Buffer[][]; error: string | null; buffered: number } {
  const p = new RespParser({ maxArgs: LIMITS.maxArgs, maxBulkBytes: 16 * 1024 * 1024, maxInlineBytes: LIMITS.maxInlineBytes });
  const commands: Buffer[][] = [];
  for (const c of chunks) {
    p.push(c);
    for (let cmd = p.next(); cmd !== undefined; cmd = p.next()) commands.push(cmd);
  }
  return { commands, error: p.error?.reply ?? null, buffered: p.buffered };
}

/** An input that leaves the parser between requests, without error or QUIT: another may follow it. */
function isClean(input: Buffer): boolean {
  const r = parseLocally([input]);
  return r.error === null && r.buffered === 0 && !r.commands.some((c) => c[0].toString('latin1').toLowerCase() === 'quit');
}

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

  let sent = 0;
  let connections = 0;
  let closedByServer = 0;
  let errorReplies = 0;
  const nextBatch = (): Buffer[] | null => {
    if (sent >= SOCKET_INPUTS) return null;
    const batch: Buffer[] = [];
    while (sent < SOCKET_INPUTS && batch.length < 32) {
      const input = g.input();
      batch.push(input);
      sent++;
      if (!isClean(input)) break;
    }
    return batch;
  };
  const worker = async () => {
    for (let batch = nextBatch(); batch !== null; batch = nextBatch()) {
      const c = await RespClient.connect(port);
      connections++;
      c.decode = false;
      const received: Buffer[] = [];
      c.socket.on('data', (d: Buffer) => received.push(d));
      c.write(Buffer.concat(batch));
      c.socket.end();
      const closed = await c.closedWithin(10_000);
      if (!closed) c.destroy();
      assert.ok(closed, `a fuzz connection was still open 10 s after its input ended: ${JSON.stringify(Buffer.concat(batch).toString('latin1').slice(0, 200))}`);
      // Whatever was sent, the replies decode as complete RESP values.
      const out = Buffer.concat(received);
      let pos = 0;
      let last: Reply | undefined;
      for (let r = decodeReply(out, pos); r !== undefined; r = decodeReply(out, pos)) {
        last = r[0];
        pos = r[1];
        if (typeof last === 'object' && last !== null && 'message' in last) errorReplies++;
      }
      assert.is(pos, out.length, `a partial reply at the end: ${JSON.stringify(out.subarray(pos, pos + 80).toString('latin1'))}`);
      if (last !== undefined && typeof last === 'object' && last !== null && 'message' in last && isProtocolError(last.message)) closedByServer++;
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
    console.log(`  ${sent} inputs over ${connections} connections in ${seconds.toFixed(1)} s; ${server.counters.protocolErrors} protocol errors, ${errorReplies} error replies, ${rounds} checker rounds`);
    assert.is(sent, SOCKET_INPUTS);
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
