import { DuelError, ErrorCodes, type TensorSpec } from '@duel/util';

/**
 * Declarative, JSON-serialisable network specs. A spec is the contract between
 * the coordinator and every worker: the same spec builds the same parameter
 * list (names, shapes, canonical order) everywhere.
 *
 * Shapes are per sample (no batch axis). Images are NHWC.
 */
export type LayerSpec =
  | { type: 'dense'; units: number }
  | { type: 'conv2d'; filters: number; kernel: number; stride: number; padding: 'same' | 'valid' }
  | { type: 'conv2dTranspose'; filters: number; kernel: number; stride: number; padding: 'same' }
  | { type: 'reshape'; shape: number[] }
  | { type: 'flatten' }
  | { type: 'relu' }
  | { type: 'leakyRelu'; alpha: number }
  | { type: 'tanh' }
  /**
   * Multiplies by a constant. mlp2d puts x/s first in D and ×s last in G, so
   * the nets work on standardised data (s = the data's std per axis) whatever
   * the dataset's extent: grid25 spans ±4, ring8 ±1.
   */
  | { type: 'scale'; factor: number }
  /**
   * Minibatch standard deviation (Karras et al. 2018, "Progressive Growing of
   * GANs", §3): appends the mean over features of the per-feature std across the
   * batch as one extra feature, so D can see a lack of variety (mode collapse).
   * Only after a flat (rank-1) feature vector.
   */
  | { type: 'minibatchStd' };

export interface NetSpec {
  /** Per-sample input shape. */
  input: number[];
  layers: LayerSpec[];
}

export type GanLoss = 'nonsaturating' | 'minimax' | 'hinge';

export interface GanSpec {
  /** Preset name, for display. */
  name: string;
  latentDim: number;
  /** Per-sample data shape, e.g. [2] or [28, 28, 1]. */
  dataShape: number[];
  /**
   * PacGAN packing degree m (Lin et al. 2018): D judges m samples jointly,
   * concatenated along the last axis. 1 means a plain GAN. D's input is
   * dataShape with its last axis multiplied by `pack`.
   */
  pack: number;
  generator: NetSpec;
  discriminator: NetSpec;
}

export type Net = 'G' | 'D';

interface Shaped {
  shape: number[];
  params: TensorSpec[];
}

function bad(msg: string): never {
  throw new DuelError(ErrorCodes.BAD_SPEC, msg);
}

function positiveInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) bad(`${what} must be a positive integer, got ${String(v)}`);
  return v;
}

/** Output shape of a conv along one spatial axis (tfjs/TF semantics). */
export function convOutSize(size: number, kernel: number, stride: number, padding: 'same' | 'valid'): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.ceil((size - kernel + 1) / stride);
}

/**
 * Walks a net spec, checking every layer, and returns the output shape and the
 * trainable parameters in canonical order: `${prefix}/${layerIndex}/kernel`,
 * then `.../bias`.
 */
export function inferNet(spec: NetSpec, prefix: Net): Shaped {
  if (!spec || !Array.isArray(spec.input) || !Array.isArray(spec.layers)) bad(`${prefix}: a net needs input and layers`);
  let shape = spec.input.map((d, i) => positiveInt(d, `${prefix}.input[${i}]`));
  const params: TensorSpec[] = [];
  spec.layers.forEach((layer, i) => {
    const name = `${prefix}/${i}`;
    switch (layer?.type) {
      case 'dense': {
        if (shape.length !== 1) bad(`${name}: dense needs a flat input, got [${shape}]`);
        const units = positiveInt(layer.units, `${name}.units`);
        params.push({ name: `${name}/kernel`, shape: [shape[0], units] }, { name: `${name}/bias`, shape: [units] });
        shape = [units];
        break;
      }
      case 'conv2d':
      case 'conv2dTranspose': {
        if (shape.length !== 3) bad(`${name}: ${layer.type} needs an [H, W, C] input, got [${shape}]`);
        const k = positiveInt(layer.kernel, `${name}.kernel`);
        const s = positiveInt(layer.stride, `${name}.stride`);
        const f = positiveInt(layer.filters, `${name}.filters`);
        if (layer.padding !== 'same' && layer.padding !== 'valid') bad(`${name}: padding must be same or valid`);
        const [h, w, c] = shape;
        if (layer.type === 'conv2d') {
          params.push({ name: `${name}/kernel`, shape: [k, k, c, f] }, { name: `${name}/bias`, shape: [f] });
          shape = [convOutSize(h, k, s, layer.padding), convOutSize(w, k, s, layer.padding), f];
        } else {
          if (layer.padding !== 'same') bad(`${name}: conv2dTranspose supports padding 'same' only`);
          // tf.conv2dTranspose filters are [kh, kw, outChannels, inChannels].
          params.push({ name: `${name}/kernel`, shape: [k, k, f, c] }, { name: `${name}/bias`, shape: [f] });
          shape = [h * s, w * s, f];
        }
        break;
      }
      case 'reshape': {
        const target = (layer.shape ?? []).map((d, j) => positiveInt(d, `${name}.shape[${j}]`));
        const from = shape.reduce((a, b) => a * b, 1);
        const to = target.reduce((a, b) => a * b, 1);
        if (from !== to) bad(`${name}: cannot reshape [${shape}] to [${target}]`);
        shape = target;
        break;
      }
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case 'minibatchStd':
        if (shape.length !== 1) bad(`${name}: minibatchStd needs a flat input, got [${shape}]`);
        shape = [shape[0] + 1];
        break;
      case 'leakyRelu':
        if (typeof layer.alpha !== 'number' || !(layer.alpha >= 0 && layer.alpha < 1)) bad(`${name}: alpha must be in [0, 1)`);
        break;
      case 'scale':
        if (typeof layer.factor !== 'number' || !Number.isFinite(layer.factor) || layer.factor === 0) bad(`${name}: scale factor must be finite and non-zero`);
        break;
      case 'relu':
      case 'tanh':
        break;
      default:
        bad(`${name}: unknown layer type ${String((layer as { type?: unknown })?.type)}`);
    }
  });
  return { shape, params };
}

export interface GanLayout {
  G: TensorSpec[];
  D: TensorSpec[];
}

/** Validates a GAN spec end to end and returns the parameter layout of G and D. */
export function ganLayout(spec: GanSpec): GanLayout {
  positiveInt(spec.latentDim, 'latentDim');
  positiveInt(spec.pack, 'pack');
  const g = inferNet(spec.generator, 'G');
  const d = inferNet(spec.discriminator, 'D');
  if (spec.generator.input.length !== 1 || spec.generator.input[0] !== spec.latentDim) {
    bad(`G input must be [latentDim=${spec.latentDim}], got [${spec.generator.input}]`);
  }
  if (g.shape.join() !== spec.dataShape.join()) bad(`G output [${g.shape}] must equal dataShape [${spec.dataShape}]`);
  const packed = packedShape(spec.dataShape, spec.pack);
  if (spec.discriminator.input.join() !== packed.join()) {
    bad(`D input must be the packed data shape [${packed}], got [${spec.discriminator.input}]`);
  }
  if (d.shape.length !== 1 || d.shape[0] !== 1) bad(`D must output one logit, got [${d.shape}]`);
  return { G: g.params, D: d.params };
}

/** Data shape as D sees it: `pack` samples concatenated along the last axis. */
export function packedShape(dataShape: number[], pack: number): number[] {
  const s = [...dataShape];
  s[s.length - 1] *= pack;
  return s;
}

export function paramCount(specs: TensorSpec[]): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}
