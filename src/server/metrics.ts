/**
 * Prometheus metrics for the sidecar, in a registry of their own (never prom-client's global one,
 * so two servers in one process, or an application's own metrics, never collide).
 *
 * Two sources feed it:
 * - the server's `onCommand` hook, called once per command: it only bumps plain numbers (a tally
 *   per command name: ok and error counts, latency bucket counts, latency sum); the counter by
 *   command and status and the latency histogram are built from the tallies at scrape time.
 *   Created before the server (the hook is a constructor option), so the order is
 *   `createMetrics()` → `new MeshcacheServer({ onCommand: metrics.onCommand })` →
 *   `metrics.attach(server)`.
 * - everything else is read when Prometheus scrapes (collect callbacks): `cache.stats()` once per
 *   scrape, the server's counters and client count. Nothing is sampled on a timer.
 *
 * Command names come from clients, so only names in the server's command table become label
 * values; anything else is counted as `unknown` (a client cannot grow the label set).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CacheStats } from '../cache/cache.js';
import type { MeshcacheServer } from './server.js';
import type { MeshAdmin } from '../commands/mesh.js';

/** Latency buckets in seconds: 10 µs to 100 ms, roughly 1-2.5-5 per decade. */
export const COMMAND_LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
];

/** Label value for commands not in the server's table (and for any command before `attach`). */
export const UNKNOWN_COMMAND_LABEL = 'unknown';

export interface MetricsOptions {
  /**
   * Also register prom-client's default Node process metrics (CPU, memory, event-loop lag, GC,
   * handles). They start an event-loop delay monitor for the life of the process.
   * @default true
   */
  processMetrics?: boolean;
  /** Labels added to every series (e.g. `{ instance: 'cache-a' }`). @default {} */
  defaultLabels?: Record<string, string>;
}

/** What `createMetrics` returns. */
export interface ServerMetrics {
  /** The registry holding every metric below; `registry.metrics()` is the exposition text. */
  readonly registry: Registry;
  /**
   * Pass as `ServerOptions.onCommand`. Counts the command (status `ok` or `error`) and records
   * its duration. A bound function: safe to pass around detached.
   */
  readonly onCommand: (name: string, ns: number, ok: boolean) => void;
  /** Connects the scrape-time figures (cache, clients, server counters) to `server`. Once. */
  attach(server: MeshcacheServer): void;
  /** The attached server, or null. */
  readonly server: MeshcacheServer | null;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;
  /** Content-Type for `render()`'s output. */
  readonly contentType: string;
}

/** What one command name has accumulated: plain numbers, so the per-command hook stays cheap. */
interface CommandTally {
  ok: number;
  error: number;
  /** Observations per bucket (not cumulative); the last slot is above the largest bound. */
  buckets: Float64Array;
  sumSeconds: number;
}

/**
 * The latency histogram as a prom-client metric (the duck type Registry reads: `get()` and
 * `reset()`), fed from the tallies. prom-client's own Histogram hashes the label set and
 * validates on every observe (about 0.4 µs, a large share of a cached GET); here a command costs
 * a Map lookup and a short bucket scan, and the exposition is built at scrape time.
 */
class CommandLatencyHistogram {
  readonly name = 'meshcache_command_duration_seconds';
  readonly help = 'Time to execute a command (parse to reply buffered), by command name';
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly labelNames = ['command'];
  constructor(readonly tallies: Map<string, CommandTally>) {}

