/**
 * Routing of RESP commands across the mesh, for the sidecar's connections and for Command frames
 * that reach a node. A command whose keys this node owns runs here, synchronously, as without a
 * mesh. A command whose keys all belong to one other node is forwarded whole and that node's
 * RESP reply is relayed byte for byte. A multi-key command spread over several owners is split:
 * MGET (replies put back in key order), MSET (all must say OK), DEL / UNLINK / EXISTS / TOUCH
 * (counts summed); any other multi-key command over several owners is refused with CROSSSLOT, as
 * Redis Cluster does. Keyless commands (INFO, DBSIZE, SCAN, KEYS, FLUSHALL…) act on this node.
 */
import { ordered, type CommandSpec, type RoutedReply } from '../commands/registry.js';
import { arrayElements, integerReply, isErrorReply } from './resp-reply.js';

/** What routing needs from the mesh node. */
export interface RouteTarget {
  /** The node that must serve `key`, or undefined when this node does. */
  remoteOwner(key: Uint8Array): string | undefined;
  /** Runs `args` on `nodeId` and resolves with its RESP reply (an error reply when it cannot be reached). */
  forwardCommand(nodeId: string, args: Buffer[], resp: 2 | 3): Promise<Buffer>;
  /**
   * Resolves once the keys among `keys` that this node owns but that may still sit on their
   * previous owner (a rebalance in progress) have been fetched here; null when none need it.
   */
  pullMoved(keys: Buffer[]): Promise<void> | null;
}

/** Runs a command here and returns its RESP reply. */
export type LocalExecutor = (args: Buffer[]) => Buffer;

/**
 * Runs one source's commands in arrival order where some may have to wait: a task that reports
 * `ordered` (its part here waits for a hand-off pull) holds back the tasks submitted after it
 * until it settles; while nothing waits, tasks run at once. A peer's forwarded commands and a
 * server thread's requests go through one of these each.
 */
export class InOrder {
  #barrier: Promise<void> | null = null;
  readonly #onError: (err: unknown) => void;

  /** `onError` hears of a task whose `done` rejected (the ones after it still run). */
  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }

  submit(task: () => { done: Promise<void>; ordered: boolean }): void {
    if (this.#barrier === null) {
      const r = task();
      if (r.ordered) this.#hold(r.done);
      return;
    }
    this.#hold(this.#barrier.then(() => task().done));
  }

  #hold(p: Promise<void>): void {
    const settled = p.then(undefined, this.#onError);
    this.#barrier = settled;
    void settled.then(() => {
      if (this.#barrier === settled) this.#barrier = null;
    });
  }
}

/** Reply to a multi-key command whose keys live on different nodes. */
export const CROSSSLOT_REPLY = Buffer.from("-CROSSSLOT Keys in request don't hash to the same node\r\n");

/** Reply when a node answers its part of a split command with something that cannot be merged. */
const UNEXPECTED_REPLY = Buffer.from('-ERR mesh: a node sent an unexpected reply to a split command\r\n');

/** Multi-key commands split per owner, and how their replies merge. */
const SPLITTABLE = new Map<string, 'array' | 'sum' | 'ok'>([
  ['mget', 'array'], ['mset', 'ok'], ['del', 'sum'], ['unlink', 'sum'], ['exists', 'sum'], ['touch', 'sum'],
]);

/** The argument indexes that are keys, from the spec's (firstKey, lastKey, step). */
export function keyIndexes(spec: CommandSpec, argc: number): number[] {
  if (spec.firstKey <= 0) return [];
  const last = spec.lastKey < 0 ? argc + spec.lastKey : Math.min(spec.lastKey, argc - 1);
  const out: number[] = [];
  for (let i = spec.firstKey; i <= last; i += Math.max(1, spec.step)) out.push(i);
  return out;
}

const LOCAL = '';

/**
 * Routes one command. Returns null when it should run here synchronously (every key is this
 * node's and none is still moving), otherwise a promise of the whole RESP reply.
 */
export function routeCommand(
  spec: CommandSpec, args: Buffer[], target: RouteTarget, resp: 2 | 3, execLocal: LocalExecutor,
): RoutedReply | null {
  const idx = keyIndexes(spec, args.length);
  if (idx.length === 0) return null;
  let single: string | undefined;
  let mixed = false;
  const owners: string[] = new Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const o = target.remoteOwner(args[idx[i]]) ?? LOCAL;
    owners[i] = o;
    if (i === 0) single = o;
    else if (o !== single) mixed = true;
  }
  if (!mixed) {
    if (single === LOCAL) {
      const pull = target.pullMoved(idx.map((i) => args[i]));
      return pull === null ? null : ordered(pull.then(() => execLocal(args)));
    }
    return target.forwardCommand(single!, args, resp);
  }
  const merge = SPLITTABLE.get(spec.name);
  if (merge === undefined) return Promise.resolve(CROSSSLOT_REPLY);
  // Keys and their values must pair up (MSET k v k): let the handler here give its arity error.
  if ((args.length - spec.firstKey) % Math.max(1, spec.step) !== 0) return null;
  const localKeys = idx.filter((_, k) => owners[k] === LOCAL).map((i) => args[i]);
  const pull = localKeys.length === 0 ? null : target.pullMoved(localKeys);
  const reply = splitAndMerge(spec, args, idx, owners, merge, target, resp, execLocal, pull);
  return pull === null ? reply : ordered(reply);
}

async function splitAndMerge(
  spec: CommandSpec, args: Buffer[], idx: number[], owners: string[], merge: 'array' | 'sum' | 'ok',
  target: RouteTarget, resp: 2 | 3, execLocal: LocalExecutor, pull: Promise<void> | null,
): Promise<Buffer> {
  const step = Math.max(1, spec.step);
  // Per owner: the positions (in key order) of its keys, and its sub-command.
  const groups = new Map<string, { positions: number[]; args: Buffer[] }>();
  for (let k = 0; k < idx.length; k++) {
    let g = groups.get(owners[k]);
    if (g === undefined) {
      g = { positions: [], args: [args[0]] };
      groups.set(owners[k], g);
    }
    g.positions.push(k);
    for (let j = 0; j < step; j++) g.args.push(args[idx[k] + j]);
  }
  const replies = await Promise.all([...groups].map(async ([owner, g]) => {
    if (owner !== LOCAL) return target.forwardCommand(owner, g.args, resp);
    if (pull !== null) await pull;
    return execLocal(g.args);
  }));
  for (const r of replies) if (isErrorReply(r)) return r;
  if (merge === 'ok') {
    for (const r of replies) if (r.length !== 5 || Buffer.from(r.buffer, r.byteOffset, 5).toString('latin1') !== '+OK\r\n') return UNEXPECTED_REPLY;
    return replies[0];
  }
  if (merge === 'sum') {
    let total = 0;
    for (const r of replies) {
      const n = integerReply(r);
      if (n === null) return UNEXPECTED_REPLY;
      total += n;
    }
    return Buffer.from(`:${total}\r\n`);
  }
  const out: Uint8Array[] = new Array(idx.length);
  let g = 0;
  for (const group of groups.values()) {
    const elements = arrayElements(replies[g++]);
    if (elements === null || elements.length !== group.positions.length) return UNEXPECTED_REPLY;
    group.positions.forEach((k, i) => { out[k] = elements[i]; });
  }
  return Buffer.concat([Buffer.from(`*${idx.length}\r\n`), ...out]);
}
