import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  GossipQueue,
  MAX_PIGGYBACK_BYTES,
  Membership,
  MembershipError,
  freshIncarnation,
  gossipItemBytes,
  resolveMembershipOptions,
  type Member,
  type MembershipOptions,
  type MemberStatus,
} from '../../src/mesh/membership.js';
import { MEMBERSHIP_PRESETS, type MembershipConfig } from '../../src/mesh/presets.js';
import type { OutgoingFrame, PeerInfo } from '../../src/mesh/transport.js';
import { encodeFrame, MAX_GOSSIP_ITEMS, MemberState, MessageType, type GossipItem, type MeshFrame } from '../../src/mesh/wire.js';
import { REAL_CLOCK } from '../../src/mesh/clock.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { MemoryNetwork, type MemoryTransport } from '../helpers/memory-transport.js';
import { sleep, waitFor } from '../helpers/wait.js';


interface Node { id: string; t: MemoryTransport; m: Membership }

/**
 * `n` nodes n0…n(n−1) on one MemoryNetwork, each with its frame handler wired to membership.
 * `expiries` collects the timeout of every suspicion that expired (from the 'suspicion expired'
 * log line), so tests assert the exact deadline a death came from rather than time it.
 */
function cluster(n: number, options: MembershipOptions = {}): { net: MemoryNetwork; nodes: Node[]; expiries: number[]; add: (id: string, incarnation?: bigint) => Node } {
  const net = new MemoryNetwork();
  const nodes: Node[] = [];
  const expiries: number[] = [];
  const logger = {
    info: (o: object, msg?: string) => { if (msg === 'suspicion expired') expiries.push((o as { afterMs: number }).afterMs); },
    warn: () => {},
  };
  const add = (id: string, incarnation = 1n): Node => {
    const t = net.transport(id, { incarnation });
    const m = new Membership(t, { preset: 'local', logger, ...options });
    t.onFrame((frame, from, reply) => {
      m.handleFrame(frame, from, reply);
    });
    return { id, t, m };
  };
  for (let i = 0; i < n; i++) nodes.push(add(`n${i}`));
  return { net, nodes, expiries, add };
}

async function startAll(nodes: Node[]): Promise<void> {
  for (const { m } of nodes) m.start();
  for (const { m } of nodes.slice(1)) await m.join([nodes[0].t.address]);
}

function stopAll(nodes: Node[]): void {
  for (const { m } of nodes) m.stop();
}


const stateOf = (node: Node, id: string): MemberStatus | undefined => node.m.member(id)?.state;
const PEER: PeerInfo = { nodeId: 'stranger', address: 'mem:stranger', incarnation: 1n };
const frame = (f: Omit<MeshFrame, 'version' | 'flags' | 'requestId'>): MeshFrame => ({ version: 1, flags: 0, requestId: 0, ...f }) as MeshFrame;

// -----------------------------------------------------------------------------------------------

const swim = suite('Membership over a MemoryNetwork');

swim('5 nodes joining through one seed each see all 5 alive within 1 s', async () => {
  const { net, nodes } = cluster(5);
  try {
    for (const { m } of nodes) m.start();
    const reached = await Promise.all(nodes.slice(1).map(({ m }) => m.join(['mem:n0'])));
    assert.equal(reached, [1, 1, 1, 1]);
    await waitFor(() => nodes.every(({ m }) => m.aliveMembers().length === 5), { timeoutMs: 1000, what: 'every node to see 5 alive' });
    for (const { m } of nodes) {
      assert.equal(m.members().map((x) => x.nodeId), ['n0', 'n1', 'n2', 'n3', 'n4']);
      assert.is(m.stats().membersAlive, 5);
    }
    assert.equal(net.errors, []);
  } finally {
    stopAll(nodes);
  }
});

