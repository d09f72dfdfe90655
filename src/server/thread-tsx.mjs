// Development entry for server threads when meshcache runs from its TypeScript sources (tests
// through tsx): Node 20 does not pass the parent's tsx hooks to worker threads.
import { register } from 'tsx/esm/api';

register();
await import('./thread.ts');
