import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeFrame, encodeFrame, MessageType, HEADER_BYTES, type MeshFrame } from '../../src/mesh/wire.js';
import { rng } from '../helpers/rng.js';

/** Frames tried; each is either random bytes or a mutated valid encoding. */
const ITERATIONS = 100_000;
/** Set MESH_FUZZ_SEED to replay a failing run. */
const SEED = process.env.MESH_FUZZ_SEED !== undefined ? Number(process.env.MESH_FUZZ_SEED) >>> 0 : (Date.now() ^ (Math.random() * 0x1_0000_0000)) >>> 0;

const fuzz = suite('decodeFrame fuzz');

fuzz(`returns ok or an error for ${ITERATIONS} random and mutated frames, never throws, and re-encodes what it accepts byte for byte (seed ${SEED})`, () => {
  console.log(`  mesh wire fuzz seed: ${SEED} (replay with MESH_FUZZ_SEED=${SEED})`);
  const rand = rng(SEED);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const bytes = (max: number): Uint8Array => {
    const out = new Uint8Array(int(max + 1));
    for (let i = 0; i < out.length; i++) out[i] = int(256);
    return out;
  };
  const u64 = (): bigint => pick([0n, 1n, (1n << 64n) - 1n, BigInt(int(0x1_0000_0000)) * BigInt(int(0x1_0000_0000)) + BigInt(int(1000))]);
  const id = (): string => pick(['a', 'node-1', 'é', '🙂x', 'n'.repeat(1 + int(40))]);
  const addr = (): string => pick(['', '10.0.0.1:7946', 'ws://h:1/mesh']);
  const u32 = (): number => pick([0, 1, 0xffff_ffff, int(0x1_0000_0000)]);

  function randomFrame(): MeshFrame {
    const head = { version: 1, flags: int(0x10000), requestId: u32() };
    switch (1 + int(14)) {
      case 1: return { ...head, type: MessageType.Hello, body: { nodeId: id(), address: addr(), incarnation: u64() } };
      case 2: return { ...head, type: MessageType.HelloAck, body: { nodeId: id(), address: addr(), incarnation: u64() } };
      case 3: return { ...head, type: MessageType.Ping, body: { target: id() } };
      case 4: return { ...head, type: MessageType.Ack, body: { nodeId: id() } };
      case 5: return { ...head, type: MessageType.PingReq, body: { target: id(), address: addr() } };
      case 6: return { ...head, type: MessageType.Suspect, body: { nodeId: id(), incarnation: u64(), from: id() } };
      case 7: return { ...head, type: MessageType.Alive, body: { nodeId: id(), address: addr(), incarnation: u64() } };
      case 8: return { ...head, type: MessageType.Dead, body: { nodeId: id(), incarnation: u64(), from: id() } };
      case 9: {
        const members = Array.from({ length: int(5) }, () => ({ nodeId: id(), address: addr(), incarnation: u64(), state: int(4) as 0 | 1 | 2 | 3 }));
        return { ...head, type: MessageType.StateSync, body: { members } };
      }
      case 10: return { ...head, type: MessageType.Leave, body: { nodeId: id(), incarnation: u64() } };
      case 11: return { ...head, type: MessageType.Forward, body: { op: (1 + int(3)) as 1 | 2 | 3, ttlMs: u32(), key: bytes(16), value: bytes(48) } };
      case 12: return { ...head, type: MessageType.ForwardReply, body: { status: int(4) as 0 | 1 | 2 | 3, value: bytes(48) } };
      case 13: {
        const entries = Array.from({ length: int(4) }, () => ({ key: bytes(8), value: bytes(24), ttlMs: u32() }));
        return { ...head, type: MessageType.Rebalance, body: { epoch: u64(), entries } };
      }
      default: return { ...head, type: MessageType.RebalanceAck, body: { epoch: u64(), stored: u32() } };
    }
  }

  function mutate(src: Buffer): Buffer {
    let b = Buffer.from(src);
    const rounds = 1 + int(3);
    for (let r = 0; r < rounds; r++) {
      switch (int(6)) {
        case 0: { // flip 1–8 bits
          const n = 1 + int(8);
          for (let i = 0; i < n && b.length > 0; i++) b[int(b.length)] ^= 1 << int(8);
          break;
        }
        case 1: // truncate
          b = b.subarray(0, int(b.length + 1));
          break;
        case 2: // extend with random bytes
          b = Buffer.concat([b, bytes(16)]);
          break;
        case 3: { // a u16 somewhere (string, key and count prefixes) set to a huge or random value
          if (b.length < 2) break;
          b.writeUInt16LE(pick([0xffff, 0x8000, int(0x10000)]), int(b.length - 1));
          break;
        }
        case 4: { // a u32 somewhere (value lengths, the body length) set to a huge or random value
          if (b.length < 4) break;
          b.writeUInt32LE(pick([0xffff_ffff, 0x8000_0000, 0x0400_0000, u32()]), b.length >= HEADER_BYTES && rand() < 0.5 ? 8 : int(b.length - 3));
          break;
        }
        default: // overwrite one byte (often the version or type)
          if (b.length > 0) b[pick([0, 1, int(b.length)])] = int(256);
      }
    }
    // Half the time, make the header's body length agree again, so the body parser is reached.
    if (b.length >= HEADER_BYTES && rand() < 0.5) b.writeUInt32LE(b.length - HEADER_BYTES, 8);
    return b;
  }

  let ok = 0;
  let failed = 0;
  let thrown = 0;
  let reencodeMismatch = 0;
  const codes = new Map<string, number>();
  const started = performance.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const valid = encodeFrame(randomFrame());
    const input = rand() < 0.1 ? Buffer.concat([valid.subarray(0, int(HEADER_BYTES + 1)), bytes(64)]) : mutate(valid);
    let result;
    try {
      result = decodeFrame(input);
    } catch (err) {
      thrown++;
      if (thrown <= 3) console.log(`  decodeFrame threw on ${input.toString('hex')}: ${String(err)}`);
      continue;
    }
    if (result.ok) {
      ok++;
      const again = encodeFrame(result.frame);
      if (Buffer.compare(again, input) !== 0) {
        reencodeMismatch++;
        if (reencodeMismatch <= 3) console.log(`  re-encode differs: ${input.toString('hex')} → ${again.toString('hex')}`);
      }
    } else {
      failed++;
      assert.ok([1002, 1003, 1007, 1009].includes(result.error.closeCode), `close code ${result.error.closeCode}`);
      codes.set(result.error.code, (codes.get(result.error.code) ?? 0) + 1);
    }
  }
  const ms = Math.round(performance.now() - started);
  console.log(`  ${ok} decoded, ${failed} rejected, ${thrown} threw in ${ms} ms; codes ${JSON.stringify(Object.fromEntries(codes))}`);

  assert.is(thrown, 0, 'decodeFrame threw');
  assert.is(reencodeMismatch, 0, 'an accepted frame re-encoded to different bytes');
  assert.is(ok + failed, ITERATIONS);
  // Both outcomes are exercised, and every error code is reached by mutation.
  assert.ok(ok > ITERATIONS / 50, `only ${ok} frames decoded`);
  assert.ok(failed > ITERATIONS / 2, `only ${failed} frames rejected`);
  for (const code of ['ERR_MESH_TRUNCATED', 'ERR_MESH_VERSION', 'ERR_MESH_TYPE', 'ERR_MESH_LENGTH', 'ERR_MESH_TRAILING', 'ERR_MESH_UTF8', 'ERR_MESH_BODY']) {
    assert.ok((codes.get(code) ?? 0) > 0, `${code} never produced`);
  }
});

fuzz.run();
