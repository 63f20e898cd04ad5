import { Rng, sizeOf, type NamedWeights, type TensorSpec } from '@duel/util';

/**
 * Deterministic initial weights: Glorot-uniform kernels (Glorot & Bengio 2010,
 * the Keras/tfjs default) and zero biases, drawn from Rng(seed) in canonical
 * order, so every process builds bit-identical weights from the same seed.
 */
export function initWeights(specs: TensorSpec[], seed: number): NamedWeights {
  const rng = new Rng(seed);
  return specs.map((s) => {
    const data = new Float32Array(sizeOf(s.shape));
    if (s.name.endsWith('/kernel')) {
      const { fanIn, fanOut } = fans(s.shape);
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.uniform() - 1) * limit;
    }
    return { name: s.name, shape: [...s.shape], data };
  });
}

/** Fan-in/out as tfjs-layers computes them: receptive field × channels. */
function fans(shape: number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 2) return { fanIn: shape[0], fanOut: shape[1] };
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[shape.length - 2] * receptive, fanOut: shape[shape.length - 1] * receptive };
}
