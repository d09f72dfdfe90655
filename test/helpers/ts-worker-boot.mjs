// Worker bootstrap for tests: Node 20 does not run the parent's `--import tsx` hooks in worker
// threads, so register tsx here and then import the TypeScript entry named in workerData.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.tsEntry);
