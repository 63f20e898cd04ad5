import {
  DuelError,
  ErrorCodes,
  assertLayout,
  cloneWeights,
  zerosLike,
  type NamedTensor,
  type NamedWeights,
  type TensorSpec,
} from '@duel/util';
import { adamTensor, createAdamMoments, type AdamScalars } from './adam-kernel';

/**
 * Server-side Adam (Kingma & Ba, 2015) on NamedWeights, shared by the
 * coordinator and the local reference trainer so that both apply exactly the
 * same update to the same aggregated gradients.
 *
 * It reproduces tfjs-core 4.22's `tf.train.adam(lr, beta1, beta2, epsilon)` on
 * the cpu backend op for op, including float32 rounding after every op:
 *
 *   accB1 ← accB1·β1,  accB2 ← accB2·β2           (float32 running products)
 *   m ← m·β1 + g·(1−β1)
 *   v ← v·β2 + g²·(1−β2)
 *   w ← (m / (1−accB1)) / (sqrt(v / (1−accB2)) + ε) · (−lr) + w
 *
 * Note tfjs puts ε outside the bias-corrected square root and keeps the bias
 * correction as float32 products (not β^t), so we do too; `Math.fround` after
 * each op is what makes the two agree to the last bit in practice, which is
 * what the distributed-vs-local equivalence tests rely on.
 */

/** tfjs's default ε: `backend.epsilon()` is 1e-7 on float32 backends (1e-4 on float16). */
export const ADAM_EPSILON_FLOAT32 = 1e-7;

export interface AdamHyperparams {
  /** Learning rate (step size), > 0. */
  lr: number;
  /** Decay of the first moment, in [0, 1). */
  beta1: number;
  /** Decay of the second moment, in [0, 1). */
  beta2: number;
  /** Added to sqrt(v̂); defaults to tfjs's float32 default, {@link ADAM_EPSILON_FLOAT32}. */
  epsilon?: number;
}

/**
 * DCGAN's Adam settings (Radford, Metz & Chintala, 2016): lr 2e-4 and β1 0.5,
 * because the default β1 0.9 made their GAN training oscillate and unstable.
 */
export const DCGAN_ADAM: Readonly<Required<AdamHyperparams>> = Object.freeze({
  lr: 2e-4,
  beta1: 0.5,
  beta2: 0.999,
  epsilon: ADAM_EPSILON_FLOAT32,
});

/** Per-network defaults: D and G each get their own Adam state with DCGAN's settings. */
export const GAN_ADAM_DEFAULTS: Readonly<{ d: Readonly<Required<AdamHyperparams>>; g: Readonly<Required<AdamHyperparams>> }> =
  Object.freeze({ d: DCGAN_ADAM, g: DCGAN_ADAM });

/**
 * Optimizer state for one network. `m` and `v` have the layout of the weights
 * (same names, order and shapes). `accBeta1`/`accBeta2` are the float32 running
 * products β^t that tfjs keeps; they start at 1 (the empty product).
 * The object is plain data, so a checkpoint can store it as is.
 */
export interface AdamState {
  /** Steps taken so far. */
  t: number;
  accBeta1: number;
  accBeta2: number;
  /** First moments, same layout as the weights. */
  m: NamedWeights;
  /** Second moments, same layout as the weights. */
  v: NamedWeights;
  /**
   * Buffers for the weights in the kernel's memory, beside m and v (absent
   * where WebAssembly SIMD is not available): fill them with {@link adoptWeights}.
   * Not part of the serialised state.
   */
  residentWeights?: NamedWeights;
}

/** Serialised Adam state: the same fields, copied (Float32Arrays are left to the store's codec). */
export type AdamStateJSON = Omit<AdamState, 'residentWeights'>;

/**
 * Fresh state: t = 0, zero moments with the layout of `specs`, in the Adam
 * kernel's own memory where it runs (adam-kernel.ts: fewer copies per step).
 */
export function createAdamState(specs: readonly TensorSpec[]): AdamState {
  const mv = createAdamMoments(specs);
  return { t: 0, accBeta1: 1, accBeta2: 1, m: mv?.m ?? zerosLike(specs), v: mv?.v ?? zerosLike(specs), ...(mv ? { residentWeights: mv.w } : {}) };
}

/**
 * The weights `state` steps, copied into its resident buffers where it has
 * them (the kernel's memory, beside m and v), so that {@link adamStep} copies
 * only the gradient through the kernel; else `ws` itself. Call it once when the
 * training state is made, and keep using what it returns as the weights: the
 * arrays are ordinary Float32Arrays, changed in place by every step as before.
 * Checks the layout (SHAPE_MISMATCH).
 */
export function adoptWeights(state: AdamState, ws: NamedWeights): NamedWeights {
  const home = state.residentWeights;
  if (!home) return ws;
  assertLayout(ws, home, 'adoptWeights');
  ws.forEach((x, k) => home[k].data.set(x.data));
  return home;
}

/** Deep copy of the state for a checkpoint; later steps do not change it. */
export function adamStateToJSON(state: AdamState): AdamStateJSON {
  return { t: state.t, accBeta1: state.accBeta1, accBeta2: state.accBeta2, m: cloneWeights(state.m), v: cloneWeights(state.v) };
}

