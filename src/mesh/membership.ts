/**
 * SWIM membership with the Lifeguard extensions, modelled on hashicorp/memberlist, written against
 * the `Transport` interface only.
 *
 * - Failure detection: every probeIntervalMs (× local health) one member, taken round robin from a
 *   shuffled list, gets a Ping. No Ack within probeTimeoutMs (× local health) — or a refused
 *   connection — and indirectChecks other members are asked to probe it (PingReq); each answers
 *   Ack or, Lifeguard's addition, Nack. Nobody reached it: it is suspected at the incarnation it has.
 *   A dropped connection (`onPeerDisconnect`) probes that member at once, outside the round robin:
 *   with a crashed process the connection is refused and the whole round takes milliseconds.
 * - Suspicion (suspicion.ts): a suspected member is declared dead when its suspicion timer expires;
 *   independent confirmations shorten the timer. A member that hears it is suspected or dead
 *   refutes by raising its incarnation and gossiping Alive.
 * - Local health (awareness.ts): failed probes and missed Nacks make this node slower to blame others.
 * - Dissemination: every accepted change is queued (`GossipQueue`) and piggybacked on Pings and
 *   Acks, and sent in gossip rounds as standalone Alive/Suspect/Dead/Leave frames; push/pull
 *   StateSync exchanges repair what gossip missed.
 *
 * Precedence, per member (SWIM; i is the incarnation we hold, j the one in the news):
 * ```
 *   Alive j    overrides  Alive/Suspect i  when j > i;    Dead/Left i when j > i (a restart)
 *   Suspect j  overrides  Alive i          when j ≥ i     (a Suspect for a suspect member confirms)
 *   Dead/Left j overrides Alive/Suspect i  when j ≥ i     (final for that incarnation)
 * ```
 * Incarnations: a node starts at the incarnation its transport holds. Give a fresh process
 * `freshIncarnation()` (the wall clock in ms): it is higher than any incarnation an earlier run of
 * the same node id used — unless that run refuted more than once per millisecond it was up — so a
 * restarted node is alive again everywhere at once instead of being held dead until it is forgotten.
 *
 * Invariants: the local member is always present and alive (left once `leave` was called); a
 * member's incarnation never decreases; dead and left members stay in the list for deadReclaimMs and
 * block news at their incarnation until then; nothing a peer sends can make this module throw.
 */
import { rangeError, typeError } from '../errors.js';
import type { Bytes, Milliseconds } from '../config.js';
import { Awareness } from './awareness.js';
import { checkClock, type Clock, type ClockTimer } from './clock.js';
import { MEMBERSHIP_PRESETS, type MembershipConfig, type MembershipPresetName } from './presets.js';
import { Suspicion, suspicionMinTimeoutMs } from './suspicion.js';
import { TransportError, type OutgoingFrame, type PeerInfo, type Transport } from './transport.js';
import {
  MAX_GOSSIP_ITEMS,
  MAX_MEMBERS,
  MemberState,
  MessageType,
  type GossipItem,
  type MeshFrame,
  type Member as WireMember,
} from './wire.js';

/** Most bytes of gossip piggybacked on one Ping or Ack (estimated encoded size), so probes stay small. */
export const MAX_PIGGYBACK_BYTES: Bytes = 4096;
/** Most PingReqs this node works on at once for others; more are answered Nack at once. */
export const MAX_INDIRECT_PROBES_IN_FLIGHT = 64;
/**
 * A timeout that fired this many probe timeouts late means our own event loop stalled: the probe
 * round is inconclusive (local health rises) rather than evidence against the target.
 */
const STALL_TOLERANCE_FRACTION = 0.5;
/** The longest a Node.js timer can wait. */
const MAX_TIMER_MS: Milliseconds = 2_147_483_647;
/** Estimated encoded size of a gossip item beyond its strings: state u8, three u16 prefixes, u64. */
const GOSSIP_ITEM_FIXED_BYTES: Bytes = 1 + 2 + 2 + 8 + 2;

/** A member's state as the public API reports it. */
export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/** One member of the mesh, as this node sees it (a snapshot: later changes do not alter it). */
export interface Member {
  readonly nodeId: string;
  /** Where the member is reached (`host:port`). */
  readonly address: string;
  /** The member's incarnation: raised by the member itself to refute suspicion, or on restart. */
  readonly incarnation: bigint;
  readonly state: MemberStatus;
  /** When this node saw the state change, ms since the epoch (the `now` clock). */
  readonly stateChangedAt: number;
}

/** The logger membership writes to (pino's methods fit; `debug` is optional). */
export interface MembershipLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

/** Options for `new Membership(transport, options)`: a preset and overrides of any of its values. */
export interface MembershipOptions extends Partial<MembershipConfig> {
  /** Which preset the values not given here come from (presets.ts). @default 'lan' */
  preset?: MembershipPresetName;
  /** Where state changes and failures are logged. @default no logging */
  logger?: MembershipLogger;
  /** Wall clock for `stateChangedAt` and forgetting the dead, ms since the epoch. @default Date.now */
  now?: () => number;
  /**
   * Monotonic clock and one-shot timers for suspicion deadlines and the probe loop (tests inject a
   * fake one to assert exact deadlines). @default REAL_CLOCK
   */
  clock?: Clock;
}

/** The options once merged over the preset and validated. */
export interface ResolvedMembershipOptions extends MembershipConfig {
  preset: MembershipPresetName;
  logger: MembershipLogger;
  now: () => number;
  clock: Clock;
}

