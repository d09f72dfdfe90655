/**
 * Typed host wrapper over the LZ4 block and frame codec of the WebAssembly core (assembly/lz4.ts).
 *
 * Each thread gets its own instance of the core over a private shared memory, created on first
 * use. The codec never touches the table functions of that instance, so the memory is free-form:
 *
 * ```
 *  0 ─ unused ─ REGION_BASE (1 MiB)
 *               ┌────────────────────────┬─────────────────┬──────────────────────┐
 *               │ work (lz4WorkBytes())  │ input (n bytes) │ output (cap bytes)   │
 *               └────────────────────────┴─────────────────┴──────────────────────┘
 *               each area starts on an AREA_ALIGN boundary; the memory grows to fit
 * ```
 *
 * A call copies its input in once and its output out once. Memory only grows; after a call that
 * left it larger than RETAIN_LIMIT_BYTES the instance is dropped (the next call builds a small
 * one), so one large job does not pin its memory in the thread for good.
 *
 * Statuses: the core returns a byte count or a negative LZ4_ERR_* status. The status → code map is
 * built from the module's own LZ4_ERR_* global exports when the instance is created, and checked
 * against the codes this file knows both ways, so the two cannot drift apart silently.
 */
import { coreModule, MAX_PAGES } from './wasm.js';
import { rangeError } from '../errors.js';

/** Stable codes of {@link Lz4Error}: one per LZ4_ERR_* status of the core (less BAD_ARGUMENT). */
export type Lz4ErrorCode =
  | 'ERR_LZ4_MALFORMED'
  | 'ERR_LZ4_OUTPUT_TOO_SMALL'
  | 'ERR_LZ4_CHECKSUM'
  | 'ERR_LZ4_UNSUPPORTED'
  | 'ERR_LZ4_BAD_OFFSET'
  | 'ERR_LZ4_BAD_MAGIC'
  | 'ERR_LZ4_TRUNCATED';

/** What each code means, as the start of its message. */
const MESSAGES: Readonly<Record<Lz4ErrorCode, string>> = {
  ERR_LZ4_MALFORMED: 'the input is not valid LZ4 data',
  ERR_LZ4_OUTPUT_TOO_SMALL: 'the decompressed data exceeds its bound',
  ERR_LZ4_CHECKSUM: 'an LZ4 frame header, block or content checksum does not match',
  ERR_LZ4_UNSUPPORTED: 'the LZ4 data uses a feature this decoder does not support (legacy frame, dictionary id or another frame version)',
  ERR_LZ4_BAD_OFFSET: 'an LZ4 match offset is 0 or points before the start of the output',
  ERR_LZ4_BAD_MAGIC: 'the input does not start with an LZ4 frame magic number',
  ERR_LZ4_TRUNCATED: 'the LZ4 frame is cut off',
};

/** The status the core returns for a caller error; the wrapper never makes one, so it is a bug. */
const BAD_ARGUMENT_GLOBAL = 'LZ4_ERR_BAD_ARGUMENT';
const STATUS_GLOBAL_PREFIX = 'LZ4_ERR_';

/**
 * Compressed data that cannot be decoded, or whose decoded size exceeds the caller's bound.
 * `code` is stable; `status` is the core's numeric status (-20..-27).
 */
export class Lz4Error extends Error {
  /** Stable error code. */
  readonly code: Lz4ErrorCode;
  /** The core's status code (a negative LZ4_ERR_* value). */
  readonly status: number;
  constructor(code: Lz4ErrorCode, status: number, message: string) {
    super(message);
    this.name = 'Lz4Error';
    this.code = code;
    this.status = status;
  }
}

/** The codec's exports, as the host sees them (u32 returns come back as signed i32: use `>>> 0`). */
export interface CodecExports {
  lz4WorkBytes(): number;
  lz4CompressBound(len: number): number;
  lz4CompressBlock(src: number, srcLen: number, dst: number, dstCap: number, work: number): number;
  lz4DecompressBlock(src: number, srcLen: number, dst: number, dstCap: number): number;
  lz4FrameBlockMaxBytes(flags: number): number;
  lz4FrameBound(len: number, blockMaxBytes: number): number;
  lz4CompressFrame(src: number, srcLen: number, dst: number, dstCap: number, work: number, flags: number): number;
  lz4DecompressFrame(src: number, srcLen: number, dst: number, dstCap: number): number;
  lz4FrameContentSize(src: number, srcLen: number): number;
  xxh32(ptr: number, len: number, seed: number): number;
}

