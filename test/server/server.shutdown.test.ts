import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RespClient, ReplyError, encode, type Reply } from '../helpers/resp-client.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { Cli, withServe } from '../helpers/serve-proc.js';

/** Resolves to the connect error code for 127.0.0.1:`port`, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

const KiB = 1024;

// ---------------------------------------------------------------------------------------------------

const shutdown = suite('meshcache serve: graceful shutdown');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  shutdown(`${signal} while 15 MiB of pipelined replies are in flight: every reply arrives, new connections are refused, exit 0 within 10 s, 'stopped' logged`, async () => {
    await withServe([], async (cli, port) => {
      const c = await RespClient.connect(port);
      const big = Buffer.alloc(256 * KiB);
      for (let i = 0; i < big.length; i++) big[i] = i % 251;
      assert.is(await c.call('SET', 'big', big), 'OK');
      assert.is(await c.call('SET', 'small', 'v'), 'OK');
      // 60 × 256 KiB + 500 small replies, requested in one write; the client stops reading as soon
      // as the first bytes come back, so most replies are queued in the server when the signal lands.
      const burst: Buffer[] = [];
      for (let i = 0; i < 60; i++) burst.push(encode('GET', 'big'), encode('GET', 'small'), encode('ECHO', `n${i}`));
      for (let i = 0; i < 320; i++) burst.push(encode('PING'));
      burst.push(encode('ECHO', 'last'));
      const expected = 60 * 3 + 320 + 1;
      c.write(Buffer.concat(burst));
      await waitFor(() => c.receivedBytes > 0, { timeoutMs: 5000, what: 'the first reply bytes' });
      c.socket.pause();
      await sleep(100);
      cli.child.kill(signal);
      const stopping = await cli.log('shutting down', 5000);
      assert.is(stopping.signal, signal);
      assert.is(await tryConnect(port), 'ECONNREFUSED');
      await sleep(300); // replies still in flight: the server must wait for this reader
      c.socket.resume();
      const replies: Reply[] = await c.replies(expected, 10_000);
      for (let i = 0; i < 60; i++) {
        assert.is((replies[i * 3] as string).length, big.length);
        assert.ok(Buffer.from(replies[i * 3] as string, 'latin1').equals(big), `reply ${i * 3} is corrupt`);
        assert.is(replies[i * 3 + 1], 'v');
        assert.is(replies[i * 3 + 2], `n${i}`);
      }
      assert.equal(replies.slice(180, 500), Array.from({ length: 320 }, () => 'PONG'));
      assert.is(replies[500], 'last');
      assert.ok(await c.closedWithin(5000), 'the server did not close the connection after the last reply');
      assert.is(await cli.exit(10_000), 0);
      assert.ok(cli.logs.some((l) => l.msg === 'stopped'), `no 'stopped' line in: ${cli.stdout}`);
    });
  });
}

// ---------------------------------------------------------------------------------------------------

const flags = suite('meshcache serve: flags and --config');

flags('--help prints every flag and exits 0', async () => {
  const cli = new Cli(['serve', '--help']);
  try {
    assert.is(await cli.exit(20_000), 0);
    for (const f of ['--port', '--host', '--max-memory', '--shards', '--threads', '--workers', '--http', '--requirepass', '--max-clients', '--log-level', '--slowlog-ms', '--config', '--help', '--version']) {
      assert.ok(cli.stdout.includes(f), `--help does not mention ${f}`);
    }
    assert.ok(cli.stdout.includes('SIGTERM'));
  } finally {
    cli.kill();
  }
});

flags('an unknown flag, or a bad value, exits 2 with a message naming it and pointing at --help', async () => {
  const cases: Array<[string[], string]> = [
    [['serve', '--nope'], "unknown option '--nope'"],
    [['serve', '--port', 'abc'], 'port must be an integer from 0 to 65535 (got abc)'],
  ];
  await Promise.all(cases.map(async ([args, message]) => {
    const cli = new Cli(args);
    try {
      assert.is(await cli.exit(20_000), 2, args.join(' '));
      assert.match(cli.stderr, message);
      assert.match(cli.stderr, "Run 'meshcache serve --help'");
      assert.is(cli.stdout, '');
    } finally {
      cli.kill();
    }
  }));
});

flags('--config with a JSON file configures the server, and flags win over it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshcache-cli-'));
  try {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ port: 0, maxMemory: '32mb', requirepass: 'pw', maxClients: 50, logLevel: 'info' }));
    await withServe(['--config', file, '--max-memory', '48mb'], async (cli, port) => {
      const listening = cli.logs.find((l) => l.msg === 'meshcache listening')!;
      assert.is(listening.maxMemory, 48 * 1024 * 1024);
      const c = await RespClient.connect(port);
      assert.equal(await c.call('GET', 'k'), new ReplyError('NOAUTH Authentication required.'));
      assert.is(await c.call('AUTH', 'pw'), 'OK');
      assert.is(await c.call('SET', 'k', 'v'), 'OK');
      c.destroy();
      cli.child.kill('SIGTERM');
      assert.is(await cli.exit(10_000), 0);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

flags('a bad --config file exits 2 with a clear message: missing, not JSON, not an object, unknown key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshcache-cli-'));
  try {
    const cases: Array<[string, string | null, string]> = [
      ['missing.json', null, 'cannot read the config file'],
      ['broken.json', '{"port": 0,', 'cannot read the config file'],
      ['array.json', '[1, 2]', 'must hold a JSON object'],
      ['unknown.json', '{"portt": 1}', "unknown option 'portt'"],
    ];
    await Promise.all(cases.map(async ([name, content, message]) => {
      const file = join(dir, name);
      if (content !== null) writeFileSync(file, content);
      const cli = new Cli(['serve', '--config', file]);
      try {
        assert.is(await cli.exit(20_000), 2, name);
        assert.match(cli.stderr, message, name);
        if (message.startsWith('cannot read')) assert.match(cli.stderr, file, name);
      } finally {
        cli.kill();
      }
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

shutdown.run();
flags.run();
