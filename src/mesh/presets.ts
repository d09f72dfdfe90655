/**
 * Named membership presets (memberlist's DefaultLANConfig / DefaultLocalConfig idea): every SWIM +
 * Lifeguard parameter in one place, each value with the reason it was chosen. `Membership` merges
 * a caller's overrides over one of these; docs/mesh-config.md holds the same table for operators.
 *
 * Detection time of a crashed member, from the crash to every node marking it dead:
 * ```
 *   detect  ≈ 0                                    when a connection drops (disconnect hint, refused)
 *           ≤ (n−1) × probeIntervalMs + probeTimeoutMs + 2 × probeTimeoutMs   otherwise (round robin)
 *   suspect → dead = suspicion timeout, between
 *     min = suspicionMult × max(1, log10(max(1, n))) × probeIntervalMs       (k confirmations heard)
 *     max = suspicionMaxTimeoutMult × min                                    (no confirmation)
 *   spread  ≈ a few gossipIntervalMs
 * ```
 * where n is the number of alive and suspect members (this node included).
 */
import type { Milliseconds } from '../config.js';

/** Every tunable of the failure detector and gossip; all required once resolved. */
export interface MembershipConfig {
  /**
   * Time between two probes of the round robin (one member per probe), before the local-health
   * multiplier. Lower detects silent failures sooner and costs one request per interval.
   */
  probeIntervalMs: Milliseconds;
  /**
   * How long a direct Ping waits for its Ack, before the local-health multiplier. Must tolerate the
   * event-loop stalls of a busy peer: a value under the worst stall turns load into suspicion.
   * The indirect phase that follows a failed probe waits 2 × probeTimeoutMs (the intermediary's own
   * probe plus its Nack).
   */
  probeTimeoutMs: Milliseconds;
  /**
   * Members asked to probe a target (PingReq) after a direct probe failed. More makes a false
   * suspicion caused by one bad path less likely, at the cost of more requests per failure. 0: no
   * indirect probes (a failed direct probe suspects at once).
   */
  indirectChecks: number;
  /**
   * Scales the suspicion timeout: min = suspicionMult × max(1, log10(max(1, n))) × probeIntervalMs.
   * Also sets how many independent confirmations Lifeguard expects: k = suspicionMult − 2 (0, which
   * means "go straight to min", when fewer than k + 2 members are alive). Higher gives a suspected
   * member longer to refute, and delays the detection of a real failure.
   */
  suspicionMult: number;
  /**
   * The suspicion timeout starts at max = suspicionMaxTimeoutMult × min and falls towards min as
   * confirmations arrive (Lifeguard). Higher protects a member only one node suspects (that node
   * may be the sick one); it bounds detection when nobody confirms.
   */
  suspicionMaxTimeoutMult: number;
  /** Time between two gossip rounds (pending news sent to gossipNodes members). Lower spreads news faster. */
  gossipIntervalMs: Milliseconds;
  /** Members each gossip round sends its pending news to. Higher spreads faster and sends more frames. */
  gossipNodes: number;
  /**
   * Each piece of news is sent up to retransmitMult × ceil(log10(n + 1)) times (piggybacked or in a
   * gossip round) before it is dropped from the queue. Higher makes delivery to every member more
   * likely, at the cost of bytes.
   */
  retransmitMult: number;
  /**
   * Time between two full state exchanges (StateSync) with one random member: anti-entropy that
   * repairs whatever gossip missed. 0: only on join.
   */
  pushPullIntervalMs: Milliseconds;
  /** How long a StateSync exchange (join or push/pull) waits for the peer's reply. */
  pushPullTimeoutMs: Milliseconds;
  /**
   * Lifeguard local health: the awareness score runs 0..awarenessMaxMultiplier − 1, and probe
   * interval and timeout are multiplied by score + 1. Higher lets a slow node back off further
   * before it suspects others; 1 turns awareness off.
   */
  awarenessMaxMultiplier: number;
  /**
   * How long a dead or left member stays in the list before it is forgotten. Until then its Dead
   * blocks Alive news at the same or an older incarnation (a late packet cannot resurrect it).
   */
  deadReclaimMs: Milliseconds;
}

/** A preset's name. */
export type MembershipPresetName = 'lan' | 'local';

/**
 * The presets. `lan`: several hosts or processes on a LAN (the default). `local`: one host, unit and
 * in-process tests: everything faster, the same Lifeguard paths exercised.
 */
export const MEMBERSHIP_PRESETS: Readonly<Record<MembershipPresetName, Readonly<MembershipConfig>>> = Object.freeze({
  lan: Object.freeze({
    // One probe per 500 ms: with 5 members a silent failure is probed within 2 s.
    probeIntervalMs: 500,
    // 400 ms survives event-loop stalls of a few hundred ms on a loaded 2-core host; crashes are
    // caught fast anyway by the disconnect hint and the refused connection, not by this timeout.
    probeTimeoutMs: 400,
    // memberlist's default: three independent paths before anyone is suspected.
    indirectChecks: 3,
    // min suspicion = 3 × 500 ms = 1.5 s for up to 10 members; k = 1 confirmation expected.
    suspicionMult: 3,
    // 6 s when nobody confirms (a suspicion from one possibly sick node); 1.5 s once confirmed, so
    // a crash seen by two nodes is dead everywhere within ~2 s.
    suspicionMaxTimeoutMult: 4,
    // News reaches everyone of a small mesh within a few hundred ms.
    gossipIntervalMs: 100,
    gossipNodes: 3,
    // 4 × ceil(log10(n + 1)) sends per item: 4 for up to 9 members, 8 up to 99.
    retransmitMult: 4,
    // Anti-entropy every 15 s (memberlist's LAN value): cheap at this size, repairs lost gossip.
    pushPullIntervalMs: 15_000,
    pushPullTimeoutMs: 2_000,
    // Up to 8× slower probing when this node itself is the one struggling.
    awarenessMaxMultiplier: 8,
    // Remember the dead 30 s: far longer than any gossip lives, so old Alives cannot resurrect them.
    deadReclaimMs: 30_000,
  }),
  local: Object.freeze({
    // 200 ms: a silently stopped member of 5 is probed within 0.8 s, still 5 probes a second at most.
    probeIntervalMs: 200,
    // 150 ms: far above in-process round trips, tolerant of a test runner's GC pauses.
    probeTimeoutMs: 150,
    // Two paths suffice on one host; fewer requests in 3-node tests.
    indirectChecks: 2,
    // Same Lifeguard shape as lan (k = 1): min = 3 × 200 = 0.6 s.
    suspicionMult: 3,
    // 1.8 s unconfirmed, 0.6 s confirmed: tests finish within a couple of seconds.
    suspicionMaxTimeoutMult: 3,
    gossipIntervalMs: 50,
    gossipNodes: 3,
    // 3 sends per item up to 9 members: enough on a lossless in-process network.
    retransmitMult: 3,
    pushPullIntervalMs: 5_000,
    pushPullTimeoutMs: 1_000,
    // Up to 4× backoff: a loaded test host slows down instead of suspecting everyone.
    awarenessMaxMultiplier: 4,
    // 10 s: longer than any test's gossip, short enough to see reclamation in a test with overrides.
    deadReclaimMs: 10_000,
  }),
});
