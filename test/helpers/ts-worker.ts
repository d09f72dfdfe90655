import { once } from 'node:events';
import { Worker, type WorkerOptions } from 'node:worker_threads';

const BOOT = new URL('./ts-worker-boot.mjs', import.meta.url);

/** A worker thread running a TypeScript file (through tsx), with `workerData` passed along. */
export function tsWorker(entry: URL, options: WorkerOptions & { workerData?: Record<string, unknown> } = {}): Worker {
  return new Worker(BOOT, { ...options, workerData: { ...options.workerData, tsEntry: entry.href } });
}

/**
 * Starts a TypeScript worker (tsWorker) and waits for its first message, which must be
 * `{ kind: 'ready' }`; a worker that says anything else or nothing within `timeoutMs` is
 * terminated and the promise rejects.
 */
export async function startTsWorker(entry: URL, workerData: Record<string, unknown>, timeoutMs = 20_000): Promise<Worker> {
  const w = tsWorker(entry, { workerData });
  let timer: NodeJS.Timeout | undefined;
  try {
    const [msg] = await Promise.race([
      once(w, 'message'),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`worker ${entry.pathname}: not ready within ${timeoutMs} ms`)), timeoutMs); }),
    ]) as [{ kind?: string }];
    if (msg?.kind !== 'ready') throw new Error(`worker ${entry.pathname} said ${JSON.stringify(msg)} instead of ready`);
  } catch (err) {
    await w.terminate();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return w;
}

/** Posts `msg` to the worker and resolves with its next message. */
export async function askWorker<T>(w: Worker, msg: object): Promise<T> {
  w.postMessage(msg);
  const [reply] = await once(w, 'message');
  return reply as T;
}