/** Counters (INFO mesh, /metrics). */
export interface MembershipStats {
  /** Direct Pings sent by the probe loop and the disconnect hint. */
  probesSent: number;
  /** Direct probes that got no Ack. */
  probeFailures: number;
  /** PingReqs sent to intermediaries. */
  indirectProbes: number;
  /** Nacks this node sent as an intermediary. */
  nacksSent: number;
  /** Members this node suspected after a failed probe round. */
  suspicionsRaised: number;
  /** Members that turned suspect in this node's view, whoever suspected them. */
  suspectEventsSeen: number;
  /** Times this node raised its incarnation to refute a suspicion or death. */
  refutations: number;
  /** Members this node declared dead when their suspicion timer expired. */
  deathsDeclared: number;
  /** Probe rounds that failed while this node's own event loop stalled (no suspicion raised). */
  inconclusiveProbes: number;
  /** Membership frames that could not be processed (each was dropped and logged). */
  badFrames: number;
  membersAlive: number;
  membersSuspect: number;
  membersDead: number;
  membersLeft: number;
  /** Lifeguard local health score (0 = healthy). */
  localHealth: number;
  /** Pieces of news waiting to be gossiped. */
  gossipQueued: number;
}

/** Why `join` failed; `code` is stable. */
export class MembershipError extends Error {
  constructor(
    readonly code: 'ERR_MESH_JOIN',
    message: string,
  ) {
    super(message);
    this.name = 'MembershipError';
  }
}

/**
 * A first incarnation for a freshly started node: the wall clock in ms. Higher than whatever an
 * earlier run of the same node id used, so the restarted node overrides the Dead others remember.
 */
export function freshIncarnation(): bigint {
  return BigInt(Date.now());
}

const NO_LOG: MembershipLogger = { info() {}, warn() {}, debug() {} };

type Numeric = keyof MembershipConfig;
/** Options that may be 0 (and what 0 means, for the message). */
const ZERO_ALLOWED: Partial<Record<Numeric, string>> = {
  indirectChecks: 'no indirect probes',
  pushPullIntervalMs: 'no periodic push/pull',
  deadReclaimMs: 'forget at the next gossip round',
};

/**
 * Merges `options` over its preset and validates every value. Throws TypeError for a value of the
 * wrong type and RangeError for a bad value, each message reading `options.mesh.<name> must be …`.
 */
export function resolveMembershipOptions(options: MembershipOptions): ResolvedMembershipOptions {
  if (options === null || typeof options !== 'object') throw typeError('ERR_INVALID_OPTION', 'options.mesh must be an object');
  const preset = options.preset ?? 'lan';
  if (typeof preset !== 'string') throw typeError('ERR_INVALID_OPTION', 'options.mesh.preset must be a string');
  if (!Object.hasOwn(MEMBERSHIP_PRESETS, preset)) {
    throw rangeError('ERR_INVALID_OPTION', `options.mesh.preset must be 'lan' or 'local', got '${preset}'`);
  }
  const base = MEMBERSHIP_PRESETS[preset];
  const config = { ...base } as MembershipConfig;
  for (const name of Object.keys(base) as Numeric[]) {
    const value: unknown = options[name];
    if (value === undefined) continue;
    if (typeof value !== 'number') throw typeError('ERR_INVALID_OPTION', `options.mesh.${name} must be a number`);
    const zeroMeaning = ZERO_ALLOWED[name];
    const kind = zeroMeaning === undefined ? 'a positive integer' : `a non-negative integer (0: ${zeroMeaning})`;
    if (!Number.isInteger(value) || value < (zeroMeaning === undefined ? 1 : 0)) {
      throw rangeError('ERR_INVALID_OPTION', `options.mesh.${name} must be ${kind}`);
    }
    if (value > MAX_TIMER_MS) throw rangeError('ERR_INVALID_OPTION', `options.mesh.${name} must be ${kind} of at most ${MAX_TIMER_MS}`);
    config[name] = value;
  }
  const logger = options.logger ?? NO_LOG;
  if (
    logger === null || typeof logger !== 'object' ||
    typeof logger.info !== 'function' || typeof logger.warn !== 'function' ||
    (logger.debug !== undefined && typeof logger.debug !== 'function')
  ) {
    throw typeError('ERR_INVALID_OPTION', 'options.mesh.logger must be an object with info and warn functions (and optionally debug)');
  }
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw typeError('ERR_INVALID_OPTION', 'options.mesh.now must be a function returning ms since the epoch');
  const clock = checkClock(options.clock);
  return { ...config, preset, logger, now, clock };
}

// ---------------------------------------------------------------------------------------------------
// The broadcast queue

interface QueuedItem {
  item: GossipItem;
  transmits: number;
  seq: number;
}

/**
 * memberlist's TransmitLimitedQueue: pending news, one item per member (newer news about a member
 * replaces older), each sent at most a retransmit limit of times. `take` prefers the items sent
 * least often, newest first, so fresh news overtakes old news.
 */
export class GossipQueue {
  readonly #items = new Map<string, QueuedItem>();
  #seq = 0;

  /** Items waiting. */
  get size(): number {
    return this.#items.size;
  }

  /** Queues `item`, replacing any older news about the same member. */
  enqueue(item: GossipItem): void {
    this.#items.set(item.nodeId, { item, transmits: 0, seq: ++this.#seq });
  }

