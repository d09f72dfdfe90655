/**
 * The one map from errors to RESP error replies: what a handler threw (a CacheError code, a
 * RangeError, a lock timeout…) becomes the text Redis clients expect, with Redis's prefixes
 * (`ERR`, `OOM`, `BUSY`). The sidecar's connections, the mesh's executor and its forwarding
 * paths all reply through here, so one error reads the same whichever way a command came.
 */
import { RespWriter } from '../resp/writer.js';

/** The RESP error text for an exception a handler threw. */
export function errorReply(err: unknown): string {
  const code = (err as { code?: string })?.code;
  const message = (err as Error)?.message ?? String(err);
  switch (code) {
    case 'ERR_VALUE_TOO_LARGE':
      return 'ERR string exceeds maximum allowed size';
    case 'ERR_KEY_TOO_LARGE':
      return 'ERR key exceeds maximum allowed size';
    case 'ERR_OUT_OF_MEMORY':
      return "OOM command not allowed when used memory > 'maxmemory'.";
    case 'ERR_LOCK_TIMEOUT':
      return 'BUSY ' + message;
    default:
      return message.startsWith('ERR ') || /^[A-Z]+ /.test(message) ? message : 'ERR ' + message;
  }
}

/** An error reply as bytes. */
export function errorBuffer(message: string): Buffer {
  const w = new RespWriter();
  w.error(message);
  return w.take();
}
