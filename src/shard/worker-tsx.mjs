// Development entry for shard workers when meshcache runs from its TypeScript sources (tests,
// benchmarks through tsx): Node 20 does not pass the parent's tsx hooks to worker threads, so
// register them here, then load the TypeScript worker. The published package uses worker.js.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./worker.ts');
export default worker.default;