/**
 * Restores a state saved by {@link adamStateToJSON}. Checks the moments against
 * `specs` (SHAPE_MISMATCH) and the scalars (BAD_ARGUMENT); copies the arrays.
 */
export function adamStateFromJSON(json: AdamStateJSON, specs: readonly TensorSpec[]): AdamState {
  const { t, accBeta1, accBeta2 } = json;
  if (!Number.isInteger(t) || t < 0) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `adam state: t must be a non-negative integer, got ${t}`);
  }
  for (const [k, x] of [['accBeta1', accBeta1], ['accBeta2', accBeta2]] as const) {
    if (!(Number.isFinite(x) && x >= 0 && x <= 1)) {
      throw new DuelError(ErrorCodes.BAD_ARGUMENT, `adam state: ${k} must be in [0, 1], got ${x}`);
    }
  }
  assertLayout(json.m, specs, 'adam m');
  assertLayout(json.v, specs, 'adam v');
  const mv = createAdamMoments(specs);
  if (!mv) return { t, accBeta1, accBeta2, m: cloneWeights(json.m), v: cloneWeights(json.v) };
  json.m.forEach((x, k) => mv.m[k].data.set(x.data));
  json.v.forEach((x, k) => mv.v[k].data.set(x.data));
  return { t, accBeta1, accBeta2, m: mv.m, v: mv.v, residentWeights: mv.w };
}

/** Throws BAD_ARGUMENT unless lr > 0, β1, β2 ∈ [0, 1) and ε > 0 (all finite). */
export function assertAdamHyperparams(hp: AdamHyperparams): void {
  const eps = hp.epsilon ?? ADAM_EPSILON_FLOAT32;
  const bad =
    !(Number.isFinite(hp.lr) && hp.lr > 0) ? `lr must be > 0, got ${hp.lr}` :
    !(hp.beta1 >= 0 && hp.beta1 < 1) ? `beta1 must be in [0, 1), got ${hp.beta1}` :
    !(hp.beta2 >= 0 && hp.beta2 < 1) ? `beta2 must be in [0, 1), got ${hp.beta2}` :
    !(Number.isFinite(eps) && eps > 0) ? `epsilon must be > 0, got ${eps}` : null;
  if (bad) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `adam: ${bad}`);
}

/** Cheap per-call layout check (names and lengths; no allocation unless it throws). */
function checkStepLayout(weights: NamedWeights, grads: NamedWeights, state: AdamState): void {
  const n = weights.length;
  if (grads.length !== n || state.m.length !== n || state.v.length !== n) {
    throw new DuelError(
      ErrorCodes.SHAPE_MISMATCH,
      `adam: ${n} weights, ${grads.length} grads, ${state.m.length}/${state.v.length} moments`,
    );
  }
  for (let i = 0; i < n; i++) {
    sameSlot(weights[i], grads[i], 'grad', i);
    sameSlot(weights[i], state.m[i], 'm', i);
    sameSlot(weights[i], state.v[i], 'v', i);
  }
}

function sameSlot(w: NamedTensor, x: NamedTensor, what: string, i: number): void {
  if (x.name !== w.name || x.data.length !== w.data.length) {
    throw new DuelError(
      ErrorCodes.SHAPE_MISMATCH,
      `adam: ${what}[${i}] is ${x.name} (${x.data.length} values), weight is ${w.name} (${w.data.length} values)`,
    );
  }
}

/**
 * One Adam step: updates `weights` and `state` in place, one fused pass per
 * tensor (WebAssembly SIMD where the engine has it, else JS: the same bits
 * either way, see adam-kernel.ts) and no allocation. Gradients are not
 * checked for finiteness here: the aggregation strategies reject non-finite
 * updates before they get here.
 *
 * @param weights  the network's weights, updated in place
 * @param grads    gradients with the same layout (e.g. an aggregated mean)
 * @param state    this network's optimizer state, updated in place
 * @throws DuelError SHAPE_MISMATCH on a layout mismatch, BAD_ARGUMENT on bad hyperparameters
 *         (nothing is modified in either case)
 */
export function adamStep(weights: NamedWeights, grads: NamedWeights, state: AdamState, hp: AdamHyperparams): void {
  assertAdamHyperparams(hp);
  checkStepLayout(weights, grads, state);
  const f = Math.fround;
  // The scalars tfjs turns into float32 tensors.
  const b1 = f(hp.beta1);
  const b2 = f(hp.beta2);
  state.accBeta1 = f(state.accBeta1 * b1);
  state.accBeta2 = f(state.accBeta2 * b2);
  const s: AdamScalars = {
    b1,
    b2,
    omb1: f(1 - hp.beta1),
    omb2: f(1 - hp.beta2),
    corr1: f(1 - state.accBeta1),
    corr2: f(1 - state.accBeta2),
    eps: f(hp.epsilon ?? ADAM_EPSILON_FLOAT32),
    negLr: f(-hp.lr),
  };
  for (let k = 0; k < weights.length; k++) adamTensor(weights[k].data, grads[k].data, state.m[k].data, state.v[k].data, s);
  state.t += 1;
}
