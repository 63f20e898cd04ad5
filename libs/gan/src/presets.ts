import { DuelError, ErrorCodes } from '@duel/util';
import { packedShape, type GanSpec, type LayerSpec } from './spec';

export interface PresetOptions {
  /** PacGAN packing degree (default 1, or 2 for mlp2d). */
  pack?: number;
  /** Minibatch-std feature in D (Karras et al. 2018). */
  minibatchStd?: boolean;
  latentDim?: number;
  /** Hidden width (mlp2d only). */
  hidden?: number;
  /** mlp2d: the data's std per axis; D sees x / dataScale and G outputs dataScale × its last layer. */
  dataScale?: number;
}

/**
 * Small MLP G/D for 2-D mixtures. The shape follows PacGAN's 2-D experiments
 * (Lin et al. 2018, App. D: MLPs, latent dim 2) at a width a 2-core CPU can
 * train in a minute; packing m=2 by default, since that is where PacGAN's mode
 * coverage gain comes from.
 */
export function mlp2dSpec(o: PresetOptions = {}): GanSpec {
  const pack = o.pack ?? 2;
  const h = o.hidden ?? 128;
  const latentDim = o.latentDim ?? 2;
  const scale = o.dataScale ?? 1;
  const dLayers: LayerSpec[] = scale === 1 ? [] : [{ type: 'scale', factor: 1 / scale }];
  dLayers.push({ type: 'dense', units: h }, { type: 'leakyRelu', alpha: 0.2 });
  if (o.minibatchStd) dLayers.push({ type: 'minibatchStd' });
  dLayers.push({ type: 'dense', units: h }, { type: 'leakyRelu', alpha: 0.2 }, { type: 'dense', units: 1 });
  return {
    name: 'mlp2d',
    latentDim,
    dataShape: [2],
    pack,
    generator: {
      input: [latentDim],
      layers: [
        { type: 'dense', units: h },
        { type: 'relu' },
        { type: 'dense', units: h },
        { type: 'relu' },
        { type: 'dense', units: h },
        { type: 'relu' },
        { type: 'dense', units: 2 },
        ...(scale === 1 ? [] : [{ type: 'scale' as const, factor: scale }]),
      ],
    },
    discriminator: { input: packedShape([2], pack), layers: dLayers },
  };
}

/**
 * Goodfellow-style MLP GAN for 28×28 images (Goodfellow et al. 2014, with the
 * LeakyReLU D of later practice): G 100→256→512→1024→784 (1.49M params),
 * D 784→512→256→1 (0.53M params).
 */
export function mlpSpec(o: PresetOptions = {}): GanSpec {
  const pack = o.pack ?? 1;
  const latentDim = o.latentDim ?? 100;
  const dLayers: LayerSpec[] = [
    { type: 'flatten' },
    { type: 'dense', units: 512 },
    { type: 'leakyRelu', alpha: 0.2 },
    { type: 'dense', units: 256 },
    { type: 'leakyRelu', alpha: 0.2 },
  ];
  if (o.minibatchStd) dLayers.push({ type: 'minibatchStd' });
  dLayers.push({ type: 'dense', units: 1 });
  return {
    name: 'mlp',
    latentDim,
    dataShape: [28, 28, 1],
    pack,
    generator: {
      input: [latentDim],
      layers: [
        { type: 'dense', units: 256 },
        { type: 'leakyRelu', alpha: 0.2 },
        { type: 'dense', units: 512 },
        { type: 'leakyRelu', alpha: 0.2 },
        { type: 'dense', units: 1024 },
        { type: 'leakyRelu', alpha: 0.2 },
        { type: 'dense', units: 784 },
        { type: 'tanh' },
        { type: 'reshape', shape: [28, 28, 1] },
      ],
    },
    discriminator: { input: packedShape([28, 28, 1], pack), layers: dLayers },
  };
}

/**
 * A small DCGAN for 28×28×1 (Radford et al. 2016): transposed convolutions
 * 7→14→28 in G, strided convolutions 28→14→7 in D. No batch norm, so a
 * gradient depends only on the weights, the batch and the seed (what the
 * coordinator averages is then exactly the large-batch gradient).
 */
export function dcganSpec(o: PresetOptions = {}): GanSpec {
  const pack = o.pack ?? 1;
  const latentDim = o.latentDim ?? 100;
  const dLayers: LayerSpec[] = [
    { type: 'conv2d', filters: 64, kernel: 4, stride: 2, padding: 'same' },
    { type: 'leakyRelu', alpha: 0.2 },
    { type: 'conv2d', filters: 128, kernel: 4, stride: 2, padding: 'same' },
    { type: 'leakyRelu', alpha: 0.2 },
    { type: 'flatten' },
  ];
  if (o.minibatchStd) dLayers.push({ type: 'minibatchStd' });
  dLayers.push({ type: 'dense', units: 1 });
  return {
    name: 'dcgan',
    latentDim,
    dataShape: [28, 28, 1],
    pack,
    generator: {
      input: [latentDim],
      layers: [
        { type: 'dense', units: 7 * 7 * 128 },
        { type: 'relu' },
        { type: 'reshape', shape: [7, 7, 128] },
        { type: 'conv2dTranspose', filters: 64, kernel: 4, stride: 2, padding: 'same' },
        { type: 'relu' },
        { type: 'conv2dTranspose', filters: 1, kernel: 4, stride: 2, padding: 'same' },
        { type: 'tanh' },
      ],
    },
    discriminator: { input: packedShape([28, 28, 1], pack), layers: dLayers },
  };
}

export const modelNames = ['mlp2d', 'mlp', 'dcgan'] as const;
export type ModelName = (typeof modelNames)[number];

export function resolveModel(name: string, o: PresetOptions = {}): GanSpec {
  switch (name) {
    case 'mlp2d':
      return mlp2dSpec(o);
    case 'mlp':
      return mlpSpec(o);
    case 'dcgan':
      return dcganSpec(o);
    default:
      throw new DuelError(ErrorCodes.UNKNOWN_MODEL, `unknown model "${name}"; available: ${modelNames.join(', ')}`);
  }
}
