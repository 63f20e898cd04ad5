import type { ErrorCode, NamedWeights } from '@duel/util';
import type { CodecName, CodecSpec } from './codecs/codec-spec';

/**
 * Frames of the duel wire protocol (PROTOCOL.md is the contract).
 *
 * One interface per frame, discriminated on `t`, gathered in `FrameMap` the way
 * Immich gathers socket events in `EventMap`: `send('task', payload)` is then
 * type-checked against the frame it names.
 */

/** Byte 2 of every frame and `hello.protocol`. Bump on any incompatible change. */
export const PROTOCOL_VERSION = 1;

export type WorkerKind = 'node' | 'volunteer';
export type Net = 'G' | 'D';
/** Which network a task trains: 'D' = discriminator gradients, 'G' = generator gradients. */
export type Phase = 'D' | 'G';
export type RunMode = 'sync' | 'async';
export type AckStatus = 'applied' | 'duplicate' | 'rejected';
export type WaitReason = 'no_work' | 'shutting_down' | 'paused';

/** Weights versions: each counts the updates applied to that net since step 0. */
export interface Versions {
  g: number;
  d: number;
}

/** JSON as it may travel in a header (the model spec is opaque to the protocol). */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface Capabilities {
  /** tfjs backend the worker runs: 'webgpu', 'wasm', 'cpu', 'tensorflow', ... */
  backend: string;
  /** Human-readable device, e.g. 'NVIDIA H100' or 'Chrome 131 / 8 threads'. */
  device: string;
  /** Largest batch the worker accepts in one task. */
  maxBatch: number;
  /** Gradient codecs the worker can send (PROTOCOL.md §3.4: fp32, fp16, int8, topk); absent means fp32 only. */
  codecs?: string[];
}

export interface RunInfo {
  id: string;
  dataset: string;
  /** Run seed (u32); task seeds are derived from it by the coordinator. */
  seed: number;
  /** Model spec as JSON; libs/gan parses it, the protocol only checks it is plain JSON. */
  model: JsonObject;
  loss: string;
  /** D steps per G step (the k of Goodfellow et al. 2014, Algorithm 1). */
  k: number;
  batchSize: number;
  mode: RunMode;
  /** Async only: how many versions behind `current` a result may be computed at. */
  staleness: number;
}

/** worker→coordinator, the first frame on a connection. */
export interface HelloFrame {
  t: 'hello';
  protocol: number;
  kind: WorkerKind;
  token?: string;
  capabilities: Capabilities;
  /**
   * Reconnect: ask to keep the identity (and credit) of an earlier session.
   * `token` is the `welcome.resumeToken` that came with that id; without one
   * that verifies the coordinator assigns a new id (DUEL_ERR_RESUME_REFUSED).
   * Optional on the wire only so an older worker still gets in (with a new id).
   */
  resume?: { workerId: string; token?: string };
}

/** coordinator→worker, the answer to a valid hello. */
export interface WelcomeFrame {
  t: 'welcome';
  workerId: string;
  run: RunInfo;
  /** The coordinator pings at this interval; a peer silent for 3 intervals is dead. */
  heartbeatMs: number;
  /** Versions of the weights the coordinator holds now (`weights` frames follow). */
  versions: Versions;
  /** The gradient codec this worker is asked to send results with; absent means fp32. */
  codec?: CodecSpec;
  /**
   * Proof of `workerId` for a later `hello.resume.token` (an HMAC of the id
   * under a coordinator key; PROTOCOL.md §4 Reconnect). A bearer secret: keep
   * it out of logs. Absent only from an older coordinator.
   */
  resumeToken?: string;
}

/** coordinator→worker: the full weights of one net at one version. */
export interface WeightsFrame {
  t: 'weights';
  net: Net;
  version: number;
  /** In the model spec's canonical order; float32. */
  tensors: NamedWeights;
}

/** coordinator→worker: compute one gradient. */
export interface TaskFrame {
  t: 'task';
  taskId: string;
  phase: Phase;
  /** The weights versions the gradient must be computed at. */
  versions: Versions;
  /** Training step (1-based; one step = k D-updates + one G-update): with `sub`, the batch cursor of the shard sampler. */
  step: number;
  /** D-update index within the step, 0..k-1; 0 for G tasks. */
  sub: number;
  shard: { index: number; count: number };
  batchSize: number;
  /** u32 seed for z ~ N(0, I) and the batch draw from the shard. */
  seed: number;
  /** Time budget in ms from receipt; after it the coordinator may reassign the task. */
  deadlineMs: number;
  /**
   * G tasks only, in (0, 1]: top-k training (Sinha et al. 2020), the share of
   * the task's fake packs, those D scores highest, whose loss G descends on.
   * Absent means 1 (every pack).
   */
  topK?: number;
}

