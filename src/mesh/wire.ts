/**
 * The mesh's binary frame format: one frame per WebSocket binary message between meshcache nodes.
 * `encodeFrame` turns a typed frame into bytes (a caller's mistake throws TypeError/RangeError);
 * `decodeFrame` turns untrusted bytes into a typed frame or a protocol error and never throws.
 *
 * Frame layout (all integers little-endian):
 * ```
 *  offset  size  field
 *  ┌──────┬─────┬──────────────────────────────────────────────────────────────┐
 *  │  0   │  1  │ version      u8   MIN_PROTOCOL_VERSION..MAX_PROTOCOL_VERSION   │
 *  │  1   │  1  │ type         u8   a MessageType (append-only, never renumbered)│
 *  │  2   │  2  │ flags        u16  carried as is; unknown bits are ignored      │
 *  │  4   │  4  │ requestId    u32  pairs a reply with its request (0 = none)    │
 *  │  8   │  4  │ bodyLength   u32  ≤ MAX_BODY_BYTES, = bytes after the header   │
 *  │ 12   │  n  │ body         the message's fields, in the order listed below   │
 *  └──────┴─────┴──────────────────────────────────────────────────────────────┘
 * ```
 * Body field encodings:
 * - `str`   u16 byte length, then that many bytes of well-formed UTF-8 (node ids, addresses).
 * - `key`   u16 byte length, then the bytes (≤ MAX_KEY_BYTES).
 * - `value` u32 byte length, then the bytes (≤ MAX_VALUE_BYTES).
 * - `u64`   incarnation numbers and epochs, as a bigint.
 * - `list`  u16 count (≤ its cap), then the items.
 *
 * Rules the decoder keeps, so that every accepted frame re-encodes to exactly the same bytes:
 * - Every length or count is checked against its named cap (ERR_MESH_LENGTH, close 1009) and against
 *   the bytes left (ERR_MESH_TRUNCATED, close 1002) before anything is sliced or allocated.
 * - The frame must be exactly header + bodyLength bytes, and the body must be consumed exactly by
 *   its message's fields (ERR_MESH_TRAILING otherwise).
 * - Strings must be valid UTF-8 (ERR_MESH_UTF8, close 1007); node ids must not be empty, and enum
 *   fields must hold a known value (ERR_MESH_BODY, close 1002).
 * - An unsupported version (ERR_MESH_VERSION) or message type (ERR_MESH_TYPE) closes with 1003.
 * Decoded byte fields (`key`, `value`) are views into the input buffer, not copies.
 */
import { isUtf8 } from 'node:buffer';
import type { Bytes } from '../config.js';

/** Oldest protocol version this build reads and writes. */
export const MIN_PROTOCOL_VERSION = 1;
/** Newest protocol version this build reads and writes. */
export const MAX_PROTOCOL_VERSION = 1;
/** The version new frames are written with. */
export const PROTOCOL_VERSION = 1;

/** Size of the fixed frame header. */
export const HEADER_BYTES: Bytes = 12;
/** Longest node id, in UTF-8 bytes. */
export const MAX_NODE_ID_BYTES: Bytes = 256;
/** Longest node address (`host:port` or a URL), in UTF-8 bytes. */
export const MAX_ADDRESS_BYTES: Bytes = 512;
/** Longest cache key a frame carries (the cache's own hard limit, and the u16 prefix's range). */
export const MAX_KEY_BYTES: Bytes = 65_535;
/** Largest value a frame carries; a node configured with larger values cannot forward them. */
export const MAX_VALUE_BYTES: Bytes = 64 * 1024 * 1024;
/** Most members in one StateSync. */
export const MAX_MEMBERS = 4096;
/** Most entries in one Rebalance batch (the body cap bounds their total size as well). */
export const MAX_REBALANCE_ENTRIES = 4096;
/** Longest authentication nonce or proof (an HMAC-SHA256 is 32 bytes). */
export const MAX_NONCE_BYTES: Bytes = 64;
/** Most gossip items piggybacked on one Ping or Ack. */
export const MAX_GOSSIP_ITEMS = 64;
/** Most arguments of one forwarded command (the body cap bounds their total size as well). */
export const MAX_COMMAND_ARGS = 65_535;
/** Most ranges in one RangeTable. */
export const MAX_RANGES = 65_535;
/** Most commands in one CommandBatch (and replies in its reply). */
export const MAX_BATCH_COMMANDS = 4096;

/** Frame flag bits (the header's `flags`). Unknown bits are ignored. */
export const FrameFlag = {
  /**
   * Forward / Command: answer from this node's own data, never forward again. Set when a
   * request has already been forwarded once (so differing ring views cannot loop it) and when a
   * new owner reads a key from its previous owner during a rebalance.
   */
  NoReroute: 1,
} as const;
/** Largest body: one maximal value plus room for its key and the other fields. */
export const MAX_BODY_BYTES: Bytes = MAX_VALUE_BYTES + 256 * 1024;
/** Largest whole frame. */
export const MAX_FRAME_BYTES: Bytes = HEADER_BYTES + MAX_BODY_BYTES;

const U64_MAX = (1n << 64n) - 1n;

/**
 * Message types. Append-only: a number, once shipped, never changes meaning and is never reused;
 * a new message takes the next number (and, if old peers must not receive it, a new protocol version).
 */
