/**
 * The mesh handshake's cryptography and admission policy, as pure functions (ws-transport.ts runs
 * the exchange). A mutual challenge–response over HMAC-SHA256: each side proves it holds the shared
 * secret by MACing the other side's fresh nonce, so the secret never goes on the wire and a
 * recorded proof is useless against a new nonce.
 *
 * The exchange (the accepting side is the "server", the dialling side the "client"):
 * ```
 *   server → client   AuthChallenge { nonce: Ns }                                 Ns: 32 random bytes
 *   client → server   Hello    { nodeId: Ic, …, nonce: Nc, proof: Pc }            Nc: 32 random bytes
 *   server → client   HelloAck { nodeId: Is, …, nonce: empty, proof: Ps }
 *
 *   Pc = HMAC-SHA256(secret, "meshcache-mesh-v1" 0x00 "client" 0x00 ‖ Ns ‖ Nc ‖ utf8(Ic))
 *   Ps = HMAC-SHA256(secret, "meshcache-mesh-v1" 0x00 "server" 0x00 ‖ Nc ‖ Ns ‖ utf8(Is))
 * ```
 * Invariants the transcript keeps:
 * - Both nonces are exactly NONCE_BYTES, so the concatenation parses one way only (a peer's nonce
 *   of any other length fails verification).
 * - The role label differs per direction, so a server cannot reflect the client's own proof back.
 * - Each proof covers the prover's node id, so a proof cannot be replayed under another identity.
 *   (The address and incarnation in Hello are not covered: they are claims, checked by membership.)
 * Without a secret the proofs are empty and only loopback peers are admitted (`refusalReason`).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { Bytes } from '../config.js';

/** Length of each side's fresh nonce (256 bits: never repeats in practice). */
export const NONCE_BYTES: Bytes = 32;
/** Length of a proof (an HMAC-SHA256). */
export const PROOF_BYTES: Bytes = 32;
/** Shortest shared secret accepted (128 bits). */
export const MIN_SECRET_BYTES: Bytes = 16;
/** Domain-separation label at the start of every transcript; a new handshake version gets a new label. */
export const TRANSCRIPT_LABEL = 'meshcache-mesh-v1';

/** Which side of the handshake a proof comes from. */
export type HandshakeRole = 'client' | 'server';

/** Close reason for a secret-less node refusing a peer that is not on loopback. */
export const REASON_NEEDS_SECRET = 'meshcache: a peer other than loopback needs a shared secret (--mesh-secret)';
/** Close reason for a proof that does not verify (wrong secret, or none). */
export const REASON_AUTH_FAILED = 'authentication failed';

const LABELS: Readonly<Record<HandshakeRole, Buffer>> = {
  client: Buffer.from(`${TRANSCRIPT_LABEL}\0client\0`, 'latin1'),
  server: Buffer.from(`${TRANSCRIPT_LABEL}\0server\0`, 'latin1'),
};

/** A fresh random nonce of NONCE_BYTES. */
export function createNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** The secret as bytes (a string is taken as UTF-8). */
export function secretBytes(secret: string | Uint8Array): Buffer {
  return typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength);
}

/**
 * The proof `role` sends: HMAC-SHA256(secret, label ‖ role ‖ verifierNonce ‖ proverNonce ‖ utf8(proverNodeId)).
 * `verifierNonce` is the other side's nonce (the challenge being answered), `proverNonce` the
 * prover's own. Throws RangeError when a nonce is not NONCE_BYTES (a caller's mistake: verify the
 * peer's nonce length first, or use `verifyProof`).
 */
export function computeProof(
  secret: string | Uint8Array,
  role: HandshakeRole,
  verifierNonce: Uint8Array,
  proverNonce: Uint8Array,
  proverNodeId: string,
): Buffer {
  if (verifierNonce.length !== NONCE_BYTES || proverNonce.length !== NONCE_BYTES) {
    throw new RangeError(`nonces must be ${NONCE_BYTES} bytes, got ${verifierNonce.length} and ${proverNonce.length}`);
  }
  return createHmac('sha256', secretBytes(secret))
    .update(LABELS[role])
    .update(verifierNonce)
    .update(proverNonce)
    .update(proverNodeId, 'utf8')
    .digest();
}

/**
 * Whether `proof` is the one `role` should have sent for these nonces and node id. Never throws on
 * peer input: a nonce or proof of the wrong length is simply false. The comparison takes the same
 * time wherever the bytes differ.
 */
export function verifyProof(
  secret: string | Uint8Array,
  role: HandshakeRole,
  verifierNonce: Uint8Array,
  proverNonce: Uint8Array,
  proverNodeId: string,
  proof: Uint8Array,
): boolean {
  if (verifierNonce.length !== NONCE_BYTES || proverNonce.length !== NONCE_BYTES || proof.length !== PROOF_BYTES) return false;
  return timingSafeEqual(computeProof(secret, role, verifierNonce, proverNonce, proverNodeId), proof);
}

/**
 * Whether a socket's `remoteAddress` is loopback: IPv4 127.0.0.0/8, IPv6 `::1`, and IPv4-mapped
 * `::ffff:127.x.x.x` (a dual-stack listener reports IPv4 peers that way; the hex form too). Anything else, including
 * an undefined address (a destroyed socket), is not.
 */
export function isLoopback(remoteAddress: string | undefined): boolean {
  if (remoteAddress === undefined) return false;
  let a = remoteAddress.toLowerCase();
  const zone = a.indexOf('%'); // a zone id (fe80::1%eth0) never makes an address loopback
  if (zone >= 0) a = a.slice(0, zone);
  const family = isIP(a);
  if (family === 4) return a.startsWith('127.');
  if (family !== 6) return false;
  if (a.startsWith('::ffff:')) {
    const v4 = a.slice('::ffff:'.length);
    // dotted (::ffff:127.0.0.1, what Node reports) or hex (::ffff:7f00:1) form
    return isIP(v4) === 4 ? v4.startsWith('127.') : /^7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(v4);
  }
  return expandIpv6(a) === '0000:0000:0000:0000:0000:0000:0000:0001';
}

/** Expands a valid IPv6 address to eight 4-digit groups (so `::1` and `0:0::0:1` compare equal). */
function expandIpv6(a: string): string {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.padStart(4, '0')).join(':');
}

/**
 * The admission policy for an incoming connection, before any frame: a node without a secret
 * accepts loopback peers only (a mesh open to the network must be authenticated). Returns the
 * close reason to refuse with, or null to go on with the challenge.
 */
export function refusalReason(remoteAddress: string | undefined, hasSecret: boolean): string | null {
  return hasSecret || isLoopback(remoteAddress) ? null : REASON_NEEDS_SECRET;
}
