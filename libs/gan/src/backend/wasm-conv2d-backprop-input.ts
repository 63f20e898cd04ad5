import { tf } from '../tf';
import { disposeInfos, runOriginal, runWasmKernel } from './wasm-kernel-utils';

/**
 * A faster Conv2DBackpropInput (the input gradient of conv2d, and the forward
 * pass of conv2dTranspose) for the wasm backend. tfjs-backend-wasm 4.22's own
 * kernel is a scalar C++ loop, measured ~11× slower than its XNNPACK Conv2D on
 * a DCGAN layer (64×14×14×64 → 128, 5×5, stride 2), and a GAN runs it in G's
 * forward pass and in every backward pass of D.
 *
 * Sub-pixel decomposition (Shi et al. 2016, "Real-Time Single Image and Video
 * Super-Resolution Using an Efficient Sub-Pixel CNN"; Odena et al. 2016): for
 * stride s the outputs dx[s·i + py, s·j + px] of one phase (py, px) only meet
 * the filter taps kh ≡ py + padT (mod s), kw ≡ px + padL (mod s). Each phase is
 * thus a stride-1 forward Conv2D of dy with that flipped sub-filter, [Mh, Mw,
 * co, ci], and the s² phase outputs interleave into dx. No multiply is spent on
 * the zeros a dilate-then-convolve formulation would insert.
 */

type Shape4 = [number, number, number, number];

/** One axis of one phase: which filter taps, and how to pad or crop dy. */
export interface PhaseAxisPlan {
  /** Taps of the sub-filter along this axis (0: the phase gets no contribution). */
  taps: number;
  /** First tap in the filter reversed along this axis; then every s-th. */
  firstReversedTap: number;
  /** dy rows [cropBegin, cropBegin + size) are read... */
  cropBegin: number;
  size: number;
  /** ...with this much zero padding around them. */
  padBefore: number;
  padAfter: number;
}

/**
 * Plans phase p along one axis: output positions p, p + s, … (outCount of
 * them) from dy of length dyLen, filter length k, forward pad `pad`.
 */
export function planPhaseAxis(p: number, s: number, pad: number, k: number, dyLen: number, outCount: number): PhaseAxisPlan {
  const q = p + pad;
  const r = q % s;
  const base = Math.floor(q / s);
  const taps = r < k ? Math.ceil((k - r) / s) : 0;
  // Output i reads dy[i + base − m] · w[r + s·m], m < taps: a correlation with the reversed sub-filter.
  let padBefore = taps - 1 - base;
  let padAfter = outCount + taps - 1 - dyLen - padBefore;
  let cropBegin = 0;
  let size = dyLen;
  if (padBefore < 0) {
    cropBegin = -padBefore;
    size += padBefore;
    padBefore = 0;
  }
  if (padAfter < 0) {
    size += padAfter;
    padAfter = 0;
  }
  return { taps: size > 0 ? taps : 0, firstReversedTap: k - 1 - r - s * (taps - 1), cropBegin, size, padBefore, padAfter };
}

let original: tf.KernelConfig | undefined;

function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as tf.KernelBackend;
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape as Shape4,
    filter.shape as Shape4,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  // The wasm Conv2D is NHWC-only; leave NCHW to the stock kernel.
  if (info.dataFormat !== 'channelsLast') return runOriginal(original!, args, backend);
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outChannels: co, strideHeight: sh, strideWidth: sw } = info;
  const hp = Math.ceil(h / sh);
  const wp = Math.ceil(w / sw);

  const reversed = runWasmKernel('Reverse', { x: filter }, { dims: [0, 1] }, backend);
  const rows: tf.TensorInfo[] = [];
  try {
    for (let py = 0; py < sh; py++) {
      const cols: tf.TensorInfo[] = [];
      for (let px = 0; px < sw; px++) {
        const ay = planPhaseAxis(py, sh, info.padInfo.top, info.filterHeight, info.outHeight, hp);
        const ax = planPhaseAxis(px, sw, info.padInfo.left, info.filterWidth, info.outWidth, wp);
        const phase = runPhase(ay, ax, sh, sw, [b, hp, wp, ci], co, dy, reversed, backend);
        cols.push(runWasmKernel('Reshape', { x: phase }, { shape: [b, hp, 1, wp, 1, ci] }, backend));
        disposeInfos(backend, phase);
      }
      rows.push(concatOrSelf(cols, 4, backend)); // [B, Hp, 1, Wp, sw, ci]
    }
  } finally {
    disposeInfos(backend, reversed);
  }
  const grid = concatOrSelf(rows, 2, backend); // [B, Hp, sh, Wp, sw, ci]
  const full = runWasmKernel('Reshape', { x: grid }, { shape: [b, hp * sh, wp * sw, ci] }, backend);
  disposeInfos(backend, grid);
  if (hp * sh === h && wp * sw === w) return full;
  const dx = runWasmKernel('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [b, h, w, ci] }, backend);
  disposeInfos(backend, full);
  return dx;
}