export const MessageType = {
  /** 1: a connecting node introduces itself (id, address, incarnation). */
  Hello: 1,
  /** 2: the accepting node's reply to Hello, introducing itself. */
  HelloAck: 2,
  /** 3: direct failure-detector probe of `target`. */
  Ping: 3,
  /** 4: reply to Ping or PingReq: `nodeId` is alive. */
  Ack: 4,
  /** 5: ask a peer to probe `target` at `address` on our behalf (indirect probe). */
  PingReq: 5,
  /** 6: gossip: `nodeId` at `incarnation` is suspected by `from`. */
  Suspect: 6,
  /** 7: gossip: `nodeId` is alive at `address` with `incarnation` (refutes a suspicion). */
  Alive: 7,
  /** 8: gossip: `nodeId` at `incarnation` is declared dead by `from`. */
  Dead: 8,
  /** 9: full membership list, exchanged in push/pull anti-entropy. */
  StateSync: 9,
  /** 10: `nodeId` leaves the mesh gracefully at `incarnation`. */
  Leave: 10,
  /** 11: a cache operation forwarded to the key's owner. */
  Forward: 11,
  /** 12: the owner's reply to Forward. */
  ForwardReply: 12,
  /** 13: a batch of entries handed over to their new owner after the ring changed. */
  Rebalance: 13,
  /** 14: the receiver has stored a Rebalance batch. */
  RebalanceAck: 14,
  /** 15: the accepting side's first frame: a fresh nonce the connecting side must prove the secret with. */
  AuthChallenge: 15,
  /** 16: Lifeguard's negative ack: the PingReq intermediary could not reach `target` in time. */
  Nack: 16,
  /** 17: a RESP command forwarded whole to the owner of its key(s). */
  Command: 17,
  /** 18: the owner's RESP-encoded reply to Command, in the protocol the request named. */
  CommandReply: 18,
  /** 19: the range partitioner's table (ordered key ranges and their owners) at a version. */
  RangeTable: 19,
  /** 20: a range's owner asks the coordinator to split the range at `at`. */
  RangeSplit: 20,
  /** 21: the sender's key count and bytes (partition balance), sent periodically to every member. */
  NodeStats: 21,
  /**
   * 22: the sender has handed over every key it held for other owners under the ownership whose
   * digest this is (a rebalance pass ended with nothing pending): new owners stop asking it.
   */
  HandoffDone: 22,
  /**
   * 23: several RESP commands for one owner in one frame (those a node forwards to the same peer
   * within one tick), run in order; answered by CommandBatchReply.
   */
  CommandBatch: 23,
  /** 24: the replies to a CommandBatch, one per command, in order. */
  CommandBatchReply: 24,
} as const;
/** A message type number. */
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** A member's state in StateSync. Append-only, like MessageType. */
export const MemberState = { Alive: 0, Suspect: 1, Dead: 2, Left: 3 } as const;
export type MemberState = (typeof MemberState)[keyof typeof MemberState];

/** The operation of a Forward. Append-only. */
export const ForwardOp = { Get: 1, Set: 2, Delete: 3, Has: 4 } as const;
export type ForwardOp = (typeof ForwardOp)[keyof typeof ForwardOp];

/** The outcome in a ForwardReply. Append-only. */
export const ForwardStatus = { Ok: 0, NotFound: 1, NotOwner: 2, Error: 3 } as const;
export type ForwardStatus = (typeof ForwardStatus)[keyof typeof ForwardStatus];

/**
 * Hello / HelloAck: who the sender is, and its half of the challenge–response. In Hello, `nonce`
 * is the connecting side's fresh nonce and `proof` HMAC-SHA256(secret, transcript) over the
 * accepting side's AuthChallenge nonce; in HelloAck, `proof` answers the Hello's nonce (so both
 * sides prove the secret, and neither sends it). Both are empty on a mesh without a secret.
 */
export interface HelloBody { nodeId: string; address: string; incarnation: bigint; nonce: Uint8Array; proof: Uint8Array }
/** AuthChallenge: the accepting side's fresh nonce. */
export interface AuthChallengeBody { nonce: Uint8Array }
/** One piece of membership news piggybacked on a probe: `nodeId` is in `state` at `incarnation`, says `from`. */
export interface GossipItem { state: MemberState; nodeId: string; address: string; incarnation: bigint; from: string }
/** Ping: the node the probe is meant for (a misrouted probe is not acked), plus piggybacked gossip. */
export interface PingBody { target: string; gossip: GossipItem[] }
/** Ack: the node that answers, plus piggybacked gossip. */
export interface AckBody { nodeId: string; gossip: GossipItem[] }
/** Nack: the PingReq intermediary got no Ack from `target`. */
export interface NackBody { target: string }
/** PingReq: the node to probe and where. */
export interface PingReqBody { target: string; address: string }
/** Suspect / Dead: who, at which incarnation, according to whom. */
export interface SuspectBody { nodeId: string; incarnation: bigint; from: string }
/** Alive: who, where, at which incarnation. */
export interface AliveBody { nodeId: string; address: string; incarnation: bigint }
/** One member in StateSync. */
export interface Member { nodeId: string; address: string; incarnation: bigint; state: MemberState }
/** StateSync: the sender's whole member list (≤ MAX_MEMBERS). */
export interface StateSyncBody { members: Member[] }
/** Leave: who leaves, at which incarnation. */
export interface LeaveBody { nodeId: string; incarnation: bigint }
/**
 * Forward: a cache operation. `value` is empty for Get, Delete and Has; `ttlMs` 0 means no expiry;
 * `valueType` is the cache's type tag of the encoded value (bytes, string, serialized).
 */
export interface ForwardBody { op: ForwardOp; ttlMs: number; valueType: number; key: Uint8Array; value: Uint8Array }
/**
 * ForwardReply: the outcome and, for a Get hit, the value, its type and its time left (`ttlMs`,
 * 0 = no expiry); the value is empty otherwise, or an error text.
 */
