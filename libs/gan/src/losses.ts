import { tf } from './tf';
import type { GanLoss } from './spec';

/*
 * GAN losses on logits l (D(x) = σ(l)), in the numerically stable softplus form:
 *   BCE(σ(l), 1) = −log σ(l)     = softplus(−l)
 *   BCE(σ(l), 0) = −log(1 − σ(l)) = softplus(l)
 * so nothing ever takes log of a saturated sigmoid.
 */

/**
 * Discriminator loss. For the standard GAN (Goodfellow et al. 2014):
 *   L_D = BCE(D(x), 1) + BCE(D(G(z)), 0) = E softplus(−l_real) + E softplus(l_fake).
 * At the optimum with p_g = p_data, D = ½ and L_D = log 4 ≈ 1.386.
 * Hinge (Lim & Ye 2017; Miyato et al. 2018): E relu(1 − l_real) + E relu(1 + l_fake).
 * @param realLogits [N, 1]  @param fakeLogits [M, 1]
 */
export function discriminatorLoss(realLogits: tf.Tensor, fakeLogits: tf.Tensor, loss: GanLoss): tf.Scalar {
  const terms = discriminatorLossTerms(loss);
  return tf.add(terms.real(realLogits), terms.fake(fakeLogits));
}

/**
 * L_D's two terms, which discriminatorLoss adds: on real logits,
 * E softplus(−l) = −E log D(x) (hinge: E relu(1 − l)); on fake logits,
 * E softplus(l) = −E log(1 − D(G(z))) (hinge: E relu(1 + l)).
 */
export function discriminatorLossTerms(loss: GanLoss): { real: (logits: tf.Tensor) => tf.Scalar; fake: (logits: tf.Tensor) => tf.Scalar } {
  if (loss === 'hinge') {
    return { real: (l) => tf.mean(tf.relu(tf.sub(1, l))), fake: (l) => tf.mean(tf.relu(tf.add(1, l))) };
  }
  return { real: (l) => tf.mean(tf.softplus(tf.neg(l))), fake: (l) => tf.mean(tf.softplus(l)) };
}

/**
 * Generator loss on D's logits for fakes.
 * - nonsaturating (default, Goodfellow et al. 2014 §3): −log D(G(z)) = E softplus(−l).
 * - minimax: the game's own objective, minimised by G: log(1 − D(G(z))) = −E softplus(l).
 *   It saturates when D rejects fakes confidently, hence the default above.
 * - hinge: −E l.
 * @param fakeLogits [M, 1]
 * @param mask optional [M, 1] of 0/1: the loss is the mean over the entries set
 *   (top-k training); absent, over all M
 * @param count with a mask: divide the masked sum by this instead of the
 *   mask's own count. A micro-batch of a top-k batch passes the whole batch's
 *   count, so the micro-batches' losses add up to the batch's (and one with no
 *   entry set gives 0, not 0/0).
 */
export function generatorLoss(fakeLogits: tf.Tensor, loss: GanLoss, mask?: tf.Tensor, count?: number): tf.Scalar {
  const perSample =
    loss === 'minimax' ? tf.neg(tf.softplus(fakeLogits)) : loss === 'hinge' ? tf.neg(fakeLogits) : tf.softplus(tf.neg(fakeLogits));
  if (!mask) return tf.mean(perSample);
  return tf.div(tf.sum(tf.mul(perSample, mask)), count ?? tf.sum(mask));
}

export const ganLosses: readonly GanLoss[] = ['nonsaturating', 'minimax', 'hinge'];
