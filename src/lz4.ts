/**
 * LZ4 compression, exported as the `lz4` namespace: raw blocks (for a caller that stores the
 * decoded size itself) and standard LZ4 frames (what `lz4 -d`, lz4-napi's frame API and lz4js
 * read). Every call runs in the WebAssembly core on the calling thread, over that thread's private
 * codec memory (src/core/codec.ts): safe to use from any number of worker threads at once.
 *
 * Decoders treat their input as untrusted: they never read or write outside their buffers, and
 * every output is bounded by the caller (`maxOutputBytes`) before it is reserved.
 */
import { types } from 'node:util';
import * as codec from './core/codec.js';
import type { Bytes } from './config.js';

export { Lz4Error } from './core/codec.js';
export type { Lz4ErrorCode } from './core/codec.js';

/** Largest input `compress` and `compressFrame` accept: 2,113,929,216 bytes (the reference's LZ4_MAX_INPUT_SIZE). */
export const MAX_INPUT_BYTES: Bytes = codec.LZ4_MAX_INPUT_BYTES;
/** Largest `maxOutputBytes` accepted: 2^31 - 1 bytes (the core's outputs are i32 counts). */
export const MAX_OUTPUT_BYTES: Bytes = codec.MAX_OUTPUT_BYTES;

/** Codes of the TypeError / RangeError a wrong argument or option throws. */
export type Lz4ArgumentErrorCode = 'ERR_INVALID_ARG' | 'ERR_INVALID_OPTION';

/** Options of {@link compressFrame}. */
export interface CompressFrameOptions {
  /**
   * Append an xxh32 of the whole content, checked by every decoder. Costs 4 bytes and one hash
   * pass over the input.
   * @default true
   */
  contentChecksum?: boolean;
  /**
   * Write the content size (8 bytes) into the header, so that decoders (ours included) size
   * their output exactly instead of growing it.
   * @default true
   */
  contentSize?: boolean;
  /**
   * Largest block: `'64kb'` keeps decoder memory small and is what most readers expect; `'4mb'`
   * finds a few more matches on large inputs and writes fewer block headers.
   * @default '64kb'
   */
  blockSize?: '64kb' | '4mb';
  /**
   * Append an xxh32 of each stored block (4 bytes per block), so corruption is caught per block.
   * Not every reader supports it (lz4js does not).
   * @default false
   */
  blockChecksum?: boolean;
}

/** Options of {@link decompressFrame}. */
export interface DecompressFrameOptions {
  /**
   * Most bytes the frames may decode to; more is refused with ERR_LZ4_OUTPUT_TOO_SMALL. A frame
   * that declares a larger content size is refused before any memory is reserved. 0 accepts only
   * empty frames. An integer from 0 to 2^31 - 1.
   * @default 1 GiB
   */
  maxOutputBytes?: Bytes;
}

/** {@link CompressFrameOptions} with every default applied. */
type FilledCompressFrameOptions = Required<CompressFrameOptions>;
/** {@link DecompressFrameOptions} with every default applied. */
type FilledDecompressFrameOptions = Required<DecompressFrameOptions>;

/** Defaults of {@link compressFrame}. */
export const COMPRESS_FRAME_DEFAULTS: Readonly<FilledCompressFrameOptions> = Object.freeze({
  contentChecksum: true,
  contentSize: true,
  blockSize: '64kb',
  blockChecksum: false,
});

/** Defaults of {@link decompressFrame}. */
export const DECOMPRESS_FRAME_DEFAULTS: Readonly<FilledDecompressFrameOptions> = Object.freeze({
  maxOutputBytes: 1 << 30,
});

const BLOCK_SIZES: ReadonlyArray<CompressFrameOptions['blockSize']> = ['64kb', '4mb'];

function typeError(code: Lz4ArgumentErrorCode, message: string): TypeError & { code: Lz4ArgumentErrorCode } {
  return Object.assign(new TypeError(message), { code });
}

function rangeError(code: Lz4ArgumentErrorCode, message: string): RangeError & { code: Lz4ArgumentErrorCode } {
  return Object.assign(new RangeError(message), { code });
}

/** A short description of a wrong value, for messages. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an Array';
  if (types.isArrayBuffer(value)) return 'an ArrayBuffer';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'string') return 'a string';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function checkBytes(name: string, value: unknown): asserts value is Uint8Array {
  if (!types.isUint8Array(value)) {
    throw typeError('ERR_INVALID_ARG', `${name} must be a Uint8Array or Buffer, got ${describe(value)}`);
  }
}

function checkInputSize(input: Uint8Array): void {
  if (input.length > MAX_INPUT_BYTES) {
    throw rangeError('ERR_INVALID_ARG', `input must be at most ${MAX_INPUT_BYTES} bytes, got ${input.length}`);
  }
}

/** Checks `value` is an integer from 0 to `max`; `name` is how the message names it. */
function checkCount(code: Lz4ArgumentErrorCode, name: string, value: unknown, max: number): number {
  const message = `${name} must be an integer from 0 to ${max}`;
  if (typeof value !== 'number') throw typeError(code, `${message}, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > max) throw rangeError(code, `${message}, got ${value}`);
  return value;
}

/** Checks that `options` is undefined or a plain object whose keys are all in `known`. */
function checkOptionsObject(options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw typeError('ERR_INVALID_OPTION', `options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw typeError('ERR_INVALID_OPTION', `options.${key} must be one of the known options (${known.join(', ')})`);
    }
  }
  return options as Record<string, unknown>;
}

function checkBoolean(options: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError('ERR_INVALID_OPTION', `options.${name} must be a boolean, got ${describe(value)}`);
  return value;
}