const WASM_PAGE_BYTES = 65536;
/** Pages the codec memory starts with: the module's declared minimum (asconfig.json). */
const INITIAL_PAGES = 4;
/** Where the codec's areas start. Anything ≥ the module's data is free: 1 MiB is plenty. */
const REGION_BASE = 1 << 20;
/** Alignment of each area (a cache line): the core's 8-byte loads never straddle one needlessly. */
const AREA_ALIGN = 64;
/** A memory left larger than this after a call is dropped with its instance (see the file comment). */
const RETAIN_LIMIT_BYTES = 64 << 20;
/** Largest byte count the core returns (its outputs are capped at i32 max). */
export const MAX_OUTPUT_BYTES = 0x7fff_ffff;
/** Largest input the compressors accept (the core's LZ4_MAX_INPUT_BYTES, checked at load). */
export const LZ4_MAX_INPUT_BYTES = 0x7e00_0000;
/**
 * Most bytes one input byte of a block can decode to. A sequence of `t` input bytes spends at
 * least 3 of them (token, offset) per match and each match-length extension byte adds at most
 * 255 output bytes; literals are 1:1. So decoded ≤ 255 × input, for blocks and frames alike.
 */
export const LZ4_MAX_EXPANSION = 255;

/** Frame flag bits of lz4CompressFrame, read from the module's LZ4_FRAME_* globals. */
interface FrameFlagBits {
  contentChecksum: number;
  contentSize: number;
  block4Mib: number;
  blockChecksum: number;
}

/** One thread's codec: an instance over its private memory. */
interface CodecState {
  readonly x: CodecExports;
  readonly memory: WebAssembly.Memory;
  /** The whole memory as bytes; replaced after each grow. */
  u8: Uint8Array;
  /** Start of the work area (REGION_BASE) and of the input area just past it. */
  readonly work: number;
  readonly inputAt: number;
  /** status → code, and code → status, from the module's LZ4_ERR_* globals. */
  readonly statusCodes: ReadonlyMap<number, Lz4ErrorCode>;
  readonly statusOf: Readonly<Record<Lz4ErrorCode, number>>;
  readonly badArgument: number;
  readonly flags: FrameFlagBits;
}

let state: CodecState | undefined;

const alignUp = (n: number) => Math.ceil(n / AREA_ALIGN) * AREA_ALIGN;

function globalValue(exports: WebAssembly.Exports, name: string): number {
  const g = exports[name];
  if (!(g instanceof WebAssembly.Global)) throw new Error(`meshcache: the WebAssembly core does not export ${name}`);
  return g.value as number;
}

/** Builds this thread's codec over a fresh private memory. */
function createState(): CodecState {
  const module = coreModule();
  const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared: true });
  const imports: WebAssembly.Imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    const ns = (imports[imp.module] ??= {});
    // The codec paths import nothing but the memory; the abort hook traps in the core itself.
    ns[imp.name] = imp.kind === 'memory'
      ? memory
      : () => {
        throw new Error(`meshcache: the WebAssembly core called ${imp.module}.${imp.name} from the LZ4 codec (a broken invariant)`);
      };
  }
  const exports = new WebAssembly.Instance(module, imports).exports;

  const statusCodes = new Map<number, Lz4ErrorCode>();
  let badArgument = NaN;
  for (const name of Object.keys(exports)) {
    if (!name.startsWith(STATUS_GLOBAL_PREFIX)) continue;
    const status = globalValue(exports, name);
    if (name === BAD_ARGUMENT_GLOBAL) {
      badArgument = status;
      continue;
    }
    const code = `ERR_LZ4_${name.slice(STATUS_GLOBAL_PREFIX.length)}`;
    if (!Object.hasOwn(MESSAGES, code)) {
      throw new Error(`meshcache: the WebAssembly core exports ${name}, which src/core/codec.ts does not know`);
    }
    statusCodes.set(status, code as Lz4ErrorCode);
  }
  const statusOf = {} as Record<Lz4ErrorCode, number>;
  for (const [status, code] of statusCodes) statusOf[code] = status;
  for (const code of Object.keys(MESSAGES)) {
    if (!Object.hasOwn(statusOf, code)) {
      throw new Error(`meshcache: the WebAssembly core no longer exports the status for ${code}`);
    }
  }
  const maxInput = globalValue(exports, 'LZ4_MAX_INPUT_BYTES') >>> 0;
  if (maxInput !== LZ4_MAX_INPUT_BYTES) {
    throw new Error(`meshcache: the core's LZ4_MAX_INPUT_BYTES is ${maxInput}, the host expects ${LZ4_MAX_INPUT_BYTES}`);
  }

  const x = exports as unknown as CodecExports;
  const work = REGION_BASE;
  return {
    x,
    memory,
    u8: new Uint8Array(memory.buffer),
    work,
    inputAt: alignUp(work + (x.lz4WorkBytes() >>> 0)),
    statusCodes,
    statusOf,
    badArgument,
    flags: {
      contentChecksum: globalValue(exports, 'LZ4_FRAME_CONTENT_CHECKSUM'),
      contentSize: globalValue(exports, 'LZ4_FRAME_CONTENT_SIZE'),
      block4Mib: globalValue(exports, 'LZ4_FRAME_BLOCK_4MIB'),
      blockChecksum: globalValue(exports, 'LZ4_FRAME_BLOCK_CHECKSUM'),
    },
  };
}