swim('a killed node of 5 is marked dead by all 4 others on a confirmed suspicion (600 ms, not 1800), helped by the disconnect hint', async () => {
  const { net, nodes, expiries } = cluster(5);
  try {
    await startAll(nodes);
    await waitFor(() => nodes.every(({ m }) => m.aliveMembers().length === 5), { timeoutMs: 1000, what: 'convergence' });
    await sleep(300); // let probes open connections, so the hint has links to fire on
    const victim = nodes[4];
    victim.m.stop();
    net.kill(victim.t.address);
    const others = nodes.slice(0, 4);
    await waitFor(() => others.every((n) => stateOf(n, 'n4') === 'dead'), { timeoutMs: 2500, what: 'n4 dead everywhere' });
    // The first death comes from a confirmed suspicion: min = 3 × 1 × 200 ms, not the 1.8 s max.
    assert.ok(expiries.length >= 1, 'a suspicion expired');
    assert.is(Math.min(...expiries), 600);
    const totals = others.map(({ m }) => m.stats());
    assert.ok(totals.some((s) => s.suspicionsRaised >= 1));
    assert.ok(totals.reduce((a, s) => a + s.deathsDeclared, 0) >= 1);
    for (const s of totals) assert.is(s.membersDead, 1);
    for (const n of others) assert.is(n.m.aliveMembers().length, 4);
    assert.equal(net.errors, []);
  } finally {
    stopAll(nodes);
  }
});

swim('a node cut off from all others (requests time out, no hint) is marked dead within 4 s', async () => {
  const { net, nodes, expiries } = cluster(3);
  try {
    await startAll(nodes);
    await waitFor(() => nodes.every(({ m }) => m.aliveMembers().length === 3), { timeoutMs: 1000, what: 'convergence' });
    net.partition('mem:n2', 'mem:n0');
    net.partition('mem:n2', 'mem:n1');
    await waitFor(() => stateOf(nodes[0], 'n2') === 'dead' && stateOf(nodes[1], 'n2') === 'dead', { timeoutMs: 4000, what: 'n2 dead at n0 and n1' });
    // Only a suspicion's timeout declares it dead: 600 ms confirmed (k = 1) or 1800 ms alone, never sooner.
    assert.ok(expiries.length >= 1, 'a suspicion expired');
    for (const ms of expiries) assert.ok(ms === 600 || ms === 1800, `a suspicion of ${ms} ms`);
    // Lifeguard: the healthy nodes got their Nacks, the cut-off one missed them all.
    assert.is(nodes[0].m.localHealth, 0);
    assert.is(nodes[1].m.localHealth, 0);
    assert.ok(nodes[2].m.localHealth >= 1, `n2 local health ${nodes[2].m.localHealth}`);
    assert.ok(nodes[2].m.localHealth <= 3, 'local health stays within awarenessMaxMultiplier − 1');
  } finally {
    stopAll(nodes);
  }
});

swim('a live node that is suspected refutes: higher incarnation, alive everywhere, nobody declares it dead', async () => {
  const { net, nodes } = cluster(3);
  try {
    await startAll(nodes);
    await waitFor(() => nodes.every(({ m }) => m.aliveMembers().length === 3), { timeoutMs: 1000, what: 'convergence' });
    const before = nodes[1].m.incarnation;
    // n2 tells n0 that it suspects n1 (as if n2's probe had failed).
    nodes[0].m.handleFrame(frame({ type: MessageType.Suspect, body: { nodeId: 'n1', incarnation: before, from: 'n2' } }), PEER, () => {});
    assert.is(stateOf(nodes[0], 'n1'), 'suspect');
    await waitFor(() => nodes.every((n) => n.m.member('n1')!.incarnation > before && stateOf(n, 'n1') === 'alive'), { timeoutMs: 1500, what: 'refutation to spread' });
    assert.is(nodes[1].m.stats().refutations, 1);
    assert.is(nodes[1].t.incarnation, before + 1n);
    assert.is(nodes[0].m.stats().suspectEventsSeen, 1);
    await sleep(2000); // past the 1.8 s max suspicion timeout: the cancelled timer must not fire
    for (const n of nodes) assert.is(stateOf(n, 'n1'), 'alive');
    assert.is(nodes[0].m.stats().deathsDeclared, 0);
    assert.equal(net.errors, []);
  } finally {
    stopAll(nodes);
  }
});

swim('graceful leave marks the node left on all 3 others, with one change event each', async () => {
  const { net, nodes } = cluster(4);
  try {
    await startAll(nodes);
    await waitFor(() => nodes.every(({ m }) => m.aliveMembers().length === 4), { timeoutMs: 1000, what: 'convergence' });
    const events: string[] = [];
    for (const n of nodes.slice(0, 3)) n.m.onChange((m: Member, prev) => m.nodeId === 'n3' && events.push(`${n.id}:${prev}->${m.state}`));
    await nodes[3].m.leave(500);
    assert.is(nodes[3].m.member('n3')!.state, 'left');
    await waitFor(() => nodes.slice(0, 3).every((n) => stateOf(n, 'n3') === 'left'), { timeoutMs: 500, what: 'n3 left everywhere' });
    assert.equal(events.sort(), ['n0:alive->left', 'n1:alive->left', 'n2:alive->left']);
    for (const n of nodes.slice(0, 3)) assert.equal(n.m.aliveMembers().map((m) => m.nodeId), ['n0', 'n1', 'n2']);
    assert.equal(net.errors, []);
  } finally {
    stopAll(nodes);
  }
});

