/**
 * The HTTP-host and TLS options of `meshcache serve` (flags and --config keys): defaults, what is
 * accepted, and each refusal's one line naming the flag (exit 2), checked in-process with
 * process.exit stubbed; one case runs the real CLI to check the exit code end to end. The running
 * sidecar over TLS is in test/integration/tls.test.ts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseServeArgs, readTlsFiles } from '../src/cli.js';
import { assertRefused, parseOrRefusal, runCli } from './helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/tls/', import.meta.url));
const CERT = FIXTURES + 'server-cert.pem';
const KEY = FIXTURES + 'server-key.pem';
const CA = FIXTURES + 'ca.pem';
const TLS = ['--tls-port', '0', '--tls-cert', CERT, '--tls-key', KEY];
const dir = mkdtempSync(join(tmpdir(), 'meshcache-cli-tls-'));

const args = suite('parseServeArgs (HTTP host and TLS options)');

args.after(() => rmSync(dir, { recursive: true, force: true }));

args('defaults: HTTP on loopback 127.0.0.1 whatever --host is, no TLS anywhere', () => {
  const cfg = parseServeArgs(['--host', '0.0.0.0', '--http', '9121']);
  assert.is(cfg.host, '0.0.0.0');
  assert.is(cfg.httpHost, '127.0.0.1');
  assert.is(cfg.tlsPort, null);
  assert.is(cfg.tlsCert, null);
  assert.is(cfg.httpTlsCert, null);
  assert.is(cfg.tlsAuthClients, null);
  assert.equal(readTlsFiles(cfg), { resp: null, http: null });
});

args('--http-host 127.0.0.2 and --tls-port 6390 with a certificate are taken as given', () => {
  const cfg = parseServeArgs(['--http', '0', '--http-host', '127.0.0.2', '--tls-port', '6390', '--tls-cert', CERT, '--tls-key', KEY]);
  assert.is(cfg.httpHost, '127.0.0.2');
  assert.is(cfg.tlsPort, 6390);
  const files = readTlsFiles(cfg);
  assert.is(files.resp!.authClients, 'no', 'no CA: client certificates are not asked for');
  assert.is(files.resp!.ca, undefined);
  assert.ok(files.http !== null, 'HTTPS reuses --tls-cert and --tls-key');
  assert.equal(files.http!.cert, files.resp!.cert);
});

args('--tls-ca makes tls-auth-clients yes by default (as in Redis); optional and no are taken', () => {
  assert.is(readTlsFiles(parseServeArgs([...TLS, '--tls-ca', CA])).resp!.authClients, 'yes');
  assert.is(readTlsFiles(parseServeArgs([...TLS, '--tls-ca', CA, '--tls-auth-clients', 'optional'])).resp!.authClients, 'optional');
  assert.is(readTlsFiles(parseServeArgs([...TLS, '--tls-ca', CA, '--tls-auth-clients', 'no'])).resp!.authClients, 'no');
});

args('--http-tls-cert/--http-tls-key win over --tls-cert for HTTPS; without --http there is no HTTPS', () => {
  const cfg = parseServeArgs([...TLS, '--http', '0', '--http-tls-cert', FIXTURES + 'client-cert.pem', '--http-tls-key', FIXTURES + 'client-key.pem']);
  const files = readTlsFiles(cfg);
  assert.ok(files.http !== null);
  assert.is.not(files.http!.cert.toString(), files.resp!.cert.toString());
  assert.is(readTlsFiles(parseServeArgs(TLS)).http, null);
});

args('the options come from a --config file too (httpHost, tlsPort, tlsCert, tlsKey)', () => {
  const path = join(dir, 'tls.json');
  writeFileSync(path, JSON.stringify({ httpHost: '127.0.0.3', tlsPort: 6391, tlsCert: CERT, tlsKey: KEY }));
  const cfg = parseServeArgs(['--config', path]);
  assert.is(cfg.httpHost, '127.0.0.3');
  assert.is(cfg.tlsPort, 6391);
});

args('refuses --tls-port without a certificate, and a certificate without its key', () => {
  assertRefused(['--tls-port', '6390'], '--tls-port needs --tls-cert and --tls-key');
  assertRefused(['--tls-port', '6390', '--tls-cert', CERT], '--tls-cert and --tls-key go together');
  assertRefused(['--http', '0', '--http-tls-key', KEY], '--http-tls-cert and --http-tls-key go together');
});

args('refuses a missing key file, a missing CA file and a missing HTTPS certificate, naming the flag and the path', () => {
  assertRefused(['--tls-port', '0', '--tls-cert', CERT, '--tls-key', '/nonexistent/key.pem'], '--tls-key: cannot read /nonexistent/key.pem (ENOENT)');
  assertRefused([...TLS, '--tls-ca', '/nonexistent/ca.pem'], '--tls-ca: cannot read /nonexistent/ca.pem (ENOENT)');
  assertRefused(['--http', '0', '--http-tls-cert', '/nonexistent/c.pem', '--http-tls-key', KEY], '--http-tls-cert: cannot read /nonexistent/c.pem (ENOENT)');
});

args('refuses a key that does not match the certificate and a file that is not PEM, naming both flags', () => {
  const r = parseOrRefusal(['--tls-port', '0', '--tls-cert', CERT, '--tls-key', FIXTURES + 'client-key.pem']);
  assert.is(r.code, 2);
  assert.ok(r.stderr.startsWith('meshcache: --tls-cert/--tls-key: '), r.stderr);
  assert.is(r.stderr.split('\n').length, 3, 'one line and the help hint');
  const notPem = join(dir, 'not.pem');
  writeFileSync(notPem, 'hello\n');
  const r2 = parseOrRefusal(['--http', '0', '--http-tls-cert', notPem, '--http-tls-key', KEY]);
  assert.is(r2.code, 2);
  assert.ok(r2.stderr.startsWith('meshcache: --http-tls-cert/--http-tls-key: '), r2.stderr);
});

args('refuses --tls-auth-clients maybe, yes without --tls-ca, and without --tls-port', () => {
  assertRefused([...TLS, '--tls-ca', CA, '--tls-auth-clients', 'maybe'], 'tlsAuthClients must be yes, no or optional (got maybe)');
  assertRefused([...TLS, '--tls-auth-clients', 'yes'], '--tls-auth-clients yes needs --tls-ca (the CA that signs client certificates)');
  assertRefused(['--tls-auth-clients', 'no'], '--tls-auth-clients needs --tls-port');
  assertRefused(['--tls-ca', CA], '--tls-ca needs --tls-port');
});

args('refuses --tls-port 70000, --tls-port equal to --port, --http-tls-cert without --http, an empty --http-host', () => {
  assertRefused(['--tls-port', '70000', '--tls-cert', CERT, '--tls-key', KEY], 'tlsPort must be an integer from 0 to 65535 (got 70000)');
  assertRefused(['--port', '6390', '--tls-port', '6390', '--tls-cert', CERT, '--tls-key', KEY], '--tls-port and --port must differ (both 6390); --port 0 turns the plain port off');
  assertRefused(['--http-tls-cert', CERT, '--http-tls-key', KEY], '--http-tls-cert needs --http');
  assertRefused(['--http-host', ''], 'httpHost must be a non-empty string');
});

args('exits the real CLI with code 2 and one line for --tls-port without --tls-cert', async () => {
  const r = await runCli(['serve', '--port', '0', '--tls-port', '0']);
  assert.is(r.timedOut, false, `serve should exit at once (stdout: ${r.stdout.slice(0, 300)})`);
  assert.is(r.code, 2, r.stderr);
  assert.is(r.stderr, "meshcache: --tls-port needs --tls-cert and --tls-key\nRun 'meshcache serve --help' for the options.\n");
  assert.is(r.stdout, '');
});

args.run();
