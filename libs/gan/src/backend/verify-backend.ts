import { tf } from '../tf';

/**
 * A backend can register and initialise yet compute garbage (a broken driver,
 * a software adapter with a shader bug), so selection checks real numbers: a
 * matmul + relu and a tiny convolution with known results.
 *
 * [[1, 2], [3, 4]] · [[5, 6], [7, −8]] = [[19, −10], [43, −14]] → relu → [19, 0, 43, 0];
 * the 3×3 ramp 1..9 convolved with the 2×2 filter [[1, 0], [0, −1]] (valid) is −4 everywhere.
 */
const EXPECTED = [19, 0, 43, 0, -4, -4, -4, -4];

/** Throws (with what it got) unless the active backend computes the check correctly; leaks no tensor. */
export async function verifyBackend(tolerance = 1e-3): Promise<void> {
  const out = tf.tidy(() => {
    const m = tf.relu(tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, -8], [2, 2])));
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const c = tf.conv2d(x, tf.tensor4d([1, 0, 0, -1], [2, 2, 1, 1]), 1, 'valid');
    return tf.concat([tf.reshape(m, [-1]), tf.reshape(c, [-1])]);
  });
  let got: Float32Array;
  try {
    got = (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
  const ok = got.length === EXPECTED.length && EXPECTED.every((v, i) => Math.abs(got[i] - v) <= tolerance);
  if (!ok) {
    throw new Error(`computes wrong numbers: expected [${EXPECTED.join(', ')}], got [${Array.from(got).join(', ')}]`);
  }
}