  /**
   * Up to `maxItems` items whose estimated encoded size totals at most `maxBytes`; each counts one
   * transmit, and an item sent `retransmitLimit` times leaves the queue.
   */
  take(maxItems: number, maxBytes: Bytes, retransmitLimit: number): GossipItem[] {
    if (this.#items.size === 0 || maxItems <= 0) return [];
    const order = [...this.#items.values()].sort((a, b) => a.transmits - b.transmits || b.seq - a.seq);
    const out: GossipItem[] = [];
    let bytes = 0;
    for (const q of order) {
      if (out.length >= maxItems) break;
      const size = gossipItemBytes(q.item);
      if (bytes + size > maxBytes) continue;
      bytes += size;
      out.push(q.item);
      q.transmits++;
      if (q.transmits >= retransmitLimit) this.#items.delete(q.item.nodeId);
    }
    return out;
  }

  /** Drops everything. */
  clear(): void {
    this.#items.clear();
  }
}

/** Estimated encoded size of one gossip item (the wire's layout; string lengths in UTF-8 bytes). */
export function gossipItemBytes(item: GossipItem): Bytes {
  return GOSSIP_ITEM_FIXED_BYTES + Buffer.byteLength(item.nodeId) + Buffer.byteLength(item.address) + Buffer.byteLength(item.from);
}

// ---------------------------------------------------------------------------------------------------
// Membership

interface MemberRecord {
  nodeId: string;
  address: string;
  incarnation: bigint;
  state: MemberStatus;
  stateChangedAt: number;
}

const STATE_TO_WIRE: Readonly<Record<MemberStatus, MemberState>> = {
  alive: MemberState.Alive,
  suspect: MemberState.Suspect,
  dead: MemberState.Dead,
  left: MemberState.Left,
};

type Phase = 'idle' | 'running' | 'stopped' | 'left';
/** Called after a member changes state; `previousState` is null for a member just learnt. */
export type MemberChangeListener = (member: Member, previousState: MemberStatus | null) => void;

function isLive(m: MemberRecord): boolean {
  return m.state === 'alive' || m.state === 'suspect';
}

function snapshot(m: MemberRecord): Member {
  return Object.freeze({ nodeId: m.nodeId, address: m.address, incarnation: m.incarnation, state: m.state, stateChangedAt: m.stateChangedAt });
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * A node's view of the mesh and its failure detector. Wire it up with
 * `transport.onFrame((f, from, reply) => membership.handleFrame(f, from, reply) || …)`, then
 * `start()` and `join(seeds)`. The constructor registers `onPeerDisconnect` itself.
 */
export class Membership {
  /** The resolved options (preset merged with overrides). */
  readonly options: Readonly<ResolvedMembershipOptions>;
  readonly #transport: Transport;
  readonly #log: MembershipLogger;
  readonly #now: () => number;
  readonly #members = new Map<string, MemberRecord>();
  readonly #self: MemberRecord;
  readonly #suspicions = new Map<string, Suspicion>();
  readonly #queue = new GossipQueue();
  readonly #awareness: Awareness;
  readonly #listeners = new Set<MemberChangeListener>();
  readonly #probing = new Set<string>();
  #probeOrder: string[] = [];
  #probeIndex = 0;
  #indirectInFlight = 0;
  #phase: Phase = 'idle';
  #probeTimer: ClockTimer;
  #gossipTimer: NodeJS.Timeout | undefined;
  #pushPullTimer: NodeJS.Timeout | undefined;
  readonly #stats = {
    probesSent: 0, probeFailures: 0, indirectProbes: 0, nacksSent: 0, suspicionsRaised: 0,
    suspectEventsSeen: 0, refutations: 0, deathsDeclared: 0, inconclusiveProbes: 0, badFrames: 0,
  };

  /**
   * @param transport the mesh transport; its nodeId, address and incarnation are the local member's.
   * @param options a preset and overrides (validated: TypeError / RangeError `options.mesh.<name> must be …`).
   */
  constructor(transport: Transport, options: MembershipOptions = {}) {
    if (transport === null || typeof transport !== 'object' || typeof transport.request !== 'function') {
      throw typeError('ERR_INVALID_OPTION', 'transport must be a Transport');
    }
    this.options = Object.freeze(resolveMembershipOptions(options));
    this.#transport = transport;
    this.#log = this.options.logger;
    this.#now = this.options.now;
    this.#awareness = new Awareness(this.options.awarenessMaxMultiplier);
    this.#self = {
      nodeId: transport.nodeId,
      address: transport.address,
      incarnation: transport.incarnation,
      state: 'alive',
      stateChangedAt: this.#now(),
    };
    this.#members.set(this.#self.nodeId, this.#self);
    transport.onPeerDisconnect((peer) => this.handlePeerDisconnect(peer));
  }

  /** This node's id. */
  get nodeId(): string {
    return this.#self.nodeId;
  }

  /** This node's current incarnation. */
  get incarnation(): bigint {
    return this.#self.incarnation;
  }

  /** Lifeguard local health: 0 (healthy) to awarenessMaxMultiplier − 1. */
  get localHealth(): number {
    return this.#awareness.score;
  }

  /** Every known member, this node included, dead and left ones until forgotten; sorted by id. */
  members(): Member[] {
    return [...this.#members.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1)).map(snapshot);
  }

  /** One member, or undefined when unknown (or forgotten). */
  member(nodeId: string): Member | undefined {
    const m = this.#members.get(nodeId);
    return m === undefined ? undefined : snapshot(m);
  }

  /**
   * The members that own keys: alive and suspect ones, this node included while it has not left.
   * Suspect members keep their keys (SWIM: a suspicion is not a failure until it expires), so a
   * brief stall does not move data around; sorted by id.
   */
  aliveMembers(): Member[] {
    return this.members().filter((m) => m.state === 'alive' || m.state === 'suspect');
  }

  /**
   * Calls `listener(member, previousState)` after every change of a member's state, and when a
   * member is first learnt (previousState null). Returns a function that unsubscribes.
   */
  onChange(listener: MemberChangeListener): () => void {
    if (typeof listener !== 'function') throw typeError('ERR_INVALID_OPTION', 'listener must be a function');
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Counters and current member counts. */
  stats(): MembershipStats {
    const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.#members.values()) counts[m.state]++;
    return {
      ...this.#stats,
      membersAlive: counts.alive,
      membersSuspect: counts.suspect,
      membersDead: counts.dead,
      membersLeft: counts.left,
      localHealth: this.#awareness.score,
      gossipQueued: this.#queue.size,
    };
  }

  /** Starts the probe loop and the gossip and push/pull timers (all unref'd). Idempotent. */
  start(): void {
    if (this.#phase === 'running' || this.#phase === 'left') return;
    this.#phase = 'running';
    this.#enqueueSelf();
    this.#scheduleProbe(this.#awareness.scale(this.options.probeIntervalMs));
    this.#gossipTimer = setInterval(() => this.#gossipRound(), this.options.gossipIntervalMs);
    this.#gossipTimer.unref();
    if (this.options.pushPullIntervalMs > 0) {
      this.#pushPullTimer = setInterval(() => void this.#pushPull(), this.options.pushPullIntervalMs);
      this.#pushPullTimer.unref();
    }
  }

  /**
   * Push/pull with each seed: sends our StateSync, merges the seed's. Resolves with the number of
   * seeds reached (0 when none were given, or only this node's own address). Rejects with
   * MembershipError `ERR_MESH_JOIN` when seeds were given and none could be reached.
   */
  async join(seedAddresses: string[]): Promise<number> {
    if (!Array.isArray(seedAddresses) || seedAddresses.some((a) => typeof a !== 'string')) {
      throw typeError('ERR_INVALID_OPTION', 'seedAddresses must be an array of strings');
    }
    const seeds = [...new Set(seedAddresses)].filter((a) => a !== this.#transport.address && a !== '');
    if (seeds.length === 0) return 0;
    const results = await Promise.allSettled(seeds.map((address) => this.#exchangeState(address)));
    const reached = results.filter((r) => r.status === 'fulfilled').length;
    if (reached === 0) {
      const first = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      const why = first?.reason instanceof Error ? first.reason.message : String(first?.reason);
      throw new MembershipError('ERR_MESH_JOIN', `could not reach any of ${seeds.length} seed(s) (${seeds.join(', ')}): ${why}`);
    }
    this.#enqueueSelf();
    this.#log.info({ nodeId: this.nodeId, seeds: seeds.length, reached, members: this.#members.size }, 'joined the mesh');
    return reached;
  }

  /**
   * Leaves gracefully: marks this node left, sends Leave to every alive and suspect member
   * directly (waiting at most `timeoutMs`; failures are tolerated), then stops the timers.
   */
  async leave(timeoutMs: Milliseconds): Promise<void> {
    if (typeof timeoutMs !== 'number') throw typeError('ERR_INVALID_OPTION', 'timeoutMs must be a number');
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMER_MS) {
      throw rangeError('ERR_INVALID_OPTION', 'timeoutMs must be a non-negative integer');
    }
    if (this.#phase === 'left') return;
    this.#stopTimers();
    this.#phase = 'left';
    this.#setState(this.#self, 'left');
    const frame: OutgoingFrame = { type: MessageType.Leave, body: { nodeId: this.nodeId, incarnation: this.#self.incarnation } };
    const peers = [...this.#members.values()].filter((m) => m !== this.#self && isLive(m));
    const sends = peers.map((m) =>
      this.#transport.send(m.address, frame).catch((err: unknown) => {
        this.#log.debug?.({ peer: m.nodeId, err: describe(err) }, 'Leave not delivered');
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(sends),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.#log.info({ nodeId: this.nodeId, told: peers.length }, 'left the mesh');
  }

  /** Stops every timer without leaving, and ignores frames from now on: to peers, a crash. */
  stop(): void {
    this.#stopTimers();
    if (this.#phase !== 'left') this.#phase = 'stopped';
  }

  /**
   * Handles an incoming frame; true when it is a membership frame (Ping, PingReq, Suspect, Alive,
   * Dead, StateSync, Leave), false otherwise (Acks and Nacks come back as request replies).
   * Never throws: a frame that cannot be processed is counted in `badFrames` and logged.
   */
  handleFrame(frame: MeshFrame, from: PeerInfo, reply: (frame: OutgoingFrame) => void): boolean {
    switch (frame?.type) {
      case MessageType.Ping:
      case MessageType.PingReq:
      case MessageType.Suspect:
      case MessageType.Alive:
      case MessageType.Dead:
      case MessageType.StateSync:
      case MessageType.Leave:
        break;
      default:
        return false;
    }
    if (this.#phase === 'stopped') return true;
    try {
      this.#dispatch(frame, from, reply);
    } catch (err) {
      this.#stats.badFrames++;
      this.#log.warn({ peer: from?.nodeId, type: frame.type, err: describe(err) }, 'membership frame dropped');
    }
    return true;
  }

  /**
   * The disconnect hint: a connection to `peer` dropped, so probe it now rather than at its turn
   * in the round robin (a crashed process refuses the reconnect at once). Registered with the
   * transport by the constructor; public for dispatchers that own the transport's hook.
   */
  handlePeerDisconnect(peer: PeerInfo): void {
    if (this.#phase !== 'running') return;
    const m = this.#members.get(peer?.nodeId);
    if (m === undefined || m === this.#self || !isLive(m)) return;
    this.#log.debug?.({ peer: m.nodeId }, 'connection dropped: probing now');
    void this.#probe(m);
  }

  // -------------------------------------------------------------------------------------------------
  // Frames

  #dispatch(frame: MeshFrame, from: PeerInfo, reply: (frame: OutgoingFrame) => void): void {
    switch (frame.type) {
      case MessageType.Ping: {
        this.#applyGossip(frame.body.gossip);
        // A probe meant for a node that used to live at this address is not ours to answer.
        if (frame.body.target !== this.nodeId) return;
        reply({ type: MessageType.Ack, body: { nodeId: this.nodeId, gossip: this.#piggyback(from?.nodeId) } });
        return;
      }
      case MessageType.PingReq:
        this.#onPingReq(frame.body.target, frame.body.address, reply);
        return;
      case MessageType.Suspect:
        this.#onSuspect(frame.body.nodeId, frame.body.incarnation, frame.body.from);
        return;
      case MessageType.Alive:
        this.#onAlive(frame.body.nodeId, frame.body.address, frame.body.incarnation);
        return;
      case MessageType.Dead:
        this.#onDead(frame.body.nodeId, frame.body.incarnation, frame.body.from, false);
        return;
      case MessageType.Leave:
        this.#onDead(frame.body.nodeId, frame.body.incarnation, frame.body.nodeId, true);
        return;
      case MessageType.StateSync: {
        // Answer with our state as it was before merging theirs, as memberlist does.
        reply(this.#stateSyncFrame());
        this.#merge(frame.body.members);
        return;
      }
    }
  }

  /** Probes `target` for a peer whose own probe failed; answers Ack or Nack (Lifeguard). */
  #onPingReq(target: string, address: string, reply: (frame: OutgoingFrame) => void): void {
    if (target === this.nodeId) {
      reply({ type: MessageType.Ack, body: { nodeId: this.nodeId, gossip: [] } });
      return;
    }
    if (this.#indirectInFlight >= MAX_INDIRECT_PROBES_IN_FLIGHT) {
      this.#stats.nacksSent++;
      reply({ type: MessageType.Nack, body: { target } });
      return;
    }
    this.#indirectInFlight++;
    const ping: OutgoingFrame = { type: MessageType.Ping, body: { target, gossip: this.#piggyback() } };
    this.#transport
      .request(address, ping, this.options.probeTimeoutMs)
      .then(
        (answer) => {
          if (answer.type !== MessageType.Ack || answer.body.nodeId !== target) return false;
          this.#applyGossip(answer.body.gossip);
          return true;
        },
        (err: unknown) => {
          this.#log.debug?.({ target, err: describe(err) }, 'indirect probe failed');
          return false;
        },
      )
      .then((acked) => {
        this.#indirectInFlight--;
        if (this.#phase === 'stopped') return;
        if (acked) {
          reply({ type: MessageType.Ack, body: { nodeId: target, gossip: this.#piggyback() } });
        } else {
          this.#stats.nacksSent++;
          reply({ type: MessageType.Nack, body: { target } });
        }
      })
      .catch((err: unknown) => this.#log.warn({ target, err: describe(err) }, 'could not answer PingReq'));
  }

  #applyGossip(items: readonly GossipItem[]): void {
    if (!Array.isArray(items)) return;
    const n = Math.min(items.length, MAX_GOSSIP_ITEMS);
    for (let i = 0; i < n; i++) {
      const item = items[i];
      switch (item.state) {
        case MemberState.Alive:
          this.#onAlive(item.nodeId, item.address, item.incarnation);
          break;
        case MemberState.Suspect:
          this.#onSuspect(item.nodeId, item.incarnation, item.from);
          break;
        case MemberState.Dead:
          this.#onDead(item.nodeId, item.incarnation, item.from, false);
          break;
        case MemberState.Left:
          this.#onDead(item.nodeId, item.incarnation, item.nodeId, true);
          break;
      }
    }
  }

  /**
   * Push/pull merge (memberlist's mergeState): a remote Dead only makes us suspect the member, so
   * that it gets the chance to refute before we agree; Left is final.
   */
  #merge(members: readonly WireMember[]): void {
    if (!Array.isArray(members)) return;
    const n = Math.min(members.length, MAX_MEMBERS);
    for (let i = 0; i < n; i++) {
      const r = members[i];
      switch (r.state) {
        case MemberState.Alive:
          this.#onAlive(r.nodeId, r.address, r.incarnation);
          break;
        case MemberState.Suspect:
        case MemberState.Dead:
          this.#onSuspect(r.nodeId, r.incarnation, this.nodeId);
          break;
        case MemberState.Left:
          this.#onDead(r.nodeId, r.incarnation, r.nodeId, true);
          break;
      }
    }
  }

  // -------------------------------------------------------------------------------------------------
  // State transitions

  #onAlive(nodeId: string, address: string, incarnation: bigint): void {
    if (typeof nodeId !== 'string' || typeof incarnation !== 'bigint') return;
    if (nodeId === this.nodeId) {
      // Someone holds a newer Alive for our id (an earlier run, or a stale view): out-number it.
      if (incarnation > this.#self.incarnation) this.#refute(incarnation, 'alive');
      return;
    }
    const m = this.#members.get(nodeId);
    if (m === undefined) {
      if (typeof address !== 'string' || address === '') return;
      const added: MemberRecord = { nodeId, address, incarnation, state: 'alive', stateChangedAt: this.#now() };
      this.#members.set(nodeId, added);
      this.#insertIntoProbeOrder(nodeId);
      this.#log.info({ peer: nodeId, address, incarnation: String(incarnation) }, 'member joined');
      this.#emit(added, null);
      this.#queue.enqueue(this.#itemOf(added, this.nodeId));
      return;
    }
    if (incarnation <= m.incarnation) return;
    m.incarnation = incarnation;
    if (typeof address === 'string' && address !== '') m.address = address;
    this.#cancelSuspicion(nodeId);
    if (m.state !== 'alive') {
      if (m.state !== 'suspect') this.#insertIntoProbeOrder(nodeId);
      this.#setState(m, 'alive');
    }
    this.#queue.enqueue(this.#itemOf(m, this.nodeId));
  }

  #onSuspect(nodeId: string, incarnation: bigint, from: string): void {
    if (typeof nodeId !== 'string' || typeof incarnation !== 'bigint' || typeof from !== 'string') return;
    if (nodeId === this.nodeId) {
      if (incarnation >= this.#self.incarnation) this.#refute(incarnation, 'suspect');
      return;
    }
    const m = this.#members.get(nodeId);
    if (m === undefined || incarnation < m.incarnation) return;
    if (m.state === 'dead' || m.state === 'left') return;
    if (m.state === 'suspect' && incarnation === m.incarnation) {
      // Lifeguard: another node agrees; the timer shrinks, and the confirmation is passed on.
      if (this.#suspicions.get(nodeId)?.confirm(from) === true) {
        this.#queue.enqueue({ state: MemberState.Suspect, nodeId, address: m.address, incarnation, from });
      }
      return;
    }
    m.incarnation = incarnation;
    if (m.state !== 'suspect') {
      this.#stats.suspectEventsSeen++;
      this.#setState(m, 'suspect');
    }
    this.#startSuspicion(m, from);
    this.#queue.enqueue({ state: MemberState.Suspect, nodeId, address: m.address, incarnation, from });
  }

  #onDead(nodeId: string, incarnation: bigint, from: string, left: boolean): void {
    if (typeof nodeId !== 'string' || typeof incarnation !== 'bigint' || typeof from !== 'string') return;
    if (nodeId === this.nodeId) {
      if (incarnation >= this.#self.incarnation) this.#refute(incarnation, left ? 'left' : 'dead');
      return;
    }
    const m = this.#members.get(nodeId);
    if (m === undefined || incarnation < m.incarnation) return;
    if (m.state === 'dead' || m.state === 'left') {
      // Already final; a higher incarnation still moves the bar that Alives must clear.
      m.incarnation = incarnation;
      return;
    }
    m.incarnation = incarnation;
    this.#cancelSuspicion(nodeId);
    this.#setState(m, left ? 'left' : 'dead');
    this.#log.info({ peer: nodeId, incarnation: String(incarnation), from }, left ? 'member left' : 'member dead');
    this.#queue.enqueue(this.#itemOf(m, from));
  }

  /** We are said to be suspect/dead/left (or alive at a newer incarnation): out-number it and gossip Alive. */
  #refute(heard: bigint, claim: string): void {
    if (this.#phase === 'left') return;
    const base = heard > this.#self.incarnation ? heard : this.#self.incarnation;
    this.#self.incarnation = base + 1n;
    this.#transport.incarnation = this.#self.incarnation;
    this.#stats.refutations++;
    this.#awareness.applyDelta(1); // Lifeguard: being suspected hints that we are the slow one.
    this.#log.info({ claim, heard: String(heard), incarnation: String(this.#self.incarnation) }, 'refuting');
    this.#enqueueSelf();
  }

  #startSuspicion(m: MemberRecord, from: string): void {
    const n = this.#liveCount();
    const { suspicionMult, suspicionMaxTimeoutMult, probeIntervalMs } = this.options;
    // Lifeguard expects suspicionMult − 2 confirmations, but no more than the other members can give.
    let k = suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const minMs = suspicionMinTimeoutMs(suspicionMult, n, probeIntervalMs);
    const maxMs = suspicionMaxTimeoutMult * minMs;
    const nodeId = m.nodeId;
    const incarnation = m.incarnation;
    this.#cancelSuspicion(nodeId);
    const suspicion = new Suspicion({
      from,
      k,
      minMs,
      maxMs,
      clock: this.options.clock,
      onTimeout: (confirmations) => {
        if (this.#suspicions.get(nodeId) === suspicion) this.#suspicions.delete(nodeId);
        const cur = this.#members.get(nodeId);
        if (cur === undefined || cur.state !== 'suspect' || cur.incarnation !== incarnation) return;
        this.#stats.deathsDeclared++;
        this.#log.info({ peer: nodeId, confirmations, afterMs: suspicion.timeoutMs }, 'suspicion expired');
        this.#onDead(nodeId, incarnation, this.nodeId, false);
      },
    });
    this.#suspicions.set(nodeId, suspicion);
  }

  #cancelSuspicion(nodeId: string): void {
    const s = this.#suspicions.get(nodeId);
    if (s === undefined) return;
    s.cancel();
    this.#suspicions.delete(nodeId);
  }

  #setState(m: MemberRecord, state: MemberStatus): void {
    const previous = m.state;
    if (previous === state) return;
    m.state = state;
    m.stateChangedAt = this.#now();
    this.#emit(m, previous);
  }

  #emit(m: MemberRecord, previous: MemberStatus | null): void {
    if (this.#listeners.size === 0) return;
    const snap = snapshot(m);
    for (const listener of this.#listeners) {
      try {
        listener(snap, previous);
      } catch (err) {
        this.#log.warn({ peer: m.nodeId, err: describe(err) }, 'membership change listener threw');
      }
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Probing

  #scheduleProbe(delayMs: Milliseconds): void {
    this.#probeTimer = this.options.clock.setTimeout(() => void this.#probeTick(), delayMs);
  }

  async #probeTick(): Promise<void> {
    const startedAt = performance.now();
    const target = this.#nextProbeTarget();
    if (target !== undefined) await this.#probe(target);
    if (this.#phase !== 'running') return;
    const intervalMs = this.#awareness.scale(this.options.probeIntervalMs);
    this.#scheduleProbe(Math.max(0, startedAt + intervalMs - performance.now()));
  }

  /** The next live member of the shuffled round robin; reshuffles when the list is used up. */
  #nextProbeTarget(): MemberRecord | undefined {
    for (let pass = 0; pass < 2; pass++) {
      while (this.#probeIndex < this.#probeOrder.length) {
        const m = this.#members.get(this.#probeOrder[this.#probeIndex++]);
        if (m !== undefined && m !== this.#self && isLive(m) && !this.#probing.has(m.nodeId)) return m;
      }
      this.#probeOrder = shuffle([...this.#members.values()].filter((m) => m !== this.#self && isLive(m)).map((m) => m.nodeId));
      this.#probeIndex = 0;
    }
    return undefined;
  }

  /** A new (or revived) member goes at a random place among those not yet probed this pass. */
  #insertIntoProbeOrder(nodeId: string): void {
    const rest = this.#probeOrder.length - this.#probeIndex;
    const at = this.#probeIndex + Math.floor(Math.random() * (rest + 1));
    this.#probeOrder.splice(at, 0, nodeId);
  }

  /** One probe round of `target`; never rejects, and never runs twice at once for one member. */
  async #probe(target: MemberRecord): Promise<void> {
    if (this.#probing.has(target.nodeId)) return;
    this.#probing.add(target.nodeId);
    try {
      await this.#probeRound(target);
    } catch (err) {
      this.#log.warn({ peer: target.nodeId, err: describe(err) }, 'probe round failed unexpectedly');
    } finally {
      this.#probing.delete(target.nodeId);
    }
  }

  async #probeRound(target: MemberRecord): Promise<void> {
    const { nodeId } = target;
    const incarnation = target.incarnation;
    const timeoutMs = this.#awareness.scale(this.options.probeTimeoutMs);
    const stallMs = this.options.probeTimeoutMs * STALL_TOLERANCE_FRACTION;
    let stalled = false;

    this.#stats.probesSent++;
    const sentAt = performance.now();
    try {
      const ping: OutgoingFrame = { type: MessageType.Ping, body: { target: nodeId, gossip: this.#piggyback(nodeId) } };
      const answer = await this.#transport.request(target.address, ping, timeoutMs);
      if (answer.type === MessageType.Ack && answer.body.nodeId === nodeId) {
        this.#applyGossip(answer.body.gossip);
        this.#awareness.applyDelta(-1);
        return;
      }
      this.#log.debug?.({ peer: nodeId, type: answer.type }, 'probe answered by someone else');
    } catch (err) {
      if (err instanceof TransportError && err.code === 'ERR_MESH_TIMEOUT') {
        stalled = performance.now() - sentAt - timeoutMs > stallMs;
      } else if (!(err instanceof TransportError)) {
        this.#log.warn({ peer: nodeId, err: describe(err) }, 'probe request failed');
      }
    }
    this.#stats.probeFailures++;
    if (!this.#stillProbing(nodeId, incarnation)) return;

    // Indirect probes (SWIM) with Nacks (Lifeguard). Intermediaries probe with their own
    // probeTimeoutMs; we allow twice our timeout for that plus their answer.
    const helpers = this.#randomMembers(this.options.indirectChecks, (m) => m.state === 'alive' && m.nodeId !== nodeId);
    const indirectTimeoutMs = 2 * timeoutMs;
    const indirectAt = performance.now();
    let nacks = 0;
    const acked = await new Promise<boolean>((resolve) => {
      let outstanding = helpers.length;
      if (outstanding === 0) resolve(false);
      const req: OutgoingFrame = { type: MessageType.PingReq, body: { target: nodeId, address: target.address } };
      for (const helper of helpers) {
        this.#stats.indirectProbes++;
        this.#transport
          .request(helper.address, req, indirectTimeoutMs)
          .then(
            (answer) => {
              if (answer.type === MessageType.Ack && answer.body.nodeId === nodeId) {
                this.#applyGossip(answer.body.gossip);
                resolve(true);
              } else if (answer.type === MessageType.Nack) {
                nacks++;
              }
            },
            (err: unknown) => this.#log.debug?.({ peer: nodeId, via: helper.nodeId, err: describe(err) }, 'no answer to PingReq'),
          )
          .finally(() => {
            if (--outstanding === 0) resolve(false);
          });
      }
    });
    if (acked) return;
    if (performance.now() - indirectAt > indirectTimeoutMs + stallMs) stalled = true;
    // Lifeguard: every missing Nack hints that the problem is here, not there.
    this.#awareness.applyDelta(helpers.length > 0 ? helpers.length - nacks : 1);
    if (!this.#stillProbing(nodeId, incarnation)) return;
    if (stalled) {
      this.#stats.inconclusiveProbes++;
      this.#awareness.applyDelta(1);
      this.#log.warn({ peer: nodeId }, 'probe failed while this node was stalled: not suspecting');
      return;
    }
    this.#stats.suspicionsRaised++;
    this.#log.info({ peer: nodeId, incarnation: String(incarnation), nacks, helpers: helpers.length }, 'suspecting member: no ack');
    this.#onSuspect(nodeId, incarnation, this.nodeId);
  }

  /** Whether a probe result about `nodeId` at `incarnation` still matters (no newer news, still running). */
  #stillProbing(nodeId: string, incarnation: bigint): boolean {
    if (this.#phase !== 'running') return false;
    const m = this.#members.get(nodeId);
    return m !== undefined && isLive(m) && m.incarnation === incarnation;
  }

  // -------------------------------------------------------------------------------------------------
  // Gossip and push/pull

  /**
   * Pending news for a Ping or an Ack, within MAX_GOSSIP_ITEMS and MAX_PIGGYBACK_BYTES. When the
   * peer is one we hold suspect or dead, the news about it goes first, so that it refutes at once.
   */
  #piggyback(peerId?: string): GossipItem[] {
    const limit = this.#retransmitLimit();
    const peer = peerId === undefined ? undefined : this.#members.get(peerId);
    if (peer === undefined || peer.state === 'alive' || peer === this.#self) {
      return this.#queue.take(MAX_GOSSIP_ITEMS, MAX_PIGGYBACK_BYTES, limit);
    }
    const first = this.#itemOf(peer, this.nodeId);
    const rest = this.#queue.take(MAX_GOSSIP_ITEMS - 1, MAX_PIGGYBACK_BYTES - gossipItemBytes(first), limit);
    return [first, ...rest.filter((g) => g.nodeId !== peer.nodeId)];
  }

  /**
   * A gossip round: forget long-dead members, then send pending news to gossipNodes random live
   * members as standalone Alive/Suspect/Dead/Leave frames. Standalone frames rather than Pings: a
   * Ping needs the receiver's id as target and an Ack back, which a fire-and-forget round does not
   * want; each of these frames is small, idempotent and needs no reply.
   */
  #gossipRound(): void {
    this.#reclaimDead();
    if (this.#queue.size === 0) return;
    const limit = this.#retransmitLimit();
    for (const peer of this.#randomMembers(this.options.gossipNodes, isLive)) {
      for (const item of this.#queue.take(MAX_GOSSIP_ITEMS, Number.POSITIVE_INFINITY, limit)) {
        this.#transport.send(peer.address, frameOf(item)).catch((err: unknown) => {
          this.#log.debug?.({ peer: peer.nodeId, err: describe(err) }, 'gossip not delivered');
        });
      }
    }
  }

  async #pushPull(): Promise<void> {
    const [peer] = this.#randomMembers(1, (m) => m.state === 'alive');
    if (peer === undefined) return;
    try {
      await this.#exchangeState(peer.address);
    } catch (err) {
      this.#log.debug?.({ peer: peer.nodeId, err: describe(err) }, 'push/pull failed');
    }
  }

  async #exchangeState(address: string): Promise<void> {
    const answer = await this.#transport.request(address, this.#stateSyncFrame(), this.options.pushPullTimeoutMs);
    if (answer.type !== MessageType.StateSync) throw new Error(`${address} answered StateSync with message type ${answer.type}`);
    if (this.#phase !== 'stopped') this.#merge(answer.body.members);
  }

  #stateSyncFrame(): OutgoingFrame {
    // Live members first, so that a list over the cap drops the dead ones.
    const all = [...this.#members.values()].sort((a, b) => Number(isLive(b)) - Number(isLive(a)));
    const members: WireMember[] = all.slice(0, MAX_MEMBERS).map((m) => ({
      nodeId: m.nodeId, address: m.address, incarnation: m.incarnation, state: STATE_TO_WIRE[m.state],
    }));
    return { type: MessageType.StateSync, body: { members } };
  }

  #reclaimDead(): void {
    const cutoff = this.#now() - this.options.deadReclaimMs;
    for (const m of [...this.#members.values()]) {
      if (m === this.#self || isLive(m) || m.stateChangedAt > cutoff) continue;
      this.#members.delete(m.nodeId);
      this.#log.debug?.({ peer: m.nodeId }, 'forgot member');
    }
  }

  #enqueueSelf(): void {
    this.#self.address = this.#transport.address;
    this.#queue.enqueue(this.#itemOf(this.#self, this.nodeId));
  }

  #itemOf(m: MemberRecord, from: string): GossipItem {
    return { state: STATE_TO_WIRE[m.state], nodeId: m.nodeId, address: m.address, incarnation: m.incarnation, from };
  }

  /** retransmitMult × ceil(log10(n + 1)) sends per piece of news. */
  #retransmitLimit(): number {
    return this.options.retransmitMult * Math.ceil(Math.log10(this.#liveCount() + 1));
  }

  /** Alive and suspect members, this node included. */
  #liveCount(): number {
    let n = 0;
    for (const m of this.#members.values()) if (isLive(m)) n++;
    return n;
  }

  /** Up to `count` distinct random members other than this node that satisfy `accept`. */
  #randomMembers(count: number, accept: (m: MemberRecord) => boolean): MemberRecord[] {
    if (count <= 0) return [];
    const pool = [...this.#members.values()].filter((m) => m !== this.#self && accept(m));
    return shuffle(pool).slice(0, count);
  }

  #stopTimers(): void {
    this.options.clock.clearTimeout(this.#probeTimer);
    clearInterval(this.#gossipTimer);
    clearInterval(this.#pushPullTimer);
    this.#probeTimer = this.#gossipTimer = this.#pushPullTimer = undefined;
    for (const s of this.#suspicions.values()) s.cancel();
    this.#suspicions.clear();
  }
}

/** The standalone frame that carries one gossip item. */
function frameOf(item: GossipItem): OutgoingFrame {
  switch (item.state) {
    case MemberState.Alive:
      return { type: MessageType.Alive, body: { nodeId: item.nodeId, address: item.address, incarnation: item.incarnation } };
    case MemberState.Suspect:
      return { type: MessageType.Suspect, body: { nodeId: item.nodeId, incarnation: item.incarnation, from: item.from } };
    case MemberState.Dead:
      return { type: MessageType.Dead, body: { nodeId: item.nodeId, incarnation: item.incarnation, from: item.from } };
    default:
      return { type: MessageType.Leave, body: { nodeId: item.nodeId, incarnation: item.incarnation } };
  }
}

function describe(err: unknown): string {
  if (err instanceof TransportError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
