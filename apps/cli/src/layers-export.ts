import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf, type GanSpec, type LayerSpec } from '@duel/gan';
import { DuelError, ErrorCodes, type NamedWeights } from '@duel/util';

/**
 * G as a tfjs LayersModel: a tf.sequential with one Keras layer per spec
 * layer, weights set from `weights` (canonical order: kernel, bias per
 * parametrised layer). `scale` becomes a Rescaling layer. The result computes
 * what libs/gan's forwardNet computes with the same weights.
 */
export function generatorLayersModel(spec: GanSpec, weights: NamedWeights): tfl.Sequential {
  const model = tfl.sequential({ name: `duel_${spec.name}_G` });
  let p = 0;
  spec.generator.layers.forEach((layer, i) => {
    const first = i === 0 ? { inputShape: spec.generator.input } : {};
    const name = `G_${i}_${layer.type}`;
    const l = keras(layer, { ...first, name });
    model.add(l);
    if (layer.type === 'dense' || layer.type === 'conv2d' || layer.type === 'conv2dTranspose') {
      const [k, b] = [weights[p++], weights[p++]];
      l.setWeights([tf.tensor(k.data, k.shape), tf.tensor(b.data, b.shape)]);
    }
  });
  if (p !== weights.length) throw new DuelError(ErrorCodes.SHAPE_MISMATCH, `G has ${weights.length} tensors, the spec uses ${p}`);
  return model;
}

function keras(layer: LayerSpec, base: { name: string; inputShape?: number[] }): tfl.layers.Layer {
  switch (layer.type) {
    case 'dense':
      return tfl.layers.dense({ ...base, units: layer.units });
    case 'conv2d':
      return tfl.layers.conv2d({ ...base, filters: layer.filters, kernelSize: layer.kernel, strides: layer.stride, padding: layer.padding });
    case 'conv2dTranspose':
      return tfl.layers.conv2dTranspose({ ...base, filters: layer.filters, kernelSize: layer.kernel, strides: layer.stride, padding: layer.padding });
    case 'reshape':
      return tfl.layers.reshape({ ...base, targetShape: layer.shape });
    case 'flatten':
      return tfl.layers.flatten(base);
    case 'relu':
      return tfl.layers.activation({ ...base, activation: 'relu' });
    case 'tanh':
      return tfl.layers.activation({ ...base, activation: 'tanh' });
    case 'leakyRelu':
      return tfl.layers.leakyReLU({ ...base, alpha: layer.alpha });
    case 'scale':
      return tfl.layers.rescaling({ ...base, scale: layer.factor, offset: 0 });
    case 'minibatchStd':
      throw new DuelError(ErrorCodes.BAD_SPEC, 'minibatchStd has no tfjs-layers equivalent (it belongs in D, not G)');
  }
}

/** Writes `model.json` + `weights.bin` (the layout tf.loadLayersModel reads) into `dir`. */
export async function saveLayersModel(model: tfl.LayersModel, dir: string, metadata: Record<string, unknown>): Promise<{ modelJson: string; weightsBin: string; bytes: number }> {
  await mkdir(dir, { recursive: true });
  const modelJson = join(dir, 'model.json');
  const weightsBin = join(dir, 'weights.bin');
  let bytes = 0;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const data = Array.isArray(a.weightData) ? tf.io.concatenateArrayBuffers(a.weightData) : (a.weightData ?? new ArrayBuffer(0));
      bytes = data.byteLength;
      await writeFile(weightsBin, new Uint8Array(data));
      const json = {
        modelTopology: a.modelTopology,
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: 'duel export',
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
        userDefinedMetadata: metadata,
      };
      await writeFile(modelJson, JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes } };
    }),
  );
  return { modelJson, weightsBin, bytes };
}
