import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeFrame,
  encodeFrame,
  MessageType,
  HEADER_BYTES,
  MAX_GOSSIP_ITEMS,
  MAX_NONCE_BYTES,
  type ForwardOp,
  type ForwardStatus,
  type GossipItem,
  type MemberState,
  type MeshFrame,
} from '../../src/mesh/wire.js';
import { prng } from '../helpers/prng.js';

/** Frames tried; each is either random bytes or a mutated valid encoding. */
const ITERATIONS = 100_000;
/** Set MESH_FUZZ_SEED to replay a failing run. */
const SEED = process.env.MESH_FUZZ_SEED !== undefined ? Number(process.env.MESH_FUZZ_SEED) >>> 0 : (Date.now() ^ (Math.random() * 0x1_0000_0000)) >>> 0;

const fuzz = suite('decodeFrame fuzz');

fuzz(`returns ok or an error for ${ITERATIONS} random and mutated frames, never throws, and re-encodes what it accepts byte for byte (seed ${SEED})`, () => {
  console.log(`  mesh wire fuzz seed: ${SEED} (replay with MESH_FUZZ_SEED=${SEED})`);
  const rand = prng(SEED);
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

  const nonce = (): Uint8Array => pick([new Uint8Array(0), bytes(32), bytes(MAX_NONCE_BYTES)]);
  const gossip = (): GossipItem[] =>
    Array.from({ length: pick([0, 0, 1, int(4), int(MAX_GOSSIP_ITEMS + 1)]) }, () => ({
      state: int(4) as MemberState, nodeId: id(), address: addr(), incarnation: u64(), from: id(),
    }));
  /** How many message types randomFrame draws from: all of them, so a new type must get a case below. */
  const TYPE_COUNT = Object.keys(MessageType).length;

  function randomFrame(): MeshFrame {
    const head = { version: 1, flags: int(0x10000), requestId: u32() };
    const type = (1 + int(TYPE_COUNT)) as MessageType;
    switch (type) {
      case MessageType.Hello: return { ...head, type, body: { nodeId: id(), address: addr(), incarnation: u64(), nonce: nonce(), proof: nonce() } };
      case MessageType.HelloAck: return { ...head, type, body: { nodeId: id(), address: addr(), incarnation: u64(), nonce: nonce(), proof: nonce() } };
      case MessageType.Ping: return { ...head, type, body: { target: id(), gossip: gossip() } };
      case MessageType.Ack: return { ...head, type, body: { nodeId: id(), gossip: gossip() } };
      case MessageType.PingReq: return { ...head, type, body: { target: id(), address: addr() } };
      case MessageType.Suspect: return { ...head, type, body: { nodeId: id(), incarnation: u64(), from: id() } };
      case MessageType.Alive: return { ...head, type, body: { nodeId: id(), address: addr(), incarnation: u64() } };
      case MessageType.Dead: return { ...head, type, body: { nodeId: id(), incarnation: u64(), from: id() } };
      case MessageType.StateSync: {
        const members = Array.from({ length: int(5) }, () => ({ nodeId: id(), address: addr(), incarnation: u64(), state: int(4) as MemberState }));
        return { ...head, type, body: { members } };
      }
      case MessageType.Leave: return { ...head, type, body: { nodeId: id(), incarnation: u64() } };
      case MessageType.Forward: return { ...head, type, body: { op: (1 + int(4)) as ForwardOp, ttlMs: u32(), valueType: int(256), key: bytes(16), value: bytes(48) } };
      case MessageType.ForwardReply: return { ...head, type, body: { status: int(4) as ForwardStatus, valueType: int(256), ttlMs: u32(), value: bytes(48) } };
      case MessageType.Rebalance: {
        const entries = Array.from({ length: int(4) }, () => ({ key: bytes(8), value: bytes(24), ttlMs: u32(), valueType: int(256) }));
        return { ...head, type, body: { epoch: u64(), entries } };
      }
      case MessageType.RebalanceAck: return { ...head, type, body: { epoch: u64(), stored: u32() } };
      case MessageType.AuthChallenge: return { ...head, type, body: { nonce: nonce() } };
      case MessageType.Nack: return { ...head, type, body: { target: id() } };
      case MessageType.Command: return { ...head, type, body: { resp: 2 + int(2), args: Array.from({ length: int(5) }, () => bytes(12)) } };
      case MessageType.CommandReply: return { ...head, type, body: { reply: bytes(48) } };
      case MessageType.RangeTable: {
        const ranges = Array.from({ length: int(5) }, () => ({ start: bytes(8), owner: id() }));
        return { ...head, type, body: { version: u64(), coordinator: id(), ranges } };
      }
      case MessageType.RangeSplit: return { ...head, type, body: { version: u64(), at: bytes(16) } };
      case MessageType.NodeStats: return { ...head, type, body: { keys: u64(), bytes: u64(), epoch: u64() } };
      case MessageType.HandoffDone: return { ...head, type, body: { digest: u64() } };
      case MessageType.CommandBatch: {
        const commands = Array.from({ length: int(4) }, () => ({ flags: int(0x10000), resp: pick([2, 3]), args: Array.from({ length: int(3) }, () => bytes(8)) }));
        return { ...head, type, body: { commands } };
      }
      case MessageType.CommandBatchReply: return { ...head, type, body: { replies: Array.from({ length: int(4) }, () => bytes(16)) } };
      default: throw new Error(`randomFrame has no case for message type ${type satisfies never}`);
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
  const typesDecoded = new Set<number>();
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
      typesDecoded.add(result.frame.type);
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
  // Every message type was generated and at least once accepted (so each body decoder was reached).
  assert.equal([...typesDecoded].sort((x, y) => x - y), Object.values(MessageType));
  for (const code of ['ERR_MESH_TRUNCATED', 'ERR_MESH_VERSION', 'ERR_MESH_TYPE', 'ERR_MESH_LENGTH', 'ERR_MESH_TRAILING', 'ERR_MESH_UTF8', 'ERR_MESH_BODY']) {
    assert.ok((codes.get(code) ?? 0) > 0, `${code} never produced`);
  }
});

fuzz.run();