swim('a killed node restarted with a higher incarnation comes back alive everywhere', async () => {
  const { net, nodes, add } = cluster(3);
  try {
    await startAll(nodes);
    await waitFor(() => nodes.every(({ m }) => m.aliveMembers().length === 3), { timeoutMs: 1000, what: 'convergence' });
    await sleep(250);
    nodes[2].m.stop();
    net.kill('mem:n2');
    await waitFor(() => stateOf(nodes[0], 'n2') === 'dead' && stateOf(nodes[1], 'n2') === 'dead', { timeoutMs: 3000, what: 'n2 dead' });
    const reborn = add('n2', freshIncarnation());
    nodes[2] = reborn;
    reborn.m.start();
    assert.is(await reborn.m.join(['mem:n0']), 1);
    await waitFor(() => nodes.every((n) => n.m.aliveMembers().length === 3), { timeoutMs: 1000, what: 'n2 alive again everywhere' });
    assert.is(nodes[0].m.member('n2')!.incarnation, reborn.t.incarnation);
    assert.is(nodes[1].m.member('n2')!.incarnation, reborn.t.incarnation);
  } finally {
    stopAll(nodes);
  }
});

swim('lan: a killed node of 5 is marked dead by all 4 others within 3 s, on a confirmed 1.5 s suspicion', async () => {
  const { net, nodes, expiries } = cluster(5, { preset: 'lan' });
  try {
    await startAll(nodes);
    await waitFor(() => nodes.every(({ m }) => m.aliveMembers().length === 5), { timeoutMs: 1000, what: 'convergence' });
    await sleep(1200); // a couple of probe rounds: connections everywhere, as after any warm-up
    nodes[4].m.stop();
    net.kill('mem:n4');
    const others = nodes.slice(0, 4);
    await waitFor(() => others.every((n) => stateOf(n, 'n4') === 'dead'), { timeoutMs: 3000, what: 'n4 dead everywhere' });
    // Confirmed suspicion: min = 3 × 500 ms = 1.5 s; unconfirmed it would be 6 s.
    assert.ok(expiries.length >= 1, 'a suspicion expired');
    assert.is(Math.min(...expiries), 1500);
    assert.equal(net.errors, []);
  } finally {
    stopAll(nodes);
  }
});

swim('lan: a peer whose event loop stalls 600 ms is probed but not suspected (indirect Acks)', async () => {
  const { net, nodes } = cluster(4, { preset: 'lan' });
  try {
    await startAll(nodes);
    await waitFor(() => nodes.every(({ m }) => m.aliveMembers().length === 4), { timeoutMs: 1000, what: 'convergence' });
    net.stall('mem:n3', 600);
    // Probe n3 now (as the disconnect hint would), in the middle of its stall.
    nodes[0].m.handlePeerDisconnect({ nodeId: 'n3', address: 'mem:n3', incarnation: 1n });
    await waitFor(() => nodes[0].m.stats().probeFailures >= 1, { timeoutMs: 1000, what: 'the direct probe of n3 to time out' });
    await sleep(1000);
    for (const n of nodes) assert.is(n.m.stats().suspectEventsSeen, 0, `${n.id} saw a suspicion`);
    assert.ok(nodes[0].m.stats().indirectProbes >= 1);
    for (const n of nodes) assert.is(stateOf(n, 'n3'), 'alive');
  } finally {
    stopAll(nodes);
  }
});

swim('join rejects with ERR_MESH_JOIN when no seed answers, and resolves 0 without seeds', async () => {
  const { nodes } = cluster(1);
  const err = await nodes[0].m.join(['mem:nobody', 'mem:ghost']).catch((e: unknown) => e);
  assert.instance(err, MembershipError);
  assert.is((err as MembershipError).code, 'ERR_MESH_JOIN');
  assert.match((err as Error).message, /2 seed/);
  assert.is(await nodes[0].m.join([]), 0);
  assert.is(await nodes[0].m.join(['mem:n0']), 0, 'our own address is not a seed');
});