  async get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const [command, t] of this.tallies) {
      let cumulative = 0;
      COMMAND_LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
        cumulative += t.buckets[i];
        values.push({ labels: { command, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      const count = t.ok + t.error;
      values.push({ labels: { command, le: '+Inf' }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels: { command }, value: t.sumSeconds, metricName: `${this.name}_sum` });
      values.push({ labels: { command }, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.tallies.clear();
  }
}

/**
 * Creates the sidecar's metrics. With a server, attaches it at once (then command counts only
 * flow if the server was built with `onCommand: metrics.onCommand`).
 */
export function createMetrics(server?: MeshcacheServer, options: MetricsOptions = {}): ServerMetrics {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  if (options.processMetrics !== undefined && typeof options.processMetrics !== 'boolean') throw new TypeError('options.processMetrics must be a boolean');
  const registry = new Registry();
  if (options.defaultLabels !== undefined) registry.setDefaultLabels(options.defaultLabels);
  const registers = [registry];
  let attached: MeshcacheServer | null = null;

  // One cache.stats() per scrape: every collect callback runs synchronously inside
  // registry.metrics() before any await, so a snapshot dropped at the next microtask is shared
  // by all of them and never outlives the scrape.
  let snapshot: CacheStats | null = null;
  const stats = (): CacheStats | null => {
    if (attached === null) return null;
    if (snapshot === null) {
      snapshot = attached.cache.stats();
      queueMicrotask(() => { snapshot = null; });
    }
    return snapshot;
  };

  /** A gauge whose value is read at scrape time. */
  const gauge = (name: string, help: string, read: (s: CacheStats, server: MeshcacheServer) => number) =>
    new Gauge({
      name, help, registers,
      collect(this: Gauge) {
        const s = stats();
        if (s !== null) this.set(read(s, attached!));
      },
    });
  /** A counter mirrored from a monotonic figure at scrape time. */
  const mirror = (name: string, help: string, read: (s: CacheStats, server: MeshcacheServer) => number) =>
    new Counter({
      name, help, registers,
      collect(this: Counter) {
        const s = stats();
        if (s === null) return;
        this.reset();
        this.inc(read(s, attached!));
      },
    });

  const tallies = new Map<string, CommandTally>();
  new Counter({
    name: 'meshcache_commands_total',
    help: 'Commands processed, by command name and status (ok, or error for error replies)',
    labelNames: ['command', 'status'] as const,
    registers,
    collect(this: Counter<'command' | 'status'>) {
      this.reset();
      for (const [command, t] of tallies) {
        this.inc({ command, status: 'ok' }, t.ok);
        this.inc({ command, status: 'error' }, t.error);
      }
    },
  });
  registry.registerMetric(new CommandLatencyHistogram(tallies) as unknown as Histogram);

  gauge('meshcache_connected_clients', 'Clients connected now', (_s, srv) => srv.clientCount);
  mirror('meshcache_keyspace_hits_total', 'Cache reads that found a live entry', (s) => s.hits);
  mirror('meshcache_keyspace_misses_total', 'Cache reads that found nothing', (s) => s.misses);
  gauge('meshcache_hit_ratio', 'hits / (hits + misses) since start; 0 before the first read', (s) => s.hitRatio);
  mirror('meshcache_evictions_total', 'Entries evicted to stay within the memory budget', (s) => s.evictions);
  mirror('meshcache_expirations_total', 'Entries removed because their TTL passed', (s) => s.expirations);
  gauge('meshcache_entries', 'Entries stored (expired ones not yet reclaimed included)', (s) => s.entries);
  gauge('meshcache_memory_used_bytes', 'Bytes counted against the budget: entries, indexes and ghost filters', (s) => s.usedBytes);
  gauge('meshcache_memory_budget_bytes', 'The memory budget (maxMemory)', (s) => s.budget);
  gauge('meshcache_wasm_memory_bytes', 'Size of the shared WebAssembly memory', (s) => s.memoryBytes);
  gauge('meshcache_compression_saved_bytes', 'Bytes compression saves over the live entries (raw minus stored)', (s) => s.bytesSaved);
  gauge('meshcache_shard_balance', 'Largest shard entry count divided by the mean (1 = perfectly balanced)', (s) => s.balance);
  mirror('meshcache_lock_contended_total', 'Shard lock acquisitions that had to wait for another thread', (s) => s.contended);
  new Gauge({
    name: 'meshcache_shard_entries',
    help: 'Entries per shard',
    labelNames: ['shard'] as const,
    registers,
    collect(this: Gauge<'shard'>) {
      const s = stats();
      if (s !== null) s.shards.forEach((sh, i) => this.set({ shard: String(i) }, sh.entries));
    },
  });
  new Gauge({
    name: 'meshcache_shard_used_bytes',
    help: 'Bytes counted against the budget per shard',
    labelNames: ['shard'] as const,
    registers,
    collect(this: Gauge<'shard'>) {
      const s = stats();
      if (s !== null) s.shards.forEach((sh, i) => this.set({ shard: String(i) }, sh.usedBytes));
    },
  });
  const counter = (name: string, help: string, key: keyof MeshcacheServer['counters']) =>
    mirror(name, help, (_s, srv) => srv.counters[key]);
  counter('meshcache_protocol_errors_total', 'Connections closed for malformed RESP', 'protocolErrors');
  counter('meshcache_output_limit_disconnections_total', 'Clients disconnected for exceeding the output buffer limits', 'outputLimitDisconnections');
  counter('meshcache_connections_received_total', 'Connections accepted (rejected ones included)', 'connectionsReceived');
  counter('meshcache_rejected_connections_total', 'Connections refused (max clients reached or shutting down)', 'rejectedConnections');
  counter('meshcache_net_input_bytes_total', 'Bytes read from clients', 'netInputBytes');
  counter('meshcache_net_output_bytes_total', 'Bytes written to clients', 'netOutputBytes');
  counter('meshcache_query_buffer_limit_disconnections_total', 'Clients disconnected for a query buffer over client-query-buffer-limit', 'queryBufferLimitDisconnections');
  counter('meshcache_evicted_clients_total', 'Clients disconnected, largest first, while all clients\' input was over maxmemory-clients', 'evictedClients');
  counter('meshcache_timeout_disconnections_total', 'Clients closed for idling past timeout or leaving a request unfinished past partial-request-timeout', 'timeoutDisconnections');
  gauge('meshcache_clients_input_buffer_bytes', 'Bytes all clients\' input (query buffers) holds now', (_s, srv) => srv.counters.clientInputBytes);

  // The mesh, when the server is in one (read at scrape time): without a mesh the counters stay at
  // 0, the gauges unset and meshcache_mesh_members has no sample.
  const meshCounter = (name: string, help: string, read: (n: MeshAdmin) => number) => new Counter({
    name, help, registers,
    collect(this: Counter) {
      const node = attached?.mesh;
      if (node === null || node === undefined) return;
      this.reset();
      this.inc(read(node));
    },
  });
  const meshGauge = (name: string, help: string, read: (n: MeshAdmin) => number) => new Gauge({
    name, help, registers,
    collect(this: Gauge) {
      const node = attached?.mesh;
      if (node !== null && node !== undefined) this.set(read(node));
    },
  });
  new Gauge({
    name: 'meshcache_mesh_members',
    help: 'Mesh members by state as this node sees them',
    labelNames: ['state'] as const,
    registers,
    collect(this: Gauge<'state'>) {
      const node = attached?.mesh;
      if (node === null || node === undefined) return;
      const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const m of node.nodes()) counts[m.state]++;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  meshCounter('meshcache_mesh_forwarded_total', 'Requests forwarded to the owner of their key', (n) => n.counters.forwarded);
  meshCounter('meshcache_mesh_forward_errors_total', 'Forwarded requests whose owner could not be reached in time', (n) => n.counters.forwardErrors);
  meshCounter('meshcache_mesh_served_total', 'Requests peers forwarded to this node', (n) => n.counters.served);
  meshCounter('meshcache_mesh_handoff_pulls_total', 'Keys fetched from their previous owner during a rebalance', (n) => n.counters.handoffPulls);
  meshCounter('meshcache_mesh_rebalance_sent_keys_total', 'Keys handed over to their new owner', (n) => n.rebalanceStats().sent);
  meshCounter('meshcache_mesh_rebalance_received_keys_total', 'Keys received from their previous owner', (n) => n.rebalanceStats().received);
  meshGauge('meshcache_mesh_rebalance_pending_keys', 'Keys waiting to be handed over (owner unreachable)', (n) => n.rebalanceStats().pending);
  meshCounter('meshcache_mesh_suspicions_total', 'Members this node saw turn suspect (false ones are refuted)', (n) => n.membershipStats().suspectEventsSeen);
  meshCounter('meshcache_mesh_refutations_total', 'Suspicions of this node it refuted', (n) => n.membershipStats().refutations);
  meshCounter('meshcache_mesh_deaths_declared_total', 'Members this node declared dead', (n) => n.membershipStats().deathsDeclared);
  meshGauge('meshcache_mesh_local_health', 'Lifeguard local health score (0 = healthy; timeouts scale by score + 1)', (n) => n.membershipStats().localHealth);
  meshGauge('meshcache_mesh_balance_keys_ratio', 'Keys on the fullest owning node divided by the mean (1 = even)', (n) => n.balance().keysMaxOverMean);
  meshCounter('meshcache_mesh_auth_failures_total', 'Mesh peers refused at the handshake', (n) => n.transportStats().authFailures);
  meshCounter('meshcache_mesh_malformed_frames_total', 'Malformed mesh frames received (each closed its connection)', (n) => n.transportStats().malformedFrames);

  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const bounds = COMMAND_LATENCY_BUCKETS_SECONDS;
  const onCommand = (name: string, ns: number, ok: boolean): void => {
    // Tallies are keyed by label (known names and 'unknown'), so the usual case is one Map get.
    let t = tallies.get(name);
    if (t === undefined) {
      const label = attached !== null && attached.commands.get(name) !== undefined ? name : UNKNOWN_COMMAND_LABEL;
      t = tallies.get(label);
      if (t === undefined) {
        t = { ok: 0, error: 0, buckets: new Float64Array(bounds.length + 1), sumSeconds: 0 };
        tallies.set(label, t);
      }
    }
    if (ok) t.ok++;
    else t.error++;
    const seconds = ns / 1e9;
    t.sumSeconds += seconds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]) i++;
    t.buckets[i]++;
  };

  const metrics: ServerMetrics = {
    registry,
    onCommand,
    contentType: registry.contentType,
    get server() { return attached; },
    attach(srv: MeshcacheServer) {
      if (attached !== null) throw new Error('metrics are already attached to a server');
      if (srv === null || typeof srv !== 'object' || typeof srv.cache?.stats !== 'function') throw new TypeError('server must be a MeshcacheServer');
      attached = srv;
    },
    render: () => registry.metrics(),
  };
  if (server !== undefined) metrics.attach(server);
  return metrics;
}
