/**
 * `npm start`: fills a cache, reads it back, and prints its stats. (The sidecar server takes this
 * over once it exists.)
 */
import { Cache } from './index.js';

const entries = Number(process.env.DEMO_ENTRIES ?? 200_000);
const cache = new Cache({ maxMemory: '64mb' });
const value = Buffer.alloc(100, 0x61);
let t = process.hrtime.bigint();
for (let i = 0; i < entries; i++) cache.set(`user:${i}`, value);
const setNs = Number(process.hrtime.bigint() - t) / entries;
t = process.hrtime.bigint();
let hits = 0;
for (let i = 0; i < entries; i++) if (cache.get(`user:${i}`) !== undefined) hits++;
const getNs = Number(process.hrtime.bigint() - t) / entries;
cache.set('greeting', 'hello from the WebAssembly core', { ttl: 60_000 });
cache.set('object', { list: [1, 2, 3], when: new Date(0) });
const s = cache.stats();
console.log(`meshcache demo: ${entries} sets of 100-byte values into a 64 MiB cache`);
console.log(`  set ${setNs.toFixed(0)} ns/op, get ${getNs.toFixed(0)} ns/op, ${hits} of ${entries} still cached`);
console.log(`  greeting = ${JSON.stringify(cache.get('greeting'))} (ttl ${cache.ttl('greeting')} ms)`);
console.log(`  object   = ${JSON.stringify(cache.get('object'))}`);
console.log(`  entries ${s.entries}, bytes ${s.bytes}, used ${s.usedBytes} of ${s.budget}, evictions ${s.evictions}`);
console.log(`  hits ${s.hits}, misses ${s.misses}, hit ratio ${(s.hitRatio * 100).toFixed(1)}%, shards ${s.shards.length}, balance ${s.balance.toFixed(3)}`);
cache.close();