swim('join counts only the seeds reached: 1 of 2', async () => {
  const { nodes } = cluster(2);
  assert.is(await nodes[1].m.join(['mem:n0', 'mem:gone']), 1);
  assert.is(nodes[1].m.member('n0')?.state, 'alive');
  assert.is(nodes[0].m.member('n1')?.state, 'alive', 'the seed merged our StateSync');
});

swim.run();

// -----------------------------------------------------------------------------------------------

const rules = suite('Membership state rules and bad input');

/** One idle node (no timers) with n1 known alive at incarnation 5. */
function lone(): { m: Membership; t: MemoryTransport } {
  const net = new MemoryNetwork();
  const t = net.transport('me', { incarnation: 10n });
  const m = new Membership(t, { preset: 'local' });
  m.handleFrame(frame({ type: MessageType.Alive, body: { nodeId: 'n1', address: 'mem:n1', incarnation: 5n } }), PEER, () => {});
  return { m, t };
}

rules('the local node is a member: alive at the transport incarnation and address', () => {
  const { m } = lone();
  assert.equal({ ...m.member('me')! }, { nodeId: 'me', address: 'mem:me', incarnation: 10n, state: 'alive', stateChangedAt: m.member('me')!.stateChangedAt });
});

rules('a Ping for another target is not acked; one for us is', () => {
  const { m } = lone();
  const replies: OutgoingFrame[] = [];
  assert.is(m.handleFrame(frame({ type: MessageType.Ping, body: { target: 'someone-else', gossip: [] } }), PEER, (f) => replies.push(f)), true);
  assert.is(replies.length, 0);
  m.handleFrame(frame({ type: MessageType.Ping, body: { target: 'me', gossip: [] } }), PEER, (f) => replies.push(f));
  assert.is(replies.length, 1);
  assert.is(replies[0].type, MessageType.Ack);
  assert.is((replies[0].body as { nodeId: string }).nodeId, 'me');
});

rules('a StateSync claiming this node dead triggers a refutation at a higher incarnation', () => {
  const { m, t } = lone();
  const replies: OutgoingFrame[] = [];
  m.handleFrame(
    frame({ type: MessageType.StateSync, body: { members: [{ nodeId: 'me', address: 'mem:me', incarnation: 12n, state: MemberState.Dead }] } }),
    PEER,
    (f) => replies.push(f),
  );
  assert.is(replies[0].type, MessageType.StateSync);
  assert.is(m.incarnation, 13n);
  assert.is(t.incarnation, 13n);
  assert.is(m.member('me')!.state, 'alive');
  assert.is(m.stats().refutations, 1);
});

rules('a suspicion of this node at an older incarnation is ignored', () => {
  const { m } = lone();
  m.handleFrame(frame({ type: MessageType.Suspect, body: { nodeId: 'me', incarnation: 9n, from: 'x' } }), PEER, () => {});
  assert.is(m.incarnation, 10n);
  assert.is(m.stats().refutations, 0);
});

rules('a Suspect about an unknown node is ignored', () => {
  const { m } = lone();
  m.handleFrame(frame({ type: MessageType.Suspect, body: { nodeId: 'ghost', incarnation: 1n, from: 'x' } }), PEER, () => {});
  assert.is(m.member('ghost'), undefined);
  assert.is(m.members().length, 2);
});

rules('Dead is final for its incarnation: Alive at 5 is ignored, Alive at 6 revives', () => {
  const { m } = lone();
  m.handleFrame(frame({ type: MessageType.Dead, body: { nodeId: 'n1', incarnation: 5n, from: 'x' } }), PEER, () => {});
  assert.is(m.member('n1')!.state, 'dead');
  m.handleFrame(frame({ type: MessageType.Alive, body: { nodeId: 'n1', address: 'mem:n1', incarnation: 5n } }), PEER, () => {});
  assert.is(m.member('n1')!.state, 'dead');
  m.handleFrame(frame({ type: MessageType.Suspect, body: { nodeId: 'n1', incarnation: 5n, from: 'y' } }), PEER, () => {});
  assert.is(m.member('n1')!.state, 'dead');
  m.handleFrame(frame({ type: MessageType.Alive, body: { nodeId: 'n1', address: 'mem:n1', incarnation: 6n } }), PEER, () => {});
  assert.is(m.member('n1')!.state, 'alive');
  assert.is(m.member('n1')!.incarnation, 6n);
});