/** dx for one phase, [B, Hp, Wp, ci]: a stride-1 Conv2D of (cropped) dy with the phase's sub-filter. */
function runPhase(
  ay: PhaseAxisPlan,
  ax: PhaseAxisPlan,
  sh: number,
  sw: number,
  outShape: Shape4,
  co: number,
  dy: tf.TensorInfo,
  reversed: tf.TensorInfo,
  backend: tf.KernelBackend,
): tf.TensorInfo {
  if (ay.taps === 0 || ax.taps === 0) return runWasmKernel('Fill', {}, { shape: outShape, value: 0, dtype: 'float32' }, backend);
  const ci = outShape[3];
  const sub = runWasmKernel(
    'StridedSlice',
    { x: reversed },
    {
      begin: [ay.firstReversedTap, ax.firstReversedTap, 0, 0],
      end: [ay.firstReversedTap + sh * (ay.taps - 1) + 1, ax.firstReversedTap + sw * (ax.taps - 1) + 1, ci, co],
      strides: [sh, sw, 1, 1],
      beginMask: 0,
      endMask: 0,
      ellipsisMask: 0,
      newAxisMask: 0,
      shrinkAxisMask: 0,
    },
    backend,
  );
  const subT = runWasmKernel('Transpose', { x: sub }, { perm: [0, 1, 3, 2] }, backend); // [Mh, Mw, co, ci]
  disposeInfos(backend, sub);
  const cropped = ay.size !== dy.shape[1] || ax.size !== dy.shape[2];
  const src = cropped
    ? runWasmKernel('Slice', { x: dy }, { begin: [0, ay.cropBegin, ax.cropBegin, 0], size: [dy.shape[0], ay.size, ax.size, co] }, backend)
    : dy;
  try {
    return runWasmKernel(
      'Conv2D',
      { x: src, filter: subT },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [ay.padBefore, ay.padAfter],
          [ax.padBefore, ax.padAfter],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [1, 1],
      },
      backend,
    );
  } finally {
    disposeInfos(backend, subT, ...(cropped ? [src] : []));
  }
}

function concatOrSelf(parts: tf.TensorInfo[], axis: number, backend: tf.KernelBackend): tf.TensorInfo {
  if (parts.length === 1) return parts[0];
  const out = runWasmKernel('Concat', parts as unknown as tf.NamedTensorInfoMap, { axis }, backend);
  disposeInfos(backend, ...parts);
  return out;
}

/** Marks our kernel so that registering twice is a no-op. */
const OURS = Symbol.for('duel.wasmConv2DBackpropInput');

export const wasmConv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: Object.assign(conv2DBackpropInput, { [OURS]: true }),
};

/**
 * Replaces the stock wasm Conv2DBackpropInput with the sub-pixel one (the
 * stock one stays in use for NCHW). Idempotent. Does nothing until
 * @tensorflow/tfjs-backend-wasm is loaded: its import would overwrite ours.
 */
export function registerWasmConv2DBackpropInput(): boolean {
  const current = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
  if (!current || (current.kernelFunc as { [OURS]?: boolean })[OURS]) return false;
  original = current;
  tf.unregisterKernel(tf.Conv2DBackpropInput, 'wasm');
  tf.registerKernel(wasmConv2DBackpropInputConfig);
  return true;
}
