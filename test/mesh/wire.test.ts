import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeFrame,
  encodeFrame,
  MessageType,
  MemberState,
  ForwardOp,
  ForwardStatus,
  HEADER_BYTES,
  MAX_ADDRESS_BYTES,
  MAX_BODY_BYTES,
  MAX_FRAME_BYTES,
  MAX_KEY_BYTES,
  MAX_MEMBERS,
  MAX_NODE_ID_BYTES,
  MAX_PROTOCOL_VERSION,
  MAX_REBALANCE_ENTRIES,
  MAX_VALUE_BYTES,
  MIN_PROTOCOL_VERSION,
  type MeshFrame,
  type DecodeResult,
} from '../../src/mesh/wire.js';

const U64_MAX = (1n << 64n) - 1n;
const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/** One frame of every message type, with edge values (empty and maximal fields, max integers). */
function sampleFrames(): MeshFrame[] {
  const longId = 'n'.repeat(MAX_NODE_ID_BYTES);
  const multiByteId = 'é'.repeat(MAX_NODE_ID_BYTES / 2); // 2 UTF-8 bytes each: exactly at the cap
  const head = { version: 1, flags: 0xffff, requestId: 0xffff_ffff };
  return [
    { ...head, type: MessageType.Hello, body: { nodeId: 'a', address: '', incarnation: 0n } },
    { ...head, type: MessageType.HelloAck, body: { nodeId: longId, address: 'x'.repeat(MAX_ADDRESS_BYTES), incarnation: U64_MAX } },
    { version: 1, flags: 0, requestId: 0, type: MessageType.Ping, body: { target: multiByteId } },
    { ...head, type: MessageType.Ack, body: { nodeId: '节点-🙂' } },
    { ...head, type: MessageType.PingReq, body: { target: 'b', address: 'ws://10.0.0.2:7946/mesh' } },
    { ...head, type: MessageType.Suspect, body: { nodeId: 'c', incarnation: 1n, from: 'd' } },
    { ...head, type: MessageType.Alive, body: { nodeId: 'c', address: '10.0.0.3:7946', incarnation: 2n ** 53n + 1n } },
    { ...head, type: MessageType.Dead, body: { nodeId: 'c', incarnation: U64_MAX, from: longId } },
    { ...head, type: MessageType.StateSync, body: { members: [] } },
    {
      ...head,
      type: MessageType.StateSync,
      body: {
        members: [
          { nodeId: 'a', address: 'h:1', incarnation: 0n, state: MemberState.Alive },
          { nodeId: 'b', address: '', incarnation: U64_MAX, state: MemberState.Suspect },
          { nodeId: 'c', address: 'h:3', incarnation: 7n, state: MemberState.Dead },
          { nodeId: 'd', address: 'h:4', incarnation: 8n, state: MemberState.Left },
        ],
      },
    },
    { ...head, type: MessageType.Leave, body: { nodeId: 'z', incarnation: 42n } },
    { ...head, type: MessageType.Forward, body: { op: ForwardOp.Get, ttlMs: 0, key: new Uint8Array(0), value: new Uint8Array(0) } },
    { ...head, type: MessageType.Forward, body: { op: ForwardOp.Set, ttlMs: 0xffff_ffff, key: b('k\0\r\n'), value: b('v'.repeat(1000)) } },
    { ...head, type: MessageType.Forward, body: { op: ForwardOp.Delete, ttlMs: 5, key: new Uint8Array(MAX_KEY_BYTES).fill(7), value: new Uint8Array(0) } },
    { ...head, type: MessageType.ForwardReply, body: { status: ForwardStatus.Ok, value: b('hello') } },
    { ...head, type: MessageType.ForwardReply, body: { status: ForwardStatus.NotFound, value: new Uint8Array(0) } },
    { ...head, type: MessageType.ForwardReply, body: { status: ForwardStatus.NotOwner, value: new Uint8Array(0) } },
    { ...head, type: MessageType.ForwardReply, body: { status: ForwardStatus.Error, value: b('ERR boom') } },
    { ...head, type: MessageType.Rebalance, body: { epoch: 0n, entries: [] } },
    {
      ...head,
      type: MessageType.Rebalance,
      body: {
        epoch: U64_MAX,
        entries: [
          { key: b('k1'), value: b('v1'), ttlMs: 0 },
          { key: new Uint8Array(0), value: new Uint8Array(0), ttlMs: 0xffff_ffff },
        ],
      },
    },
    { ...head, type: MessageType.RebalanceAck, body: { epoch: 3n, stored: 0xffff_ffff } },
  ];
}