export interface ResultStats {
  loss: number;
  /** Mean D(x) on the real batch (D tasks; 0 for G tasks if not computed). */
  dReal: number;
  /** Mean D(G(z)). */
  dFake: number;
  samples: number;
  computeMs: number;
}

/** worker→coordinator: the gradient for one task. */
export interface ResultFrame {
  t: 'result';
  taskId: string;
  workerId: string;
  phase: Phase;
  /** The versions the gradient was computed at. */
  versions: Versions;
  /** Gradients of the `phase` net, in its canonical order; float32 (decoded from `codec` on receipt). */
  grads: NamedWeights;
  stats: ResultStats;
  /** How `grads` travelled (§3.4); absent means fp32. */
  codec?: CodecName;
}

/** coordinator→worker: what became of a result. */
export interface AckFrame {
  t: 'ack';
  taskId: string;
  status: AckStatus;
  /** Why, when status is 'rejected' or 'duplicate'. */
  code?: ErrorCode;
}

/** Either direction. `fatal` means the sender closes the connection next. */
export interface ErrorFrame {
  t: 'error';
  code: ErrorCode;
  message: string;
  fatal?: boolean;
  retryAfterMs?: number;
}

export interface PingFrame {
  t: 'ping';
  /** Sender's clock, ms. */
  ts: number;
}

export interface PongFrame {
  t: 'pong';
  /** Responder's clock, ms. */
  ts: number;
  /** The `ts` of the ping being answered, so the pinger measures RTT on its own clock. */
  echo: number;
}

/** Either direction: the sender is leaving and closes next. */
export interface ByeFrame {
  t: 'bye';
  reason: string;
}

/** coordinator→worker: no task now. With `reconnect`, the coordinator closes and the worker reconnects after `retryAfterMs`. */
export interface WaitFrame {
  t: 'wait';
  reason: WaitReason;
  retryAfterMs: number;
  reconnect: boolean;
}

export interface FrameMap {
  hello: HelloFrame;
  welcome: WelcomeFrame;
  weights: WeightsFrame;
  task: TaskFrame;
  result: ResultFrame;
  ack: AckFrame;
  error: ErrorFrame;
  ping: PingFrame;
  pong: PongFrame;
  bye: ByeFrame;
  wait: WaitFrame;
}

export type FrameType = keyof FrameMap;
export type Frame = FrameMap[FrameType];
export type FramePayload<T extends FrameType> = Omit<FrameMap[T], 't'>;

/** Who sent a frame. */
export type Role = 'worker' | 'coordinator';

/** Which role may send each frame; a frame from the other role is a BAD_FRAME. */
export const FRAME_SENDERS = {
  hello: ['worker'],
  welcome: ['coordinator'],
  weights: ['coordinator'],
  task: ['coordinator'],
  result: ['worker'],
  ack: ['coordinator'],
  error: ['worker', 'coordinator'],
  ping: ['worker', 'coordinator'],
  pong: ['worker', 'coordinator'],
  bye: ['worker', 'coordinator'],
  wait: ['coordinator'],
} as const satisfies { readonly [T in FrameType]: readonly Role[] };

export const FRAME_TYPES = Object.keys(FRAME_SENDERS) as FrameType[];

type SentBy<R extends Role> = {
  [T in FrameType]: R extends (typeof FRAME_SENDERS)[T][number] ? T : never;
}[FrameType];

/** Frames the coordinator sends (what a worker receives). */
export type CoordinatorFrameType = 'welcome' | 'weights' | 'task' | 'ack' | 'error' | 'ping' | 'pong' | 'bye' | 'wait';
/** Frames a worker sends (what the coordinator receives). */
export type WorkerFrameType = 'hello' | 'result' | 'error' | 'ping' | 'pong' | 'bye';
export type CoordinatorFrame = FrameMap[CoordinatorFrameType];
export type WorkerFrame = FrameMap[WorkerFrameType];

// Compile-time check that the two unions above agree with FRAME_SENDERS.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _sendersAgree: [Same<SentBy<'coordinator'>, CoordinatorFrameType>, Same<SentBy<'worker'>, WorkerFrameType>] = [true, true];

export function isFrameType(t: unknown): t is FrameType {
  return typeof t === 'string' && Object.prototype.hasOwnProperty.call(FRAME_SENDERS, t);
}

/** Builds a frame from its type and payload, type-checked: `makeFrame('task', {...})`. */
export function makeFrame<T extends FrameType>(t: T, payload: FramePayload<T>): FrameMap[T] {
  return { t, ...payload } as FrameMap[T];
}

/**
 * What a gateway or worker connection implements: `send('ack', {...})` only
 * compiles for the frames that side may send.
 */
export interface FrameSender<T extends FrameType> {
  send<K extends T>(t: K, payload: FramePayload<K>): void;
}
