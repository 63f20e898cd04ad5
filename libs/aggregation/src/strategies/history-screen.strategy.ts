import { DuelError, ErrorCodes, type NamedWeights } from '@duel/util';
import { medianOf } from '../kernels';
import { memoryKeys, screenUpdates, type AggregationStrategy, type ClientUpdate } from '../strategy';
import { ScreenStrategy } from './screen-strategy';

/**
 * The history screen: Byzantine workers found by what their updates add up to
 * over many rounds, not by any one update. After SafeguardSGD (Allen-Zhu,
 * Ebrahimian, Li & Alistarh, ICLR 2021, "Byzantine-Resilient Non-Convex
 * Stochastic Gradient Descent"), which keeps each worker's accumulated
 * gradient and drops the workers whose accumulation strays from the honest
 * ones'; Karimireddy, He & Jaggi (ICML 2021, "Learning from History for
 * Byzantine Robust Optimization") show why some memory is needed at all:
 * without it no aggregator survives attacks that hide in the per-round noise.
 *
 * Why: with small shards an honest gradient's per-round noise is several
 * times its signal, so a per-round rule (median, trimmed mean, Krum) cannot
 * tell "a little is enough" (Baruch et al. 2019: μ − zσ every round) or a sign
 * flip from honest noise. But noise cancels over rounds and a bias adds up:
 * after T rounds two honest workers' accumulated updates differ by about
 * √T·σ, an attacker's by T·bias.
 *
 * The statistic is self-normalising, so it needs no noise model and no scale:
 * for a pair (i, j), with δ_t = g_i,t − g_j,t over the rounds both took part
 * in, exponentially forgotten with factor λ,
 *
 *     r_ij = ‖Σ_t λ^(T−t) δ_t‖² / Σ_t λ^(2(T−t)) ‖δ_t‖²,
 *
 * which is about 1 when the δ_t are independent with mean zero (two honest
 * workers on iid shards) and about 1 + b²(1+λ)/((1−λ)(b² + σ²)) for a
 * persistent difference b (≈ 40 for ALIE's z = 0.52 at λ = 0.99). A worker's
 * score is the median of r_ij over its partners this round, which is an
 * honest pair's value as long as most workers are honest. Scores above the
 * threshold are rejected as DUEL_ERR_OUTLIER (and counted against the
 * worker); the worker's updates keep being tracked, so an honest worker that
 * strays once is let back in when its score falls.
 *
 * Cost: updates are reduced by a count sketch (Charikar, Chen & Farach-Colton
 * 2002; linear, so sums and differences commute with it) to at most `buckets`
 * numbers, exact when the gradient is no larger. Per round that is one pass
 * over each update and m²/2 sketch-length dot products for m updates, and the
 * state is one sketch per worker and network plus a number per pair: meant for
 * bounded sync cohorts (tens of workers), not for hundreds per round.
 *
 * Assumes iid shards: honest workers with persistently different data (a
 * label-skewed shard) drift apart as well and would be flagged.
 */

export interface HistoryScreenOptions {
  /** Score above which an update is rejected (> 1; r ≈ 1 for honest pairs). */
  threshold: number;
  /** Forgetting factor λ in (0, 1); the memory is about 1/(1−λ) rounds. Default 0.99. */
  forget?: number;
  /** Rounds a pair must share before its score counts. Default 20. */
  warmup?: number;
  /** Sketch length; gradients no larger are kept exactly. Default 16384. */
  buckets?: number;
}

/** The pair statistic r = ‖a_i − a_j‖² / s for accumulated sketches a and the pair's forgotten sum s of ‖δ‖². */
export function driftRatio(ai: Float64Array, aj: Float64Array, s: number): number {
  if (!(s > 0)) return Number.NaN;
  let d = 0;
  for (let x = 0; x < ai.length; x++) {
    const v = ai[x] - aj[x];
    d += v * v;
  }
  return d / s;
}

/**
 * A count sketch of a fixed layout: coordinate j goes to bucket h(j) with sign
 * s(j), from a fixed integer hash, so every worker's updates are sketched
 * alike. With d ≤ k it is the identity.
 */
export class CountSketch {
  readonly length: number;
  private readonly bucket: Int32Array | null;