/** Byte fields decode as views; compare them as plain arrays. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function decodeOk(buf: Uint8Array): MeshFrame {
  const r = decodeFrame(buf);
  if (!r.ok) throw new Error(`unexpected decode error ${r.error.code}: ${r.error.message}`);
  return r.frame;
}

function errorOf(buf: Uint8Array): { code: string; closeCode: number } {
  const r: DecodeResult = decodeFrame(buf);
  if (r.ok) throw new Error('expected a decode error');
  assert.type(r.error.message, 'string');
  assert.ok(r.error.message.length > 0);
  return { code: r.error.code, closeCode: r.error.closeCode };
}

/** A frame with a hand-written header and body. */
function raw(version: number, type: number, body: Uint8Array, bodyLength = body.length): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt8(version, 0);
  h.writeUInt8(type, 1);
  h.writeUInt16LE(0, 2);
  h.writeUInt32LE(9, 4);
  h.writeUInt32LE(bodyLength, 8);
  return Buffer.concat([h, body]);
}

const u16 = (n: number): Buffer => { const x = Buffer.alloc(2); x.writeUInt16LE(n); return x; };
const u32 = (n: number): Buffer => { const x = Buffer.alloc(4); x.writeUInt32LE(n); return x; };
const u64 = (n: bigint): Buffer => { const x = Buffer.alloc(8); x.writeBigUInt64LE(n); return x; };
const str = (s: string | Buffer): Buffer => { const x = typeof s === 'string' ? Buffer.from(s) : s; return Buffer.concat([u16(x.length), x]); };

// ---------------------------------------------------------------------------------------------------

const roundTrip = suite('encodeFrame/decodeFrame round trip');

roundTrip('every message type (1..14) has a sample and survives encode → decode → encode', () => {
  const frames = sampleFrames();
  const types = new Set(frames.map((f) => f.type));
  assert.equal([...types].sort((x, y) => x - y), Object.values(MessageType));
  for (const f of frames) {
    const bytes = encodeFrame(f);
    const back = decodeOk(bytes);
    assert.equal(plain(back), plain(f), `type ${f.type}`);
    assert.equal(Buffer.compare(encodeFrame(back), bytes), 0, `re-encode of type ${f.type}`);
  }
});

roundTrip('writes the 12-byte little-endian header: version, type, flags, requestId, body length', () => {
  const bytes = encodeFrame({ version: 1, type: MessageType.Ack, flags: 0x0102, requestId: 0x0a0b0c0d, body: { nodeId: 'ab' } });
  assert.equal(Array.from(bytes), [1, 4, 0x02, 0x01, 0x0d, 0x0c, 0x0b, 0x0a, 4, 0, 0, 0, 2, 0, 0x61, 0x62]);
});

roundTrip('defaults version to the current protocol and flags and requestId to 0', () => {
  const f = decodeOk(encodeFrame({ type: MessageType.Ping, body: { target: 'x' } }));
  assert.is(f.version, 1);
  assert.is(f.flags, 0);
  assert.is(f.requestId, 0);
});

roundTrip('message type numbers are the stable, append-only values 1..14', () => {
  assert.equal(MessageType, {
    Hello: 1, HelloAck: 2, Ping: 3, Ack: 4, PingReq: 5, Suspect: 6, Alive: 7, Dead: 8, StateSync: 9, Leave: 10,
    Forward: 11, ForwardReply: 12, Rebalance: 13, RebalanceAck: 14,
  });
  assert.ok(MIN_PROTOCOL_VERSION <= 1 && 1 <= MAX_PROTOCOL_VERSION);
});

roundTrip('carries a 1 MiB value in a Forward without change', () => {
  const value = new Uint8Array(1024 * 1024).map((_, i) => i * 31);
  const f = decodeOk(encodeFrame({ type: MessageType.Forward, body: { op: ForwardOp.Set, ttlMs: 1000, key: b('big'), value } }));
  assert.ok(f.type === MessageType.Forward);
  assert.equal(Buffer.compare(Buffer.from(f.body.value), Buffer.from(value)), 0);
});