export interface ForwardReplyBody { status: ForwardStatus; valueType: number; ttlMs: number; value: Uint8Array }
/** One entry handed over in Rebalance. `ttlMs` is the time left, 0 = no expiry. */
export interface RebalanceEntry { key: Uint8Array; value: Uint8Array; ttlMs: number; valueType: number }
/** Command: a RESP request (`args[0]` is the command name) and the protocol (2 or 3) to reply in. */
export interface CommandBody { resp: number; args: Uint8Array[] }
/** CommandReply: the RESP-encoded reply. */
export interface CommandReplyBody { reply: Uint8Array }
/** One range of a RangeTable: keys from `start` (inclusive) to the next range's start belong to `owner`. */
export interface RangeEntry { start: Uint8Array; owner: string }
/** RangeTable: the whole table at `version`, set by `coordinator`; ranges sorted by start, the first starting at the empty key. */
export interface RangeTableBody { version: bigint; coordinator: string; ranges: RangeEntry[] }
/** RangeSplit: split the range holding `at` so that `at` starts a new range (sent by the range's owner). */
export interface RangeSplitBody { version: bigint; at: Uint8Array }
/** NodeStats: how many keys and bytes the sender holds, and its partitioner epoch. */
export interface NodeStatsBody { keys: bigint; bytes: bigint; epoch: bigint }
/** HandoffDone: the digest of the ownership (members, and the range table's version) the pass ran under. */
export interface HandoffDoneBody { digest: bigint }
/** One command of a CommandBatch: its frame flags (FrameFlag), protocol and words. */
export interface BatchedCommand { flags: number; resp: number; args: Uint8Array[] }
/** CommandBatch: commands to run in order (≤ MAX_BATCH_COMMANDS). */
export interface CommandBatchBody { commands: BatchedCommand[] }
/** CommandBatchReply: one RESP reply per command of the batch, in order. */
export interface CommandBatchReplyBody { replies: Uint8Array[] }
/** Rebalance: a batch for ring `epoch` (≤ MAX_REBALANCE_ENTRIES entries). */
export interface RebalanceBody { epoch: bigint; entries: RebalanceEntry[] }
/** RebalanceAck: how many entries of the batch for `epoch` were stored. */
export interface RebalanceAckBody { epoch: bigint; stored: number }

/** The body type of each message type. */
export interface BodyByType {
  [MessageType.Hello]: HelloBody;
  [MessageType.HelloAck]: HelloBody;
  [MessageType.Ping]: PingBody;
  [MessageType.Ack]: AckBody;
  [MessageType.PingReq]: PingReqBody;
  [MessageType.Suspect]: SuspectBody;
  [MessageType.Alive]: AliveBody;
  [MessageType.Dead]: SuspectBody;
  [MessageType.StateSync]: StateSyncBody;
  [MessageType.Leave]: LeaveBody;
  [MessageType.Forward]: ForwardBody;
  [MessageType.ForwardReply]: ForwardReplyBody;
  [MessageType.Rebalance]: RebalanceBody;
  [MessageType.RebalanceAck]: RebalanceAckBody;
  [MessageType.AuthChallenge]: AuthChallengeBody;
  [MessageType.Nack]: NackBody;
  [MessageType.Command]: CommandBody;
  [MessageType.CommandReply]: CommandReplyBody;
  [MessageType.RangeTable]: RangeTableBody;
  [MessageType.RangeSplit]: RangeSplitBody;
  [MessageType.NodeStats]: NodeStatsBody;
  [MessageType.HandoffDone]: HandoffDoneBody;
  [MessageType.CommandBatch]: CommandBatchBody;
  [MessageType.CommandBatchReply]: CommandBatchReplyBody;
}

/** A decoded (or to-be-encoded) frame; `type` selects the body's shape. */
export type MeshFrame = {
  [T in MessageType]: { version: number; type: T; flags: number; requestId: number; body: BodyByType[T] };
}[MessageType];

/** Stable protocol error codes. */
export type MeshWireErrorCode =
  | 'ERR_MESH_TRUNCATED'
  | 'ERR_MESH_VERSION'
  | 'ERR_MESH_TYPE'
  | 'ERR_MESH_LENGTH'
  | 'ERR_MESH_TRAILING'
  | 'ERR_MESH_UTF8'
  | 'ERR_MESH_BODY';

/** WebSocket close codes (RFC 6455 §7.4.1) the errors map to. */
export const CloseCode = {
  /** 1002: the peer broke the protocol. */
  ProtocolError: 1002,
  /** 1003: a version or message type this build does not support. */
  Unsupported: 1003,
  /** 1007: data inconsistent with its type (invalid UTF-8). */
  InvalidPayload: 1007,
  /** 1009: a length over its cap. */
  MessageTooBig: 1009,
} as const;

/** The close code for each error code. */
export const CLOSE_CODE_OF: Readonly<Record<MeshWireErrorCode, number>> = {
  ERR_MESH_TRUNCATED: CloseCode.ProtocolError,
  ERR_MESH_VERSION: CloseCode.Unsupported,
  ERR_MESH_TYPE: CloseCode.Unsupported,
  ERR_MESH_LENGTH: CloseCode.MessageTooBig,
  ERR_MESH_TRAILING: CloseCode.ProtocolError,
  ERR_MESH_UTF8: CloseCode.InvalidPayload,
  ERR_MESH_BODY: CloseCode.ProtocolError,
};

/** A malformed frame: close the connection with `closeCode`. */
export interface MeshWireError { code: MeshWireErrorCode; closeCode: number; message: string }

/** What `decodeFrame` returns. */
export type DecodeResult = { ok: true; frame: MeshFrame } | { ok: false; error: MeshWireError };

