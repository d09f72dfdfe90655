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
  MAX_NONCE_BYTES,
  MAX_GOSSIP_ITEMS,
  MAX_COMMAND_ARGS,
  MAX_RANGES,
  MIN_PROTOCOL_VERSION,
  FrameFlag,
  type GossipItem,
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
  const none = new Uint8Array(0);
  const maxNonce = new Uint8Array(MAX_NONCE_BYTES).map((_, i) => i * 7);
  const gossip = (i: number): GossipItem => ({
    state: (i % 4) as MemberState, nodeId: `g${i}`, address: i % 2 === 0 ? '' : `10.0.0.${i}:7380`, incarnation: i === 0 ? U64_MAX : BigInt(i), from: 'f',
  });
  return [
    { ...head, type: MessageType.Hello, body: { nodeId: 'a', address: '', incarnation: 0n, nonce: none, proof: none } },
    { ...head, type: MessageType.Hello, body: { nodeId: 'a', address: '127.0.0.1:7380', incarnation: 1n, nonce: b('n'.repeat(32)), proof: maxNonce } },
    { ...head, type: MessageType.HelloAck, body: { nodeId: longId, address: 'x'.repeat(MAX_ADDRESS_BYTES), incarnation: U64_MAX, nonce: maxNonce, proof: maxNonce } },
    { ...head, type: MessageType.HelloAck, body: { nodeId: 'b', address: 'h:1', incarnation: 0n, nonce: none, proof: b('p'.repeat(32)) } },
    { version: 1, flags: 0, requestId: 0, type: MessageType.Ping, body: { target: multiByteId, gossip: [] } },
    { ...head, type: MessageType.Ping, body: { target: 't', gossip: Array.from({ length: MAX_GOSSIP_ITEMS }, (_, i) => gossip(i)) } },
    { ...head, type: MessageType.Ack, body: { nodeId: '节点-🙂', gossip: [] } },
    { ...head, type: MessageType.Ack, body: { nodeId: 'a', gossip: [gossip(0), { state: MemberState.Left, nodeId: longId, address: 'x'.repeat(MAX_ADDRESS_BYTES), incarnation: 0n, from: longId }] } },
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
    { ...head, type: MessageType.Forward, body: { op: ForwardOp.Get, ttlMs: 0, valueType: 0, key: none, value: none } },
    { ...head, type: MessageType.Forward, body: { op: ForwardOp.Set, ttlMs: 0xffff_ffff, valueType: 0xff, key: b('k\0\r\n'), value: b('v'.repeat(1000)) } },
    { ...head, type: MessageType.Forward, body: { op: ForwardOp.Delete, ttlMs: 5, valueType: 1, key: new Uint8Array(MAX_KEY_BYTES).fill(7), value: none } },
    { ...head, type: MessageType.Forward, body: { op: ForwardOp.Has, ttlMs: 0, valueType: 0, key: b('k'), value: none } },
    { ...head, type: MessageType.ForwardReply, body: { status: ForwardStatus.Ok, valueType: 0xff, ttlMs: 0xffff_ffff, value: b('hello') } },
    { ...head, type: MessageType.ForwardReply, body: { status: ForwardStatus.NotFound, valueType: 0, ttlMs: 0, value: none } },
    { ...head, type: MessageType.ForwardReply, body: { status: ForwardStatus.NotOwner, valueType: 0, ttlMs: 0, value: none } },
    { ...head, type: MessageType.ForwardReply, body: { status: ForwardStatus.Error, valueType: 2, ttlMs: 1, value: b('ERR boom') } },
    { ...head, type: MessageType.Rebalance, body: { epoch: 0n, entries: [] } },
    {
      ...head,
      type: MessageType.Rebalance,
      body: {
        epoch: U64_MAX,
        entries: [
          { key: b('k1'), value: b('v1'), ttlMs: 0, valueType: 0 },
          { key: none, value: none, ttlMs: 0xffff_ffff, valueType: 0xff },
        ],
      },
    },
    { ...head, type: MessageType.RebalanceAck, body: { epoch: 3n, stored: 0xffff_ffff } },
    { ...head, type: MessageType.AuthChallenge, body: { nonce: none } },
    { ...head, type: MessageType.AuthChallenge, body: { nonce: maxNonce } },
    { ...head, type: MessageType.Nack, body: { target: longId } },
    { ...head, type: MessageType.Command, body: { resp: 2, args: [] } },
    { ...head, type: MessageType.Command, body: { resp: 3, args: [b('SET'), none, b('v\r\n'.repeat(100))] } },
    { ...head, type: MessageType.CommandReply, body: { reply: none } },
    { ...head, type: MessageType.CommandReply, body: { reply: b('+OK\r\n') } },
    { ...head, type: MessageType.RangeTable, body: { version: 0n, coordinator: 'c', ranges: [] } },
    {
      ...head,
      type: MessageType.RangeTable,
      body: { version: U64_MAX, coordinator: longId, ranges: [{ start: none, owner: 'a' }, { start: b('m'), owner: longId }, { start: new Uint8Array(MAX_KEY_BYTES).fill(0xff), owner: 'é' }] },
    },
    { ...head, type: MessageType.RangeSplit, body: { version: 1n, at: none } },
    { ...head, type: MessageType.RangeSplit, body: { version: U64_MAX, at: new Uint8Array(MAX_KEY_BYTES).fill(1) } },
    { ...head, type: MessageType.NodeStats, body: { keys: 0n, bytes: 0n, epoch: 0n } },
    { ...head, type: MessageType.NodeStats, body: { keys: U64_MAX, bytes: 2n ** 40n, epoch: U64_MAX } },
    { ...head, type: MessageType.HandoffDone, body: { digest: 0n } },
    { ...head, type: MessageType.HandoffDone, body: { digest: U64_MAX } },
    { ...head, type: MessageType.CommandBatch, body: { commands: [] } },
    {
      ...head,
      type: MessageType.CommandBatch,
      body: { commands: [{ flags: 0, resp: 2, args: [b('GET'), b('k')] }, { flags: 0xffff, resp: 3, args: [] }] },
    },
    { ...head, type: MessageType.CommandBatchReply, body: { replies: [] } },
    { ...head, type: MessageType.CommandBatchReply, body: { replies: [b('+OK\r\n'), new Uint8Array(0), b('$-1\r\n')] } },
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

roundTrip('every message type (1..24) has a sample and survives encode → decode → encode', () => {
  const frames = sampleFrames();
  const types = new Set(frames.map((f) => f.type));
  assert.equal([...types].sort((x, y) => x - y), Object.values(MessageType));
  assert.is(types.size, 24);
  for (const f of frames) {
    const bytes = encodeFrame(f);
    const back = decodeOk(bytes);
    assert.equal(plain(back), plain(f), `type ${f.type}`);
    assert.equal(Buffer.compare(encodeFrame(back), bytes), 0, `re-encode of type ${f.type}`);
  }
});

roundTrip('writes the 12-byte little-endian header: version, type, flags, requestId, body length', () => {
  const bytes = encodeFrame({ version: 1, type: MessageType.Ack, flags: 0x0102, requestId: 0x0a0b0c0d, body: { nodeId: 'ab', gossip: [] } });
  assert.equal(Array.from(bytes), [1, 4, 0x02, 0x01, 0x0d, 0x0c, 0x0b, 0x0a, 6, 0, 0, 0, 2, 0, 0x61, 0x62, 0, 0]);
});

roundTrip('writes Hello as id, address, incarnation, then the u16-prefixed nonce and proof', () => {
  const bytes = encodeFrame({ type: MessageType.Hello, body: { nodeId: 'a', address: 'h', incarnation: 1n, nonce: b('NN'), proof: b('P') } });
  assert.equal(Array.from(bytes.subarray(HEADER_BYTES)), [1, 0, 0x61, 1, 0, 0x68, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x4e, 0x4e, 1, 0, 0x50]);
});

roundTrip('defaults version to the current protocol and flags and requestId to 0', () => {
  const f = decodeOk(encodeFrame({ type: MessageType.Ping, body: { target: 'x', gossip: [] } }));
  assert.is(f.version, 1);
  assert.is(f.flags, 0);
  assert.is(f.requestId, 0);
});

roundTrip('carries the NoReroute flag bit (1) and other flag bits unchanged', () => {
  assert.is(FrameFlag.NoReroute, 1);
  const f = decodeOk(encodeFrame({ type: MessageType.Command, flags: FrameFlag.NoReroute | 0x8000, body: { resp: 2, args: [b('GET'), b('k')] } }));
  assert.is(f.flags, 0x8001);
});

roundTrip('message type numbers are the stable, append-only values 1..21', () => {
  assert.equal(MessageType, {
    Hello: 1, HelloAck: 2, Ping: 3, Ack: 4, PingReq: 5, Suspect: 6, Alive: 7, Dead: 8, StateSync: 9, Leave: 10,
    Forward: 11, ForwardReply: 12, Rebalance: 13, RebalanceAck: 14, AuthChallenge: 15, Nack: 16, Command: 17,
    CommandReply: 18, RangeTable: 19, RangeSplit: 20, NodeStats: 21, HandoffDone: 22, CommandBatch: 23,
    CommandBatchReply: 24,
  });
  assert.equal(ForwardOp, { Get: 1, Set: 2, Delete: 3, Has: 4 });
  assert.equal(ForwardStatus, { Ok: 0, NotFound: 1, NotOwner: 2, Error: 3 });
  assert.equal(MemberState, { Alive: 0, Suspect: 1, Dead: 2, Left: 3 });
  assert.ok(MIN_PROTOCOL_VERSION <= 1 && 1 <= MAX_PROTOCOL_VERSION);
});

roundTrip('carries a 1 MiB value in a Forward without change', () => {
  const value = new Uint8Array(1024 * 1024).map((_, i) => i * 31);
  const f = decodeOk(encodeFrame({ type: MessageType.Forward, body: { op: ForwardOp.Set, ttlMs: 1000, valueType: 3, key: b('big'), value } }));
  assert.ok(f.type === MessageType.Forward);
  assert.is(f.body.valueType, 3);
  assert.equal(Buffer.compare(Buffer.from(f.body.value), Buffer.from(value)), 0);
});

roundTrip(`carries the maximal counts: ${MAX_COMMAND_ARGS} command args and ${MAX_RANGES} ranges`, () => {
  const none = new Uint8Array(0);
  const cmd = decodeOk(encodeFrame({ type: MessageType.Command, body: { resp: 3, args: new Array(MAX_COMMAND_ARGS).fill(none) } }));
  assert.ok(cmd.type === MessageType.Command);
  assert.is(cmd.body.args.length, MAX_COMMAND_ARGS);
  const ranges = Array.from({ length: MAX_RANGES }, (_, i) => ({ start: i === 0 ? none : u32(i), owner: 'o' }));
  const bytes = encodeFrame({ type: MessageType.RangeTable, body: { version: 2n, coordinator: 'c', ranges } });
  const table = decodeOk(bytes);
  assert.ok(table.type === MessageType.RangeTable);
  assert.is(table.body.ranges.length, MAX_RANGES);
  assert.equal(Array.from(table.body.ranges[MAX_RANGES - 1].start), Array.from(u32(MAX_RANGES - 1)));
  assert.equal(Buffer.compare(encodeFrame(table), bytes), 0);
});

// ---------------------------------------------------------------------------------------------------

const errors = suite('decodeFrame errors');

/** A valid Ack body: the id, then an empty gossip list. */
const ack = (id: string | Buffer): Buffer => Buffer.concat([str(id), u16(0)]);
/** One encoded gossip item. */
const gossipItem = (state: number, id: string, from: string): Buffer => Buffer.concat([Buffer.from([state]), str(id), str(''), u64(0n), str(from)]);
/** A Hello body with the given nonce and proof lengths (and that many bytes). */
const hello = (nonceBytes: number, proofBytes: number): Buffer =>
  Buffer.concat([str('a'), str(''), u64(0n), u16(nonceBytes), Buffer.alloc(nonceBytes), u16(proofBytes), Buffer.alloc(proofBytes)]);

errors('ERR_MESH_TRUNCATED (1002) for an 11-byte header, a short body, and a field past the body', () => {
  const good = encodeFrame({ type: MessageType.Ack, body: { nodeId: 'abc', gossip: [] } });
  assert.equal(errorOf(good.subarray(0, 11)), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  assert.equal(errorOf(new Uint8Array(0)), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  assert.equal(errorOf(good.subarray(0, good.length - 1)), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  // the body length agrees with the frame, but the node id claims 10 bytes and only 3 follow
  assert.equal(errorOf(raw(1, MessageType.Ack, Buffer.concat([u16(10), Buffer.from('abc')]))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  // an Ack without its gossip count
  assert.equal(errorOf(raw(1, MessageType.Ack, str('abc'))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  // a Hello that stops before its proof
  assert.equal(errorOf(raw(1, MessageType.Hello, hello(4, 0).subarray(0, -2))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  // a RebalanceAck with 4 of its 12 bytes
  assert.equal(errorOf(raw(1, MessageType.RebalanceAck, u32(1))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  // a NodeStats with 23 of its 24 bytes, and a ForwardReply that stops inside its ttlMs
  assert.equal(errorOf(raw(1, MessageType.NodeStats, Buffer.alloc(23))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.ForwardReply, Buffer.from([0, 0, 1, 2]))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
});

errors('ERR_MESH_TRUNCATED when a count needs more bytes than the body has, before allocating', () => {
  assert.equal(errorOf(raw(1, MessageType.StateSync, u16(MAX_MEMBERS))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.Ping, Buffer.concat([str('t'), u16(MAX_GOSSIP_ITEMS)]))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.Command, Buffer.concat([Buffer.from([2]), u16(MAX_COMMAND_ARGS)]))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.RangeTable, Buffer.concat([u64(1n), str('c'), u16(MAX_RANGES)]))), { code: 'ERR_MESH_TRUNCATED', closeCode: 1002 });
});

errors('a list count is refused by its byte pre-check, before any item is read or allocated (4096 members in a 10-byte body)', () => {
  const r = decodeFrame(raw(1, MessageType.StateSync, Buffer.concat([u16(4096), Buffer.alloc(8)])));
  assert.not.ok(r.ok);
  if (r.ok) return;
  assert.is(r.error.code, 'ERR_MESH_TRUNCATED');
  assert.match(r.error.message, /^4096 members need at least \d+ bytes, 8 left$/);
});

errors('a frame of exactly MAX_FRAME_BYTES passes the length checks (its body is then read), one byte more is ERR_MESH_LENGTH', () => {
  const body = Buffer.concat([ack('a'), Buffer.alloc(MAX_BODY_BYTES - ack('a').length)]); // a valid Ack, then padding
  const atMax = decodeFrame(raw(1, MessageType.Ack, body));
  assert.is(raw(1, MessageType.Ack, body).length, MAX_FRAME_BYTES);
  assert.not.ok(atMax.ok);
  if (!atMax.ok) assert.is(atMax.error.code, 'ERR_MESH_TRAILING', 'the body decoder ran: the length was accepted');
  const over = decodeFrame(raw(1, MessageType.Ack, Buffer.alloc(MAX_BODY_BYTES + 1)));
  assert.not.ok(over.ok);
  if (!over.ok) assert.is(over.error.code, 'ERR_MESH_LENGTH');
});

errors('decodeFrame never throws, even for an argument that is not bytes: ERR_MESH_BODY', () => {
  for (const notBytes of ['frame', 42, null, undefined, {}, [1, 2, 3]]) {
    const r = decodeFrame(notBytes as never);
    assert.not.ok(r.ok);
    if (!r.ok) assert.is(r.error.code, 'ERR_MESH_BODY', `for ${JSON.stringify(notBytes)}`);
  }
});

errors('ERR_MESH_VERSION (1003) for versions 0 and MAX + 1', () => {
  const body = ack('a');
  assert.equal(errorOf(raw(0, MessageType.Ack, body)), { code: 'ERR_MESH_VERSION', closeCode: 1003 });
  assert.equal(errorOf(raw(MAX_PROTOCOL_VERSION + 1, MessageType.Ack, body)), { code: 'ERR_MESH_VERSION', closeCode: 1003 });
});

errors('ERR_MESH_TYPE (1003) for types 0, 25 (one past CommandBatchReply) and 255', () => {
  for (const t of [0, 25, 255]) assert.equal(errorOf(raw(1, t, ack('a'))), { code: 'ERR_MESH_TYPE', closeCode: 1003 });
});

errors('ERR_MESH_LENGTH (1009) for a body length over MAX_BODY_BYTES, before reading the body', () => {
  assert.equal(errorOf(raw(1, MessageType.Ack, ack('a'), MAX_BODY_BYTES + 1)), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  assert.equal(errorOf(raw(1, MessageType.Ack, ack('a'), 0xffff_ffff)), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
});

errors('ERR_MESH_LENGTH for a node id of MAX_NODE_ID_BYTES + 1, an address of MAX_ADDRESS_BYTES + 1, and a value over MAX_VALUE_BYTES', () => {
  assert.equal(errorOf(raw(1, MessageType.Ack, ack('n'.repeat(MAX_NODE_ID_BYTES + 1)))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  assert.equal(errorOf(raw(1, MessageType.PingReq, Buffer.concat([str('t'), str('a'.repeat(MAX_ADDRESS_BYTES + 1))]))), {
    code: 'ERR_MESH_LENGTH',
    closeCode: 1009,
  });
  // the value length is checked against its cap before the (absent) bytes are looked for
  assert.equal(errorOf(raw(1, MessageType.ForwardReply, Buffer.concat([Buffer.from([0, 0]), u32(0), u32(MAX_VALUE_BYTES + 1)]))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
});

errors(`ERR_MESH_LENGTH for a nonce or proof of MAX_NONCE_BYTES + 1 (${MAX_NONCE_BYTES + 1}) bytes, in Hello, HelloAck and AuthChallenge`, () => {
  assert.ok(decodeFrame(raw(1, MessageType.Hello, hello(MAX_NONCE_BYTES, MAX_NONCE_BYTES))).ok);
  assert.equal(errorOf(raw(1, MessageType.Hello, hello(MAX_NONCE_BYTES + 1, 0))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  assert.equal(errorOf(raw(1, MessageType.Hello, hello(0, MAX_NONCE_BYTES + 1))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  assert.equal(errorOf(raw(1, MessageType.HelloAck, hello(0, MAX_NONCE_BYTES + 1))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  // the cap is checked before the bytes are looked for: a huge claimed nonce with nothing after it
  assert.equal(errorOf(raw(1, MessageType.AuthChallenge, u16(0xffff))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  assert.equal(errorOf(raw(1, MessageType.AuthChallenge, Buffer.concat([u16(MAX_NONCE_BYTES + 1), Buffer.alloc(MAX_NONCE_BYTES + 1)]))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
});

errors('ERR_MESH_LENGTH for member, entry and gossip counts over their caps', () => {
  assert.equal(errorOf(raw(1, MessageType.StateSync, u16(MAX_MEMBERS + 1))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  assert.equal(errorOf(raw(1, MessageType.Rebalance, Buffer.concat([u64(1n), u16(MAX_REBALANCE_ENTRIES + 1)]))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  const items = (n: number) => Buffer.concat([u16(n), ...Array.from({ length: n }, () => gossipItem(0, 'g', 'f'))]);
  assert.ok(decodeFrame(raw(1, MessageType.Ping, Buffer.concat([str('t'), items(MAX_GOSSIP_ITEMS)]))).ok);
  assert.equal(errorOf(raw(1, MessageType.Ping, Buffer.concat([str('t'), items(MAX_GOSSIP_ITEMS + 1)]))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  assert.equal(errorOf(raw(1, MessageType.Ack, Buffer.concat([str('a'), items(MAX_GOSSIP_ITEMS + 1)]))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
});

errors('ERR_MESH_LENGTH for a command arg over MAX_VALUE_BYTES and a reply over the body cap', () => {
  assert.equal(errorOf(raw(1, MessageType.Command, Buffer.concat([Buffer.from([2]), u16(1), u32(MAX_VALUE_BYTES + 1)]))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
  assert.equal(errorOf(raw(1, MessageType.CommandReply, u32(MAX_BODY_BYTES - 3))), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
});

errors('ERR_MESH_LENGTH for a whole frame over MAX_FRAME_BYTES', () => {
  assert.equal(errorOf(new Uint8Array(MAX_FRAME_BYTES + 1)), { code: 'ERR_MESH_LENGTH', closeCode: 1009 });
});

errors('ERR_MESH_TRAILING (1002) for a byte after the body, and for a body longer than its fields', () => {
  const good = encodeFrame({ type: MessageType.Ack, body: { nodeId: 'abc', gossip: [] } });
  assert.equal(errorOf(Buffer.concat([good, Buffer.from([0])])), { code: 'ERR_MESH_TRAILING', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.Ack, Buffer.concat([ack('abc'), Buffer.from([0])]))), { code: 'ERR_MESH_TRAILING', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.RangeSplit, Buffer.concat([u64(1n), str('k'), Buffer.from([0])]))), { code: 'ERR_MESH_TRAILING', closeCode: 1002 });
});

errors('ERR_MESH_UTF8 (1007) for a node id that is not valid UTF-8, also inside gossip and range tables', () => {
  assert.equal(errorOf(raw(1, MessageType.Ack, ack(Buffer.from([0xc3, 0x28])))), { code: 'ERR_MESH_UTF8', closeCode: 1007 });
  assert.equal(errorOf(raw(1, MessageType.Ack, ack(Buffer.from([0xed, 0xa0, 0x80])))), { code: 'ERR_MESH_UTF8', closeCode: 1007 }); // a surrogate
  const badGossip = Buffer.concat([Buffer.from([0]), str('g'), str(Buffer.from([0xff])), u64(0n), str('f')]);
  assert.equal(errorOf(raw(1, MessageType.Ping, Buffer.concat([str('t'), u16(1), badGossip]))), { code: 'ERR_MESH_UTF8', closeCode: 1007 });
  assert.equal(errorOf(raw(1, MessageType.RangeTable, Buffer.concat([u64(0n), str('c'), u16(1), str(''), str(Buffer.from([0x80]))]))), { code: 'ERR_MESH_UTF8', closeCode: 1007 });
});

errors('ERR_MESH_BODY (1002) for an empty node id and unknown member state, forward op and status', () => {
  assert.equal(errorOf(raw(1, MessageType.Ack, ack(''))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  const member = (state: number) => Buffer.concat([u16(1), str('a'), str(''), u64(0n), Buffer.from([state])]);
  assert.equal(errorOf(raw(1, MessageType.StateSync, member(4))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  assert.ok(decodeFrame(raw(1, MessageType.StateSync, member(3))).ok);
  const fwd = (op: number) => Buffer.concat([Buffer.from([op]), u32(0), Buffer.from([0]), u16(0), u32(0)]);
  assert.equal(errorOf(raw(1, MessageType.Forward, fwd(0))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  assert.ok(decodeFrame(raw(1, MessageType.Forward, fwd(ForwardOp.Has))).ok);
  assert.equal(errorOf(raw(1, MessageType.Forward, fwd(5))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.ForwardReply, Buffer.concat([Buffer.from([4, 0]), u32(0), u32(0)]))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
});

errors('ERR_MESH_BODY for an unknown gossip state, empty gossip ids, an empty Nack target, resp other than 2/3 and an empty range owner', () => {
  const ping = (item: Buffer) => raw(1, MessageType.Ping, Buffer.concat([str('t'), u16(1), item]));
  assert.ok(decodeFrame(ping(gossipItem(3, 'g', 'f'))).ok);
  assert.equal(errorOf(ping(gossipItem(4, 'g', 'f'))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  assert.equal(errorOf(ping(gossipItem(0, '', 'ff'))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  assert.equal(errorOf(ping(gossipItem(0, 'gg', ''))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.Nack, str(''))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  for (const resp of [0, 1, 4, 255]) {
    assert.equal(errorOf(raw(1, MessageType.Command, Buffer.concat([Buffer.from([resp]), u16(0)]))), { code: 'ERR_MESH_BODY', closeCode: 1002 }, `resp ${resp}`);
  }
  assert.equal(errorOf(raw(1, MessageType.RangeTable, Buffer.concat([u64(0n), str(''), u16(0)]))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
  assert.equal(errorOf(raw(1, MessageType.RangeTable, Buffer.concat([u64(0n), str('c'), u16(1), str('k'), str('')]))), { code: 'ERR_MESH_BODY', closeCode: 1002 });
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
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: 5, gossip: [] } } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: 'a' } } as never), TypeError); // gossip missing
  assert.throws(() => encodeFrame({ type: MessageType.Ping, body: { target: 'a', gossip: [null] } } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.Leave, body: { nodeId: 'a', incarnation: 1 } } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.Forward, body: { op: 1, ttlMs: 0, valueType: 0, key: 'k', value: new Uint8Array(0) } } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.Forward, body: { op: 1, ttlMs: 0, key: new Uint8Array(0), value: new Uint8Array(0) } } as never), TypeError); // valueType missing
  assert.throws(() => encodeFrame({ type: MessageType.StateSync, body: { members: {} } } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.Hello, body: { nodeId: 'a', address: '', incarnation: 0n, nonce: 'n', proof: new Uint8Array(0) } } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.AuthChallenge, body: {} } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.Command, body: { resp: 2, args: ['GET'] } } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.RangeTable, body: { version: 0n, coordinator: 'c', ranges: [{ start: 'a', owner: 'o' }] } } as never), TypeError);
  assert.throws(() => encodeFrame({ type: MessageType.ForwardReply, body: { status: 0, valueType: 0, value: new Uint8Array(0) } } as never), TypeError); // ttlMs missing
  assert.throws(() => encodeFrame({ type: MessageType.NodeStats, body: { keys: 1, bytes: 0n, epoch: 0n } } as never), TypeError);
});

validation('throws RangeError for out-of-range values', () => {
  const none = new Uint8Array(0);
  assert.throws(() => encodeFrame({ version: 0, type: MessageType.Ack, body: { nodeId: 'a', gossip: [] } }), RangeError);
  assert.throws(() => encodeFrame({ version: MAX_PROTOCOL_VERSION + 1, type: MessageType.Ack, body: { nodeId: 'a', gossip: [] } }), RangeError);
  assert.throws(() => encodeFrame({ type: 22, body: {} } as never), RangeError);
  assert.throws(() => encodeFrame({ type: 0, body: {} } as never), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, flags: 0x10000, body: { nodeId: 'a', gossip: [] } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, requestId: -1, body: { nodeId: 'a', gossip: [] } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, requestId: 1.5, body: { nodeId: 'a', gossip: [] } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: '', gossip: [] } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: 'n'.repeat(MAX_NODE_ID_BYTES + 1), gossip: [] } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: 'é'.repeat(MAX_NODE_ID_BYTES / 2 + 1), gossip: [] } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: 'a\ud800', gossip: [] } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Leave, body: { nodeId: 'a', incarnation: -1n } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Leave, body: { nodeId: 'a', incarnation: U64_MAX + 1n } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Forward, body: { op: 9 as never, ttlMs: 0, valueType: 0, key: none, value: none } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Forward, body: { op: ForwardOp.Get, ttlMs: 0, valueType: 256, key: none, value: none } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.ForwardReply, body: { status: ForwardStatus.Ok, valueType: -1, ttlMs: 0, value: none } }), RangeError);
  assert.throws(
    () => encodeFrame({ type: MessageType.Forward, body: { op: ForwardOp.Get, ttlMs: 0, valueType: 0, key: new Uint8Array(MAX_KEY_BYTES + 1), value: none } }),
    RangeError,
  );
  assert.throws(() => encodeFrame({ type: MessageType.StateSync, body: { members: new Array(MAX_MEMBERS + 1).fill(null) } }), RangeError);
});

validation(`throws RangeError past the new caps: nonce/proof over ${MAX_NONCE_BYTES} bytes, over ${MAX_GOSSIP_ITEMS} gossip items, resp other than 2/3`, () => {
  const none = new Uint8Array(0);
  const big = new Uint8Array(MAX_NONCE_BYTES + 1);
  const helloWith = (nonce: Uint8Array, proof: Uint8Array) => () =>
    encodeFrame({ type: MessageType.Hello, body: { nodeId: 'a', address: '', incarnation: 0n, nonce, proof } });
  assert.throws(helloWith(big, none), RangeError);
  assert.throws(helloWith(none, big), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.AuthChallenge, body: { nonce: big } }), RangeError);
  const item: GossipItem = { state: MemberState.Alive, nodeId: 'g', address: '', incarnation: 0n, from: 'f' };
  assert.throws(() => encodeFrame({ type: MessageType.Ping, body: { target: 't', gossip: new Array(MAX_GOSSIP_ITEMS + 1).fill(item) } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: 'a', gossip: [{ ...item, state: 4 as never }] } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Ack, body: { nodeId: 'a', gossip: [{ ...item, from: '' }] } }), RangeError);
  for (const resp of [1, 4]) assert.throws(() => encodeFrame({ type: MessageType.Command, body: { resp, args: [] } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Command, body: { resp: 2, args: new Array(MAX_COMMAND_ARGS + 1).fill(none) } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.RangeTable, body: { version: 0n, coordinator: 'c', ranges: new Array(MAX_RANGES + 1).fill({ start: none, owner: 'o' }) } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.RangeTable, body: { version: 0n, coordinator: 'c', ranges: [{ start: none, owner: '' }] } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.RangeSplit, body: { version: 0n, at: new Uint8Array(MAX_KEY_BYTES + 1) } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.Nack, body: { target: '' } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.ForwardReply, body: { status: ForwardStatus.Ok, valueType: 0, ttlMs: 2 ** 32, value: none } }), RangeError);
  assert.throws(() => encodeFrame({ type: MessageType.NodeStats, body: { keys: 0n, bytes: -1n, epoch: 0n } }), RangeError);
});

validation('throws RangeError for a value over MAX_VALUE_BYTES', () => {
  assert.throws(() => encodeFrame({ type: MessageType.ForwardReply, body: { status: ForwardStatus.Ok, valueType: 0, ttlMs: 0, value: new Uint8Array(MAX_VALUE_BYTES + 1) } }), RangeError);
});

roundTrip.run();
errors.run();
validation.run();