// ---------------------------------------------------------------------------------------------------

const errors = suite('decodeFrame errors');

errors('ERR_MESH_TRUNCATED (1002) for an 11-byte header, a short body, and a field past the body', () => {
  const good = encodeFrame({ type: MessageType.Ack, body: { nodeId: 'abc' } });
  assert.equal(errorOf(good.subarray(0, 11)), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  assert.equal(errorOf(new Uint8Array(0)), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  assert.equal(errorOf(good.subarray(0, good.length - 1)), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  // the body length agrees with the frame, but the node id claims 10 bytes and only 3 follow
  assert.equal(errorOf(raw(1, MessageType.Ack, Buffer.concat([u16(10), Buffer.from('abc')]))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  // a RebalanceAck with 4 of its 12 bytes
  assert.equal(errorOf(raw(1, MessageType.RebalanceAck, u32(1))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
});

errors('ERR_MESH_TRUNCATED when a member count needs more bytes than the body has, before allocating', () => {
  assert.equal(errorOf(raw(1, MessageType.StateSync, u16(MAX_MEMBERS))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
});

errors('ERR_MESH_VERSION (1003) for versions 0 and MAX + 1', () => {
  const body = str('a');
  assert.equal(errorOf(raw(0, MessageType.Ack, body)), { code: 'ERR_MESH_VERSION', closeCode: 1003 });
  assert.equal(errorOf(raw(MAX_PROTOCOL_VERSION + 1, MessageType.Ack, body)), { code: 'ERR_MESH_VERSION', closeCode: 1003 });
});

errors('ERR_MESH_TYPE (1003) for types 0, 15 and 255', () => {
  for (const t of [0, 15, 255]) assert.equal(errorOf(raw(1, t, str('a'))), { code: 'ERR_MESH_TYPE', closeCode: 1003 });
});

errors('ERR_MESH_LENGTH (1009) for a body length over MAX_BODY_BYTES, before reading the body', () => {
  assert.equal(errorOf(raw(1, MessageType.Ack, str('a'), MAX_BODY_BYTES + 1)), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  assert.equal(errorOf(raw(1, MessageType.Ack, str('a'), 0xffff_ffff)), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
});

errors('ERR_MESH_LENGTH for a node id of MAX_NODE_ID_BYTES + 1, an address of MAX_ADDRESS_BYTES + 1, and a value over MAX_VALUE_BYTES', () => {
  assert.equal(errorOf(raw(1, MessageType.Ack, str('n'.repeat(MAX_NODE_ID_BYTES + 1)))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  assert.equal(errorOf(raw(1, MessageType.PingReq, Buffer.concat([str('t'), str('a'.repeat(MAX_ADDRESS_BYTES + 1))]))), {
    code: 'ERR_MESH_LENGTH',
    closeCode: 1009,
  });
  // the value length is checked against its cap before the (absent) bytes are looked for
  assert.equal(errorOf(raw(1, MessageType.ForwardReply, Buffer.concat([Buffer.from([0]), u32(MAX_VALUE_BYTES + 1)]))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
});

errors('ERR_MESH_LENGTH for member and entry counts over their caps', () => {
  assert.equal(errorOf(raw(1, MessageType.StateSync, u16(MAX_MEMBERS + 1))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  assert.equal(errorOf(raw(1, MessageType.Rebalance, Buffer.concat([u64(1n), u16(MAX_REBALANCE_ENTRIES + 1)]))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
});

errors('ERR_MESH_LENGTH for a whole frame over MAX_FRAME_BYTES', () => {
  assert.equal(errorOf(new Uint8Array(MAX_FRAME_BYTES + 1)), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
});

errors('ERR_MESH_TRAILING (1002) for a byte after the body, and for a body longer than its fields', () => {
  const good = encodeFrame({ type: MessageType.Ack, body: { nodeId: 'abc' } });
  assert.equal(errorOf(Buffer.concat([good, Buffer.from([0])])), { code: 'ERR_MESH_TRAILING', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.Ack, Buffer.concat([str('abc'), Buffer.from([0])]))), { code: 'ERR_MESH_TRAILING', closeCode: 1002 });
});

errors('ERR_MESH_UTF8 (1007) for a node id that is not valid UTF-8', () => {
  assert.equal(errorOf(raw(1, MessageType.Ack, str(Buffer.from([0xc3, 0x28])))), { code: 'ERR_MESH_UTF8', closeCode: 1007 });
  assert.equal(errorOf(raw(1, MessageType.Ack, str(Buffer.from([0xed, 0xa0, 0x80])))), { code: 'ERR_MESH_UTF8', closeCode: 1007 }); // a surrogate
});

errors('ERR_MESH_BODY (1002) for an empty node id and unknown member state, forward op and status', () => {
  assert.equal(errorOf(raw(1, MessageType.Ack, str(''))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  const member = (state: number) => Buffer.concat([u16(1), str('a'), str(''), u64(0n), Buffer.from([state])]);
  assert.equal(errorOf(raw(1, MessageType.StateSync, member(4))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  assert.ok(decodeFrame(raw(1, MessageType.StateSync, member(3))).ok);
  const fwd = (op: number) => Buffer.concat([Buffer.from([op]), u32(0), u16(0), u32(0)]);
  assert.equal(errorOf(raw(1, MessageType.Forward, fwd(0))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.Forward, fwd(4))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.ForwardReply, Buffer.concat([Buffer.from([4]), u32(0)]))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
});

errors('reads a frame at a non-zero offset of a larger ArrayBuffer', () => {
  const bytes = encodeFrame({ type: MessageType.Leave, body: { nodeId: 'q', incarnation: 9n } });
  const big = new Uint8Array(bytes.length + 5);
  big.set(bytes, 3);
  const f = decodeOk(big.subarray(3, 3 + bytes.length));
  assert.equal(plain(f.body), { nodeId: 'q', incarnation: 9n });
});

// ---------------------------------------------------------------------------------------------------

const validation = suite('encodeFrame input validation');

validation('throws TypeError for fields of the wrong type', () => {
  assert.throws(() => encodeFrame(null as never), TypeError);
  assert.throws(() => encodeFrame({ type: '1', body: {} } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: 5 } } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.Leave, body: { nodeId: 'a', incarnation: 1 } } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.Forward, body: { op: 1, ttlMs: 0, key: 'k', value: new Uint8Array(0) } } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.StateSync, body: { members: {} } } as never), TypeError);
});

validation('throws RangeError for out-of-range values', () => {
  assert.throws(() => encodeFrame({ version: 0, type: MessageType.Ack, body: { nodeId: 'a' } }), RangeError);
  assert.throws(() => encodeFrame({ version: MAX_PROTOCOL_VERSION + 1, type: MessageType.Ack, body: { nodeId: 'a' } }), RangeError);
  assert.throws(() => encodeFrame({ type: 15, body: {} } as never), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, flags: 0x10000, body: { nodeId: 'a' } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, requestId: -1, body: { nodeId: 'a' } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, requestId: 1.5, body: { nodeId: 'a' } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: '' } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: 'n'.repeat(MAX_NODE_ID_BYTES + 1) } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: 'é'.repeat(MAX_NODE_ID_BYTES / 2 + 1) } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: 'a\ud800' } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Leave, body: { nodeId: 'a', incarnation: -1n } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Leave, body: { nodeId: 'a', incarnation: U64_MAX + 1n } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Forward, body: { op: 9 as never, ttlMs: 0, key: new Uint8Array(0), value: new Uint8Array(0) } }), RangeError);
  assert.throws(
    () => encodeFrame({ type: MessageType.Forward, body: { op: ForwardOp.Get, ttlMs: 0, key: new Uint8Array(MAX_KEY_BYTES + 1), value: new Uint8Array(0) } }),
    RangeError,
  );
  assert.throws(() => encodeFrame({ type: MessageType.StateSync, body: { members: new Array(MAX_MEMBERS + 1).fill(null) } }), RangeError);
});

validation('throws RangeError for a value over MAX_VALUE_BYTES', () => {
  assert.throws(() => encodeFrame({ type: MessageType.ForwardReply, body: { status: ForwardStatus.Ok, value: new Uint8Array(MAX_VALUE_BYTES + 1) } }), RangeError);
});

roundTrip.run();
errors.run();
validation.run();