function fillCompressFrameOptions(options: unknown): FilledCompressFrameOptions {
  const o = checkOptionsObject(options, Object.keys(COMPRESS_FRAME_DEFAULTS));
  const d = COMPRESS_FRAME_DEFAULTS;
  let blockSize = d.blockSize;
  if (o.blockSize !== undefined) {
    const message = `options.blockSize must be '64kb' or '4mb'`;
    if (typeof o.blockSize !== 'string') throw typeError('ERR_INVALID_OPTION', `${message}, got ${describe(o.blockSize)}`);
    if (!BLOCK_SIZES.includes(o.blockSize as CompressFrameOptions['blockSize'])) {
      throw rangeError('ERR_INVALID_OPTION', `${message}, got '${o.blockSize}'`);
    }
    blockSize = o.blockSize as FilledCompressFrameOptions['blockSize'];
  }
  return {
    contentChecksum: checkBoolean(o, 'contentChecksum', d.contentChecksum),
    contentSize: checkBoolean(o, 'contentSize', d.contentSize),
    blockSize,
    blockChecksum: checkBoolean(o, 'blockChecksum', d.blockChecksum),
  };
}

function fillDecompressFrameOptions(options: unknown): FilledDecompressFrameOptions {
  const o = checkOptionsObject(options, Object.keys(DECOMPRESS_FRAME_DEFAULTS));
  return {
    maxOutputBytes: o.maxOutputBytes === undefined
      ? DECOMPRESS_FRAME_DEFAULTS.maxOutputBytes
      : checkCount('ERR_INVALID_OPTION', 'options.maxOutputBytes', o.maxOutputBytes, MAX_OUTPUT_BYTES),
  };
}

/**
 * Worst-case size of one block compressed from `n` bytes: n + n/255 + 16.
 *
 * @throws RangeError (`ERR_INVALID_ARG`) unless `n` is an integer from 0 to {@link MAX_INPUT_BYTES}
 */
export function compressBound(n: Bytes): Bytes {
  checkCount('ERR_INVALID_ARG', 'n', n, MAX_INPUT_BYTES);
  return codec.compressBound(n);
}

/**
 * Compresses `input` into one raw LZ4 block (no header, no size: store the length yourself and
 * pass it to {@link decompress}). The output is byte-identical to `lz4 -1`'s blocks for inputs of
 * 4 KiB and more; 0 bytes compress to the single byte 0x00.
 *
 * @param input at most {@link MAX_INPUT_BYTES} bytes
 * @returns a new Buffer of at most compressBound(input.length) bytes
 * @throws TypeError (`ERR_INVALID_ARG`) when `input` is not a Uint8Array; RangeError when too long
 */
export function compress(input: Uint8Array): Buffer {
  checkBytes('input', input);
  checkInputSize(input);
  return codec.compressBlock(input);
}

/**
 * Decompresses one raw LZ4 block (untrusted input is fine).
 *
 * @param block a block as {@link compress}, lz4-napi's `compressSync` (less its 4-byte size
 *              prefix) or any LZ4 block encoder writes it
 * @param maxOutputBytes most bytes the block may decode to (usually its exact decoded size);
 *              an integer from 0 to 2^31 - 1. Only min(maxOutputBytes, 255 × block.length)
 *              bytes of memory are reserved, so a generous bound costs nothing.
 * @throws TypeError / RangeError (`ERR_INVALID_ARG`) for a wrong argument; {@link Lz4Error} with
 *         ERR_LZ4_MALFORMED or ERR_LZ4_BAD_OFFSET for a bad block, ERR_LZ4_OUTPUT_TOO_SMALL when
 *         it decodes to more than maxOutputBytes
 */
export function decompress(block: Uint8Array, maxOutputBytes: Bytes): Buffer {
  checkBytes('block', block);
  checkCount('ERR_INVALID_ARG', 'maxOutputBytes', maxOutputBytes, MAX_OUTPUT_BYTES);
  return codec.decompressBlock(block, maxOutputBytes);
}

/**
 * Compresses `input` into one standard LZ4 frame (version 01, independent blocks; blocks that
 * do not shrink are stored), readable by `lz4 -d`, lz4-napi, lz4js and {@link decompressFrame}.
 *
 * @param input at most {@link MAX_INPUT_BYTES} bytes
 * @throws TypeError / RangeError (`ERR_INVALID_ARG`, `ERR_INVALID_OPTION`) for a wrong argument
 *         or option
 */
export function compressFrame(input: Uint8Array, options?: CompressFrameOptions): Buffer {
  checkBytes('input', input);
  const o = fillCompressFrameOptions(options);
  checkInputSize(input);
  return codec.compressFrame(input, {
    contentChecksum: o.contentChecksum,
    contentSize: o.contentSize,
    block4Mib: o.blockSize === '4mb',
    blockChecksum: o.blockChecksum,
  });
}

/**
 * Decompresses one or more concatenated LZ4 frames (skippable frames are skipped) from any
 * conforming encoder: linked or independent blocks, any block size, every checksum verified.
 * Frames that declare their content size are decoded straight into an exactly sized output;
 * otherwise the output grows (from 4× the input, doubling) up to `maxOutputBytes`.
 *
 * @throws TypeError / RangeError (`ERR_INVALID_ARG`, `ERR_INVALID_OPTION`) for a wrong argument
 *         or option; {@link Lz4Error} for bad data (every code), including
 *         ERR_LZ4_OUTPUT_TOO_SMALL when the content exceeds `maxOutputBytes`
 */
export function decompressFrame(frame: Uint8Array, options?: DecompressFrameOptions): Buffer {
  checkBytes('frame', frame);
  const o = fillDecompressFrameOptions(options);
  return codec.decompressFrame(frame, o.maxOutputBytes);
}
