import { describe, expect, it } from 'vitest';
import { scoreFromProbs } from './classifier-score';

const oneHot = (labels: number[], k: number) => labels.flatMap((l) => Array.from({ length: k }, (_, c) => (c === l ? 1 : 0)));

describe('scoreFromProbs', () => {
  it('is the number of classes for confident, balanced predictions', () => {
    expect(scoreFromProbs(oneHot([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 10), 10)).toBeCloseTo(10, 12);
    expect(scoreFromProbs(oneHot([0, 0, 1, 1], 2), 2)).toBeCloseTo(2, 12);
  });

  it('is 1 for a collapsed set (all the same class) or an uninformative classifier', () => {
    expect(scoreFromProbs(oneHot([3, 3, 3], 10), 10)).toBeCloseTo(1, 12);
    expect(scoreFromProbs(Array(40).fill(0.1), 10)).toBeCloseTo(1, 12);
  });

  it('matches a hand computation for soft predictions', () => {
    // p(y|x1) = (0.9, 0.1), p(y|x2) = (0.2, 0.8) → p(y) = (0.55, 0.45).
    const kl1 = 0.9 * Math.log(0.9 / 0.55) + 0.1 * Math.log(0.1 / 0.45);
    const kl2 = 0.2 * Math.log(0.2 / 0.55) + 0.8 * Math.log(0.8 / 0.45);
    expect(scoreFromProbs([0.9, 0.1, 0.2, 0.8], 2)).toBeCloseTo(Math.exp((kl1 + kl2) / 2), 12);
  });

  it('rejects an empty or ragged input', () => {
    expect(() => scoreFromProbs([], 10)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
    expect(() => scoreFromProbs([0.5, 0.5, 1], 2)).toThrow(/DUEL_ERR_BAD_ARGUMENT/);
  });
});
