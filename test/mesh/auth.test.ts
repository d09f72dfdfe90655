import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  computeProof,
  createNonce,
  isLoopback,
  refusalReason,
  verifyProof,
  NONCE_BYTES,
  PROOF_BYTES,
  REASON_NEEDS_SECRET,
} from '../../src/mesh/auth.js';

const SECRET = '0123456789abcdef'; // 16 bytes, the minimum
const Ns = new Uint8Array(NONCE_BYTES).fill(1); // the server's challenge
const Nc = new Uint8Array(NONCE_BYTES).fill(2); // the client's nonce

// ---------------------------------------------------------------------------------------------------

const nonces = suite('createNonce');

nonces('returns 32 fresh random bytes each call', () => {
  const a = createNonce();
  const b = createNonce();
  assert.is(a.length, 32);
  assert.is(NONCE_BYTES, 32);
  assert.is(Buffer.compare(a, b) === 0, false);
});

// ---------------------------------------------------------------------------------------------------

const proofs = suite('computeProof / verifyProof');

proofs('matches HMAC-SHA256 over "meshcache-mesh-v1\\0<role>\\0" + verifier nonce + prover nonce + utf8(node id) (known answers)', () => {
  // Reference values computed with Python's hmac module, independently of node:crypto.
  assert.is(computeProof(SECRET, 'client', Ns, Nc, 'node-é').toString('hex'), 'e28ad02a4914bcaa8acde13a60d779738339a9b4df6d6dd1ec9e92a56e18aa04');
  assert.is(computeProof(SECRET, 'server', Nc, Ns, 'srv').toString('hex'), '582acdc13fb633fb5f68954e4eae904946d9538e83f1e00c4832969eea6ebb50');
  assert.is(PROOF_BYTES, 32);
});

proofs('a string secret and the Buffer of its UTF-8 bytes give the same proof', () => {
  assert.equal(computeProof('sécret-sécret-16b', 'client', Ns, Nc, 'a'), computeProof(Buffer.from('sécret-sécret-16b'), 'client', Ns, Nc, 'a'));
});

proofs('verifies the right proof and refuses a wrong secret, a flipped bit, another node id, swapped nonces or the other role', () => {
  const proof = computeProof(SECRET, 'client', Ns, Nc, 'a');
  assert.ok(verifyProof(SECRET, 'client', Ns, Nc, 'a', proof));
  assert.is(verifyProof('0123456789abcdeX', 'client', Ns, Nc, 'a', proof), false);
  const flipped = Buffer.from(proof);
  flipped[31] ^= 1;
  assert.is(verifyProof(SECRET, 'client', Ns, Nc, 'a', flipped), false);
  assert.is(verifyProof(SECRET, 'client', Ns, Nc, 'b', proof), false);
  assert.is(verifyProof(SECRET, 'client', Nc, Ns, 'a', proof), false);
  // a server cannot answer by reflecting the client's proof: the role is in the transcript
  assert.is(verifyProof(SECRET, 'server', Ns, Nc, 'a', proof), false);
});

proofs('refuses, without throwing, an empty proof, a 31- or 33-byte proof, and a peer nonce that is not 32 bytes', () => {
  const proof = computeProof(SECRET, 'client', Ns, Nc, 'a');
  assert.is(verifyProof(SECRET, 'client', Ns, Nc, 'a', new Uint8Array(0)), false);
  assert.is(verifyProof(SECRET, 'client', Ns, Nc, 'a', proof.subarray(0, 31)), false);
  assert.is(verifyProof(SECRET, 'client', Ns, Nc, 'a', Buffer.concat([proof, Buffer.from([0])])), false);
  assert.is(verifyProof(SECRET, 'client', Ns, Nc.subarray(0, 31), 'a', proof), false);
  assert.is(verifyProof(SECRET, 'client', Ns, new Uint8Array(64), 'a', proof), false);
  assert.is(verifyProof(SECRET, 'client', new Uint8Array(0), Nc, 'a', proof), false);
});

proofs('computeProof throws RangeError for a nonce other than 32 bytes (a caller mistake)', () => {
  assert.throws(() => computeProof(SECRET, 'client', Ns, new Uint8Array(31), 'a'), RangeError);
  assert.throws(() => computeProof(SECRET, 'server', new Uint8Array(0), Nc, 'a'), RangeError);
});

// ---------------------------------------------------------------------------------------------------

const loopback = suite('isLoopback');

loopback('accepts 127.0.0.0/8, ::1 (any spelling) and IPv4-mapped ::ffff:127.x.x.x', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '0:0:0:0:0:0:0:1', '0::1', '::ffff:127.0.0.1', '::FFFF:127.9.9.9', '::ffff:7f00:1']) {
    assert.ok(isLoopback(a), a);
  }
});

loopback('refuses other addresses, look-alikes, hostnames and undefined', () => {
  for (const a of [
    '10.0.0.1', '192.0.2.2', '0.0.0.0', '128.0.0.1', '126.255.255.255', '::', '::2', '::ffff:10.0.0.1', '::ffff:0a00:1',
    'fe80::1', 'fe80::1%lo', '1::1', '::1:1', '127.0.0.1.evil.example', 'localhost', '', '127.0.0.256', '::ffff:128.0.0.1',
  ]) {
    assert.is(isLoopback(a), false, a);
  }
  assert.is(isLoopback(undefined), false);
});

const policy = suite('refusalReason');

policy('without a secret admits loopback peers only; with one admits every address (the proof decides)', () => {
  assert.is(refusalReason('127.0.0.1', false), null);
  assert.is(refusalReason('::ffff:127.0.0.1', false), null);
  assert.is(refusalReason('192.0.2.2', false), REASON_NEEDS_SECRET);
  assert.is(refusalReason(undefined, false), REASON_NEEDS_SECRET);
  assert.is(refusalReason('192.0.2.2', true), null);
  assert.is(REASON_NEEDS_SECRET, 'meshcache: a peer other than loopback needs a shared secret (--mesh-secret)');
});

nonces.run();
proofs.run();
loopback.run();
policy.run();