function wireError(code: MeshWireErrorCode, message: string): MeshWireError {
  return { code, closeCode: CLOSE_CODE_OF[code], message };
}

const TYPE_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(MessageType).map(([k, v]) => [v, k]));
const MEMBER_STATES: ReadonlySet<number> = new Set(Object.values(MemberState));
const FORWARD_OPS: ReadonlySet<number> = new Set(Object.values(ForwardOp));
const FORWARD_STATUSES: ReadonlySet<number> = new Set(Object.values(ForwardStatus));

/** Smallest encoded Member (three u16 prefixes of which the id's is non-empty, u64, u8) — bounds a count. */
const MIN_MEMBER_BYTES: Bytes = 2 + 1 + 2 + 8 + 1;
/** Smallest encoded RebalanceEntry (u16 key length, u32 value length, u32 ttl, u8 type). */
const MIN_ENTRY_BYTES: Bytes = 2 + 4 + 4 + 1;
/** Smallest encoded GossipItem (u8 state, non-empty id, empty address, u64, non-empty from). */
const MIN_GOSSIP_BYTES: Bytes = 1 + 3 + 2 + 8 + 3;
/** Smallest encoded BatchedCommand (u16 flags, u8 resp, u16 count of zero args). */
const MIN_BATCHED_COMMAND_BYTES: Bytes = 2 + 1 + 2;
/** Smallest encoded RangeEntry (empty start, non-empty owner). */
const MIN_RANGE_BYTES: Bytes = 2 + 3;

// ---------------------------------------------------------------------------------------------------
// Decoding

/**
 * Reads fields from `[pos, end)` of a buffer. The first failure is kept in `error`; after it every
 * read returns a harmless zero value, so a decoder can read on and check `error` once at the end
 * (loops check it to stop early).
 */
class Reader {
  pos: number;
  error: MeshWireError | null = null;
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  readonly #end: number;

