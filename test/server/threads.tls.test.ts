/**
 * Server threads with a TLS listener: the main thread alone serves the TLS port (the other
 * threads share only the plain port), and TLS without a plain port runs on one thread and says
 * why. Needs the native addon for more than one thread; skipped with its reason otherwise.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { startServerThreads } from '../../src/server/threads.js';
import { nativeStatus } from '../../src/native/binding.js';

const STEP_TIMEOUT_MS = 5000;
const FIXTURES = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const CA = readFileSync(FIXTURES + 'ca.pem');
const TLS = { port: 0, cert: readFileSync(FIXTURES + 'server-cert.pem'), key: readFileSync(FIXTURES + 'server-key.pem') };

/** Sends `INFO server` over TLS and resolves to the server_thread it names. */
function threadOverTls(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no INFO reply within ${STEP_TIMEOUT_MS} ms`)); }, STEP_TIMEOUT_MS);
    const s = tlsConnect({ host: '127.0.0.1', port, ca: CA, servername: 'localhost' }, () => s.write('INFO server\r\n'));
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      text += d;
      const m = /server_thread:(\d+)/.exec(text);
      if (m !== null) { clearTimeout(timer); s.destroy(); resolve(m[1]); }
    });
    s.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

const tls = suite('server threads with TLS');

tls('with two threads every TLS connection is served by the main thread (server_thread 0)', async () => {
  if (nativeStatus().addon === null) {
    console.log(`  skipped: ${nativeStatus().reason}`);
    return;
  }
  const t = await startServerThreads(2, { port: 0, cache: { maxMemory: '16mb' }, tls: TLS });
  try {
    assert.is(t.threads, 2);
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add(await threadOverTls(t.main.tlsAddress!.port));
    assert.equal([...seen], ['0']);
  } finally {
    await t.close();
  }
});

tls('TLS only (port null) runs one thread whatever was asked, and the reason says so', async () => {
  const t = await startServerThreads(4, { port: null, cache: { maxMemory: '16mb' }, tls: TLS });
  try {
    assert.is(t.threads, 1);
    if (nativeStatus().addon !== null) assert.match(t.reason, /only the main thread serves TLS/);
    assert.is(t.address.port, t.main.tlsAddress!.port);
    assert.is(await threadOverTls(t.address.port), '0');
  } finally {
    await t.close();
  }
});

tls.run();