rules('Suspect at the same incarnation overrides Alive; Alive needs a higher one to clear it', () => {
  const { m } = lone();
  m.handleFrame(frame({ type: MessageType.Suspect, body: { nodeId: 'n1', incarnation: 5n, from: 'x' } }), PEER, () => {});
  assert.is(m.member('n1')!.state, 'suspect');
  m.handleFrame(frame({ type: MessageType.Alive, body: { nodeId: 'n1', address: 'mem:n1', incarnation: 5n } }), PEER, () => {});
  assert.is(m.member('n1')!.state, 'suspect');
  m.handleFrame(frame({ type: MessageType.Alive, body: { nodeId: 'n1', address: 'mem:n1', incarnation: 7n } }), PEER, () => {});
  assert.is(m.member('n1')!.state, 'alive');
  m.handleFrame(frame({ type: MessageType.Suspect, body: { nodeId: 'n1', incarnation: 6n, from: 'x' } }), PEER, () => {});
  assert.is(m.member('n1')!.state, 'alive', 'a Suspect older than the Alive is stale');
  assert.is(m.stats().suspectEventsSeen, 1);
  m.stop();
});

rules('suspect members still count in aliveMembers (they keep owning keys)', () => {
  const { m } = lone();
  m.handleFrame(frame({ type: MessageType.Suspect, body: { nodeId: 'n1', incarnation: 5n, from: 'x' } }), PEER, () => {});
  assert.equal(m.aliveMembers().map((x) => `${x.nodeId}:${x.state}`), ['me:alive', 'n1:suspect']);
  m.stop();
});

rules('Leave marks the member left; a Leave about this node from a peer is refuted', () => {
  const { m } = lone();
  m.handleFrame(frame({ type: MessageType.Leave, body: { nodeId: 'n1', incarnation: 5n } }), PEER, () => {});
  assert.is(m.member('n1')!.state, 'left');
  m.handleFrame(frame({ type: MessageType.Leave, body: { nodeId: 'me', incarnation: 10n } }), PEER, () => {});
  assert.is(m.member('me')!.state, 'alive');
  assert.is(m.incarnation, 11n);
});

rules('dead members are forgotten after deadReclaimMs (injected clock)', async () => {
  const net = new MemoryNetwork();
  let clock = 1_000_000;
  const m = new Membership(net.transport('me'), { preset: 'local', deadReclaimMs: 5000, gossipIntervalMs: 10, now: () => clock });
  m.handleFrame(frame({ type: MessageType.Alive, body: { nodeId: 'n1', address: 'mem:n1', incarnation: 5n } }), PEER, () => {});
  m.handleFrame(frame({ type: MessageType.Dead, body: { nodeId: 'n1', incarnation: 5n, from: 'x' } }), PEER, () => {});
  m.start();
  try {
    clock += 4999;
    await sleep(40);
    assert.is(m.member('n1')?.state, 'dead');
    clock += 2;
    await sleep(40);
    assert.is(m.member('n1'), undefined);
  } finally {
    m.stop();
  }
});

rules('non-membership frames return false; malformed bodies are counted, never thrown', () => {
  const { m } = lone();
  assert.is(m.handleFrame(frame({ type: MessageType.Ack, body: { nodeId: 'x', gossip: [] } }), PEER, () => {}), false);
  assert.is(m.handleFrame(frame({ type: MessageType.Forward, body: {} as never }), PEER, () => {}), false);
  assert.is(m.handleFrame(null as unknown as MeshFrame, PEER, () => {}), false);
  assert.is(m.handleFrame(frame({ type: MessageType.Ping, body: null as never }), PEER, () => {}), true);
  assert.is(m.handleFrame(frame({ type: MessageType.StateSync, body: { members: [null] } as never }), PEER, () => {}), true);
  assert.is(m.handleFrame(frame({ type: MessageType.Ping, body: { target: 'me', gossip: 'x' } as never }), PEER, () => {}), true);
  assert.is(m.stats().badFrames, 2);
  assert.is(m.members().length, 2);
});

rules('a stopped node ignores frames, like a crashed process', () => {
  const { m } = lone();
  m.stop();
  const replies: OutgoingFrame[] = [];
  assert.is(m.handleFrame(frame({ type: MessageType.Ping, body: { target: 'me', gossip: [] } }), PEER, (f) => replies.push(f)), true);
  assert.is(replies.length, 0);
});