  constructor(buf: Uint8Array, start: number, end: number) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
    this.#end = end;
  }

  get left(): number {
    return this.#end - this.pos;
  }

  fail(code: MeshWireErrorCode, message: string): void {
    if (this.error === null) this.error = wireError(code, message);
  }

  #take(n: number, what: string): boolean {
    if (this.error !== null) return false;
    if (n > this.left) {
      this.fail('ERR_MESH_TRUNCATED', `${what} needs ${n} bytes, ${this.left} left`);
      return false;
    }
    return true;
  }

  u8(what: string): number {
    if (!this.#take(1, what)) return 0;
    return this.#buf[this.pos++];
  }

  u16(what: string): number {
    if (!this.#take(2, what)) return 0;
    const v = this.#view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    if (!this.#take(4, what)) return 0;
    const v = this.#view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): bigint {
    if (!this.#take(8, what)) return 0n;
    const v = this.#view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A length-prefixed byte field (`prefix` 2 or 4 bytes), checked against `cap` then what is left. */
  bytes(prefix: 2 | 4, cap: Bytes, what: string): Uint8Array {
    const n = prefix === 2 ? this.u16(`${what} length`) : this.u32(`${what} length`);
    if (this.error !== null) return EMPTY;
    if (n > cap) {
      this.fail('ERR_MESH_LENGTH', `${what} is ${n} bytes, over the ${cap}-byte cap`);
      return EMPTY;
    }
    if (!this.#take(n, what)) return EMPTY;
    const out = this.#buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A u16-prefixed UTF-8 string of at most `cap` bytes; `nonEmpty` for node ids. */
  string(cap: Bytes, what: string, nonEmpty: boolean): string {
    const b = this.bytes(2, cap, what);
    if (this.error !== null) return '';
    if (nonEmpty && b.length === 0) {
      this.fail('ERR_MESH_BODY', `${what} is empty`);
      return '';
    }
    if (!isUtf8(b)) {
      this.fail('ERR_MESH_UTF8', `${what} is not valid UTF-8`);
      return '';
    }
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  }

  nodeId(what: string): string {
    return this.string(MAX_NODE_ID_BYTES, what, true);
  }

  address(what: string): string {
    return this.string(MAX_ADDRESS_BYTES, what, false);
  }

  /** A u8 that must be one of `known`. */
  enumU8(known: ReadonlySet<number>, what: string): number {
    const v = this.u8(what);
    if (this.error === null && !known.has(v)) this.fail('ERR_MESH_BODY', `unknown ${what} ${v}`);
    return v;
  }

  /** A u16 count, checked against `cap` and against the bytes left for items of at least `minItemBytes`. */
  count(cap: number, minItemBytes: Bytes, what: string): number {
    const n = this.u16(`${what} count`);
    if (this.error !== null) return 0;
    if (n > cap) {
      this.fail('ERR_MESH_LENGTH', `${n} ${what}, over the cap of ${cap}`);
      return 0;
    }
    if (n * minItemBytes > this.left) {
      this.fail('ERR_MESH_TRUNCATED', `${n} ${what} need at least ${n * minItemBytes} bytes, ${this.left} left`);
      return 0;
    }
    return n;
  }
}

const EMPTY = new Uint8Array(0);

type BodyDecoder = (r: Reader) => unknown;

const decodeHello: BodyDecoder = (r): HelloBody => ({
  nodeId: r.nodeId('nodeId'), address: r.address('address'), incarnation: r.u64('incarnation'),
  nonce: r.bytes(2, MAX_NONCE_BYTES, 'nonce'), proof: r.bytes(2, MAX_NONCE_BYTES, 'proof'),
});
function decodeCommand(r: Reader): CommandBody {
  const resp = r.u8('resp');
  if (r.error === null && resp !== 2 && resp !== 3) r.fail('ERR_MESH_BODY', `unknown resp protocol ${resp}`);
  const n = r.count(MAX_COMMAND_ARGS, 4, 'args');
  const args: Uint8Array[] = [];
  for (let i = 0; i < n && r.error === null; i++) args.push(r.bytes(4, MAX_VALUE_BYTES, 'arg'));
  return { resp, args };
}
const decodeAlive: BodyDecoder = (r): AliveBody => ({ nodeId: r.nodeId('nodeId'), address: r.address('address'), incarnation: r.u64('incarnation') });
function decodeGossip(r: Reader): GossipItem[] {
  const n = r.count(MAX_GOSSIP_ITEMS, MIN_GOSSIP_BYTES, 'gossip items');
  const items: GossipItem[] = [];
  for (let i = 0; i < n && r.error === null; i++) {
    items.push({
      state: r.enumU8(MEMBER_STATES, 'gossip state') as MemberState,
      nodeId: r.nodeId('gossip nodeId'),
      address: r.address('gossip address'),
      incarnation: r.u64('gossip incarnation'),
      from: r.nodeId('gossip from'),
    });
  }
  return items;
}
const decodeSuspect: BodyDecoder = (r): SuspectBody => ({ nodeId: r.nodeId('nodeId'), incarnation: r.u64('incarnation'), from: r.nodeId('from') });

const BODY_DECODERS: Record<MessageType, BodyDecoder> = {
  [MessageType.Hello]: decodeHello,
  [MessageType.HelloAck]: decodeHello,
  [MessageType.Ping]: (r): PingBody => ({ target: r.nodeId('target'), gossip: decodeGossip(r) }),
  [MessageType.Ack]: (r): AckBody => ({ nodeId: r.nodeId('nodeId'), gossip: decodeGossip(r) }),
  [MessageType.PingReq]: (r): PingReqBody => ({ target: r.nodeId('target'), address: r.address('address') }),
  [MessageType.Suspect]: decodeSuspect,
  [MessageType.Alive]: decodeAlive,
  [MessageType.Dead]: decodeSuspect,
  [MessageType.StateSync]: (r): StateSyncBody => {
    const n = r.count(MAX_MEMBERS, MIN_MEMBER_BYTES, 'members');
    const members: Member[] = [];
    for (let i = 0; i < n && r.error === null; i++) {
      members.push({
        nodeId: r.nodeId('member nodeId'),
        address: r.address('member address'),
        incarnation: r.u64('member incarnation'),
        state: r.enumU8(MEMBER_STATES, 'member state') as MemberState,
      });
    }
    return { members };
  },
  [MessageType.Leave]: (r): LeaveBody => ({ nodeId: r.nodeId('nodeId'), incarnation: r.u64('incarnation') }),
  [MessageType.Forward]: (r): ForwardBody => ({
    op: r.enumU8(FORWARD_OPS, 'forward op') as ForwardOp,
    ttlMs: r.u32('ttlMs'),
    valueType: r.u8('valueType'),
    key: r.bytes(2, MAX_KEY_BYTES, 'key'),
    value: r.bytes(4, MAX_VALUE_BYTES, 'value'),
  }),
  [MessageType.ForwardReply]: (r): ForwardReplyBody => ({
    status: r.enumU8(FORWARD_STATUSES, 'forward status') as ForwardStatus,
    valueType: r.u8('valueType'),
    ttlMs: r.u32('ttlMs'),
    value: r.bytes(4, MAX_VALUE_BYTES, 'value'),
  }),
  [MessageType.Rebalance]: (r): RebalanceBody => {
    const epoch = r.u64('epoch');
    const n = r.count(MAX_REBALANCE_ENTRIES, MIN_ENTRY_BYTES, 'entries');
    const entries: RebalanceEntry[] = [];
    for (let i = 0; i < n && r.error === null; i++) {
      entries.push({
        key: r.bytes(2, MAX_KEY_BYTES, 'entry key'), value: r.bytes(4, MAX_VALUE_BYTES, 'entry value'),
        ttlMs: r.u32('entry ttlMs'), valueType: r.u8('entry valueType'),
      });
    }
    return { epoch, entries };
  },
  [MessageType.RebalanceAck]: (r): RebalanceAckBody => ({ epoch: r.u64('epoch'), stored: r.u32('stored') }),
  [MessageType.AuthChallenge]: (r): AuthChallengeBody => ({ nonce: r.bytes(2, MAX_NONCE_BYTES, 'nonce') }),
  [MessageType.Nack]: (r): NackBody => ({ target: r.nodeId('target') }),
  [MessageType.Command]: decodeCommand,
  [MessageType.CommandReply]: (r): CommandReplyBody => ({ reply: r.bytes(4, MAX_BODY_BYTES - 4, 'reply') }),
  [MessageType.RangeTable]: (r): RangeTableBody => {
    const version = r.u64('version');
    const coordinator = r.nodeId('coordinator');
    const n = r.count(MAX_RANGES, MIN_RANGE_BYTES, 'ranges');
    const ranges: RangeEntry[] = [];
    for (let i = 0; i < n && r.error === null; i++) ranges.push({ start: r.bytes(2, MAX_KEY_BYTES, 'range start'), owner: r.nodeId('range owner') });
    return { version, coordinator, ranges };
  },
  [MessageType.RangeSplit]: (r): RangeSplitBody => ({ version: r.u64('version'), at: r.bytes(2, MAX_KEY_BYTES, 'split key') }),
  [MessageType.NodeStats]: (r): NodeStatsBody => ({ keys: r.u64('keys'), bytes: r.u64('bytes'), epoch: r.u64('epoch') }),
  [MessageType.HandoffDone]: (r): HandoffDoneBody => ({ digest: r.u64('digest') }),
  [MessageType.CommandBatch]: (r): CommandBatchBody => {
    const n = r.count(MAX_BATCH_COMMANDS, MIN_BATCHED_COMMAND_BYTES, 'batched commands');
    const commands: BatchedCommand[] = [];
    for (let i = 0; i < n && r.error === null; i++) {
      const flags = r.u16('command flags');
      commands.push({ flags, ...decodeCommand(r) });
    }
    return { commands };
  },
  [MessageType.CommandBatchReply]: (r): CommandBatchReplyBody => {
    const n = r.count(MAX_BATCH_COMMANDS, 4, 'batched replies');
    const replies: Uint8Array[] = [];
    for (let i = 0; i < n && r.error === null; i++) replies.push(r.bytes(4, MAX_BODY_BYTES - 4, 'batched reply'));
    return { replies };
  },
};

/**
 * Decodes one whole frame (one WebSocket message) from untrusted bytes. Never throws: a malformed
 * frame gives `{ ok: false, error }` with a stable `code` and the WebSocket `closeCode` to close with.
 * Byte fields in the result are views into `buf`.
 */
export function decodeFrame(buf: Uint8Array): DecodeResult {
  if (!(buf instanceof Uint8Array)) return { ok: false, error: wireError('ERR_MESH_BODY', 'frame is not a Uint8Array') };
  if (buf.length > MAX_FRAME_BYTES) {
    return { ok: false, error: wireError('ERR_MESH_LENGTH', `frame is ${buf.length} bytes, over the ${MAX_FRAME_BYTES}-byte cap`) };
  }
  const r = new Reader(buf, 0, buf.length);
  const version = r.u8('version');
  const type = r.u8('type');
  const flags = r.u16('flags');
  const requestId = r.u32('requestId');
  const bodyLength = r.u32('bodyLength');
  if (r.error !== null) return { ok: false, error: r.error };
  if (version < MIN_PROTOCOL_VERSION || version > MAX_PROTOCOL_VERSION) {
    return { ok: false, error: wireError('ERR_MESH_VERSION', `protocol version ${version} is not in ${MIN_PROTOCOL_VERSION}..${MAX_PROTOCOL_VERSION}`) };
  }
  const decodeBody = TYPE_NAMES.has(type) ? BODY_DECODERS[type as MessageType] : undefined;
  if (decodeBody === undefined) return { ok: false, error: wireError('ERR_MESH_TYPE', `unknown message type ${type}`) };
  if (bodyLength > MAX_BODY_BYTES) {
    return { ok: false, error: wireError('ERR_MESH_LENGTH', `body is ${bodyLength} bytes, over the ${MAX_BODY_BYTES}-byte cap`) };
  }
  if (bodyLength > r.left) {
    return { ok: false, error: wireError('ERR_MESH_TRUNCATED', `body needs ${bodyLength} bytes, ${r.left} left`) };
  }
  if (bodyLength < r.left) {
    return { ok: false, error: wireError('ERR_MESH_TRAILING', `${r.left - bodyLength} bytes after the ${bodyLength}-byte body`) };
  }
  const body = decodeBody(r);
  if (r.error !== null) return { ok: false, error: r.error };
  if (r.left !== 0) {
    return { ok: false, error: wireError('ERR_MESH_TRAILING', `${r.left} bytes after the ${TYPE_NAMES.get(type)} fields`) };
  }
  return { ok: true, frame: { version, type, flags, requestId, body } as MeshFrame };
}

// ---------------------------------------------------------------------------------------------------
// Encoding

/** A growable output buffer. */
class Writer {
  buf: Buffer;
  pos = 0;

  constructor(initial: Bytes) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  #ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.#ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.#ensure(2);
    this.buf.writeUInt16LE(v, this.pos);
    this.pos += 2;
  }

  u32(v: number): void {
    this.#ensure(4);
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }

  u64(v: bigint): void {
    this.#ensure(8);
    this.buf.writeBigUInt64LE(v, this.pos);
    this.pos += 8;
  }

  raw(b: Uint8Array): void {
    this.#ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

const LONE_SURROGATE = /\p{Cs}/u;

function checkInt(v: unknown, max: number, what: string): number {
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number`);
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what} must be an integer in 0..${max}`);
  return v;
}

function checkU64(v: unknown, what: string): bigint {
  if (typeof v !== 'bigint') throw new TypeError(`${what} must be a bigint`);
  if (v < 0n || v > U64_MAX) throw new RangeError(`${what} must be in 0..2^64-1`);
  return v;
}

function checkEnum(v: unknown, known: ReadonlySet<number>, what: string): number {
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number`);
  if (!known.has(v)) throw new RangeError(`${what} ${v} is not a known value`);
  return v;
}

function writeString(w: Writer, v: unknown, cap: Bytes, what: string, nonEmpty: boolean): void {
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string`);
  if (LONE_SURROGATE.test(v)) throw new RangeError(`${what} must be well-formed Unicode (it has a lone surrogate)`);
  const b = Buffer.from(v, 'utf8');
  if (nonEmpty && b.length === 0) throw new RangeError(`${what} must not be empty`);
  if (b.length > cap) throw new RangeError(`${what} must be at most ${cap} UTF-8 bytes, got ${b.length}`);
  w.u16(b.length);
  w.raw(b);
}

function writeBytes(w: Writer, v: unknown, prefix: 2 | 4, cap: Bytes, what: string): void {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (v.length > cap) throw new RangeError(`${what} must be at most ${cap} bytes, got ${v.length}`);
  if (prefix === 2) w.u16(v.length);
  else w.u32(v.length);
  w.raw(v);
}

function checkObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null) throw new TypeError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function checkArray(v: unknown, cap: number, what: string): unknown[] {
  if (!Array.isArray(v)) throw new TypeError(`${what} must be an array`);
  if (v.length > cap) throw new RangeError(`${what} must have at most ${cap} items, got ${v.length}`);
  return v;
}

type BodyEncoder = (w: Writer, b: Record<string, unknown>) => void;

const encodeAlive: BodyEncoder = (w, b) => {
  writeString(w, b.nodeId, MAX_NODE_ID_BYTES, 'body.nodeId', true);
  writeString(w, b.address, MAX_ADDRESS_BYTES, 'body.address', false);
  w.u64(checkU64(b.incarnation, 'body.incarnation'));
};
const encodeHello: BodyEncoder = (w, b) => {
  encodeAlive(w, b);
  writeBytes(w, b.nonce, 2, MAX_NONCE_BYTES, 'body.nonce');
  writeBytes(w, b.proof, 2, MAX_NONCE_BYTES, 'body.proof');
};
function encodeGossip(w: Writer, v: unknown): void {
  const items = checkArray(v, MAX_GOSSIP_ITEMS, 'body.gossip');
  w.u16(items.length);
  items.forEach((item, i) => {
    const g = checkObject(item, `body.gossip[${i}]`);
    w.u8(checkEnum(g.state, MEMBER_STATES, `body.gossip[${i}].state`));
    writeString(w, g.nodeId, MAX_NODE_ID_BYTES, `body.gossip[${i}].nodeId`, true);
    writeString(w, g.address, MAX_ADDRESS_BYTES, `body.gossip[${i}].address`, false);
    w.u64(checkU64(g.incarnation, `body.gossip[${i}].incarnation`));
    writeString(w, g.from, MAX_NODE_ID_BYTES, `body.gossip[${i}].from`, true);
  });
}
const encodeSuspect: BodyEncoder = (w, b) => {
  writeString(w, b.nodeId, MAX_NODE_ID_BYTES, 'body.nodeId', true);
  w.u64(checkU64(b.incarnation, 'body.incarnation'));
  writeString(w, b.from, MAX_NODE_ID_BYTES, 'body.from', true);
};

const BODY_ENCODERS: Record<MessageType, BodyEncoder> = {
  [MessageType.Hello]: encodeHello,
  [MessageType.HelloAck]: encodeHello,
  [MessageType.Ping]: (w, b) => {
    writeString(w, b.target, MAX_NODE_ID_BYTES, 'body.target', true);
    encodeGossip(w, b.gossip);
  },
  [MessageType.Ack]: (w, b) => {
    writeString(w, b.nodeId, MAX_NODE_ID_BYTES, 'body.nodeId', true);
    encodeGossip(w, b.gossip);
  },
  [MessageType.PingReq]: (w, b) => {
    writeString(w, b.target, MAX_NODE_ID_BYTES, 'body.target', true);
    writeString(w, b.address, MAX_ADDRESS_BYTES, 'body.address', false);
  },
  [MessageType.Suspect]: encodeSuspect,
  [MessageType.Alive]: encodeAlive,
  [MessageType.Dead]: encodeSuspect,
  [MessageType.StateSync]: (w, b) => {
    const members = checkArray(b.members, MAX_MEMBERS, 'body.members');
    w.u16(members.length);
    members.forEach((item, i) => {
      const m = checkObject(item, `body.members[${i}]`);
      writeString(w, m.nodeId, MAX_NODE_ID_BYTES, `body.members[${i}].nodeId`, true);
      writeString(w, m.address, MAX_ADDRESS_BYTES, `body.members[${i}].address`, false);
      w.u64(checkU64(m.incarnation, `body.members[${i}].incarnation`));
      w.u8(checkEnum(m.state, MEMBER_STATES, `body.members[${i}].state`));
    });
  },
  [MessageType.Leave]: (w, b) => {
    writeString(w, b.nodeId, MAX_NODE_ID_BYTES, 'body.nodeId', true);
    w.u64(checkU64(b.incarnation, 'body.incarnation'));
  },
  [MessageType.Forward]: (w, b) => {
    w.u8(checkEnum(b.op, FORWARD_OPS, 'body.op'));
    w.u32(checkInt(b.ttlMs, 0xffff_ffff, 'body.ttlMs'));
    w.u8(checkInt(b.valueType, 0xff, 'body.valueType'));
    writeBytes(w, b.key, 2, MAX_KEY_BYTES, 'body.key');
    writeBytes(w, b.value, 4, MAX_VALUE_BYTES, 'body.value');
  },
  [MessageType.ForwardReply]: (w, b) => {
    w.u8(checkEnum(b.status, FORWARD_STATUSES, 'body.status'));
    w.u8(checkInt(b.valueType, 0xff, 'body.valueType'));
    w.u32(checkInt(b.ttlMs, 0xffff_ffff, 'body.ttlMs'));
    writeBytes(w, b.value, 4, MAX_VALUE_BYTES, 'body.value');
  },
  [MessageType.Rebalance]: (w, b) => {
    w.u64(checkU64(b.epoch, 'body.epoch'));
    const entries = checkArray(b.entries, MAX_REBALANCE_ENTRIES, 'body.entries');
    w.u16(entries.length);
    entries.forEach((item, i) => {
      const e = checkObject(item, `body.entries[${i}]`);
      writeBytes(w, e.key, 2, MAX_KEY_BYTES, `body.entries[${i}].key`);
      writeBytes(w, e.value, 4, MAX_VALUE_BYTES, `body.entries[${i}].value`);
      w.u32(checkInt(e.ttlMs, 0xffff_ffff, `body.entries[${i}].ttlMs`));
      w.u8(checkInt(e.valueType, 0xff, `body.entries[${i}].valueType`));
    });
  },
  [MessageType.RebalanceAck]: (w, b) => {
    w.u64(checkU64(b.epoch, 'body.epoch'));
    w.u32(checkInt(b.stored, 0xffff_ffff, 'body.stored'));
  },
  [MessageType.AuthChallenge]: (w, b) => writeBytes(w, b.nonce, 2, MAX_NONCE_BYTES, 'body.nonce'),
  [MessageType.Nack]: (w, b) => writeString(w, b.target, MAX_NODE_ID_BYTES, 'body.target', true),
  [MessageType.Command]: (w, b) => encodeCommand(w, b, 'body'),
  [MessageType.CommandReply]: (w, b) => writeBytes(w, b.reply, 4, MAX_BODY_BYTES - 4, 'body.reply'),
  [MessageType.RangeTable]: (w, b) => {
    w.u64(checkU64(b.version, 'body.version'));
    writeString(w, b.coordinator, MAX_NODE_ID_BYTES, 'body.coordinator', true);
    const ranges = checkArray(b.ranges, MAX_RANGES, 'body.ranges');
    w.u16(ranges.length);
    ranges.forEach((item, i) => {
      const e = checkObject(item, `body.ranges[${i}]`);
      writeBytes(w, e.start, 2, MAX_KEY_BYTES, `body.ranges[${i}].start`);
      writeString(w, e.owner, MAX_NODE_ID_BYTES, `body.ranges[${i}].owner`, true);
    });
  },
  [MessageType.RangeSplit]: (w, b) => {
    w.u64(checkU64(b.version, 'body.version'));
    writeBytes(w, b.at, 2, MAX_KEY_BYTES, 'body.at');
  },
  [MessageType.NodeStats]: (w, b) => {
    w.u64(checkU64(b.keys, 'body.keys'));
    w.u64(checkU64(b.bytes, 'body.bytes'));
    w.u64(checkU64(b.epoch, 'body.epoch'));
  },
  [MessageType.HandoffDone]: (w, b) => w.u64(checkU64(b.digest, 'body.digest')),
  [MessageType.CommandBatch]: (w, b) => {
    const commands = checkArray(b.commands, MAX_BATCH_COMMANDS, 'body.commands');
    w.u16(commands.length);
    commands.forEach((item, i) => {
      const c = checkObject(item, `body.commands[${i}]`);
      w.u16(checkInt(c.flags, 0xffff, `body.commands[${i}].flags`));
      encodeCommand(w, c, `body.commands[${i}]`);
    });
  },
  [MessageType.CommandBatchReply]: (w, b) => {
    const replies = checkArray(b.replies, MAX_BATCH_COMMANDS, 'body.replies');
    w.u16(replies.length);
    replies.forEach((r, i) => writeBytes(w, r, 4, MAX_BODY_BYTES - 4, `body.replies[${i}]`));
  },
};

function encodeCommand(w: Writer, b: Record<string, unknown>, what: string): void {
  const resp = checkInt(b.resp, 0xff, `${what}.resp`);
  if (resp !== 2 && resp !== 3) throw new RangeError(`${what}.resp must be 2 or 3, got ${resp}`);
  w.u8(resp);
  const args = checkArray(b.args, MAX_COMMAND_ARGS, `${what}.args`);
  w.u16(args.length);
  args.forEach((a, i) => writeBytes(w, a, 4, MAX_VALUE_BYTES, `${what}.args[${i}]`));
}

/**
 * Encodes one frame. Throws TypeError for a field of the wrong type and RangeError for a value out
 * of range (a version outside MIN..MAX, an unknown type or enum value, a string or byte field over
 * its cap, a body over MAX_BODY_BYTES). `version` defaults to PROTOCOL_VERSION, `flags` and
 * `requestId` to 0.
 */
export function encodeFrame(frame: MeshFrame | (Omit<MeshFrame, 'version' | 'flags' | 'requestId'> & Partial<Pick<MeshFrame, 'version' | 'flags' | 'requestId'>>)): Buffer {
  const f = checkObject(frame, 'frame');
  const version = f.version === undefined ? PROTOCOL_VERSION : checkInt(f.version, 0xff, 'frame.version');
  if (version < MIN_PROTOCOL_VERSION || version > MAX_PROTOCOL_VERSION) {
    throw new RangeError(`frame.version must be in ${MIN_PROTOCOL_VERSION}..${MAX_PROTOCOL_VERSION}, got ${version}`);
  }
  const type = checkInt(f.type, 0xff, 'frame.type');
  if (!TYPE_NAMES.has(type)) throw new RangeError(`frame.type ${type} is not a known MessageType`);
  const flags = f.flags === undefined ? 0 : checkInt(f.flags, 0xffff, 'frame.flags');
  const requestId = f.requestId === undefined ? 0 : checkInt(f.requestId, 0xffff_ffff, 'frame.requestId');
  const body = checkObject(f.body, 'frame.body');

  const w = new Writer(256);
  w.u8(version);
  w.u8(type);
  w.u16(flags);
  w.u32(requestId);
  w.u32(0); // body length, patched below
  BODY_ENCODERS[type as MessageType](w, body);
  const bodyLength = w.pos - HEADER_BYTES;
  if (bodyLength > MAX_BODY_BYTES) throw new RangeError(`frame body must be at most ${MAX_BODY_BYTES} bytes, got ${bodyLength}`);
  w.buf.writeUInt32LE(bodyLength, 8);
  // The writer grows by doubling; do not hand out a buffer mostly made of unused room.
  return w.buf.length > w.pos * 2 + 4096 ? Buffer.from(w.buf.subarray(0, w.pos)) : w.buf.subarray(0, w.pos);
}
