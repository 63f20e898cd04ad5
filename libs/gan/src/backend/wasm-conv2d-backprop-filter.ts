import { tf } from '../tf';
import { registerWasmConv2DBackpropInput } from './wasm-conv2d-backprop-input';
import { disposeInfos, registerKernelOnce, runWasmKernel } from './wasm-kernel-utils';

/**
 * Conv2DBackpropFilter for the wasm backend, which tfjs-backend-wasm 4.22 lacks
 * (so no conv net could train there). The filter gradient
 *
 *   dW[kh, kw, ci, co] = Σ_{b, oh, ow} x[b, oh·s + kh − padT, ow·s + kw − padL, ci] · dy[b, oh, ow, co]
 *
 * is itself a forward convolution once batch and channels swap roles: the
 * input is X' = x as [ci, H, W, B] (B is the channel axis), the filter is
 * F' = dy as [OH, OW, B, co], strides are 1 and the dilation is the forward
 * stride s (the classic "filter gradient = conv of input with output
 * gradient", as in cuDNN's and TensorFlow's dilated-conv derivations). The
 * result is [ci, KH', KW', co]; KH' ≥ KH only by the forward conv's unused
 * tail rows, cropped here. The wasm Conv2D (XNNPACK) supports dilations and
 * explicit pads, so everything stays on fast kernels; checked in the spec
 * against the cpu backend's direct loop.
 */

type Shape4 = [number, number, number, number];

/**
 * Pads along one spatial axis so that the convolution of X' with F' yields at
 * least `k` taps, and as few surplus taps as the trailing pad allows.
 * @returns [before, after, surplus]: surplus taps remain to be cropped.
 */
export function fitFilterGradPads(
  inSize: number,
  outSize: number,
  stride: number,
  k: number,
  before: number,
  after: number,
): [number, number, number] {
  const span = (outSize - 1) * stride;
  let taps = inSize + before + after - span;
  // Fewer taps than k only with ceil rounding: those taps read past the padded
  // input, i.e. zeros, exactly as the cpu kernel treats them.
  if (taps < k) {
    after += k - taps;
    taps = k;
  }
  const cut = Math.min(taps - k, after);
  return [before, after - cut, taps - cut - k];
}

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as tf.KernelBackend;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  const channelsLast = info.dataFormat === 'channelsLast';
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const [top, bottom, surplusH] = fitFilterGradPads(info.inHeight, info.outHeight, info.strideHeight, kh, info.padInfo.top, info.padInfo.bottom);
  const [left, right, surplusW] = fitFilterGradPads(info.inWidth, info.outWidth, info.strideWidth, kw, info.padInfo.left, info.padInfo.right);

  // X' [ci, H, W, B] and F' [OH, OW, B, co], from NHWC or NCHW.
  const xt = runWasmKernel('Transpose', { x }, { perm: channelsLast ? [3, 1, 2, 0] : [1, 2, 3, 0] }, backend);
  const dyt = runWasmKernel('Transpose', { x: dy }, { perm: channelsLast ? [1, 2, 0, 3] : [2, 3, 0, 1] }, backend);
  let full: tf.TensorInfo;
  try {
    full = runWasmKernel(
      'Conv2D',
      { x: xt, filter: dyt },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [info.strideHeight, info.strideWidth],
      },
      backend,
    );
  } finally {
    // Disposing F' also frees the XNNPACK operator the wasm Conv2D cached for it.
    disposeInfos(backend, xt, dyt);
  }
  // full: [ci, KH + surplusH, KW + surplusW, co]
  let cropped = full;
  if (surplusH > 0 || surplusW > 0) {
    cropped = runWasmKernel('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] }, backend);
    disposeInfos(backend, full);
  }
  const dw = runWasmKernel('Transpose', { x: cropped }, { perm: [1, 2, 0, 3] }, backend);
  disposeInfos(backend, cropped);
  return dw; // [KH, KW, ci, co]
}

export const wasmConv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter,
};

/**
 * Makes conv GANs trainable, and fast, on wasm: adds Conv2DBackpropFilter
 * (missing in tfjs-backend-wasm 4.22; never replaces one a later release
 * ships) and swaps the scalar-loop Conv2DBackpropInput for the sub-pixel one
 * on XNNPACK. Idempotent; safe before or after the wasm backend initialises,
 * but call it after importing @tensorflow/tfjs-backend-wasm.
 */
export function registerWasmConvKernels(): void {
  registerKernelOnce(wasmConv2DBackpropFilterConfig);
  registerWasmConv2DBackpropInput();
}