  constructor(
    readonly dims: number,
    buckets: number,
  ) {
    if (dims <= buckets) {
      this.length = dims;
      this.bucket = null;
      return;
    }
    this.length = buckets;
    // The sign lives in the top bit of the bucket (buckets ≤ 2^30).
    this.bucket = new Int32Array(dims);
    for (let j = 0; j < dims; j++) {
      const h = mix32(j);
      this.bucket[j] = (h % buckets) | (h & 0x80000000);
    }
  }

  /** Adds the sketch of `g` (flattened in layout order) into `out`. */
  addTo(g: NamedWeights, out: Float64Array): void {
    let j = 0;
    const b = this.bucket;
    for (const t of g) {
      const d = t.data;
      if (b === null) {
        for (let x = 0; x < d.length; x++) out[j++] += d[x];
      } else {
        for (let x = 0; x < d.length; x++, j++) {
          const e = b[j];
          if (e < 0) out[e & 0x7fffffff] -= d[x];
          else out[e] += d[x];
        }
      }
    }
  }
}

/** A 32-bit integer hash (lowbias32, Chris Wellons), unsigned. */
function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

interface Track {
  /** Σ λ^(T−t) (sketch_t − centre_t) over the rounds this worker took part in. */
  acc: Float64Array;
  /** Layout round at which acc was last brought up to date. */
  at: number;
}

interface PairTrack {
  /** Σ λ^(2(T−t)) ‖sketch_i,t − sketch_j,t‖². */
  s: number;
  /** Rounds shared. */
  n: number;
  at: number;
}

/** One network's history (D and G have layouts, and histories, of their own). */
class LayoutHistory {
  round = 0;
  readonly workers = new Map<string, Track>();
  readonly pairs = new Map<string, PairTrack>();
  /** Per-round sketch buffers, reused so a round allocates nothing once the cohort's size has been seen. */
  private readonly scratch: Float64Array[] = [];
  readonly centre: Float64Array;

  constructor(readonly sketch: CountSketch) {
    this.centre = new Float64Array(sketch.length);
  }

  /** n zeroed sketch buffers. */
  buffers(n: number): Float64Array[] {
    while (this.scratch.length < n) this.scratch.push(new Float64Array(this.sketch.length));
    const out = this.scratch.slice(0, n);
    for (const b of out) b.fill(0);
    return out;
  }
}

const pairKey = (a: string, b: string) => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);

/**
 * Per-network histories and the round step, without the strategy plumbing:
 * `observe` takes one round's updates (one layout) and returns each one's
 * score (NaN while it is warming up).
 */
export class DriftTracker {
  private readonly layouts = new Map<string, LayoutHistory>();
  readonly forget: number;
  readonly warmup: number;
  readonly buckets: number;
  /** Rounds after which a worker not seen is forgotten (its weight λ^age has fallen below 1e-4). */
  private readonly horizon: number;

  constructor(options: Omit<HistoryScreenOptions, 'threshold'> = {}) {
    this.forget = options.forget ?? 0.99;
    this.warmup = options.warmup ?? 20;
    this.buckets = options.buckets ?? 16384;
    if (!(this.forget > 0 && this.forget < 1)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `history screen: forget must be in (0, 1), got ${this.forget}`);
    if (!(Number.isInteger(this.warmup) && this.warmup >= 1)) throw new DuelError(ErrorCodes.BAD_ARGUMENT, `history screen: warmup must be an integer >= 1, got ${this.warmup}`);
    if (!(Number.isInteger(this.buckets) && this.buckets >= 16 && this.buckets <= 2 ** 30)) {
      throw new DuelError(ErrorCodes.BAD_ARGUMENT, `history screen: buckets must be an integer in [16, 2^30], got ${this.buckets}`);
    }
    this.horizon = Math.ceil(Math.log(1e-4) / Math.log(this.forget));
  }

  /** Workers tracked for a layout key (for tests). */
  tracked(key: string): number {
    return this.layouts.get(key)?.workers.size ?? 0;
  }

