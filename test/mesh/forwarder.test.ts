import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Forwarder, type ForwarderHost } from '../../src/mesh/forwarder.js';
import { TransportError, type OutgoingFrame } from '../../src/mesh/transport.js';
import { ForwardOp, ForwardStatus, FrameFlag, MessageType, type MeshFrame } from '../../src/mesh/wire.js';

/** A host whose transport records each request and answers with `answer` (or throws `fail`). */
function host(answer: (frame: OutgoingFrame) => Omit<MeshFrame, 'version' | 'requestId' | 'flags'>, members: Record<string, string> = { b: '127.0.0.1:2' }) {
  const sent: Array<{ address: string; frame: OutgoingFrame; timeoutMs: number }> = [];
  const h: ForwarderHost = {
    request: async (address, frame, timeoutMs) => {
      sent.push({ address, frame, timeoutMs });
      return { version: 1, requestId: 1, flags: 0, ...answer(frame) } as MeshFrame;
    },
    addressOf: (id) => {
      const a = members[id];
      if (a === undefined) throw new TransportError('ERR_MESH_CONNECT', `node ${id} is not a member`);
      return a;
    },
    forwardTimeoutMs: 1234,
    counters: { forwarded: 0, forwardErrors: 0 },
  };
  return { h, sent };
}

const args = (...s: string[]) => s.map((x) => Buffer.from(x));

const F = suite('Forwarder');

F('3 commands for one peer in one tick travel as one CommandBatch, and each gets its own reply in order', async () => {
  const { h, sent } = host((f) => {
    const n = (f.body as { commands: unknown[] }).commands.length;
    return { type: MessageType.CommandBatchReply, body: { replies: Array.from({ length: n }, (_, i) => Buffer.from(`:${i}\r\n`)) } };
  });
  const fw = new Forwarder(h);
  const replies = await Promise.all([
    fw.forwardCommand('b', args('GET', 'k1'), 2),
    fw.forwardCommand('b', args('GET', 'k2'), 3, FrameFlag.NoReroute),
    fw.forwardCommand('b', args('GET', 'k3'), 2),
  ]);
  assert.equal(replies.map(String), [':0\r\n', ':1\r\n', ':2\r\n']);
  assert.is(sent.length, 1);
  assert.is(sent[0].address, '127.0.0.1:2');
  assert.is(sent[0].timeoutMs, 1234);
  assert.is(sent[0].frame.type, MessageType.CommandBatch);
  const commands = (sent[0].frame.body as { commands: Array<{ flags: number; resp: number; args: Buffer[] }> }).commands;
  assert.equal(commands.map((c) => [c.flags, c.resp, String(c.args[1])]), [[0, 2, 'k1'], [FrameFlag.NoReroute, 3, 'k2'], [0, 2, 'k3']]);
  assert.equal(h.counters, { forwarded: 3, forwardErrors: 0 });
});

F('a lone command travels as a Command frame with its flags', async () => {
  const { h, sent } = host(() => ({ type: MessageType.CommandReply, body: { reply: Buffer.from('+OK\r\n') } }));
  const reply = await new Forwarder(h).forwardCommand('b', args('SET', 'k', 'v'), 2, FrameFlag.NoReroute);
  assert.is(String(reply), '+OK\r\n');
  assert.is(sent.length, 1);
  assert.is(sent[0].frame.type, MessageType.Command);
  assert.is(sent[0].frame.flags, FrameFlag.NoReroute);
});

F('2 commands for a node that is not a member both get a CLUSTERDOWN reply and count 2 forward errors', async () => {
  const { h, sent } = host(() => { throw new Error('unreachable'); });
  const fw = new Forwarder(h);
  const replies = await Promise.all([fw.forwardCommand('gone', args('GET', 'a'), 2), fw.forwardCommand('gone', args('GET', 'b'), 2)]);
  for (const r of replies) assert.is(String(r), '-CLUSTERDOWN the owner of this key (gone) cannot be reached: node gone is not a member\r\n');
  assert.is(sent.length, 0);
  assert.equal(h.counters, { forwarded: 2, forwardErrors: 2 });
});

F('a batch answered with 1 reply for 2 commands fails both with CLUSTERDOWN', async () => {
  const { h } = host(() => ({ type: MessageType.CommandBatchReply, body: { replies: [Buffer.from('+OK\r\n')] } }));
  const fw = new Forwarder(h);
  const replies = await Promise.all([fw.forwardCommand('b', args('GET', 'a'), 2), fw.forwardCommand('b', args('GET', 'b'), 2)]);
  for (const r of replies) assert.match(String(r), /^-CLUSTERDOWN .*unexpected reply to a batch of 2/);
  assert.equal(h.counters, { forwarded: 2, forwardErrors: 2 });
});

F('forwardOp resolves with the ForwardReply body, and rejects and counts an error on another reply type', async () => {
  const body = { op: ForwardOp.Get, ttlMs: 0, valueType: 0, key: Buffer.from('k'), value: new Uint8Array(0) };
  const ok = host(() => ({ type: MessageType.ForwardReply, body: { status: ForwardStatus.NotFound, valueType: 0, ttlMs: 0, value: new Uint8Array(0) } }));
  const r = await new Forwarder(ok.h).forwardOp('b', body, FrameFlag.NoReroute);
  assert.is(r.status, ForwardStatus.NotFound);
  assert.is(ok.sent[0].frame.flags, FrameFlag.NoReroute);
  assert.equal(ok.h.counters, { forwarded: 1, forwardErrors: 0 });
  const bad = host(() => ({ type: MessageType.CommandReply, body: { reply: Buffer.from('+OK\r\n') } }));
  const err = await new Forwarder(bad.h).forwardOp('b', body).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof TransportError);
  assert.is((err as TransportError).code, 'ERR_MESH_CLOSED');
  assert.equal(bad.h.counters, { forwarded: 1, forwardErrors: 1 });
});

F.run();
