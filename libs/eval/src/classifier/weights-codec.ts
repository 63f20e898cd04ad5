import { assertLayout, DuelError, ErrorCodes, sizeOf, type NamedWeights, type TensorSpec } from '@duel/util';

/**
 * The committed classifier weights as JSON: one base64 string of float32
 * little-endian values, all tensors back to back in spec order. JSON keeps the
 * asset importable as a module in both Vite and Node; base64 keeps it ~1.15 MB.
 */
export interface WeightsFile {
  format: 'duel-weights/1';
  /** What the weights are for, e.g. 'mnist-cnn'. */
  model: string;
  specs: TensorSpec[];
  /** base64 of float32 LE values. */
  float32le: string;
  /** Free-form facts about how the weights were made (accuracy, command, seed). */
  meta?: Record<string, unknown>;
}

export function encodeWeights(model: string, ws: NamedWeights, meta?: Record<string, unknown>): WeightsFile {
  const total = ws.reduce((n, w) => n + w.data.length, 0);
  const bytes = new Uint8Array(total * 4);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const w of ws) for (let i = 0; i < w.data.length; i++, at += 4) view.setFloat32(at, w.data[i], true);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { format: 'duel-weights/1', model, specs: ws.map((w) => ({ name: w.name, shape: [...w.shape] })), float32le: btoa(bin), meta };
}

/**
 * Decodes a WeightsFile and checks it against the expected layout.
 * @throws DuelError DUEL_ERR_BAD_SPEC for a wrong format or size, DUEL_ERR_SHAPE_MISMATCH for a wrong layout.
 */
export function decodeWeights(file: WeightsFile, expected: readonly TensorSpec[]): NamedWeights {
  if (file.format !== 'duel-weights/1') throw new DuelError(ErrorCodes.BAD_SPEC, `unknown weights format ${file.format}`);
  const bin = atob(file.float32le);
  const total = file.specs.reduce((n, s) => n + sizeOf(s.shape), 0);
  if (bin.length !== total * 4) {
    throw new DuelError(ErrorCodes.BAD_SPEC, `${file.model} weights: ${bin.length} bytes for ${total} float32 values`);
  }
  const view = new DataView(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
  let at = 0;
  const ws: NamedWeights = file.specs.map((s) => {
    const data = new Float32Array(sizeOf(s.shape));
    for (let i = 0; i < data.length; i++, at += 4) data[i] = view.getFloat32(at, true);
    return { name: s.name, shape: [...s.shape], data };
  });
  assertLayout(ws, expected, `${file.model} weights`);
  return ws;
}