rules.run();

// -----------------------------------------------------------------------------------------------

const gossip = suite('Gossip queue and piggybacking');

const item = (i: number, nodeIdBytes = 4): GossipItem => ({
  state: MemberState.Alive, nodeId: `n${String(i).padStart(nodeIdBytes - 1, '0')}`, address: `mem:${String(i).padStart(3, '0')}`, incarnation: 1n, from: 'me',
});

gossip('newer news about a member replaces older: 1 item queued, the newest', () => {
  const q = new GossipQueue();
  q.enqueue({ ...item(1), state: MemberState.Alive });
  q.enqueue({ ...item(1), state: MemberState.Suspect });
  assert.is(q.size, 1);
  assert.equal(q.take(10, 10_000, 3).map((g) => g.state), [MemberState.Suspect]);
});

gossip('each item is sent retransmitLimit (3) times, then dropped', () => {
  const q = new GossipQueue();
  q.enqueue(item(1));
  for (let i = 0; i < 3; i++) assert.is(q.take(10, 10_000, 3).length, 1);
  assert.is(q.take(10, 10_000, 3).length, 0);
  assert.is(q.size, 0);
});

gossip('the least-sent items go first', () => {
  const q = new GossipQueue();
  q.enqueue(item(1));
  q.take(10, 10_000, 5);
  q.enqueue(item(2));
  assert.equal(q.take(1, 10_000, 5).map((g) => g.nodeId), [item(2).nodeId]);
});

gossip('a byte budget bounds a take: of 200 items with 250-byte ids, 14 (274 B each) fit in 4 KiB', () => {
  const q = new GossipQueue();
  for (let i = 0; i < 200; i++) q.enqueue(item(i, 250));
  const size = gossipItemBytes(item(0, 250));
  assert.is(size, 274);
  const taken = q.take(MAX_GOSSIP_ITEMS, MAX_PIGGYBACK_BYTES, 3);
  assert.is(taken.length, Math.floor(MAX_PIGGYBACK_BYTES / size));
  assert.ok(taken.reduce((a, g) => a + gossipItemBytes(g), 0) <= MAX_PIGGYBACK_BYTES);
});

gossip('an Ack piggybacks at most 64 items when 200 are pending, and encodes on the wire', () => {
  const net = new MemoryNetwork();
  const m = new Membership(net.transport('me'), { preset: 'local' });
  const members = Array.from({ length: 200 }, (_, i) => ({ nodeId: `m${i}`, address: `mem:m${i}`, incarnation: 1n, state: MemberState.Alive }));
  m.handleFrame(frame({ type: MessageType.StateSync, body: { members } }), PEER, () => {});
  assert.is(m.stats().gossipQueued, 200);
  const replies: OutgoingFrame[] = [];
  m.handleFrame(frame({ type: MessageType.Ping, body: { target: 'me', gossip: [] } }), PEER, (f) => replies.push(f));
  const ack = replies[0] as { type: number; body: { gossip: GossipItem[] } };
  assert.is(ack.body.gossip.length, MAX_GOSSIP_ITEMS);
  assert.ok(encodeFrame(ack as MeshFrame).length < MAX_PIGGYBACK_BYTES + 64);
});

gossip('a Ping from a member we hold dead gets that news first in the Ack (so it refutes)', () => {
  const { m } = lone();
  m.handleFrame(frame({ type: MessageType.Dead, body: { nodeId: 'n1', incarnation: 5n, from: 'x' } }), PEER, () => {});
  const replies: OutgoingFrame[] = [];
  m.handleFrame(frame({ type: MessageType.Ping, body: { target: 'me', gossip: [] } }), { nodeId: 'n1', address: 'mem:n1', incarnation: 5n }, (f) => replies.push(f));
  const first = (replies[0].body as { gossip: GossipItem[] }).gossip[0];
  assert.equal({ ...first }, { state: MemberState.Dead, nodeId: 'n1', address: 'mem:n1', incarnation: 5n, from: 'me' });
});

gossip.run();

// -----------------------------------------------------------------------------------------------

const options = suite('Membership options');

