import { DuelError, ErrorCodes } from '@duel/util';

/**
 * The classifier score exp(E_x KL(p(y|x) ‖ p(y))), with p(y) the mean of p(y|x)
 * over the set: the Inception Score of Salimans et al. (2016) with an MNIST
 * classifier in place of Inception. It ranges from 1 (every x gets the same class
 * distribution) to the number of classes (confident and balanced).
 *
 * @param probs p(y|x) [n, classes], rows summing to 1
 */
export function scoreFromProbs(probs: ArrayLike<number>, classes: number): number {
  const n = probs.length / classes;
  if (!Number.isInteger(n) || n < 1) {
    throw new DuelError(ErrorCodes.BAD_ARGUMENT, `classifier score: ${probs.length} values is not [n ≥ 1, ${classes}]`);
  }
  const py = new Float64Array(classes);
  for (let i = 0; i < n; i++) for (let c = 0; c < classes; c++) py[c] += probs[i * classes + c];
  for (let c = 0; c < classes; c++) py[c] /= n;
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < classes; c++) {
      const p = probs[i * classes + c];
      if (p > 0) kl += p * Math.log(p / py[c]); // 0·log 0 = 0; py[c] ≥ p/n > 0 here
    }
  }
  return Math.exp(kl / n);
}