function codec(): CodecState {
  return (state ??= createState());
}

/**
 * Grows `s`'s memory to hold `endBytes` bytes (at least doubling it) and refreshes the view. Only
 * this thread grows this memory, so the view's length is its size: the hot path never reads
 * `memory.buffer`.
 */
function ensure(s: CodecState, endBytes: number): void {
  const have = s.u8.byteLength;
  if (endBytes <= have) return;
  const maxBytes = MAX_PAGES * WASM_PAGE_BYTES;
  if (endBytes > maxBytes) {
    throw rangeError('ERR_OUT_OF_MEMORY', `lz4: the job needs ${endBytes} bytes of WebAssembly memory, over its 4 GiB limit`);
  }
  const target = Math.min(maxBytes, Math.max(endBytes, have * 2));
  try {
    s.memory.grow(Math.ceil((target - have) / WASM_PAGE_BYTES));
  } catch (err) {
    throw Object.assign(
      new RangeError(`lz4: cannot grow the codec's WebAssembly memory to ${target} bytes`, { cause: err }),
      { code: 'ERR_OUT_OF_MEMORY' as const },
    );
  }
  s.u8 = new Uint8Array(s.memory.buffer);
}

/** Copies `input` into the input area (growing the memory for it) and returns where output goes. */
function placeInput(s: CodecState, input: Uint8Array, outCap: number): number {
  const outputAt = alignUp(s.inputAt + input.length);
  ensure(s, outputAt + outCap);
  s.u8.set(input, s.inputAt);
  return outputAt;
}

/** Copies `n` bytes at `at` out of the memory into a new, unpooled Buffer. */
function takeOutput(s: CodecState, at: number, n: number): Buffer {
  const out = Buffer.allocUnsafeSlow(n);
  out.set(s.u8.subarray(at, at + n));
  return out;
}

/** Ends a call: drops an instance whose memory grew past RETAIN_LIMIT_BYTES. */
function release(s: CodecState): void {
  if (s.u8.byteLength > RETAIN_LIMIT_BYTES && state === s) state = undefined;
}

/** The error for a negative status; `detail` is appended to the code's message. */
function statusError(s: CodecState, status: number, detail = ''): Error {
  const code = s.statusCodes.get(status);
  if (code === undefined) {
    const what = status === s.badArgument ? 'LZ4_ERR_BAD_ARGUMENT' : `unknown status ${status}`;
    return new Error(`meshcache: the LZ4 codec returned ${what} (a broken invariant in src/core/codec.ts)`);
  }
  return new Lz4Error(code, status, `lz4: ${MESSAGES[code]}${detail}`);
}

/** Worst-case size of one block compressed from `n` bytes (n ≤ LZ4_MAX_INPUT_BYTES). */
export function compressBound(n: number): number {
  return codec().x.lz4CompressBound(n) >>> 0;
}

/** Compresses `input` (≤ LZ4_MAX_INPUT_BYTES, checked by the caller) into one raw LZ4 block. */
export function compressBlock(input: Uint8Array): Buffer {
  const s = codec();
  try {
    const cap = s.x.lz4CompressBound(input.length) >>> 0;
    const out = placeInput(s, input, cap);
    const n = s.x.lz4CompressBlock(s.inputAt, input.length, out, cap, s.work);
    if (n < 0) throw statusError(s, n);
    return takeOutput(s, out, n);
  } finally {
    release(s);
  }
}

/**
 * Decodes one raw LZ4 block that must decode to at most `maxOutputBytes` (0..MAX_OUTPUT_BYTES,
 * checked by the caller). Only min(maxOutputBytes, 255 × block length) bytes are reserved.
 */