options('clock defaults to REAL_CLOCK; one without setTimeout (or not an object) is a TypeError', () => {
  assert.is(resolveMembershipOptions({}).clock, REAL_CLOCK);
  const clock = new FakeClock();
  assert.is(resolveMembershipOptions({ clock }).clock, clock);
  const msg = 'options.mesh.clock must have now(), setTimeout() and clearTimeout()';
  assert.throws(() => resolveMembershipOptions({ clock: { now: () => 0, clearTimeout() {} } as never }), (e: Error) => e instanceof TypeError && e.message === msg);
  assert.throws(() => resolveMembershipOptions({ clock: null as never }), (e: Error) => e instanceof TypeError && e.message === msg);
});

options('defaults to the lan preset; overrides replace single values', () => {
  const o = resolveMembershipOptions({});
  assert.is(o.preset, 'lan');
  assert.is(o.probeIntervalMs, MEMBERSHIP_PRESETS.lan.probeIntervalMs);
  const p = resolveMembershipOptions({ preset: 'local', probeTimeoutMs: 123 });
  assert.is(p.probeTimeoutMs, 123);
  assert.is(p.probeIntervalMs, MEMBERSHIP_PRESETS.local.probeIntervalMs);
});

options('options must be an object', () => {
  assert.throws(() => resolveMembershipOptions(null as never), (e: Error) => e instanceof TypeError && e.message === 'options.mesh must be an object');
});

options('options.mesh.preset must be lan or local', () => {
  assert.throws(() => resolveMembershipOptions({ preset: 'wan' as never }), (e: Error) => e instanceof RangeError && e.message === "options.mesh.preset must be 'lan' or 'local', got 'wan'");
  assert.throws(() => resolveMembershipOptions({ preset: 1 as never }), (e: Error) => e instanceof TypeError && e.message === 'options.mesh.preset must be a string');
});

const ZERO_OK: Record<string, string> = {
  indirectChecks: 'no indirect probes',
  pushPullIntervalMs: 'no periodic push/pull',
  deadReclaimMs: 'forget at the next gossip round',
};
for (const name of Object.keys(MEMBERSHIP_PRESETS.lan) as (keyof MembershipConfig)[]) {
  const zeroMeaning = ZERO_OK[name];
  const kind = zeroMeaning === undefined ? 'a positive integer' : `a non-negative integer (0: ${zeroMeaning})`;
  options(`options.mesh.${name} must be ${kind}`, () => {
    const bad = (v: unknown) => () => resolveMembershipOptions({ [name]: v } as MembershipOptions);
    assert.throws(bad('500'), (e: Error) => e instanceof TypeError && e.message === `options.mesh.${name} must be a number`);
    for (const v of [zeroMeaning === undefined ? 0 : -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(bad(v), (e: Error & { code?: string }) => e instanceof RangeError && e.message === `options.mesh.${name} must be ${kind}` && e.code === 'ERR_INVALID_OPTION', `value ${v}`);
    }
    assert.throws(bad(2 ** 31), (e: Error) => e instanceof RangeError && e.message === `options.mesh.${name} must be ${kind} of at most 2147483647`);
    const ok = zeroMeaning === undefined ? 1 : 0;
    assert.is(resolveMembershipOptions({ [name]: ok } as MembershipOptions)[name], ok);
  });
}

options('options.mesh.logger must have info and warn functions', () => {
  const msg = 'options.mesh.logger must be an object with info and warn functions (and optionally debug)';
  assert.throws(() => resolveMembershipOptions({ logger: { info() {} } as never }), (e: Error) => e instanceof TypeError && e.message === msg);
  assert.throws(() => resolveMembershipOptions({ logger: { info() {}, warn() {}, debug: 1 } as never }), (e: Error) => e instanceof TypeError && e.message === msg);
  const lines: string[] = [];
  const o = resolveMembershipOptions({ logger: { info: (_o, m) => lines.push(m ?? ''), warn() {} } });
  o.logger.info({}, 'x');
  assert.equal(lines, ['x']);
});

options('options.mesh.now must be a function', () => {
  assert.throws(() => resolveMembershipOptions({ now: 5 as never }), (e: Error) => e instanceof TypeError && e.message === 'options.mesh.now must be a function returning ms since the epoch');
});

options('leave(timeoutMs) and join(seeds) check their arguments', async () => {
  const { m } = lone();
  const e1 = await m.leave(-1).catch((e: unknown) => e);
  assert.ok(e1 instanceof RangeError && e1.message === 'timeoutMs must be a non-negative integer');
  const e2 = await m.join('mem:x' as never).catch((e: unknown) => e);
  assert.ok(e2 instanceof TypeError && e2.message === 'seedAddresses must be an array of strings');
});

options.run();
