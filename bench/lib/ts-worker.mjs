// Worker-thread bootstrap for the benches: Node 20 does not run the parent's `--import tsx` hooks
// in worker threads, so register tsx here, then import the TypeScript entry named in
// workerData.tsEntry (the same approach as test/helpers/ts-worker-boot.mjs).
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.tsEntry);
