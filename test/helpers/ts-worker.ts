import { Worker, type WorkerOptions } from 'node:worker_threads';

const BOOT = new URL('./ts-worker-boot.mjs', import.meta.url);

/** A worker thread running a TypeScript file (through tsx), with `workerData` passed along. */
export function tsWorker(entry: URL, options: WorkerOptions & { workerData?: Record<string, unknown> } = {}): Worker {
  return new Worker(BOOT, { ...options, workerData: { ...options.workerData, tsEntry: entry.href } });
}