export function decompressBlock(block: Uint8Array, maxOutputBytes: number): Buffer {
  const s = codec();
  try {
    const cap = Math.min(maxOutputBytes, block.length * LZ4_MAX_EXPANSION);
    const out = placeInput(s, block, cap);
    const n = s.x.lz4DecompressBlock(s.inputAt, block.length, out, cap);
    if (n === s.statusOf.ERR_LZ4_OUTPUT_TOO_SMALL) {
      throw statusError(s, n, `: more than maxOutputBytes (${maxOutputBytes})`);
    }
    if (n < 0) throw statusError(s, n);
    return takeOutput(s, out, n);
  } finally {
    release(s);
  }
}

/** Frame settings, already validated (see src/lz4.ts). */
export interface FrameFlags {
  contentChecksum: boolean;
  contentSize: boolean;
  /** 4 MiB blocks instead of 64 KiB ones. */
  block4Mib: boolean;
  blockChecksum: boolean;
}

/** Compresses `input` (≤ LZ4_MAX_INPUT_BYTES) into one LZ4 frame with independent blocks. */
export function compressFrame(input: Uint8Array, options: FrameFlags): Buffer {
  const s = codec();
  try {
    const f = s.flags;
    const flags = (options.contentChecksum ? f.contentChecksum : 0) | (options.contentSize ? f.contentSize : 0)
      | (options.block4Mib ? f.block4Mib : 0) | (options.blockChecksum ? f.blockChecksum : 0);
    const cap = s.x.lz4FrameBound(input.length, s.x.lz4FrameBlockMaxBytes(flags)) >>> 0;
    const out = placeInput(s, input, cap);
    const n = s.x.lz4CompressFrame(s.inputAt, input.length, out, cap, s.work, flags);
    if (n < 0) throw statusError(s, n);
    return takeOutput(s, out, n);
  } finally {
    release(s);
  }
}

/** First output capacity tried for frames that do not declare their size, per input byte... */
const UNKNOWN_SIZE_FIRST_GUESS_RATIO = 4;
/** ...and at least this many bytes. */
const UNKNOWN_SIZE_MIN_FIRST_GUESS_BYTES = 64 << 10;
/** lz4FrameContentSize's answer for "some frame does not declare its size". */
const CONTENT_SIZE_UNKNOWN = -1;

/**
 * Decodes one or more concatenated LZ4 frames into at most `maxOutputBytes` bytes
 * (0..MAX_OUTPUT_BYTES, checked by the caller). When every frame declares its content size, the
 * output is sized exactly, and a total over the bound is refused before any output is reserved.
 * Otherwise the capacity starts at 4× the input (at least 64 KiB) and doubles on
 * ERR_LZ4_OUTPUT_TOO_SMALL, up to min(maxOutputBytes, 255 × input); the input is copied once.
 */
export function decompressFrame(frame: Uint8Array, maxOutputBytes: number): Buffer {
  const s = codec();
  try {
    const out = placeInput(s, frame, 0);
    const declared = s.x.lz4FrameContentSize(s.inputAt, frame.length);
    if (declared < 0 && declared !== CONTENT_SIZE_UNKNOWN) throw statusError(s, declared);
    const tooSmall = s.statusOf.ERR_LZ4_OUTPUT_TOO_SMALL;

    if (declared >= 0) {
      if (declared > maxOutputBytes) {
        throw statusError(s, tooSmall, `: the frame declares ${declared} bytes, maxOutputBytes is ${maxOutputBytes}`);
      }
      ensure(s, out + declared);
      const n = s.x.lz4DecompressFrame(s.inputAt, frame.length, out, declared);
      // The frames hold more than they declare: the data is wrong, not the caller's bound.
      if (n === tooSmall) throw statusError(s, s.statusOf.ERR_LZ4_MALFORMED, ': a frame holds more bytes than it declares');
      if (n < 0) throw statusError(s, n);
      return takeOutput(s, out, n);
    }

    const ceiling = Math.min(maxOutputBytes, frame.length * LZ4_MAX_EXPANSION);
    let cap = Math.min(ceiling, Math.max(frame.length * UNKNOWN_SIZE_FIRST_GUESS_RATIO, UNKNOWN_SIZE_MIN_FIRST_GUESS_BYTES));
    for (;;) {
      ensure(s, out + cap);
      const n = s.x.lz4DecompressFrame(s.inputAt, frame.length, out, cap);
      if (n >= 0) return takeOutput(s, out, n);
      if (n !== tooSmall || cap >= ceiling) {
        throw statusError(s, n, n === tooSmall ? `: more than maxOutputBytes (${maxOutputBytes})` : '');
      }
      cap = Math.min(ceiling, cap * 2);
    }
  } finally {
    release(s);
  }
}