  observe(key: string, updates: readonly { workerId: string; grads: NamedWeights }[]): number[] {
    const dims = updates[0].grads.reduce((n, t) => n + t.data.length, 0);
    let h = this.layouts.get(key);
    if (!h) this.layouts.set(key, (h = new LayoutHistory(new CountSketch(dims, this.buckets))));
    const t = ++h.round;
    const lam = this.forget;
    const k = h.sketch.length;
    const m = updates.length;

    const sk = h.buffers(m);
    updates.forEach((u, i) => h.sketch.addTo(u.grads, sk[i]));
    const centre = h.centre.fill(0);
    for (const v of sk) for (let x = 0; x < k; x++) centre[x] += v[x] / m;

    const tracks = updates.map((u, i) => {
      let tr = h.workers.get(u.workerId);
      if (!tr) h.workers.set(u.workerId, (tr = { acc: new Float64Array(k), at: t }));
      const decay = lam ** (t - tr.at);
      const a = tr.acc;
      const v = sk[i];
      for (let x = 0; x < k; x++) a[x] = decay * a[x] + (v[x] - centre[x]);
      tr.at = t;
      return tr;
    });

    const ratios: number[][] = updates.map(() => []);
    for (let i = 0; i < m; i++) {
      for (let j = i + 1; j < m; j++) {
        const key2 = pairKey(updates[i].workerId, updates[j].workerId);
        let p = h.pairs.get(key2);
        if (!p) h.pairs.set(key2, (p = { s: 0, n: 0, at: t }));
        let d = 0;
        const a = sk[i];
        const b = sk[j];
        for (let x = 0; x < k; x++) {
          const v = a[x] - b[x];
          d += v * v;
        }
        p.s = lam ** (2 * (t - p.at)) * p.s + d;
        p.n++;
        p.at = t;
        if (p.n < this.warmup) continue;
        const r = driftRatio(tracks[i].acc, tracks[j].acc, p.s);
        ratios[i].push(r);
        ratios[j].push(r);
      }
    }
    this.prune(h);
    // Fewer than two partners is no majority to be measured against.
    return ratios.map((r) => (r.filter(Number.isFinite).length >= 2 ? medianOf(r) : Number.NaN));
  }

  private prune(h: LayoutHistory): void {
    if (h.round % 64 !== 0) return;
    for (const [id, tr] of h.workers) if (h.round - tr.at > this.horizon) h.workers.delete(id);
    for (const [id, p] of h.pairs) if (h.round - p.at > this.horizon) h.pairs.delete(id);
  }
}

/** The layout an update set has: tensor names and sizes. */
function layoutKey(g: NamedWeights): string {
  return g.map((t) => `${t.name}:${t.data.length}`).join(',');
}

/**
 * Rejects, as DUEL_ERR_OUTLIER, the updates of workers whose drift score
 * (see above) is over `threshold`, and hands the rest to `inner`. In a spec:
 * `trimmed-mean:beta=0.3:screen=10:history=6` (the norm screen runs first, so
 * updates it drops never enter the history).
 */
export class HistoryScreenStrategy extends ScreenStrategy {
  readonly name: string;
  readonly paper = 'Allen-Zhu et al. 2021, Byzantine-Resilient Non-Convex Stochastic Gradient Descent (SafeguardSGD)';
  readonly threshold: number;
  private readonly tracker: DriftTracker;
  /** Scores of the latest round, by worker (for logs and tests). */
  lastScores: Record<string, number> = {};

  constructor(inner: AggregationStrategy, options: HistoryScreenOptions) {
    super(inner);
    if (!(Number.isFinite(options.threshold) && options.threshold > 1)) {
      throw new DuelError(ErrorCodes.BAD_ARGUMENT, `history screen: threshold must be > 1, got ${options.threshold}`);
    }
    this.threshold = options.threshold;
    this.tracker = new DriftTracker(options);
    this.name = `${inner.name}+history`;
  }

  protected screen(results: readonly ClientUpdate[]): (string | null)[] {
    // Only well-formed, finite updates of one layout enter the history; the inner strategy rejects the rest with their codes.
    const { accepted } = screenUpdates(results);
    const why: (string | null)[] = results.map(() => null);
    this.lastScores = {};
    if (accepted.length < 3) return why;
    // Tracked by sender, not by the update's id (the coordinator's ids are taskIds, new every round).
    const keys = memoryKeys(accepted);
    const scores = this.tracker.observe(layoutKey(accepted[0].grads), accepted.map((u, i) => ({ workerId: keys[i], grads: u.grads })));
    accepted.forEach((u, i) => {
      const s = scores[i];
      this.lastScores[u.workerId] = s;
      if (s > this.threshold) {
        why[results.indexOf(u)] = `history: drift score ${s.toFixed(1)} above ${this.threshold} (its accumulated updates stray from the other workers')`;
      }
    });
    return why;
  }
}
